//! Flux helm.toolkit.fluxcd.io HelmRelease and kustomize.toolkit.fluxcd.io Kustomization.

use serde_json::Value;

use crate::health::object::{arr_at, bool_at, conditions, str_at};
use crate::health::{Health, stale_generation};

/// Which extra condition types count as a success (HelmRelease: Released, TestSuccess) and
/// how many successes make it Healthy.
struct Flavour {
    extra_success: &'static [&'static str],
    healthy_at: u32,
}

/// Argo CD's Flux scripts: `spec.suspend` → Suspended "<Kind> is suspended" (first: Flux does
/// not reconcile a suspended object, so its status may stay stale for ever). Then over the
/// conditions: Ready True (and, for a HelmRelease, Released or TestSuccess True) count as
/// successes; Ready Unknown and Reconciling True count as progress. Two progress →
/// Progressing, enough successes → Healthy, anything else → Degraded; the message is the
/// reason of the last Ready condition. No conditions → Progressing "Status unknown".
fn assess(obj: &Value, flavour: &Flavour) -> Health {
    if bool_at(obj, &["spec", "suspend"]) {
        return Health::suspended(format!("{} is suspended", str_at(obj, &["kind"])));
    }
    if let Some(stale) = stale_generation(obj) {
        return stale;
    }
    // Deviation: an empty list says nothing yet (the script reads it as Degraded "").
    if arr_at(obj, &["status", "conditions"]).is_empty() {
        return Health::progressing("Status unknown");
    }
    let (mut progressing, mut succeeded) = (0u32, 0u32);
    let mut message = "";
    for c in conditions(obj) {
        if c.type_ == "Ready" {
            if c.is_true() {
                succeeded += 1;
            } else if c.status == "Unknown" {
                progressing += 1;
            }
            message = c.reason;
        } else if c.type_ == "Reconciling" && c.is_true() {
            progressing += 1;
        } else if flavour.extra_success.contains(&c.type_) && c.is_true() {
            succeeded += 1;
        }
    }
    if progressing == 2 {
        Health::progressing(message)
    } else if succeeded == flavour.healthy_at {
        Health::healthy(message)
    } else {
        Health::degraded(message)
    }
}

/// helm.toolkit.fluxcd.io/HelmRelease (Argo CD's `helm.toolkit.fluxcd.io/HelmRelease/health.lua`):
/// Healthy takes exactly two successes among Ready, Released and TestSuccess.
pub(super) fn helm_release(obj: &Value) -> Health {
    assess(
        obj,
        &Flavour {
            extra_success: &["Released", "TestSuccess"],
            healthy_at: 2,
        },
    )
}

/// kustomize.toolkit.fluxcd.io/Kustomization (Argo CD's
/// `kustomize.toolkit.fluxcd.io/Kustomization/health.lua`): Healthy takes Ready True.
pub(super) fn kustomization(obj: &Value) -> Health {
    assess(
        obj,
        &Flavour {
            extra_success: &[],
            healthy_at: 1,
        },
    )
}
