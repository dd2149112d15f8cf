//! The evidence a user would look up for an object that fails or blocks: the pod that shows
//! why (the stuck one, else the first one behind the object that has not succeeded), its last
//! log lines and its recent events (or the object's own events when it has no pod). `sync`
//! attaches it to a failure; `status --details` prints it for the blocking object.

use serde_json::Value;

use super::gate::{self, StuckPod};
use crate::cluster::{Cluster, LiveKey, LiveStore};

/// Events shown per object.
const EVENTS: usize = 10;

/// What was found about one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The pod whose state, events and logs explain the object.
    pub pod: Option<String>,
    /// Its last log lines, where the API has them.
    pub logs: Vec<String>,
    /// Its (or, without a pod, the object's) recent events, oldest first.
    pub events: Vec<String>,
}

/// The pod to look at for the object `key` as `store` last saw it: the stuck pod when there
/// is one, else the first pod behind it that has not succeeded; with its first container.
pub fn pod_to_inspect(
    store: &LiveStore,
    key: &LiveKey,
    stuck: Option<&StuckPod>,
) -> Option<(String, String)> {
    if let Some(s) = stuck {
        return Some((s.pod.clone(), s.problem.container.clone()));
    }
    let live = store.get(key)?;
    let pods = store.list("", "Pod", &key.namespace);
    let behind = gate::pods_of(&live, &pods);
    behind
        .iter()
        .find(|p| p.pointer("/status/phase").and_then(Value::as_str) != Some("Succeeded"))
        .and_then(|p| {
            let name = p.pointer("/metadata/name")?.as_str()?.to_string();
            let container = p.pointer("/spec/containers/0/name")?.as_str()?.to_string();
            Some((name, container))
        })
}

/// Gathers the evidence for the object `key` (its namespace, kind and name): the pod to
/// inspect ([`pod_to_inspect`]), its last `log_lines` log lines and its recent events; the
/// object's own events when no pod explains it.
pub async fn gather(
    cluster: &Cluster,
    store: &LiveStore,
    key: &LiveKey,
    stuck: Option<&StuckPod>,
    log_lines: i64,
) -> Evidence {
    let mut evidence = Evidence::default();
    if let Some((pod, container)) = pod_to_inspect(store, key, stuck) {
        if let Some(logs) = cluster
            .pod_logs(&key.namespace, &pod, &container, log_lines)
            .await
        {
            evidence.logs = logs.lines().map(String::from).collect();
        }
        evidence.events = cluster
            .events_for(&key.namespace, "Pod", &pod, EVENTS)
            .await;
        evidence.pod = Some(pod);
    } else if !key.namespace.is_empty() {
        evidence.events = cluster
            .events_for(&key.namespace, &key.kind, &key.name, EVENTS)
            .await;
    }
    evidence
}

/// A Secret or ConfigMap an object reads that does not exist, and the step of the plan that
/// creates it, if any: the usual reason a hook or workload hangs (a PreSync hook reading a
/// Secret that a later wave creates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingInput {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// Index of the plan step that creates it.
    pub created_in: Option<usize>,
}

/// The Secrets and ConfigMaps `plan.objects[object]` reads (in `namespace`) that do not
/// exist. The watched `store` answers first; otherwise one GET per reference, and only a clear
/// "not found" counts (an error such as forbidden tells nothing). `namespace_of(i)` is where
/// `plan.objects[i]` is written.
pub async fn missing_inputs(
    cluster: &Cluster,
    store: &LiveStore,
    plan: &crate::plan::Plan,
    object: usize,
    namespace: &str,
    namespace_of: impl Fn(usize) -> String,
) -> Vec<MissingInput> {
    let mut missing: Vec<MissingInput> = Vec::new();
    for dep in crate::infer::refs::dependencies(&plan.objects[object]) {
        let crate::infer::refs::Target::Object(r) = &dep.target else {
            continue;
        };
        if r.kind != "Secret" && r.kind != "ConfigMap" {
            continue;
        }
        let ns = if r.namespace.is_empty() {
            namespace.to_string()
        } else {
            r.namespace.clone()
        };
        if store
            .get(&LiveKey::new("", &r.kind, &ns, &r.name))
            .is_some()
        {
            continue;
        }
        let Some(kind) = cluster.resolve("v1", &r.kind).await else {
            continue;
        };
        if !matches!(cluster.get(&kind, &ns, &r.name).await, Ok(None)) {
            continue;
        }
        let created_in = plan.steps.iter().position(|step| {
            step.tasks().any(|t| {
                let x = &plan.objects[t.object];
                x.kind == r.kind && x.name == r.name && namespace_of(t.object) == ns
            })
        });
        let found = MissingInput {
            kind: r.kind.clone(),
            namespace: ns,
            name: r.name.clone(),
            created_in,
        };
        if !missing.contains(&found) {
            missing.push(found);
        }
    }
    missing
}
