//! Health assessment of Kubernetes objects, as Argo CD does it (SPEC §6).
//!
//! [`assess`] is a pure function of one object and a [`HealthConfig`]. The rule for an object
//! is chosen in Argo CD's order:
//!
//! 1. `metadata.deletionTimestamp` set (and no Argo CD hook finalizer) → Progressing
//!    "Pending deletion";
//! 2. a Lua script configured for the kind (`argocd-cm`, exact key, then wildcard keys);
//! 3. a check we bundle for a kind where Argo CD embeds a Lua script (`bundled`);
//! 4. Argo CD's Go checks (`builtin`);
//! 5. otherwise the generic, kstatus-style reading of `status.conditions` (`generic`), and
//!    [`HealthStatus::None`] ("no health") when that says nothing.
//!
//! Every rule sees a stale status as Progressing: when `status.observedGeneration` is older
//! than `metadata.generation` the status is not about the object as applied (Argo CD #4669).
//! See `README.md` in this directory for what each kind gets.

mod application;
mod builtin;
mod bundled;
mod config;
mod generic;
pub(crate) mod glob;
mod lua;
mod object;
mod operators;
mod pattern;
#[cfg(test)]
mod tests;
pub mod tree;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use builtin::pod::{ContainerProblem, container_problems};
pub use config::{CustomHealthCheck, HealthConfig, HealthConfigError};

use object::Gvk;

/// A health status, spelled as Argo CD spells it.
///
/// The order of the variants is Argo CD's order from most to least healthy
/// (`Healthy, Suspended, Progressing, Missing, Degraded, Unknown`), with [`HealthStatus::None`]
/// ("no health assessed", Argo CD's nil health) first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HealthStatus {
    /// No health rule applies (Argo CD: nil health); a sync does not wait on it.
    None,
    /// The object is healthy.
    Healthy,
    /// Paused or suspended, waiting for an external event.
    Suspended,
    /// Not healthy yet, but still has a chance to become healthy.
    Progressing,
    /// The object does not exist.
    Missing,
    /// Failed, or cannot become healthy.
    Degraded,
    /// The assessment failed or the state cannot be told.
    Unknown,
}

impl HealthStatus {
    /// The six statuses a Lua script may return, in Argo CD's order.
    pub const ARGOCD: [HealthStatus; 6] = [
        HealthStatus::Healthy,
        HealthStatus::Suspended,
        HealthStatus::Progressing,
        HealthStatus::Missing,
        HealthStatus::Degraded,
        HealthStatus::Unknown,
    ];

    /// The name, as Argo CD spells it (`None` for no health).
    pub const fn as_str(self) -> &'static str {
        match self {
            HealthStatus::None => "None",
            HealthStatus::Healthy => "Healthy",
            HealthStatus::Suspended => "Suspended",
            HealthStatus::Progressing => "Progressing",
            HealthStatus::Missing => "Missing",
            HealthStatus::Degraded => "Degraded",
            HealthStatus::Unknown => "Unknown",
        }
    }

    /// Parses one of Argo CD's six status codes (case-sensitive, as Argo CD); not `None`.
    pub fn from_argocd(s: &str) -> Option<Self> {
        HealthStatus::ARGOCD.into_iter().find(|h| h.as_str() == s)
    }

    /// Whether `self` is worse than `other` in Argo CD's order (`health.IsWorse`).
    pub fn is_worse_than(self, other: HealthStatus) -> bool {
        self > other
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for HealthStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "None" {
            return Ok(HealthStatus::None);
        }
        HealthStatus::from_argocd(s).ok_or_else(|| {
            format!(
                "unknown health status {s:?}; expected one of None, Healthy, Suspended, \
                 Progressing, Missing, Degraded, Unknown"
            )
        })
    }
}

/// The health of one object: a status and a message for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The status.
    pub status: HealthStatus,
    /// Why, in words (may be empty, as in Argo CD).
    #[serde(default)]
    pub message: String,
}

impl Health {
    /// A health with the given status and message.
    pub fn new(status: HealthStatus, message: impl Into<String>) -> Self {
        Health {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn healthy(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Healthy, message)
    }

    pub(crate) fn progressing(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Progressing, message)
    }

    pub(crate) fn degraded(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Degraded, message)
    }

    pub(crate) fn suspended(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Suspended, message)
    }

    pub(crate) fn unknown(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Unknown, message)
    }

    pub(crate) fn none(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::None, message)
    }
}

/// What went wrong in a custom (Lua) health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HealthErrorKind {
    /// The script does not compile.
    Syntax,
    /// The script raised an error (`error(...)`, indexing nil, ...).
    Runtime,
    /// The script ran longer than the time limit.
    Timeout,
    /// The script allocated more than the memory limit.
    Memory,
    /// The script returned something other than a table or nil.
    BadReturn,
}

/// A health check that could not run (SPEC §4 "a health error"): it names the `argocd-cm`
/// key of the script. A hook fails on it; other objects keep waiting and it is reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("health check {key}: {message}")]
pub struct HealthError {
    /// The `argocd-cm` key (or nested `resource.customizations` entry) of the script.
    pub key: String,
    /// The class of failure.
    pub kind: HealthErrorKind,
    /// What happened.
    pub message: String,
}

