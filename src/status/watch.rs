//! The live side of `status`: where each object of the plan lives, and watches that keep a
//! [`LiveStore`] current with every kind (and namespace) the plan has, plus the Pods behind
//! its workloads. One list per watch answers a single `status`; `--watch` waits on the
//! store's change counter instead of polling.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::{Presence, StatusReport, Target};
use crate::cluster::live::WatchHandle;
use crate::cluster::{Cluster, ClusterError, LiveStore, ResolvedKind};
use crate::health::HealthConfig;
use crate::plan::Plan;

/// How long the first list of a watch may take before `status` gives up (exit 2).
const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// Kinds whose pods explain their health.
const WORKLOADS: [&str; 5] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
];

/// The plan's objects watched in one cluster.
pub struct LivePlan {
    pub store: LiveStore,
    /// Per object of the plan.
    pub targets: Vec<Target>,
    _watches: Vec<WatchHandle>,
}

impl LivePlan {
    /// Resolves where every object lives, starts the watches and waits for their first list.
    pub async fn start(cluster: &Cluster, plan: &Plan) -> Result<LivePlan, ClusterError> {
        let store = LiveStore::default();
        let mut targets = Vec::with_capacity(plan.objects.len());
        // (apiVersion, kind, namespace or "" for all) → kind; BTreeMap: a stable order.
        let mut wanted: BTreeMap<(String, String, String), ResolvedKind> = BTreeMap::new();
        let pod = cluster.resolve("v1", "Pod").await;
        let used: HashSet<usize> = plan
            .steps
            .iter()
            .flat_map(|s| s.tasks())
            .chain(&plan.sync_fail)
            .map(|t| t.object)
            .collect();
        for (i, o) in plan.objects.iter().enumerate() {
            let kind = cluster.resolve(&o.api_version, &o.kind).await;
            let namespace =
                crate::sync::unit::namespace_of(plan, o, kind.as_ref(), &cluster.default_namespace);
            if let Some(kind) = kind.as_ref().filter(|_| used.contains(&i)) {
                let scope = if kind.namespaced {
                    namespace.clone()
                } else {
                    String::new()
                };
                wanted.insert(
                    (
                        kind.resource.api_version.clone(),
                        kind.resource.kind.clone(),
                        scope,
                    ),
                    kind.clone(),
                );
                if WORKLOADS.contains(&o.kind.as_str())
                    && let Some(pod) = &pod
                {
                    wanted.insert(("v1".into(), "Pod".into(), namespace.clone()), pod.clone());
                }
            }
            targets.push(Target {
                namespace,
                served: kind.is_some(),
            });
        }
        let mut watches = Vec::with_capacity(wanted.len());
        for ((_, _, namespace), kind) in &wanted {
            let scope = (!namespace.is_empty()).then_some(namespace.as_str());
            watches.push(cluster.watch(kind, scope, store.clone()));
        }
        for (handle, (key, _)) in watches.iter_mut().zip(&wanted) {
            if tokio::time::timeout(LIST_TIMEOUT, handle.listed())
                .await
                .is_err()
            {
                let errors = store.watch_errors().join("; ");
                let message = format!(
                    "cannot list {} in {}: {}",
                    key.1,
                    if key.2.is_empty() {
                        "the cluster"
                    } else {
                        &key.2
                    },
                    if errors.is_empty() {
                        "no answer"
                    } else {
                        &errors
                    }
                );
                return Err(if errors.contains("403") || errors.contains("forbidden") {
                    ClusterError::Api {
                        code: 403,
                        reason: "Forbidden".into(),
                        message,
                    }
                } else {
                    ClusterError::Unreachable(message)
                });
            }
        }
        Ok(LivePlan {
            store,
            targets,
            _watches: watches,
        })
    }

    /// The report from the objects as last seen.
    pub fn report(&self, plan: &Plan, health: &HealthConfig) -> StatusReport {
        super::assess(plan, &self.targets, &self.store, health)
    }

    /// Names the Secrets and ConfigMaps the blocking object reads that do not exist, with the
    /// step of this plan that creates them: the usual reason a hook or workload hangs (it reads
    /// a Secret that a later wave creates). One GET per reference not watched already.
    pub async fn explain_missing_inputs(
        &self,
        cluster: &Cluster,
        plan: &Plan,
        report: &mut StatusReport,
    ) {
        let Some(b) = report.blocking.as_mut() else {
            return;
        };
        if b.object.live != Presence::Present {
            return;
        }
        let found = crate::sync::evidence::missing_inputs(
            cluster,
            &self.store,
            plan,
            b.object.index,
            &b.object.namespace,
            |i| self.targets[i].namespace.clone(),
        )
        .await;
        let missing: Vec<String> = found
            .iter()
            .map(|m| {
                let note = match m.created_in {
                    Some(i) => {
                        let step = &plan.steps[i];
                        format!(
                            " (this app creates it in step {} {} wave {})",
                            i + 1,
                            step.phase,
                            step.wave
                        )
                    }
                    None => String::new(),
                };
                format!(
                    "{}/{}/{}, which does not exist{note}",
                    m.kind, m.namespace, m.name
                )
            })
            .collect();
        if !missing.is_empty() {
            b.reason = format!("{}; it reads {}", b.reason, missing.join(", "));
            report.summary = super::summary_of(report.steps.len(), report.blocking.as_ref());
        }
    }

    /// Adds the blocking object's evidence (`--details`): its pod's last `log_lines` log
    /// lines and recent events, as `sync` shows them for a failure.
    pub async fn add_details(&self, cluster: &Cluster, report: &mut StatusReport, log_lines: i64) {
        let Some(blocker) = report.blocking.as_mut() else {
            return;
        };
        let Some(key) = &blocker.object.key else {
            return;
        };
        let found = crate::sync::evidence::gather(
            cluster,
            &self.store,
            key,
            blocker.object.stuck.as_ref(),
            log_lines,
        )
        .await;
        blocker.evidence_pod = found.pod;
        blocker.logs = found.logs;
        blocker.events = found.events;
    }
}
