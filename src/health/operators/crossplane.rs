//! Crossplane: packages (`pkg.crossplane.io/Provider`), the legacy provider-aws kinds that
//! Argo CD checks one by one, and every other kind of a `*.crossplane.io` or `*.upbound.io`
//! group (managed resources, composites, claims, compositions), which Argo CD checks with its
//! wildcard scripts `_.crossplane.io/_` and `_.upbound.io/_`.

use serde_json::Value;

use crate::health::Health;
use crate::health::object::{conditions, get, str_at};

/// Kinds that never get conditions: healthy once they exist.
const CROSSPLANE_NO_STATUS: &[&str] = &[
    "Composition",
    "CompositionRevision",
    "DeploymentRuntimeConfig",
    "ClusterProviderConfig",
    "ProviderConfig",
    "ProviderConfigUsage",
    "ControllerConfig",
];
const UPBOUND_NO_STATUS: &[&str] = &[
    "ClusterProviderConfig",
    "ProviderConfig",
    "ProviderConfigUsage",
];

const CROSSPLANE_READY: &[&str] = &[
    "Ready",
    "Healthy",
    "Offered",
    "Established",
    "ValidPipeline",
    "RevisionHealthy",
];
const UPBOUND_READY: &[&str] = &["Ready"];

/// The wildcard scripts: a kind that never has a status (or an empty one) → Healthy;
/// a ProviderConfig without conditions but with users → Healthy "Resource is in use.";
/// LastAsyncOperation or Synced False → Degraded with the condition's message (first one
/// met); one of the ready condition types True → Healthy "Resource is up-to-date."; else
/// Progressing "Provisioning ...".
///
/// Deviation: Argo CD's script answers Healthy for *any* kind with no `status` at all (a
/// precedence slip in its `or … and …`), so a managed resource just applied passes at once;
/// Argo CD's 2 s pause between waves usually hides that. Here a kind that does get a status
/// is Progressing "Provisioning ..." until its controller writes one.
fn wildcard(obj: &Value, no_status: &[&str], ready: &[&str]) -> Health {
    let kind = str_at(obj, &["kind"]);
    let status = get(obj, &["status"]);
    let empty = status.is_none_or(|s| s.as_object().is_some_and(|m| m.is_empty()));
    if empty && no_status.contains(&kind) {
        return Health::healthy("Resource is up-to-date.");
    }
    let provisioning = Health::progressing("Provisioning ...");
    if empty || get(obj, &["status", "conditions"]).is_none() {
        if matches!(kind, "ProviderConfig" | "ClusterProviderConfig")
            && get(obj, &["status", "users"]).is_some()
        {
            return Health::healthy("Resource is in use.");
        }
        return provisioning;
    }
    let mut health = provisioning;
    for c in conditions(obj) {
        if matches!(c.type_, "LastAsyncOperation" | "Synced") && c.is_false() {
            return Health::degraded(c.message);
        }
        if ready.contains(&c.type_) && c.is_true() {
            health = Health::healthy("Resource is up-to-date.");
        }
    }
    health
}

/// `_.crossplane.io/_`.
pub(super) fn crossplane(obj: &Value) -> Health {
    wildcard(obj, CROSSPLANE_NO_STATUS, CROSSPLANE_READY)
}

/// `_.upbound.io/_`.
pub(super) fn upbound(obj: &Value) -> Health {
    wildcard(obj, UPBOUND_NO_STATUS, UPBOUND_READY)
}

