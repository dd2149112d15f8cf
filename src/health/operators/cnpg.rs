//! postgresql.cnpg.io Cluster (CloudNativePG).

use serde_json::Value;

use crate::health::object::{annotation, conditions, get, str_at};
use crate::health::{Health, HealthStatus, stale_generation};

/// What each CloudNativePG phase means, as Argo CD's script maps them.
fn phase_status(phase: &str) -> Option<HealthStatus> {
    use HealthStatus::*;
    Some(match phase {
        "Cluster in healthy state" => Healthy,
        "Setting up primary"
        | "Creating a new replica"
        | "Upgrading cluster"
        | "Waiting for the instances to become active"
        | "Promoting to primary cluster" => Progressing,
        "Switchover in progress"
        | "Failing over"
        | "Upgrading Postgres major version"
        | "Cluster upgrade delayed"
        | "Waiting for user action"
        | "Primary instance is being restarted in-place"
        | "Primary instance is being restarted without a switchover"
        | "Cluster cannot execute instance online upgrade due to missing architecture binary"
        | "Online upgrade in progress"
        | "Applying configuration" => Degraded,
        "Unable to create required cluster objects"
        | "Cluster cannot proceed to reconciliation due to an unknown plugin being required"
        | "Cluster has incomplete or invalid image catalog"
        | "Cluster is unrecoverable and needs manual intervention" => Suspended,
        _ => return Option::None,
    })
}

/// postgresql.cnpg.io/Cluster (Argo CD's `postgresql.cnpg.io/Cluster/health.lua`):
/// the `cnpg.io/reconciliationLoop: disabled` annotation → Suspended (checked first: the
/// operator then stops updating the status, so a stale generation is not waited for); the
/// `cnpg.io/hibernation` condition True → Suspended, otherwise → Degraded; then
/// `status.phase` mapped as above with `status.phaseReason` as message (an unknown phase →
/// Unknown); no conditions yet → Progressing.
pub(super) fn cluster(obj: &Value) -> Health {
    if annotation(obj, "cnpg.io/reconciliationLoop") == Some("disabled") {
        return Health::suspended("Cluster reconciliation is suspended");
    }
    if let Some(stale) = stale_generation(obj) {
        return stale;
    }
    let reason = str_at(obj, &["status", "phaseReason"]);
    if get(obj, &["status", "conditions"]).is_none() {
        return Health::progressing(reason);
    }
    if let Some(h) = conditions(obj).find(|c| c.type_ == "cnpg.io/hibernation") {
        return if h.is_true() {
            Health::suspended(h.message)
        } else {
            Health::degraded(h.message)
        };
    }
    match phase_status(str_at(obj, &["status", "phase"])) {
        Some(status) => Health::new(status, reason),
        None => Health::unknown(reason),
    }
}
