//! The change between two versions of an object as an RFC 6902 JSON Patch, for `-o json`.
//! Maps are compared key by key; lists of the same length item by item, other lists are
//! replaced whole (a diff meant for reading, not the smallest patch).

use serde::Serialize;
use serde_json::Value;

/// One operation of a JSON Patch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOp {
    pub op: &'static str,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// The operations that turn `from` into `to`.
pub fn json_patch(from: &Value, to: &Value) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    walk(from, to, &mut String::new(), &mut ops);
    ops
}

fn walk(from: &Value, to: &Value, path: &mut String, ops: &mut Vec<PatchOp>) {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, old) in a {
                let len = path.len();
                push_token(path, key);
                match b.get(key) {
                    Some(new) => walk(old, new, path, ops),
                    None => ops.push(PatchOp {
                        op: "remove",
                        path: path.clone(),
                        value: None,
                    }),
                }
                path.truncate(len);
            }
            for (key, new) in b {
                if !a.contains_key(key) {
                    let len = path.len();
                    push_token(path, key);
                    ops.push(PatchOp {
                        op: "add",
                        path: path.clone(),
                        value: Some(new.clone()),
                    });
                    path.truncate(len);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (old, new)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                push_token(path, &i.to_string());
                walk(old, new, path, ops);
                path.truncate(len);
            }
        }
        _ if from == to => {}
        _ => ops.push(PatchOp {
            op: "replace",
            path: path.clone(),
            value: Some(to.clone()),
        }),
    }
}

/// Appends `/token` with RFC 6901 escaping (`~` → `~0`, `/` → `~1`).
fn push_token(path: &mut String, token: &str) {
    path.push('/');
    for c in token.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Applies a patch made by [`json_patch`] (add / remove / replace only).
    fn apply(doc: &mut Value, ops: &[PatchOp]) {
        for op in ops {
            if op.path.is_empty() {
                *doc = op.value.clone().unwrap();
                continue;
            }
            let (parent, last) = op.path.rsplit_once('/').unwrap();
            let last = last.replace("~1", "/").replace("~0", "~");
            let target = doc.pointer_mut(parent).unwrap();
            match (op.op, target) {
                ("remove", Value::Object(m)) => {
                    m.remove(&last);
                }
                (_, Value::Object(m)) => {
                    m.insert(last, op.value.clone().unwrap());
                }
                (_, Value::Array(a)) => {
                    a[last.parse::<usize>().unwrap()] = op.value.clone().unwrap()
                }
                _ => panic!("bad target"),
            }
        }
    }

    #[test]
    fn patch_turns_one_side_into_the_other() {
        let from = json!({"metadata": {"labels": {"a/b": "1", "gone": "x"}},
                          "spec": {"replicas": 1, "ports": [{"port": 80}], "list": [1, 2]}});
        let to = json!({"metadata": {"labels": {"a/b": "2", "new~": "y"}},
                        "spec": {"replicas": 3, "ports": [{"port": 8080}], "list": [1]}});
        let ops = json_patch(&from, &to);
        assert!(
            ops.iter()
                .any(|o| o.path == "/metadata/labels/a~1b" && o.op == "replace")
        );
        assert!(
            ops.iter()
                .any(|o| o.path == "/metadata/labels/new~0" && o.op == "add")
        );
        assert!(
            ops.iter()
                .any(|o| o.path == "/spec/ports/0/port" && o.op == "replace")
        );
        assert!(
            ops.iter()
                .any(|o| o.path == "/spec/list" && o.op == "replace")
        );
        let mut doc = from.clone();
        apply(&mut doc, &ops);
        assert_eq!(doc, to);
        assert!(json_patch(&to, &to).is_empty());
    }
}