/// Which rule assesses a group/kind (for lint, `health` output and docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthRule {
    /// A Lua script from the health configuration; holds its key.
    Custom(String),
    /// A check bundled with kubectl-waves (mostly where Argo CD embeds a Lua script).
    Bundled {
        /// False when the check may still answer "no health" (e.g. Redis without a state).
        always_assesses: bool,
    },
    /// One of Argo CD's built-in (Go) checks.
    BuiltIn,
    /// No specific rule: generic `status.conditions` reading, else no health.
    Generic,
}

/// The rule that assesses objects of `group`/`kind` under `cfg`.
pub fn health_rule(group: &str, kind: &str, cfg: &HealthConfig) -> HealthRule {
    if let Some(check) = cfg.lookup(group, kind) {
        return HealthRule::Custom(check.key.clone());
    }
    if application::applies(group, kind, cfg) {
        return HealthRule::BuiltIn;
    }
    if cfg.bundled_checks()
        && let Some(rule) = bundled::lookup(group, kind)
    {
        return HealthRule::Bundled {
            always_assesses: rule.always_assesses,
        };
    }
    if builtin::lookup(group, kind).is_some() {
        return HealthRule::BuiltIn;
    }
    HealthRule::Generic
}

/// Whether objects of `group`/`kind` have a health check: built in, bundled, or a configured
/// Lua script. False means only the generic condition reading applies, so an object without
/// status passes a wave at once (lint WAVES005).
pub fn has_health_rule(group: &str, kind: &str, cfg: &HealthConfig) -> bool {
    match health_rule(group, kind, cfg) {
        HealthRule::Custom(_) | HealthRule::BuiltIn => true,
        HealthRule::Bundled { always_assesses } => always_assesses,
        HealthRule::Generic => false,
    }
}

/// Assesses the health of one object (a Kubernetes object as JSON).
///
/// Pure and cheap; the only error is a custom Lua check that could not run.
pub fn assess(obj: &Value, cfg: &HealthConfig) -> Result<Health, HealthError> {
    if !obj.is_object() {
        return Ok(Health::unknown(
            "not a Kubernetes object (expected a mapping)",
        ));
    }
    if pending_deletion(obj) {
        return Ok(Health::progressing("Pending deletion"));
    }
    let gvk = Gvk::of(obj);
    if let Some(check) = cfg.lookup(gvk.group, gvk.kind) {
        if let Some(stale) = stale_generation(obj) {
            return Ok(stale);
        }
        return lua::run(check, obj);
    }
    if application::applies(gvk.group, gvk.kind, cfg) {
        return Ok(application::assess(obj));
    }
    if cfg.bundled_checks()
        && let Some(rule) = bundled::lookup(gvk.group, gvk.kind)
    {
        if !rule.checks_generation
            && let Some(stale) = stale_generation(obj)
        {
            return Ok(stale);
        }
        return Ok((rule.assess)(obj));
    }
    if let Some(rule) = builtin::lookup(gvk.group, gvk.kind) {
        if !rule.checks_generation
            && let Some(stale) = stale_generation(obj)
        {
            return Ok(stale);
        }
        return Ok((rule.assess)(obj, gvk));
    }
    if let Some(stale) = stale_generation(obj) {
        return Ok(stale);
    }
    Ok(generic::assess(obj, gvk))
}

/// As [`assess`], with a health error turned into Unknown carrying the error, as Argo CD
/// reports it.
pub fn assess_or_unknown(obj: &Value, cfg: &HealthConfig) -> Health {
    assess(obj, cfg).unwrap_or_else(|e| Health::unknown(e.to_string()))
}

/// The hook finalizer Argo CD puts on hooks; an object being deleted that still carries it is
/// assessed normally (gitops-engine `GetResourceHealth`).
const HOOK_FINALIZER: &str = "argocd.argoproj.io/hook-finalizer";

fn pending_deletion(obj: &Value) -> bool {
    if object::get(obj, &["metadata", "deletionTimestamp"]).is_none() {
        return false;
    }
    !object::arr_at(obj, &["metadata", "finalizers"])
        .iter()
        .any(|f| f.as_str() == Some(HOOK_FINALIZER))
}

/// Progressing when `status.observedGeneration` is older than `metadata.generation`.
fn stale_generation(obj: &Value) -> Option<Health> {
    let generation = object::opt_int(obj, &["metadata", "generation"])?;
    let observed = object::opt_int(obj, &["status", "observedGeneration"])?;
    (observed < generation).then(|| {
        Health::progressing(format!(
            "Waiting for the controller to observe generation {generation} \
             (status.observedGeneration is {observed})"
        ))
    })
}

/// Progressing when a condition's own `observedGeneration` is older than the object's
/// generation: the condition describes an older spec.
pub(crate) fn stale_condition(obj: &Value, cond: &object::Cond<'_>) -> Option<Health> {
    let generation = object::opt_int(obj, &["metadata", "generation"])?;
    let observed = cond.observed_generation?;
    (observed < generation).then(|| {
        Health::progressing(format!(
            "Waiting for the controller to observe generation {generation} \
             (condition {} is for generation {observed})",
            cond.type_
        ))
    })
}
