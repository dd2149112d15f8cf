//! Argo CD's built-in (Go) health checks, from gitops-engine `pkg/health/health_*.go`.

mod apps;
mod job;
mod other;
pub mod pod;

use serde_json::Value;

use super::Health;
use super::object::Gvk;

/// A built-in rule.
pub(crate) struct BuiltinRule {
    /// Assesses an object of the rule's group/kind.
    pub assess: fn(&Value, Gvk<'_>) -> Health,
    /// The rule compares `metadata.generation` with `status.observedGeneration` itself, at
    /// the point where Argo CD does (e.g. a paused Deployment is Suspended even when stale).
    pub checks_generation: bool,
}

const fn rule(assess: fn(&Value, Gvk<'_>) -> Health) -> Option<BuiltinRule> {
    Some(BuiltinRule {
        assess,
        checks_generation: false,
    })
}

const fn rule_with_generation(assess: fn(&Value, Gvk<'_>) -> Health) -> Option<BuiltinRule> {
    Some(BuiltinRule {
        assess,
        checks_generation: true,
    })
}

/// The built-in rule for a group/kind (gitops-engine `GetHealthCheckFunc`): matched on group
/// and kind; each rule then checks the version.
pub(crate) fn lookup(group: &str, kind: &str) -> Option<BuiltinRule> {
    match (group, kind) {
        ("apps", "Deployment") => rule_with_generation(apps::deployment),
        ("apps", "StatefulSet") => rule_with_generation(apps::statefulset),
        ("apps", "ReplicaSet") => rule_with_generation(apps::replicaset),
        ("apps", "DaemonSet") => rule_with_generation(apps::daemonset),
        ("extensions" | "networking.k8s.io", "Ingress") => rule(other::ingress),
        ("argoproj.io", "Workflow") => rule(other::workflow),
        ("apiregistration.k8s.io", "APIService") => rule(other::apiservice),
        ("", "Service") => rule(other::service),
        ("", "PersistentVolumeClaim") => rule(other::pvc),
        ("", "Pod") => rule(pod::pod),
        ("batch", "Job") => rule(job::job),
        ("autoscaling", "HorizontalPodAutoscaler") => rule(other::hpa),
        _ => None,
    }
}

/// Argo CD's answer for a supported kind at a version it does not convert: Unknown with
/// "unsupported <Kind> GVK: <gvk>".
pub(crate) fn unsupported(what: &str, gvk: Gvk<'_>) -> Health {
    Health::unknown(format!("unsupported {what} GVK: {gvk}"))
}
