//! When is an object done? A pure judgement of the live object, the pods behind it and its
//! health (SPEC §4): the sync engine calls it whenever a watch reports a change.

use serde_json::Value;

use crate::health::{ContainerProblem, Health, HealthError, HealthStatus, container_problems};
use crate::infer::selector::Selector;

/// The state of one awaited object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Healthy, no health rule, or (a hook) finished successfully.
    Done {
        status: HealthStatus,
        message: String,
    },
    /// Not there yet, with the reason to show.
    Waiting {
        status: HealthStatus,
        message: String,
    },
    /// The sync fails because of this object.
    Failed {
        status: HealthStatus,
        message: String,
    },
}

impl Verdict {
    pub fn status(&self) -> HealthStatus {
        match self {
            Verdict::Done { status, .. }
            | Verdict::Waiting { status, .. }
            | Verdict::Failed { status, .. } => *status,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Verdict::Done { message, .. }
            | Verdict::Waiting { message, .. }
            | Verdict::Failed { message, .. } => message,
        }
    }
}

/// Container waiting reasons that fail a step at once (SPEC §4): they do not heal by waiting.
pub const FAIL_FAST_REASONS: [&str; 4] = [
    "ImagePullBackOff",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// A pod stuck in a fail-fast state, with its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckPod {
    pub pod: String,
    pub problem: ContainerProblem,
}

/// The first fail-fast container problem among `pods`.
pub fn stuck_pod(pods: &[&Value]) -> Option<StuckPod> {
    let mut names: Vec<(&str, &Value)> = pods
        .iter()
        .map(|p| {
            (
                p.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                *p,
            )
        })
        .collect();
    names.sort_by_key(|(n, _)| *n);
    names.into_iter().find_map(|(name, pod)| {
        container_problems(pod)
            .into_iter()
            .find(|p| FAIL_FAST_REASONS.contains(&p.reason.as_str()))
            .map(|problem| StuckPod {
                pod: name.to_string(),
                problem,
            })
    })
}

/// The pods behind a live object: the Pod itself, or the pods in its namespace that the
/// workload's `spec.selector` selects (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job).
pub fn pods_of<'a>(object: &'a Value, pods: &'a [Value]) -> Vec<&'a Value> {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind == "Pod" {
        return vec![object];
    }
    if !matches!(
        kind,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job"
    ) {
        return Vec::new();
    }
    let Some(selector) = Selector::from_label_selector(object.pointer("/spec/selector")) else {
        return Vec::new();
    };
    if selector.labels.is_empty() && selector.requirements.is_empty() {
        return Vec::new();
    }
    pods.iter()
        .filter(|p| selector.matches(p.pointer("/metadata/labels").and_then(Value::as_object)))
        .collect()
}

