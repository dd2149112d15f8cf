//! apps/v1 workloads, as gitops-engine `health_deployment.go`, `health_statefulset.go`,
//! `health_daemonset.go` and `health_replicaset.go` (rules borrowed from `kubectl rollout
//! status`). Each compares `metadata.generation` with `status.observedGeneration` itself.

use serde_json::Value;

use super::super::Health;
use super::super::object::{self, Gvk, condition, int_at, name, opt_int, str_at};
use super::unsupported;

fn generation(obj: &Value) -> i64 {
    int_at(obj, &["metadata", "generation"])
}

fn observed_generation(obj: &Value) -> i64 {
    int_at(obj, &["status", "observedGeneration"])
}

/// `spec.replicas` when set (a nil pointer in Go skips the replica comparisons).
fn spec_replicas(obj: &Value) -> Option<i64> {
    opt_int(obj, &["spec", "replicas"])
}

fn status_int(obj: &Value, field: &str) -> i64 {
    int_at(obj, &["status", field])
}

/// Deployment: paused → Suspended; stale → Progressing; ProgressDeadlineExceeded →
/// Degraded; replicas not all updated/available or old ones terminating → Progressing.
pub(crate) fn deployment(obj: &Value, gvk: Gvk<'_>) -> Health {
    if gvk.version != "v1" {
        return unsupported("Deployment", gvk);
    }
    if object::bool_at(obj, &["spec", "paused"]) {
        return Health::suspended("Deployment is paused");
    }
    if generation(obj) > observed_generation(obj) {
        return Health::progressing(
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        );
    }
    let updated = status_int(obj, "updatedReplicas");
    let replicas = status_int(obj, "replicas");
    let available = status_int(obj, "availableReplicas");
    if condition(obj, "Progressing").is_some_and(|c| c.reason == "ProgressDeadlineExceeded") {
        return Health::degraded(format!(
            "Deployment {:?} exceeded its progress deadline",
            name(obj)
        ));
    }
    if let Some(desired) = spec_replicas(obj)
        && updated < desired
    {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {updated} out of {desired} new replicas have been updated..."
        ));
    }
    if replicas > updated {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {} old replicas are pending termination...",
            replicas.saturating_sub(updated)
        ));
    }
    if available < updated {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    Health::healthy("")
}

/// StatefulSet: not observed (or observedGeneration 0) → Progressing; ready < replicas →
/// Progressing; partitioned rolling update counted against the partition; OnDelete →
/// Healthy; otherwise the update revision must equal the current revision.
pub(crate) fn statefulset(obj: &Value, gvk: Gvk<'_>) -> Health {
    if gvk.version != "v1" {
        return unsupported("StatefulSet", gvk);
    }
    let observed = observed_generation(obj);
    if observed == 0 || generation(obj) > observed {
        return Health::progressing("Waiting for statefulset spec update to be observed...");
    }
    let ready = status_int(obj, "readyReplicas");
    let updated = status_int(obj, "updatedReplicas");
    let desired = spec_replicas(obj);
    if let Some(desired) = desired
        && ready < desired
    {
        return Health::progressing(format!(
            "Waiting for {} pods to be ready...",
            desired.saturating_sub(ready)
        ));
    }
    let strategy = str_at(obj, &["spec", "updateStrategy", "type"]);
    let rolling = object::get(obj, &["spec", "updateStrategy", "rollingUpdate"]);
    if strategy == "RollingUpdate" && rolling.is_some() {
        let partition = opt_int(
            obj,
            &["spec", "updateStrategy", "rollingUpdate", "partition"],
        );
        if let (Some(desired), Some(partition)) = (desired, partition)
            && updated < desired.saturating_sub(partition)
        {
            return Health::progressing(format!(
                "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                desired.saturating_sub(partition)
            ));
        }
        return Health::healthy(format!(
            "partitioned roll out complete: {updated} new pods have been updated..."
        ));
    }
    if strategy == "OnDelete" {
        return Health::healthy(format!("statefulset has {ready} ready pods"));
    }
    let update_revision = str_at(obj, &["status", "updateRevision"]);
    let current_revision = str_at(obj, &["status", "currentRevision"]);
    if update_revision != current_revision {
        return Health::progressing(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}..."
        ));
    }
    Health::healthy(format!(
        "statefulset rolling update complete {} pods at revision {current_revision}...",
        status_int(obj, "currentReplicas")
    ))
}

/// DaemonSet: stale → Progressing; OnDelete → Healthy; not all pods updated or available →
/// Progressing.
pub(crate) fn daemonset(obj: &Value, gvk: Gvk<'_>) -> Health {
    if gvk.version != "v1" {
        return unsupported("DaemonSet", gvk);
    }
    if generation(obj) > observed_generation(obj) {
        return Health::progressing(
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        );
    }
    let updated = status_int(obj, "updatedNumberScheduled");
    let desired = status_int(obj, "desiredNumberScheduled");
    let available = status_int(obj, "numberAvailable");
    if str_at(obj, &["spec", "updateStrategy", "type"]) == "OnDelete" {
        return Health::healthy(format!(
            "daemon set {updated} out of {desired} new pods have been updated"
        ));
    }
    if updated < desired {
        return Health::progressing(format!(
            "Waiting for daemon set {:?} rollout to finish: {updated} out of {desired} new pods have been updated...",
            name(obj)
        ));
    }
    if available < desired {
        return Health::progressing(format!(
            "Waiting for daemon set {:?} rollout to finish: {available} of {desired} updated pods are available...",
            name(obj)
        ));
    }
    Health::healthy("")
}

/// ReplicaSet: stale → Progressing; ReplicaFailure=True → Degraded; fewer available than
/// desired → Progressing.
pub(crate) fn replicaset(obj: &Value, gvk: Gvk<'_>) -> Health {
    if gvk.version != "v1" {
        return unsupported("ReplicaSet", gvk);
    }
    if generation(obj) > observed_generation(obj) {
        return Health::progressing(
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        );
    }
    if let Some(failure) = condition(obj, "ReplicaFailure")
        && failure.is_true()
    {
        return Health::degraded(failure.message);
    }
    let available = status_int(obj, "availableReplicas");
    if let Some(desired) = spec_replicas(obj)
        && available < desired
    {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {available} out of {desired} new replicas are available..."
        ));
    }
    Health::healthy("")
}
