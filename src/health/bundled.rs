//! Checks we bundle for kinds where Argo CD embeds a Lua script
//! (argo-cd `resource_customizations/<group>/<Kind>/health.lua`), written here in Rust: same
//! statuses and messages as those scripts for the cases they handle, without their Lua errors
//! on missing fields. Plus our own check for the OT-Container-Kit Redis operator, which Argo
//! CD has none for. A Lua script configured for the kind in `argocd-cm` replaces these.

use serde_json::Value;

use super::Health;
use super::object::{arr_at, bool_at, conditions, get, opt_str, str_at};

/// A bundled rule.
pub(crate) struct BundledRule {
    /// Assesses an object of the rule's group/kind.
    pub assess: fn(&Value) -> Health,
    /// False when the rule may answer "no health" (lint WAVES005 still warns for the kind).
    pub always_assesses: bool,
    /// The rule compares generations itself, with its script's own message (Argo Rollouts).
    pub checks_generation: bool,
}

pub(crate) const fn rule(assess: fn(&Value) -> Health) -> Option<BundledRule> {
    Some(BundledRule {
        assess,
        always_assesses: true,
        checks_generation: false,
    })
}

/// The bundled rule for a group/kind.
pub(crate) fn lookup(group: &str, kind: &str) -> Option<BundledRule> {
    match (group, kind) {
        ("apiextensions.k8s.io", "CustomResourceDefinition") => rule(crd),
        ("cert-manager.io", "Certificate") => rule(certificate),
        ("cert-manager.io", "Issuer") => rule(issuer),
        ("cert-manager.io", "ClusterIssuer") => rule(cluster_issuer),
        ("rabbitmq.com", "RabbitmqCluster") => rule(rabbitmq_cluster),
        (
            "rabbitmq.com",
            "Queue" | "Exchange" | "Binding" | "User" | "Vhost" | "Permission" | "Policy"
            | "Shovel",
        ) => rule(rabbitmq_topology),
        ("batch", "CronJob") => rule(cronjob),
        ("policy", "PodDisruptionBudget") => rule(pdb),
        ("redis.redis.opstreelabs.in", "Redis" | "RedisCluster") => Some(BundledRule {
            assess: redis_state,
            always_assesses: false,
            checks_generation: false,
        }),
        _ => super::operators::lookup(group, kind),
    }
}

/// apiextensions.k8s.io/CustomResourceDefinition (Argo CD's
/// `apiextensions.k8s.io/CustomResourceDefinition/health.lua`): Established → Healthy;
/// Terminating, "Installing", no conditions → Progressing; names not accepted, a non-structural
/// schema or not established → Degraded.
pub(crate) fn crd(obj: &Value) -> Health {
    if get(obj, &["metadata", "deletionTimestamp"]).is_some() {
        return Health::progressing("CRD is terminating");
    }
    if arr_at(obj, &["status", "conditions"]).is_empty() {
        return Health::progressing("Status conditions not found");
    }
    let mut established = false;
    for c in conditions(obj) {
        match c.type_ {
            "Terminating" if c.is_true() => {
                return Health::progressing(format!("CRD is terminating: {}", c.message));
            }
            "NamesAccepted" if c.is_false() => {
                return Health::degraded(format!(
                    "CRD names have not been accepted: {}",
                    c.message
                ));
            }
            "NonStructuralSchema" if c.is_true() => {
                return Health::degraded(format!("Schema violations found: {}", c.message));
            }
            "Established" => {
                if c.is_true() {
                    established = true;
                } else if c.reason == "Installing" {
                    return Health::progressing("CRD is being installed");
                }
            }
            _ => {}
        }
    }
    if !established {
        return Health::degraded("CRD is not established");
    }
    Health::healthy("CRD is healthy")
}

/// Ready=False → Degraded, Ready=True → Healthy (the first Ready condition decides), else
/// Progressing with `waiting`.
fn ready_condition(obj: &Value, waiting: &str) -> Health {
    for c in conditions(obj) {
        if c.type_ != "Ready" {
            continue;
        }
        if !(c.is_false() || c.is_true()) {
            continue;
        }
        if let Some(stale) = super::stale_condition(obj, &c) {
            return stale;
        }
        return if c.is_true() {
            Health::healthy(c.message)
        } else {
            Health::degraded(c.message)
        };
    }
    Health::progressing(waiting)
}

/// cert-manager.io/Certificate (Argo CD's `cert-manager.io/Certificate/health.lua`):
/// Issuing=True → Progressing (checked first); then Ready False → Degraded, True → Healthy;
/// else Progressing "Waiting for certificate".
pub(crate) fn certificate(obj: &Value) -> Health {
    if let Some(issuing) = conditions(obj).find(|c| c.type_ == "Issuing" && c.is_true()) {
        return Health::progressing(issuing.message);
    }
    ready_condition(obj, "Waiting for certificate")
}

/// cert-manager.io/Issuer: Ready False → Degraded, True → Healthy, else Progressing.
pub(crate) fn issuer(obj: &Value) -> Health {
    ready_condition(obj, "Initializing issuer")
}

/// cert-manager.io/ClusterIssuer: Ready False → Degraded, True → Healthy, else Progressing.
pub(crate) fn cluster_issuer(obj: &Value) -> Health {
    ready_condition(obj, "Initializing ClusterIssuer")
}