/// pkg.crossplane.io/Provider (Argo CD's `pkg.crossplane.io/Provider/health.lua`): Installed
/// and Healthy both True → Healthy, else Degraded, with the two reasons; no conditions →
/// Progressing "Waiting for provider to be installed". (The script raises a Lua error when
/// either condition is missing; here the missing reason is left out.)
pub(super) fn provider(obj: &Value) -> Health {
    if get(obj, &["status", "conditions"]).is_none() {
        return Health::progressing("Waiting for provider to be installed");
    }
    let (mut installed, mut healthy) = (false, false);
    let (mut installed_reason, mut healthy_reason) = ("", "");
    for c in conditions(obj) {
        match c.type_ {
            "Installed" => {
                installed = c.is_true();
                installed_reason = c.reason;
            }
            "Healthy" => {
                healthy = c.is_true();
                healthy_reason = c.reason;
            }
            _ => {}
        }
    }
    let message = [installed_reason, healthy_reason]
        .iter()
        .filter(|r| !r.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    if installed && healthy {
        Health::healthy(message)
    } else {
        Health::degraded(message)
    }
}

/// stacks.crossplane.io/ClusterStackInstall (Crossplane 0.x; Argo CD's script): Ready True
/// under `status.conditionedStatus` → Healthy with its reason; else Progressing "Waiting for
/// stack to be installed" (the message becomes the reason of a Ready condition not yet True).
pub(super) fn cluster_stack_install(obj: &Value) -> Health {
    let mut message = "Waiting for stack to be installed";
    let list = crate::health::object::arr_at(obj, &["status", "conditionedStatus", "conditions"]);
    for c in list {
        if c.get("type").and_then(Value::as_str) != Some("Ready") {
            continue;
        }
        message = c.get("reason").and_then(Value::as_str).unwrap_or("");
        if c.get("status").and_then(Value::as_str) == Some("True") {
            return Health::healthy(message);
        }
    }
    Health::progressing(message)
}

/// The noun Argo CD's per-kind script for a legacy provider-aws kind uses in its messages
/// (spelled as there, typo included), or None when Argo CD has no per-kind script.
pub(super) fn legacy_aws_noun(group: &str, kind: &str) -> Option<&'static str> {
    Some(match (group, kind) {
        ("cloudfront.aws.crossplane.io", "Distribution") => "distribution",
        ("iam.aws.crossplane.io", "Policy") => "Policy",
        ("iam.aws.crossplane.io", "Role") => "Role",
        ("iam.aws.crossplane.io", "RolePolicyAttachment") => "RolePolicyAttachment",
        ("rds.aws.crossplane.io", "DBCluster") => "DBCluster",
        ("rds.aws.crossplane.io", "DBInstance") => "DBInstance",
        ("route53.aws.crossplane.io", "ResourceRecordSet") => "resourcrecordset",
        ("s3.aws.crossplane.io", "Bucket") => "Bucket",
        _ => return None,
    })
}

/// The legacy provider-aws scripts (e.g. `s3.aws.crossplane.io/Bucket/health.lua`): Ready and
/// Synced True → Healthy with Ready's reason; Synced not True with reason ReconcilePaused →
/// Suspended "ReconcilePaused"; Ready not True while Synced True → Progressing "Waiting for
/// <noun> to be available"; else Degraded with Synced's ReconcileError message; no
/// conditions → Progressing "Waiting for <noun> to be created". The last condition of each
/// type counts, as in the script.
pub(super) fn legacy_aws(obj: &Value) -> Health {
    let gvk = crate::health::object::Gvk::of(obj);
    let noun = legacy_aws_noun(gvk.group, gvk.kind).unwrap_or("resource");
    if get(obj, &["status", "conditions"]).is_none() {
        return Health::progressing(format!("Waiting for {noun} to be created"));
    }
    let (mut ready, mut synced, mut paused) = (false, false, false);
    let (mut ready_message, mut synced_message, mut paused_message) = ("", "", "");
    for c in conditions(obj) {
        match c.type_ {
            "Ready" => {
                ready = c.is_true();
                ready_message = c.reason;
            }
            "Synced" => {
                synced = c.is_true();
                match c.reason {
                    "ReconcileError" => synced_message = c.message,
                    "ReconcilePaused" => {
                        paused = true;
                        paused_message = c.reason;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if ready && synced {
        Health::healthy(ready_message)
    } else if !synced && paused {
        Health::suspended(paused_message)
    } else if !ready && synced && !paused {
        Health::progressing(format!("Waiting for {noun} to be available"))
    } else {
        Health::degraded(synced_message)
    }
}
