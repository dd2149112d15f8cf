//! keda.sh ScaledObject.

use serde_json::Value;

use crate::health::Health;
use crate::health::object::conditions;

/// keda.sh/ScaledObject (Argo CD's `keda.sh/ScaledObject/health.lua`): Ready False or
/// Fallback True → Degraded; Ready True → Healthy, or Suspended when Paused is True; else
/// Progressing "Creating HorizontalPodAutoscaler Object". The message is that of the last
/// condition that counted, as the script keeps overwriting it.
pub(super) fn scaled_object(obj: &Value) -> Health {
    let (mut healthy, mut degraded, mut suspended) = (false, false, false);
    let mut message = "";
    for c in conditions(obj) {
        let counts = match (c.type_, c.status) {
            ("Ready", "False") | ("Fallback", "True") => {
                degraded = true;
                true
            }
            ("Ready", "True") => {
                healthy = true;
                true
            }
            ("Paused", "True") => {
                suspended = true;
                true
            }
            _ => false,
        };
        if counts {
            message = c.message;
        }
    }
    if degraded {
        Health::degraded(message)
    } else if healthy && suspended {
        Health::suspended(message)
    } else if healthy {
        Health::healthy(message)
    } else {
        Health::progressing("Creating HorizontalPodAutoscaler Object")
    }
}