/// rabbitmq.com/RabbitmqCluster (Argo CD's `rabbitmq.com/RabbitmqCluster/health.lua`):
/// ReconcileSuccess=False → Degraded; ClusterAvailable or AllReplicasReady Unknown or False →
/// Progressing; both True → Healthy; else Progressing "Waiting for RabbitMQ Operator".
pub(crate) fn rabbitmq_cluster(obj: &Value) -> Health {
    let mut cluster_available: Option<&str> = None;
    let mut replicas_ready: Option<&str> = None;
    for c in conditions(obj) {
        match c.type_ {
            "ReconcileSuccess" if c.is_false() => return Health::degraded(c.message),
            "ClusterAvailable" => cluster_available = Some(c.status),
            "AllReplicasReady" => replicas_ready = Some(c.status),
            _ => {}
        }
    }
    if cluster_available == Some("Unknown") || replicas_ready == Some("Unknown") {
        return Health::progressing("Waiting for RabbitMQ cluster readiness (conditions unknown)");
    }
    if cluster_available == Some("False") {
        return Health::progressing("Waiting for RabbitMQ cluster formation");
    }
    if replicas_ready == Some("False") {
        return Health::progressing("Waiting for RabbitMQ instances ready");
    }
    if cluster_available == Some("True") && replicas_ready == Some("True") {
        return Health::healthy("RabbitMQ cluster ready");
    }
    Health::progressing("Waiting for RabbitMQ Operator")
}

/// rabbitmq.com messaging-topology kinds (Queue, Exchange, Binding, User, Vhost, Permission,
/// Policy, Shovel; Argo CD's `rabbitmq.com/<Kind>/health.lua`): Ready True with
/// SuccessfulCreateOrUpdate → Healthy; Ready False with FailedCreateOrUpdate → Degraded; other
/// conditions → Unknown. Without any status yet: Progressing (Argo CD says Unknown, which
/// would fail a hook that was only just created).
pub(crate) fn rabbitmq_topology(obj: &Value) -> Health {
    let noun = str_at(obj, &["kind"]).to_lowercase();
    if arr_at(obj, &["status", "conditions"]).is_empty() {
        return Health::progressing(format!(
            "Waiting for the RabbitMQ topology operator to create the {noun}"
        ));
    }
    for c in conditions(obj).filter(|c| c.type_ == "Ready") {
        if let Some(stale) = super::stale_condition(obj, &c) {
            return stale;
        }
        if c.is_true() && c.reason == "SuccessfulCreateOrUpdate" {
            return Health::healthy(format!("RabbitMQ {noun} ready"));
        }
        if c.is_false() && c.reason == "FailedCreateOrUpdate" {
            let mut message = format!("RabbitMQ {noun} failed to be created or updated");
            if !c.message.is_empty() {
                message.push_str(": ");
                message.push_str(c.message);
            }
            return Health::degraded(message);
        }
    }
    Health::unknown(format!("RabbitMQ {noun} status is unknown"))
}

/// batch/CronJob (Argo CD's `batch/CronJob/health.lua`): suspended → Healthy "CronJob is
/// Suspended"; the last scheduled run failed (lastSuccessfulTime older than
/// lastScheduleTime, no active job) → Degraded; otherwise Healthy; no status → Progressing.
pub(crate) fn cronjob(obj: &Value) -> Health {
    if bool_at(obj, &["spec", "suspend"]) {
        return Health::healthy("CronJob is Suspended");
    }
    if get(obj, &["status"]).is_none() {
        return Health::progressing("Waiting for CronJob");
    }
    let Some(last_schedule) = opt_str(obj, &["status", "lastScheduleTime"]) else {
        return Health::healthy("CronJob has not been scheduled yet");
    };
    let Some(last_success) = opt_str(obj, &["status", "lastSuccessfulTime"]) else {
        return Health::healthy("The CronJob never completed successfully. It may not be healthy");
    };
    if !arr_at(obj, &["status", "active"]).is_empty() {
        return Health::healthy(
            "The job is running. Its last execution may not have been successful",
        );
    }
    // RFC 3339 timestamps in UTC compare as strings, as the Lua script compares them.
    if last_success < last_schedule {
        return Health::degraded("CronJob has not completed its last execution successfully");
    }
    Health::healthy("CronJob has completed its last execution successfully")
}

/// policy/PodDisruptionBudget (Argo CD's `policy/PodDisruptionBudget/health.lua`): a False
/// condition other than InsufficientPods → Degraded; any other condition → Healthy; none →
/// Progressing "Waiting for status".
pub(crate) fn pdb(obj: &Value) -> Health {
    let mut health = Health::progressing("Waiting for status");
    for c in conditions(obj) {
        let message = format!("PodDisruptionBudget has {}", c.reason);
        if c.is_false() && c.reason != "InsufficientPods" {
            return Health::degraded(message);
        }
        health = Health::healthy(message);
    }
    health
}

/// redis.redis.opstreelabs.in Redis and RedisCluster (OT-Container-Kit redis-operator; ours,
/// Argo CD has no check): `status.state` Ready → Healthy, Failed → Degraded, any other state
/// (Initializing, Bootstrap, ScalingDown, Resharding, Rebalancing) → Progressing. Operator
/// versions before the `state` field report an empty status: no health then, rather than a
/// wait that never ends.
pub(crate) fn redis_state(obj: &Value) -> Health {
    let kind = str_at(obj, &["kind"]);
    let reason = str_at(obj, &["status", "reason"]);
    match str_at(obj, &["status", "state"]) {
        "" => Health::none(format!(
            "no health: the {kind} has no status.state yet (older redis-operator versions never set it)"
        )),
        "Ready" => Health::healthy(if reason.is_empty() {
            format!("{kind} is ready")
        } else {
            reason.to_string()
        }),
        state @ ("Failed" | "Error") => Health::degraded(super::object::join_reason(state, reason)),
        state => Health::progressing(super::object::join_reason(state, reason)),
    }
}
