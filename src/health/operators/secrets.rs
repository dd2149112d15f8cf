//! external-secrets.io ExternalSecret and bitnami.com SealedSecret: one condition decides.

use serde_json::Value;

use crate::health::Health;
use crate::health::object::conditions;

/// The first condition of type `type_` that is True or False decides: True → Healthy,
/// False → Degraded, with its message; none → Progressing `waiting`. A deciding condition
/// written for an older generation is Progressing (as for cert-manager's Ready).
fn first_decided(obj: &Value, type_: &str, waiting: &str) -> Health {
    for c in conditions(obj).filter(|c| c.type_ == type_) {
        if (c.is_false() || c.is_true())
            && let Some(stale) = crate::health::stale_condition(obj, &c)
        {
            return stale;
        }
        if c.is_false() {
            return Health::degraded(c.message);
        }
        if c.is_true() {
            return Health::healthy(c.message);
        }
    }
    Health::progressing(waiting)
}

/// external-secrets.io/ExternalSecret (Argo CD's `external-secrets.io/ExternalSecret/health.lua`):
/// Ready False → Degraded, Ready True → Healthy, else Progressing "Waiting for ExternalSecret".
pub(super) fn external_secret(obj: &Value) -> Health {
    first_decided(obj, "Ready", "Waiting for ExternalSecret")
}

/// bitnami.com/SealedSecret (Argo CD's `bitnami.com/SealedSecret/health.lua`): Synced False →
/// Degraded ("no key could decrypt secret"), True → Healthy, else Progressing.
pub(super) fn sealed_secret(obj: &Value) -> Health {
    first_decided(obj, "Synced", "Waiting for Sealed Secret to be decrypted")
}
