//! What a diff leaves out and what it never shows: server bookkeeping is dropped from both
//! sides, and Secret values are masked the way `kubectl diff` masks them.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value};

/// kubectl's masks: a value the same on both sides, and the two sides of a changed value.
pub const MASK: &str = "***";
pub const MASK_BEFORE: &str = "*** (before)";
pub const MASK_AFTER: &str = "*** (after)";

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what the server keeps for itself (`managedFields`, `resourceVersion`, `uid`,
/// `generation`, `creationTimestamp`, `status`) and the last-applied annotation; maps that
/// end up empty go too, so `annotations: {}` never shows as a change.
pub fn strip_noise(object: &mut Value) {
    let Some(top) = object.as_object_mut() else {
        return;
    };
    top.remove("status");
    let Some(meta) = top.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    for field in [
        "managedFields",
        "resourceVersion",
        "uid",
        "generation",
        "creationTimestamp",
    ] {
        meta.remove(field);
    }
    if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
        annotations.remove(LAST_APPLIED);
    }
    for map in ["annotations", "labels"] {
        if meta
            .get(map)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            meta.remove(map);
        }
    }
}

/// Whether an object is a core Secret (the only kind whose values are masked).
pub fn is_secret(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Secret")
        && object.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// Which keys of a Secret's `data`/`stringData` a change adds, removes or changes: all a
/// diff may say about its values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeys {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl SecretKeys {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Masks the values of `data` and `stringData` on both sides as kubectl does: a key on both
/// sides with equal values becomes `***` on both, with different values `*** (before)` and
/// `*** (after)`, a key on one side only `***`. Call it on Secrets only, after every other
/// normalisation (the comparison must see the real values first). Returns the key changes.
pub fn mask_secret(before: Option<&mut Value>, after: Option<&mut Value>) -> SecretKeys {
    let mut keys = SecretKeys::default();
    let (mut before, mut after) = (before, after);
    for field in ["data", "stringData"] {
        let from = before
            .as_deref_mut()
            .and_then(|v| v.get_mut(field))
            .and_then(Value::as_object_mut);
        let to = after
            .as_deref_mut()
            .and_then(|v| v.get_mut(field))
            .and_then(Value::as_object_mut);
        mask_maps(from, to, &mut keys);
    }
    // A key moved between data and stringData is neither added nor removed.
    let both: BTreeSet<String> = keys
        .added
        .iter()
        .filter(|k| keys.removed.contains(k))
        .cloned()
        .collect();
    keys.added.retain(|k| !both.contains(k));
    keys.removed.retain(|k| !both.contains(k));
    keys.changed.extend(both);
    for list in [&mut keys.added, &mut keys.removed, &mut keys.changed] {
        list.sort();
        list.dedup();
    }
    keys
}

fn mask_maps(
    from: Option<&mut Map<String, Value>>,
    to: Option<&mut Map<String, Value>>,
    keys: &mut SecretKeys,
) {
    match (from, to) {
        (Some(from), Some(to)) => {
            for (key, value) in from.iter_mut() {
                match to.get_mut(key) {
                    Some(other) if other != value => {
                        *value = Value::String(MASK_BEFORE.into());
                        *other = Value::String(MASK_AFTER.into());
                        keys.changed.push(key.clone());
                    }
                    Some(other) => {
                        *value = Value::String(MASK.into());
                        *other = Value::String(MASK.into());
                    }
                    None => {
                        *value = Value::String(MASK.into());
                        keys.removed.push(key.clone());
                    }
                }
            }
            for (key, value) in to.iter_mut() {
                if !from.contains_key(key) {
                    *value = Value::String(MASK.into());
                    keys.added.push(key.clone());
                }
            }
        }
        (Some(from), None) => {
            for (key, value) in from.iter_mut() {
                *value = Value::String(MASK.into());
                keys.removed.push(key.clone());
            }
        }
        (None, Some(to)) => {
            for (key, value) in to.iter_mut() {
                *value = Value::String(MASK.into());
                keys.added.push(key.clone());
            }
        }
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn noise_goes_and_empty_maps_with_it() {
        let mut live = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": "c", "uid": "u", "resourceVersion": "7", "generation": 2,
                "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{}],
                "annotations": {LAST_APPLIED: "{}"},
                "labels": {"app": "x"}
            },
            "data": {"a": "1"}, "status": {"x": 1}
        });
        strip_noise(&mut live);
        assert_eq!(
            live,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "c", "labels": {"app": "x"}}, "data": {"a": "1"}})
        );
    }

    #[test]
    fn secret_values_are_masked_as_kubectl_masks_them() {
        let mut before = json!({"kind": "Secret", "apiVersion": "v1",
            "data": {"same": "czE=", "changed": "b2xk", "gone": "eA=="}});
        let mut after = json!({"kind": "Secret", "apiVersion": "v1",
            "data": {"same": "czE=", "changed": "bmV3", "new": "eQ=="},
            "stringData": {"plain": "hunter2"}});
        let keys = mask_secret(Some(&mut before), Some(&mut after));
        assert_eq!(
            before["data"],
            json!({"same": MASK, "changed": MASK_BEFORE, "gone": MASK})
        );
        assert_eq!(
            after["data"],
            json!({"same": MASK, "changed": MASK_AFTER, "new": MASK})
        );
        assert_eq!(after["stringData"], json!({"plain": MASK}));
        assert_eq!(keys.added, vec!["new", "plain"]);
        assert_eq!(keys.removed, vec!["gone"]);
        assert_eq!(keys.changed, vec!["changed"]);
        let text = format!("{before}{after}");
        for secret in ["b2xk", "bmV3", "hunter2", "czE=", "eA==", "eQ=="] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }

    #[test]
    fn one_sided_secrets_are_masked_too() {
        let mut created = json!({"kind": "Secret", "apiVersion": "v1", "data": {"k": "c2VjcmV0"}});
        let keys = mask_secret(None, Some(&mut created));
        assert_eq!(created["data"]["k"], MASK);
        assert_eq!(keys.added, vec!["k"]);
    }
}
