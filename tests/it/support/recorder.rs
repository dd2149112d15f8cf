//! Records the order of writes in a namespace, as the cluster saw them: watches started before
//! a sync record every ADDED / MODIFIED / DELETED event of the kinds asked for; sorting by
//! `resourceVersion` (one etcd counter across kinds) gives the global order. Cluster-scoped
//! kinds are watched across the cluster, filtered by name; a custom resource whose CRD the
//! sync creates is watched from the moment the CRD is Established ([`Watch::after_crd`]).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
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

/// One watch of a [`Recorder`]: a kind, where, and (for a custom resource whose CRD the sync
/// itself creates) the CRD it waits for.
#[derive(Debug, Clone)]
pub struct Watch {
    /// (apiVersion, kind, plural).
    pub api_version: String,
    pub kind: String,
    pub plural: String,
    /// `Some(ns)`: the objects of that namespace; `None`: a cluster-scoped kind, watched
    /// across the cluster.
    pub namespace: Option<String>,
    /// For a cluster-scoped kind: only objects of these names are recorded (other tests and
    /// the other engine write the same kinds at the same time).
    pub names: Option<HashSet<String>>,
    /// The name of a CustomResourceDefinition the sync creates: the kind cannot be watched
    /// before it is served, so the watch starts when the CRD is Established, by a list
    /// whose objects are recorded as ADDED at their resourceVersion (then the watch from
    /// the list's resourceVersion misses nothing after it).
    pub after_crd: Option<String>,
}

/// Records one event (or listed object) into `writes` if the watch wants it.
fn record(
    writes: &Mutex<Vec<Write>>,
    names: Option<&HashSet<String>>,
    what: &'static str,
    kind: &str,
    obj: DynamicObject,
) {
    let name = obj.metadata.name.clone().unwrap_or_default();
    if names.is_some_and(|n| !n.contains(&name)) {
        return;
    }
    let rv = obj
        .metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let object = serde_json::to_value(&obj).unwrap_or_default();
    writes.lock().unwrap().push(Write {
        rv,
        kind_of_event: what,
        kind: kind.to_string(),
        name,
        object,
    });
}

/// Records the events of `api` from resourceVersion `rv` until the task is aborted. A watch
/// the apiserver ends (its timeout, a dropped connection) is started again from the last
/// resourceVersion seen, so a long or slow sync leaves no gap at the end of its trace.
async fn follow(
    mut first: Option<EventStream>,
    api: Api<DynamicObject>,
    mut rv: String,
    writes: Arc<Mutex<Vec<Write>>>,
    names: Option<HashSet<String>>,
    kind: String,
) {
    loop {
        let mut stream = match first.take() {
            Some(stream) => stream,
            None => match watch(&api, &rv).await {
                Ok(stream) => stream,
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    continue;
                }
            },
        };
        while let Some(Ok(event)) = stream.next().await {
            let (what, obj) = match event {
                WatchEvent::Added(o) => ("ADDED", o),
                WatchEvent::Modified(o) => ("MODIFIED", o),
                WatchEvent::Deleted(o) => ("DELETED", o),
                WatchEvent::Bookmark(b) => {
                    rv = b.metadata.resource_version;
                    continue;
                }
                WatchEvent::Error(e) => {
                    // 410 Gone: what happened since `rv` is lost; the trace would have a gap
                    // that reads as a difference, so say so where the test's output shows it.
                    eprintln!("recorder: the watch of {kind} from {rv} ended: {e:?}");
                    break;
                }
            };
            if let Some(v) = &obj.metadata.resource_version {
                rv = v.clone();
            }
            record(&writes, names.as_ref(), what, &kind, obj);
        }
    }
}

type EventStream =
    futures_util::stream::BoxStream<'static, kube::Result<WatchEvent<DynamicObject>>>;

/// A watch from `rv` (kube asks for bookmarks by default: they keep `rv` recent while nothing changes).
async fn watch(api: &Api<DynamicObject>, rv: &str) -> kube::Result<EventStream> {
    let params = WatchParams::default().timeout(290);
    Ok(api.watch(&params, rv).await?.boxed())
}

/// Whether the CRD `name` exists and is Established.
async fn crd_established(client: &Client, name: &str) -> bool {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    match crds.get_opt(name).await {
        Ok(Some(crd)) => crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True"),
        _ => false,
    }
}

impl Recorder {
    /// Starts watches on `kinds` in `namespace`; returns once every watch is established.
    pub async fn start(client: &Client, namespace: &str, kinds: &[(&str, &str, &str)]) -> Recorder {
        let watches: Vec<Watch> = kinds
            .iter()
            .map(|(api_version, kind, plural)| Watch {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
                plural: plural.to_string(),
                namespace: Some(namespace.to_string()),
                names: None,
                after_crd: None,
            })
            .collect();
        Recorder::start_watches(client, &watches).await
    }

    /// Starts `watches`; returns once every watch that does not wait for a CRD is
    /// established.
    pub async fn start_watches(client: &Client, watches: &[Watch]) -> Recorder {
        let writes = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for w in watches {
            let ar = resource(&w.api_version, &w.kind, &w.plural);
            let api: Api<DynamicObject> = match &w.namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
                None => Api::all_with(client.clone(), &ar),
            };
            let writes = writes.clone();
            let kind = w.kind.clone();
            let names = w.names.clone();
            if let Some(crd) = w.after_crd.clone() {
                let client = client.clone();
                tasks.push(tokio::spawn(async move {
                    while !crd_established(&client, &crd).await {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    // The kind may take a moment to be served after Established.
                    let list = loop {
                        match api.list(&ListParams::default()).await {
                            Ok(list) => break list,
                            Err(_) => {
                                tokio::time::sleep(std::time::Duration::from_millis(20)).await
                            }
                        }
                    };
                    let rv = list.metadata.resource_version.clone().unwrap_or_default();
                    for obj in list.items {
                        record(&writes, names.as_ref(), "ADDED", &kind, obj);
                    }
                    follow(None, api, rv, writes, names, kind).await;
                }));
                continue;
            }
            let list = api
                .list(&ListParams::default())
                .await
                .unwrap_or_else(|e| panic!("listing {kind}: {e}"));
            let rv = list.metadata.resource_version.unwrap_or_default();
            // The first watch starts here, so the recorder is watching when this returns.
            let first = watch(&api, &rv)
                .await
                .unwrap_or_else(|e| panic!("watching {kind}: {e}"));
            tasks.push(tokio::spawn(follow(
                Some(first),
                api,
                rv,
                writes,
                names,
                kind,
            )));
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
