//! Our built-in rule for Argo CD `Application` objects (app-of-apps): a deliberate difference
//! from Argo CD, which dropped its Application health check in 1.8 so that a parent app's
//! waves no longer wait for its children (argo-cd issues 5585, 6411, 8358; listed in
//! docs/argocd-differences.md). `--no-application-health` turns it off; a user's own
//! `argoproj.io_Application` check in argocd-cm takes precedence (custom checks are looked up
//! first).
//!
//! Healthy only when Argo CD reports the child synced and healthy for the revision it
//! compared against: `status.sync.status == Synced`, `status.health.status == Healthy`, and,
//! where the status names revisions, the last sync's (`status.operationState.syncResult.revision`)
//! equal to the compared one (`status.sync.revision`), and that one equal to
//! `spec.source.targetRevision` when the target is a full commit hash.

use serde_json::Value;

use super::{Health, HealthConfig, HealthStatus};

/// Whether the rule judges objects of `group`/`kind` under `cfg`.
pub(super) fn applies(group: &str, kind: &str, cfg: &HealthConfig) -> bool {
    group == "argoproj.io" && kind == "Application" && cfg.application_health()
}

fn text<'a>(obj: &'a Value, pointer: &str) -> Option<&'a str> {
    obj.pointer(pointer).and_then(Value::as_str)
}

/// Health of one Application from its status, as Argo CD's controller writes it.
pub(super) fn assess(obj: &Value) -> Health {
    let sync = text(obj, "/status/sync/status");
    if sync != Some("Synced") {
        return Health::new(
            HealthStatus::Progressing,
            format!(
                "waiting for the Application to sync (status.sync.status: {})",
                sync.unwrap_or("not reported yet")
            ),
        );
    }
    let compared = text(obj, "/status/sync/revision").filter(|r| !r.is_empty());
    let synced = text(obj, "/status/operationState/syncResult/revision").filter(|r| !r.is_empty());
    if let (Some(compared), Some(synced)) = (compared, synced)
        && compared != synced
    {
        return Health::new(
            HealthStatus::Progressing,
            format!("last synced revision {synced}, compared with {compared}"),
        );
    }
    let target = text(obj, "/spec/source/targetRevision")
        .filter(|t| t.len() == 40 && t.bytes().all(|b| b.is_ascii_hexdigit()));
    if let (Some(target), Some(compared)) = (target, compared)
        && !target.eq_ignore_ascii_case(compared)
    {
        return Health::new(
            HealthStatus::Progressing,
            format!("synced revision {compared}, target {target}"),
        );
    }
    let message = text(obj, "/status/health/message")
        .unwrap_or("")
        .to_string();
    match text(obj, "/status/health/status").and_then(HealthStatus::from_argocd) {
        Some(HealthStatus::Healthy) => Health::new(HealthStatus::Healthy, message),
        Some(HealthStatus::Degraded) => Health::new(HealthStatus::Degraded, message),
        Some(HealthStatus::Suspended) => Health::new(HealthStatus::Suspended, message),
        Some(other) => Health::new(
            HealthStatus::Progressing,
            format!(
                "health {other}{}",
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                }
            ),
        ),
        None => Health::new(
            HealthStatus::Progressing,
            "waiting for the Application's health (status.health.status not reported yet)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{HealthConfig, HealthStatus, assess as health};
    use serde_json::{Value, json};

    fn app(status: Value) -> Value {
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
               "metadata": {"name": "child", "namespace": "argocd"},
               "spec": {"source": {"targetRevision": "HEAD"}}, "status": status})
    }

    fn status_of(obj: &Value, cfg: &HealthConfig) -> HealthStatus {
        health(obj, cfg).unwrap().status
    }

    #[test]
    fn waits_for_synced_and_healthy() {
        let cfg = HealthConfig::new();
        assert_eq!(status_of(&app(json!({})), &cfg), HealthStatus::Progressing);
        let out_of_sync =
            app(json!({"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}}));
        assert_eq!(status_of(&out_of_sync, &cfg), HealthStatus::Progressing);
        let progressing =
            app(json!({"sync": {"status": "Synced"}, "health": {"status": "Progressing"}}));
        assert_eq!(status_of(&progressing, &cfg), HealthStatus::Progressing);
        let missing = app(json!({"sync": {"status": "Synced"}, "health": {"status": "Missing"}}));
        assert_eq!(status_of(&missing, &cfg), HealthStatus::Progressing);
        let degraded = app(
            json!({"sync": {"status": "Synced"}, "health": {"status": "Degraded", "message": "boom"}}),
        );
        assert_eq!(health(&degraded, &cfg).unwrap().message, "boom");
        assert_eq!(status_of(&degraded, &cfg), HealthStatus::Degraded);
        let ok = app(
            json!({"sync": {"status": "Synced", "revision": "abc"}, "health": {"status": "Healthy"},
                            "operationState": {"syncResult": {"revision": "abc"}}}),
        );
        assert_eq!(status_of(&ok, &cfg), HealthStatus::Healthy);
    }

    #[test]
    fn an_older_synced_revision_is_not_healthy_yet() {
        let cfg = HealthConfig::new();
        let stale = app(
            json!({"sync": {"status": "Synced", "revision": "new"}, "health": {"status": "Healthy"},
                               "operationState": {"syncResult": {"revision": "old"}}}),
        );
        assert_eq!(status_of(&stale, &cfg), HealthStatus::Progressing);
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let mut pinned = app(
            json!({"sync": {"status": "Synced", "revision": "ffffffffffffffffffffffffffffffffffffffff"},
                                    "health": {"status": "Healthy"}}),
        );
        pinned["spec"]["source"]["targetRevision"] = json!(sha);
        assert_eq!(status_of(&pinned, &cfg), HealthStatus::Progressing);
        pinned["status"]["sync"]["revision"] = json!(sha);
        assert_eq!(status_of(&pinned, &cfg), HealthStatus::Healthy);
    }

    #[test]
    fn opt_out_and_a_custom_check_win() {
        let unsynced = app(json!({"sync": {"status": "OutOfSync"}}));
        let off = HealthConfig::new().without_application_health();
        assert_ne!(status_of(&unsynced, &off), HealthStatus::Progressing);
        let custom = HealthConfig::new().with_script(
            "argoproj.io/Application",
            "argoproj.io_Application",
            "return {status = 'Healthy', message = 'custom'}",
        );
        assert_eq!(health(&unsynced, &custom).unwrap().message, "custom");
    }
}
