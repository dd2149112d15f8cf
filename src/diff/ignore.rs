//! Argo CD's `ignoreDifferences` (an Application's `spec.ignoreDifferences`), so users carry
//! their settings over: fields named by JSON pointer, or owned by listed field managers, are
//! left out of both sides before comparing. `jqPathExpressions` are refused (no jq engine
//! here yet), never silently skipped.

use serde_json::{Map, Value};

/// One entry of `ignoreDifferences`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IgnoreRule {
    /// Globs, as Argo CD matches them (`*` for any); "" is the core group.
    pub group: String,
    pub kind: String,
    /// Exact when set.
    pub name: String,
    pub namespace: String,
    pub json_pointers: Vec<String>,
    pub managed_fields_managers: Vec<String>,
}

/// Reads the rules from YAML: a list of rules, a mapping with `ignoreDifferences`, or a whole
/// Argo CD `Application` (its `spec.ignoreDifferences`).
pub fn parse_rules(text: &str) -> Result<Vec<IgnoreRule>, String> {
    let doc: Value = serde_saphyr::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    let list = match &doc {
        Value::Array(_) => &doc,
        Value::Object(m) if m.contains_key("ignoreDifferences") => &m["ignoreDifferences"],
        Value::Object(m) if m.get("kind").and_then(Value::as_str) == Some("Application") => doc
            .pointer("/spec/ignoreDifferences")
            .ok_or("the Application has no spec.ignoreDifferences")?,
        _ => {
            return Err(
                "expected a list of ignoreDifferences rules, a mapping with `ignoreDifferences`, or an Argo CD Application"
                    .into(),
            );
        }
    };
    parse_rule_list(list)
}

/// Reads a list of rules (an Application's `spec.ignoreDifferences`).
pub fn parse_rule_list(list: &Value) -> Result<Vec<IgnoreRule>, String> {
    let Value::Array(items) = list else {
        return Err("`ignoreDifferences` must be a list".into());
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| rule(item).map_err(|e| format!("rule {}: {e}", i + 1)))
        .collect()
}

fn rule(item: &Value) -> Result<IgnoreRule, String> {
    let Value::Object(m) = item else {
        return Err("must be a mapping".into());
    };
    let text = |key: &str| -> Result<String, String> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(format!("`{key}` must be a string")),
        }
    };
    let list = |key: &str| -> Result<Vec<String>, String> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("`{key}` must be a list of strings"))
                })
                .collect(),
            Some(_) => Err(format!("`{key}` must be a list of strings")),
        }
    };
    for key in m.keys() {
        if !matches!(
            key.as_str(),
            "group"
                | "kind"
                | "name"
                | "namespace"
                | "jsonPointers"
                | "jqPathExpressions"
                | "managedFieldsManagers"
        ) {
            return Err(format!("unknown field `{key}`"));
        }
    }
    if !list("jqPathExpressions")?.is_empty() {
        return Err("jqPathExpressions are not supported yet (no jq engine in kubectl-waves); express the fields as jsonPointers".into());
    }
    let kind = text("kind")?;
    if kind.is_empty() {
        return Err("`kind` is required".into());
    }
    let json_pointers = list("jsonPointers")?;
    for p in &json_pointers {
        if !p.is_empty() && !p.starts_with('/') {
            return Err(format!("JSON pointer {p:?} must start with `/`"));
        }
    }
    Ok(IgnoreRule {
        group: text("group")?,
        kind,
        name: text("name")?,
        namespace: text("namespace")?,
        json_pointers,
        managed_fields_managers: list("managedFieldsManagers")?,
    })
}

impl IgnoreRule {
    /// Whether the rule applies to this object (group and kind as globs, name and
    /// namespace exactly when given).
    pub fn matches(&self, group: &str, kind: &str, namespace: &str, name: &str) -> bool {
        use crate::health::glob;
        glob::matches(&self.group, group)
            && glob::matches(&self.kind, kind)
            && (self.name.is_empty() || self.name == name)
            && (self.namespace.is_empty() || self.namespace == namespace)
    }
}