/// Judges one awaited object (SPEC §4 and §5).
///
/// `live` is `None` when the object is gone. `health` is what the health rules say of it.
pub fn judge(
    live: Option<&Value>,
    hook: bool,
    health: Result<Health, HealthError>,
    stuck: Option<&StuckPod>,
) -> Verdict {
    if live.is_none() {
        return Verdict::Failed {
            status: HealthStatus::Missing,
            message: "missing: it may have been deleted".into(),
        };
    }
    let health = match health {
        Ok(h) => h,
        Err(e) if hook => {
            return Verdict::Failed {
                status: HealthStatus::Unknown,
                message: e.to_string(),
            };
        }
        Err(e) => {
            return Verdict::Waiting {
                status: HealthStatus::Unknown,
                message: e.to_string(),
            };
        }
    };
    if health.status != HealthStatus::Healthy
        && health.status != HealthStatus::None
        && let Some(stuck) = stuck
    {
        return Verdict::Failed {
            status: HealthStatus::Degraded,
            message: format!("pod {}: {}", stuck.pod, stuck.problem),
        };
    }
    let message = health.message.clone();
    match health.status {
        HealthStatus::Healthy | HealthStatus::None => Verdict::Done {
            status: health.status,
            message,
        },
        HealthStatus::Degraded => Verdict::Failed {
            status: health.status,
            message,
        },
        HealthStatus::Unknown | HealthStatus::Missing if hook => Verdict::Failed {
            status: health.status,
            message,
        },
        HealthStatus::Missing => Verdict::Failed {
            status: health.status,
            message: if message.is_empty() {
                "missing: it may have been deleted".into()
            } else {
                message
            },
        },
        HealthStatus::Progressing | HealthStatus::Suspended | HealthStatus::Unknown => {
            Verdict::Waiting {
                status: health.status,
                message,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{HealthConfig, assess};
    use serde_json::json;

    fn job(conditions: Value) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": "migrate", "namespace": "shop", "generation": 1},
               "spec": {"selector": {"matchLabels": {"job": "migrate"}}},
               "status": {"conditions": conditions}})
    }

    fn pod(name: &str, waiting: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": "shop", "labels": {"job": "migrate"}},
               "spec": {"restartPolicy": "Never", "containers": [{"name": "main"}]},
               "status": {"phase": "Pending", "containerStatuses": [{"name": "main", "ready": false,
                  "state": {"waiting": {"reason": waiting, "message": "secret \"db\" not found"}}}]}})
    }

    fn verdict(live: &Value, hook: bool, pods: &[Value]) -> Verdict {
        let cfg = HealthConfig::new();
        let behind = pods_of(live, pods);
        let stuck = stuck_pod(&behind);
        judge(Some(live), hook, assess(live, &cfg), stuck.as_ref())
    }

    #[test]
    fn a_complete_job_hook_is_done() {
        let live = job(json!([{"type": "Complete", "status": "True"}]));
        assert!(matches!(verdict(&live, true, &[]), Verdict::Done { .. }));
    }

    #[test]
    fn a_failed_job_fails() {
        let live = job(
            json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                               "message": "Job has reached the specified backoff limit"}]),
        );
        let v = verdict(&live, true, &[]);
        assert!(
            matches!(
                v,
                Verdict::Failed {
                    status: HealthStatus::Degraded,
                    ..
                }
            ),
            "{v:?}"
        );
    }

    #[test]
    fn a_running_job_waits() {
        let live = job(json!([]));
        assert!(matches!(verdict(&live, true, &[]), Verdict::Waiting { .. }));
    }

    #[test]
    fn create_container_config_error_fails_fast_and_names_the_secret() {
        let live = job(json!([]));
        let v = verdict(
            &live,
            true,
            &[pod("migrate-x", "CreateContainerConfigError")],
        );
        match v {
            Verdict::Failed { message, .. } => {
                assert!(message.contains("pod migrate-x"), "{message}");
                assert!(message.contains("secret \"db\" not found"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_pod_of_another_workload_is_not_evidence() {
        let live = job(json!([]));
        let mut other = pod("other", "CrashLoopBackOff");
        other["metadata"]["labels"] = json!({"job": "other"});
        assert!(matches!(
            verdict(&live, true, &[other]),
            Verdict::Waiting { .. }
        ));
    }

    #[test]
    fn a_waiting_reason_that_heals_does_not_fail_fast() {
        let live = job(json!([]));
        let v = verdict(&live, true, &[pod("migrate-x", "ContainerCreating")]);
        assert!(matches!(v, Verdict::Waiting { .. }), "{v:?}");
    }

    #[test]
    fn stale_status_keeps_waiting() {
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "shop", "generation": 2},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}}},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                       "availableReplicas": 1, "readyReplicas": 1}});
        assert!(matches!(
            verdict(&live, false, &[]),
            Verdict::Waiting { .. }
        ));
    }

    #[test]
    fn no_health_rule_is_done_at_once() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "c", "namespace": "shop"}});
        assert!(matches!(
            verdict(&live, false, &[]),
            Verdict::Done {
                status: HealthStatus::None,
                ..
            }
        ));
    }

    #[test]
    fn gone_while_awaited_fails() {
        let cfg = HealthConfig::new();
        let v = judge(None, false, assess(&json!({}), &cfg), None);
        assert!(matches!(
            v,
            Verdict::Failed {
                status: HealthStatus::Missing,
                ..
            }
        ));
    }

    #[test]
    fn unknown_fails_a_hook_but_not_a_resource() {
        let unknown = Ok(Health::new(HealthStatus::Unknown, "?"));
        let live = json!({"kind": "X"});
        assert!(matches!(
            judge(Some(&live), true, unknown.clone(), None),
            Verdict::Failed { .. }
        ));
        assert!(matches!(
            judge(Some(&live), false, unknown, None),
            Verdict::Waiting { .. }
        ));
    }

    #[test]
    fn a_health_error_fails_a_hook_and_keeps_a_resource_waiting() {
        let error = || {
            Err(HealthError {
                key: "resource.customizations.health.x_Y".into(),
                kind: crate::health::HealthErrorKind::Runtime,
                message: "boom".into(),
            })
        };
        let live = json!({"kind": "Y"});
        assert!(matches!(
            judge(Some(&live), true, error(), None),
            Verdict::Failed { .. }
        ));
        assert!(matches!(
            judge(Some(&live), false, error(), None),
            Verdict::Waiting { .. }
        ));
    }
}
