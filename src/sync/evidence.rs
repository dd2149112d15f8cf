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