/// Removes from `desired` and `live` every field the matching rules ignore. Field managers
/// are read from the live object's `managedFields` (call this before they are stripped).
pub fn apply_rules(
    rules: &[IgnoreRule],
    group: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    desired: Option<&mut Value>,
    live: Option<&mut Value>,
) {
    let matching: Vec<&IgnoreRule> = rules
        .iter()
        .filter(|r| r.matches(group, kind, namespace, name))
        .collect();
    if matching.is_empty() {
        return;
    }
    let owned: Vec<Value> = live
        .as_deref()
        .and_then(|l| l.pointer("/metadata/managedFields"))
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter(|e| {
                    let manager = e.get("manager").and_then(Value::as_str).unwrap_or("");
                    matching
                        .iter()
                        .any(|r| r.managed_fields_managers.iter().any(|m| m == manager))
                })
                .filter_map(|e| e.get("fieldsV1").cloned())
                .collect()
        })
        .unwrap_or_default();
    for side in [desired, live].into_iter().flatten() {
        for rule in &matching {
            for pointer in &rule.json_pointers {
                remove_pointer(side, pointer);
            }
        }
        for fields in &owned {
            remove_fields(side, fields);
        }
    }
}

/// `RespectIgnoreDifferences`: the fields the matching rules ignore keep their live values in
/// what `sync` writes (a JSON pointer the live object lacks is left out of the body; a field
/// of a listed manager is taken from the live object), so a sync never reverts them.
/// Returns whether the body changed.
pub fn respect_live(
    rules: &[IgnoreRule],
    group: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    body: &mut Value,
    live: &Value,
) -> bool {
    let matching: Vec<&IgnoreRule> = rules
        .iter()
        .filter(|r| r.matches(group, kind, namespace, name))
        .collect();
    if matching.is_empty() {
        return false;
    }
    let mut pointers: Vec<String> = matching
        .iter()
        .flat_map(|r| r.json_pointers.iter().cloned())
        .collect();
    if let Some(entries) = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    {
        for e in entries {
            let manager = e.get("manager").and_then(Value::as_str).unwrap_or("");
            if matching
                .iter()
                .any(|r| r.managed_fields_managers.iter().any(|m| m == manager))
                && let Some(set) = e.get("fieldsV1")
            {
                leaf_pointers(live, set, &mut String::new(), &mut pointers);
            }
        }
    }
    let before = body.clone();
    for pointer in &pointers {
        match live.pointer(pointer) {
            Some(value) => set_pointer(body, pointer, value.clone()),
            None => remove_pointer(body, pointer),
        }
    }
    *body != before
}

/// The JSON pointers, in `live`, of the leaves of a `fieldsV1` set.
fn leaf_pointers(live: &Value, set: &Value, path: &mut String, out: &mut Vec<String>) {
    let Some(set) = set.as_object() else { return };
    for (key, sub) in set {
        if key == "." {
            continue;
        }
        let len = path.len();
        let child = if let Some(field) = key.strip_prefix("f:") {
            push_token(path, field);
            live.get(field)
        } else if let Some(item_key) = key.strip_prefix("k:") {
            let Ok(Value::Object(wanted)) = serde_json::from_str::<Value>(item_key) else {
                continue;
            };
            let found = live.as_array().and_then(|items| {
                items
                    .iter()
                    .position(|i| wanted.iter().all(|(k, v)| i.get(k) == Some(v)))
            });
            let Some(i) = found else { continue };
            push_token(path, &i.to_string());
            live.get(i)
        } else if let Some(index) = key.strip_prefix("i:") {
            let Ok(i) = index.parse::<usize>() else {
                continue;
            };
            push_token(path, index);
            live.get(i)
        } else {
            // `v:` (a set member): the list is taken whole by its parent's pointer.
            continue;
        };
        match child {
            Some(child) if !is_leaf(sub) => leaf_pointers(child, sub, path, out),
            _ => out.push(path.clone()),
        }
        path.truncate(len);
    }
}

