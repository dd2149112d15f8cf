//! argoproj.io Rollout (Argo Rollouts).

use serde_json::Value;

use crate::health::object::{
    annotation, arr_at, as_int, bool_at, conditions, get, opt_int, opt_str,
};
use crate::health::{Health, HealthStatus};

/// Lua's `tonumber` on a field: a number, or a string that reads as one.
fn to_number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// Whether the controller has seen the spec. Rollouts v0.9 and older keep a hash in
/// `status.observedGeneration`, which never says "stale".
fn generation_observed(obj: &Value) -> bool {
    if get(obj, &["status"]).is_none() {
        return false;
    }
    let Some(observed) = to_number(get(obj, &["status", "observedGeneration"])) else {
        return true;
    };
    let Some(generation) = opt_int(obj, &["metadata", "generation"]) else {
        return true;
    };
    let generation = generation as f64;
    observed >= generation
}

/// Whether the controller has seen the referenced workload's generation (Rollouts v1.1
/// `spec.workloadRef`).
fn workload_generation_observed(obj: &Value) -> bool {
    if get(obj, &["spec", "workloadRef"]).is_none()
        || get(obj, &["metadata", "annotations"]).is_none()
    {
        return true;
    }
    let wanted = annotation(obj, "rollout.argoproj.io/workload-generation")
        .and_then(|s| s.trim().parse::<f64>().ok());
    let observed = to_number(get(obj, &["status", "workloadObservedGeneration"]));
    wanted == observed
}

fn progressing(message: &str) -> Health {
    Health::progressing(message)
}

/// argoproj.io/Rollout (Argo CD's `argoproj.io/Rollout/health.lua`), in the script's order:
///
/// 1. spec or workload generation not observed → Progressing "Waiting for rollout spec update
///    to be observed";
/// 2. `status.phase` (Rollouts ≥ 1.0) is the answer, `Paused` read as Suspended, with
///    `status.message`;
/// 3. (older controllers) InvalidSpec, or Progressing with reason RolloutAborted or
///    ProgressDeadlineExceeded → Degraded; pause conditions or `spec.paused` → Suspended
///    "Rollout is paused"; no `currentPodHash` → Progressing; replicas not all updated or
///    available → Progressing; blue-green waiting for the active service or analysis, canary
///    with old replicas or unfinished steps → Progressing; else Healthy "".
pub(super) fn rollout(obj: &Value) -> Health {
    if !generation_observed(obj) || !workload_generation_observed(obj) {
        return progressing("Waiting for rollout spec update to be observed");
    }
    if let Some(phase) = opt_str(obj, &["status", "phase"]) {
        let message = opt_str(obj, &["status", "message"]).unwrap_or("");
        if phase == "Paused" {
            return Health::suspended(message);
        }
        return match HealthStatus::from_argocd(phase) {
            Some(status) => Health::new(status, message),
            None => Health::unknown(format!(
                "Lua returned an invalid health status {phase:?} (argoproj.io/Rollout)"
            )),
        };
    }
    for c in conditions(obj) {
        let aborted = c.type_ == "Progressing"
            && matches!(c.reason, "RolloutAborted" | "ProgressDeadlineExceeded");
        if c.type_ == "InvalidSpec" || aborted {
            return Health::degraded(c.message);
        }
    }
    if !arr_at(obj, &["status", "pauseConditions"]).is_empty() || bool_at(obj, &["spec", "paused"])
    {
        return Health::suspended("Rollout is paused");
    }
    let Some(current) = opt_str(obj, &["status", "currentPodHash"]) else {
        return progressing("Waiting for rollout to finish: status has not been reconciled.");
    };
    let count = |path: &[&str], default: i64| get(obj, path).and_then(as_int).unwrap_or(default);
    let desired = count(&["spec", "replicas"], 1);
    let replicas = count(&["status", "replicas"], 0);
    let updated = count(&["status", "updatedReplicas"], 0);
    let available = count(&["status", "availableReplicas"], 0);
    if updated < desired {
        return progressing("Waiting for roll out to finish: More replicas need to be updated");
    }
    if available < updated {
        return progressing(
            "Waiting for roll out to finish: updated replicas are still becoming available",
        );
    }
    // Rollouts v0.8 moved status.canary.stableRS to status.stableRS.
    let stable = opt_str(obj, &["status", "stableRS"])
        .or_else(|| opt_str(obj, &["status", "canary", "stableRS"]))
        .unwrap_or("");
    if get(obj, &["spec", "strategy", "blueGreen"]).is_some() {
        if opt_str(obj, &["status", "blueGreen", "activeSelector"]) != Some(current) {
            return progressing("active service cutover pending");
        }
        if !stable.is_empty() && stable != current {
            return progressing("waiting for analysis to complete");
        }
    } else if get(obj, &["spec", "strategy", "canary"]).is_some() {
        if replicas > updated {
            return progressing(
                "Waiting for roll out to finish: old replicas are pending termination",
            );
        }
        if stable.is_empty() || stable != current {
            return progressing("Waiting for rollout to finish steps");
        }
    }
    Health::healthy("")
}
