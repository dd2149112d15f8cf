//! Records the order of writes in a namespace, as the cluster saw them: watches started before
//! a sync record every ADDED / MODIFIED / DELETED event of the kinds asked for; sorting by
//! `resourceVersion` (one etcd counter across kinds) gives the global order.

use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, WatchEvent, WatchParams};

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub rv: u64,
    /// ADDED, MODIFIED or DELETED.
    pub kind_of_event: &'static str,
    pub kind: String,
    pub name: String,
    pub object: serde_json::Value,
}

/// Watches running in the background; [`Recorder::stop`] returns what they saw, in order.
pub struct Recorder {
    writes: Arc<Mutex<Vec<Write>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// (apiVersion, kind, plural) of the kinds the sync tests use.
pub const KINDS: &[(&str, &str, &str)] = &[
    ("v1", "ConfigMap", "configmaps"),
    ("v1", "Secret", "secrets"),
    ("v1", "Service", "services"),
    ("v1", "ServiceAccount", "serviceaccounts"),
    ("v1", "Pod", "pods"),
    ("apps/v1", "Deployment", "deployments"),
    ("apps/v1", "StatefulSet", "statefulsets"),
    ("batch/v1", "Job", "jobs"),
];

fn resource(api_version: &str, kind: &str, plural: &str) -> ApiResource {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        plural: plural.to_string(),
    }
}

impl Recorder {
    /// Starts watches on `kinds` in `namespace`; returns once every watch is established.
    pub async fn start(client: &Client, namespace: &str, kinds: &[(&str, &str, &str)]) -> Recorder {
        let writes = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (api_version, kind, plural) in kinds {
            let ar = resource(api_version, kind, plural);
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
            let list = api
                .list(&ListParams::default())
                .await
                .unwrap_or_else(|e| panic!("listing {kind}: {e}"));
            let rv = list.metadata.resource_version.unwrap_or_default();
            let stream = api
                .watch(&WatchParams::default().timeout(290), &rv)
                .await
                .unwrap_or_else(|e| panic!("watching {kind}: {e}"));
            let writes = writes.clone();
            let kind = kind.to_string();
            tasks.push(tokio::spawn(async move {
                let mut stream = stream.boxed();
                while let Some(Ok(event)) = stream.next().await {
                    let (what, obj) = match event {
                        WatchEvent::Added(o) => ("ADDED", o),
                        WatchEvent::Modified(o) => ("MODIFIED", o),
                        WatchEvent::Deleted(o) => ("DELETED", o),
                        _ => continue,
                    };
                    let rv = obj
                        .metadata
                        .resource_version
                        .as_deref()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let name = obj.metadata.name.clone().unwrap_or_default();
                    let object = serde_json::to_value(&obj).unwrap_or_default();
                    writes.lock().unwrap().push(Write {
                        rv,
                        kind_of_event: what,
                        kind: kind.clone(),
                        name,
                        object,
                    });
                }
            }));
        }
        Recorder { writes, tasks }
    }

    /// What was seen so far, ordered by resourceVersion.
    pub fn snapshot(&self) -> Vec<Write> {
        let mut all = self.writes.lock().unwrap().clone();
        all.sort_by_key(|w| w.rv);
        all
    }

    /// Stops the watches (after letting in-flight events arrive) and returns the trace.
    pub async fn stop(self) -> Vec<Write> {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        for t in &self.tasks {
            t.abort();
        }
        self.snapshot()
    }
}

/// Helpers over a trace.
pub trait Trace {
    /// resourceVersion of the first event `what` of `kind/name`.
    fn first_event(&self, what: &str, kind: &str, name: &str) -> Option<u64>;
    /// Names of `kind` objects ADDED, in order.
    fn added(&self, kind: &str) -> Vec<String>;
    /// resourceVersion of the first event of `kind/name` whose object satisfies `cond`.
    fn first_where(
        &self,
        kind: &str,
        name: &str,
        cond: &dyn Fn(&serde_json::Value) -> bool,
    ) -> Option<u64>;
}

impl Trace for [Write] {
    fn first_event(&self, what: &str, kind: &str, name: &str) -> Option<u64> {
        self.iter()
            .find(|w| w.kind_of_event == what && w.kind == kind && w.name == name)
            .map(|w| w.rv)
    }

    fn added(&self, kind: &str) -> Vec<String> {
        self.iter()
            .filter(|w| w.kind_of_event == "ADDED" && w.kind == kind)
            .map(|w| w.name.clone())
            .collect()
    }

    fn first_where(
        &self,
        kind: &str,
        name: &str,
        cond: &dyn Fn(&serde_json::Value) -> bool,
    ) -> Option<u64> {
        self.iter()
            .find(|w| {
                w.kind == kind && w.name == name && w.kind_of_event != "DELETED" && cond(&w.object)
            })
            .map(|w| w.rv)
    }
}