fn push_token(path: &mut String, token: &str) {
    path.push('/');
    path.push_str(&token.replace('~', "~0").replace('/', "~1"));
}

/// Sets the value at a JSON pointer, creating the maps on the way.
fn set_pointer(doc: &mut Value, pointer: &str, value: Value) {
    let mut current = doc;
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    for (i, token) in tokens.iter().enumerate() {
        let last = i + 1 == tokens.len();
        current = match current {
            Value::Object(m) => {
                if last {
                    m.insert(token.clone(), value);
                    return;
                }
                m.entry(token.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
            }
            Value::Array(items) => match token.parse::<usize>() {
                Ok(i) if i < items.len() => {
                    if last {
                        items[i] = value;
                        return;
                    }
                    &mut items[i]
                }
                _ => return,
            },
            _ => return,
        };
    }
}

/// Removes the value at a JSON pointer, if there is one.
fn remove_pointer(doc: &mut Value, pointer: &str) {
    if pointer.is_empty() {
        return;
    }
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match doc.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(&last);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// Removes the fields of a `fieldsV1` set (`f:name`, `k:{key}`, `v:value`, `i:index`) from
/// an object: the leaves of the set, and list items the set owns whole.
fn remove_fields(doc: &mut Value, set: &Value) {
    let Some(set) = set.as_object() else { return };
    for (key, sub) in set {
        if key == "." {
            continue;
        }
        let leaf = is_leaf(sub);
        if let Some(field) = key.strip_prefix("f:") {
            if let Value::Object(m) = doc {
                if leaf {
                    m.remove(field);
                } else if let Some(child) = m.get_mut(field) {
                    remove_fields(child, sub);
                }
            }
        } else if let Some(item_key) = key.strip_prefix("k:") {
            let Ok(Value::Object(wanted)) = serde_json::from_str::<Value>(item_key) else {
                continue;
            };
            if let Value::Array(items) = doc {
                let matches = |item: &Value| wanted.iter().all(|(k, v)| item.get(k) == Some(v));
                if leaf {
                    items.retain(|item| !matches(item));
                } else if let Some(item) = items.iter_mut().find(|i| matches(i)) {
                    remove_fields(item, sub);
                }
            }
        } else if let Some(value) = key.strip_prefix("v:") {
            if let (Ok(value), Value::Array(items)) =
                (serde_json::from_str::<Value>(value), &mut *doc)
            {
                items.retain(|item| item != &value);
            }
        } else if let Some(index) = key.strip_prefix("i:")
            && let (Ok(i), Value::Array(items)) = (index.parse::<usize>(), &mut *doc)
            && i < items.len()
        {
            if leaf {
                items.remove(i);
            } else {
                remove_fields(&mut items[i], sub);
            }
        }
    }
}

/// A set entry with nothing below it but `.`: the manager owns the whole value.
fn is_leaf(sub: &Value) -> bool {
    sub.as_object()
        .is_none_or(|m: &Map<String, Value>| m.keys().all(|k| k == "."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn respect_live_keeps_the_live_values_of_ignored_fields() {
        let rules = parse_rules(
            "- group: apps\n  kind: Deployment\n  jsonPointers: [/spec/replicas, /spec/paused]\n  managedFieldsManagers: [injector]\n",
        )
        .unwrap();
        let live = json!({
            "metadata": {"managedFields": [{"manager": "injector", "fieldsV1":
                {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:env": {}}}}}}}}]},
            "spec": {"replicas": 5, "template": {"spec": {"containers": [
                {"name": "app", "image": "a:1", "env": [{"name": "INJECTED", "value": "1"}]}]}}}
        });
        let mut body = json!({
            "spec": {"replicas": 1, "paused": true, "template": {"spec": {"containers": [
                {"name": "app", "image": "a:2"}]}}}
        });
        assert!(respect_live(
            &rules,
            "apps",
            "Deployment",
            "ns",
            "web",
            &mut body,
            &live
        ));
        assert_eq!(body.pointer("/spec/replicas"), Some(&json!(5)));
        assert_eq!(body.pointer("/spec/paused"), None, "absent live: left out");
        assert_eq!(
            body.pointer("/spec/template/spec/containers/0/env"),
            Some(&json!([{"name": "INJECTED", "value": "1"}]))
        );
        assert_eq!(
            body.pointer("/spec/template/spec/containers/0/image"),
            Some(&json!("a:2"))
        );
        let mut other = json!({"spec": {"replicas": 1}});
        assert!(!respect_live(
            &rules,
            "",
            "ConfigMap",
            "ns",
            "c",
            &mut other,
            &live
        ));
    }

    #[test]
    fn reads_the_three_shapes_and_refuses_jq() {
        let list = "- group: apps\n  kind: Deployment\n  jsonPointers: [/spec/replicas]\n";
        let rules = parse_rules(list).unwrap();
        assert_eq!(rules[0].kind, "Deployment");
        assert_eq!(rules[0].json_pointers, vec!["/spec/replicas"]);
        let app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  ignoreDifferences:\n  - kind: Secret\n    managedFieldsManagers: [vault]\n";
        assert_eq!(
            parse_rules(app).unwrap()[0].managed_fields_managers,
            vec!["vault"]
        );
        let jq = "ignoreDifferences:\n- kind: ConfigMap\n  jqPathExpressions: ['.data']\n";
        let err = parse_rules(jq).unwrap_err();
        assert!(
            err.contains("rule 1") && err.contains("jqPathExpressions"),
            "{err}"
        );
        assert!(
            parse_rules("- jsonPointers: [/x]\n")
                .unwrap_err()
                .contains("`kind` is required")
        );
    }

    #[test]
    fn pointers_and_managers_remove_fields_from_both_sides() {
        let rules = parse_rules(
            "- group: apps\n  kind: '*'\n  name: web\n  jsonPointers: [/spec/replicas]\n  managedFieldsManagers: [hpa]\n",
        )
        .unwrap();
        let mut live = json!({
            "metadata": {"managedFields": [
                {"manager": "hpa", "fieldsV1": {"f:metadata": {"f:labels": {"f:scaled": {}}},
                 "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:resources": {}}}}}}}},
                {"manager": "kubectl-waves", "fieldsV1": {"f:spec": {"f:paused": {}}}}
            ], "labels": {"scaled": "yes", "app": "web"}},
            "spec": {"replicas": 5, "paused": false, "template": {"spec": {"containers": [
                {"name": "app", "image": "a:1", "resources": {"limits": {"cpu": "1"}}}]}}}
        });
        let mut desired = json!({
            "metadata": {"labels": {"scaled": "no", "app": "web"}},
            "spec": {"replicas": 1, "paused": false, "template": {"spec": {"containers": [
                {"name": "app", "image": "a:2", "resources": {}}]}}}
        });
        apply_rules(
            &rules,
            "apps",
            "Deployment",
            "shop",
            "web",
            Some(&mut desired),
            Some(&mut live),
        );
        assert_eq!(desired.pointer("/spec/replicas"), None);
        assert_eq!(live.pointer("/spec/replicas"), None);
        assert_eq!(live.pointer("/metadata/labels/scaled"), None);
        assert_eq!(desired.pointer("/metadata/labels/scaled"), None);
        assert_eq!(
            desired.pointer("/spec/template/spec/containers/0/resources"),
            None
        );
        // What the rules do not name stays.
        assert_eq!(
            desired.pointer("/spec/template/spec/containers/0/image"),
            Some(&json!("a:2"))
        );
        assert_eq!(live.pointer("/spec/paused"), Some(&json!(false)));
        // Another object is untouched.
        let mut other = json!({"spec": {"replicas": 2}});
        apply_rules(
            &rules,
            "apps",
            "Deployment",
            "shop",
            "api",
            Some(&mut other),
            None,
        );
        assert_eq!(other.pointer("/spec/replicas"), Some(&json!(2)));
    }
}
