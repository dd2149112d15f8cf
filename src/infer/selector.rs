//! Label selectors: a Service's `spec.selector` map and the `LabelSelector` of a
//! PodDisruptionBudget (`matchLabels` + `matchExpressions`), matched against pod labels.

use serde_json::{Map, Value};
use std::fmt;

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A label selector. An empty selector matches every pod (as `policy/v1` PDBs do); a Service
/// without a selector is never turned into one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Selector {
    pub labels: Vec<(String, String)>,
    pub requirements: Vec<Requirement>,
}

impl Selector {
    /// A Service's `spec.selector`: a plain map of strings; `None` when absent or empty (a
    /// Service without selector has manually managed endpoints).
    pub fn from_map(value: Option<&Value>) -> Option<Selector> {
        let map = value?.as_object()?;
        let labels = string_pairs(map)?;
        if labels.is_empty() {
            return None;
        }
        Some(Selector {
            labels,
            requirements: Vec::new(),
        })
    }

    /// A `LabelSelector` (`matchLabels`, `matchExpressions`); `None` when absent or malformed.
    pub fn from_label_selector(value: Option<&Value>) -> Option<Selector> {
        let map = value?.as_object()?;
        let labels = match map.get("matchLabels") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(m)) => string_pairs(m)?,
            Some(_) => return None,
        };
        let mut requirements = Vec::new();
        if let Some(exprs) = map.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e.get("key")?.as_str()?.to_string();
                let values: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|v| {
                        v.iter()
                            .filter_map(|s| s.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                requirements.push(match e.get("operator")?.as_str()? {
                    "In" => Requirement::In(key, values),
                    "NotIn" => Requirement::NotIn(key, values),
                    "Exists" => Requirement::Exists(key),
                    "DoesNotExist" => Requirement::DoesNotExist(key),
                    _ => return None,
                });
            }
        }
        Some(Selector {
            labels,
            requirements,
        })
    }

    /// Whether pods with `labels` are selected.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.labels.iter().all(|(k, v)| get(k) == Some(v.as_str()))
            && self.requirements.iter().all(|r| match r {
                Requirement::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
                Requirement::NotIn(k, vs) => get(k).is_none_or(|v| vs.iter().all(|x| x != v)),
                Requirement::Exists(k) => get(k).is_some(),
                Requirement::DoesNotExist(k) => get(k).is_none(),
            })
    }
}

fn string_pairs(map: &Map<String, Value>) -> Option<Vec<(String, String)>> {
    map.iter()
        .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for r in &self.requirements {
            parts.push(match r {
                Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
                Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
                Requirement::Exists(k) => k.clone(),
                Requirement::DoesNotExist(k) => format!("!{k}"),
            });
        }
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_selectors_and_label_selectors() {
        let pods = json!({"app": "api", "tier": "backend"});
        let pods = pods.as_object();
        let s = Selector::from_map(Some(&json!({"app": "api"}))).unwrap();
        assert!(s.matches(pods));
        assert!(!s.matches(json!({"app": "web"}).as_object()));
        assert!(Selector::from_map(Some(&json!({}))).is_none());
        assert!(Selector::from_map(None).is_none());
        let s = Selector::from_label_selector(Some(&json!({
            "matchLabels": {"app": "api"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["backend", "db"]},
                {"key": "canary", "operator": "DoesNotExist"}
            ]
        })))
        .unwrap();
        assert!(s.matches(pods));
        assert!(!s.matches(json!({"app": "api", "tier": "web"}).as_object()));
        assert_eq!(s.to_string(), "app=api,tier in (backend,db),!canary");
        let all = Selector::from_label_selector(Some(&json!({}))).unwrap();
        assert!(
            all.matches(None),
            "an empty LabelSelector selects everything"
        );
        assert!(
            Selector::from_label_selector(Some(
                &json!({"matchExpressions": [{"key": "a", "operator": "Near"}]})
            ))
            .is_none()
        );
    }
}
