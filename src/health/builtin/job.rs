//! Job health, as gitops-engine `health_job.go`, with the failure reason in the message.

use serde_json::Value;

use super::super::Health;
use super::super::object::{Gvk, conditions, int_at, opt_int};
use super::unsupported;

/// Job: a `Failed` condition → Degraded (reason and message, e.g. `BackoffLimitExceeded: Job
/// has reached the specified backoff limit`, `DeadlineExceeded: Job was active longer than
/// specified deadline`); `Complete` → Healthy; `Suspended=True` → Suspended; otherwise
/// Progressing with the pod counts.
///
/// Unlike Argo CD, a `Suspended` condition with status `False` (a resumed Job that is running
/// again) does not count as complete: Argo CD reports such a running Job Healthy.
pub(crate) fn job(obj: &Value, gvk: Gvk<'_>) -> Health {
    if gvk.version != "v1" {
        return unsupported("Job", gvk);
    }
    let mut failed: Option<String> = None;
    let mut complete = false;
    let mut suspended = false;
    let mut message = String::new();
    let mut failing: Option<String> = None;
    for c in conditions(obj) {
        match c.type_ {
            "Failed" => {
                complete = true;
                failed = Some(c.reason_message());
            }
            "Complete" => {
                complete = true;
                message = c.message.to_string();
            }
            "Suspended" if c.is_true() => {
                complete = true;
                suspended = true;
                message = c.message.to_string();
            }
            // Kubernetes ≥ 1.31 sets FailureTarget first and Failed once the pods are gone.
            "FailureTarget" if c.is_true() => failing = Some(c.reason_message()),
            _ => {}
        }
    }
    if !complete {
        return Health::progressing(match failing {
            Some(why) => format!("Job is failing: {why}"),
            None => progress_message(obj),
        });
    }
    if let Some(why) = failed {
        return Health::degraded(why);
    }
    if suspended {
        return Health::suspended(message);
    }
    Health::healthy(message)
}

fn progress_message(obj: &Value) -> String {
    let active = int_at(obj, &["status", "active"]);
    let succeeded = int_at(obj, &["status", "succeeded"]);
    let failed = int_at(obj, &["status", "failed"]);
    let mut message = format!("Running: {active} active, {succeeded} succeeded, {failed} failed");
    if let Some(limit) = opt_int(obj, &["spec", "backoffLimit"]) {
        message.push_str(&format!(" (backoffLimit {limit})"));
    }
    message
}
