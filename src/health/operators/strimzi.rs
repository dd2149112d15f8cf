//! kafka.strimzi.io Kafka.

use serde_json::Value;

use crate::health::Health;
use crate::health::object::conditions;

/// kafka.strimzi.io/Kafka (Argo CD's `kafka.strimzi.io/Kafka/health.lua`), first matching
/// condition: NotReady True with a reason other than Creating → Degraded with its message;
/// Ready True → Healthy ""; else Progressing "Waiting for Kafka Cluster".
pub(super) fn kafka(obj: &Value) -> Health {
    for c in conditions(obj) {
        if c.type_ == "NotReady" && c.is_true() && c.reason != "Creating" {
            return Health::degraded(c.message);
        }
        if c.type_ == "Ready" && c.is_true() {
            return Health::healthy("");
        }
    }
    Health::progressing("Waiting for Kafka Cluster")
}
