//! Generic health for kinds without a specific rule, reading `status.conditions` as kstatus
//! does (sigs.k8s.io/cli-utils `pkg/kstatus/status`): the standard `Reconciling` and
//! `Stalled` conditions first, then `Ready`, then `Available`.
//!
//! Argo CD gives such kinds no health at all. We differ where a controller says something in
//! the conventional conditions; otherwise the answer is still "no health"
//! ([`HealthStatus::None`](super::HealthStatus::None)), and a sync does not wait.

use serde_json::Value;

use super::Health;
use super::object::{Cond, Gvk, conditions, get, group_kind_key};

/// Assesses an object that has no specific rule (the generation check has been done).
pub(crate) fn assess(obj: &Value, gvk: Gvk<'_>) -> Health {
    let gk = group_kind_key(gvk.group, gvk.kind);
    let has_status = match get(obj, &["status"]) {
        None => false,
        Some(Value::Object(m)) => !m.is_empty(),
        Some(_) => true,
    };
    if !has_status {
        return Health::none(format!(
            "no health check for {gk} and the object has no status"
        ));
    }

    // kstatus: the first Reconciling=True or Stalled=True condition decides.
    for c in conditions(obj) {
        if c.type_ == "Reconciling" && c.is_true() {
            return Health::progressing(c.reason_message());
        }
        if c.type_ == "Stalled" && c.is_true() {
            return Health::degraded(c.reason_message());
        }
    }
    for wanted in ["Ready", "Available"] {
        if let Some(c) = conditions(obj).find(|c| c.type_ == wanted) {
            return from_condition(obj, &c);
        }
    }
    Health::none(format!(
        "no health check for {gk} and its status has no Ready, Available, Reconciling or \
         Stalled condition"
    ))
}

/// Ready/Available: True → Healthy; False or Unknown → Progressing (kstatus cannot tell a
/// resource making progress from a doomed one, so neither can we); a condition written for an
/// older generation → Progressing.
fn from_condition(obj: &Value, c: &Cond<'_>) -> Health {
    if let Some(stale) = super::stale_condition(obj, c) {
        return stale;
    }
    match c.status {
        "True" => Health::healthy(if c.message.is_empty() {
            format!("{} is True", c.type_)
        } else {
            c.message.to_string()
        }),
        _ => {
            let why = c.reason_message();
            Health::progressing(if why.is_empty() {
                format!("Waiting for {} to be True (it is {:?})", c.type_, c.status)
            } else {
                format!("{} is {}: {why}", c.type_, display_status(c.status))
            })
        }
    }
}

fn display_status(status: &str) -> &str {
    if status.is_empty() { "unset" } else { status }
}
