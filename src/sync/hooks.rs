//! Hook objects as `sync` writes them (SPEC §5): generated names and our labels. Pure.

use serde_json::{Map, Value};

use crate::model::Phase;

/// Labels every hook object carries, so `gc` finds it and groups its runs.
pub const LABEL_HOOK: &str = "kubectl-waves.io/hook";
pub const LABEL_SYNC_ID: &str = "kubectl-waves.io/sync-id";
pub const LABEL_PHASE: &str = "kubectl-waves.io/phase";
pub const LABEL_HOOK_NAME: &str = "kubectl-waves.io/hook-name";

/// The longest object name the hook kinds we run accept (a DNS label; Job names are
/// further limited by their pods' labels, which also fit in 63).
const MAX_NAME: usize = 63;

/// The name of a `generateName` hook: `<prefix><sync-id>-<phase>` lowercased, the prefix cut
/// so the whole fits 63 characters.
pub fn generated_name(prefix: &str, sync_id: &str, phase: Phase) -> String {
    let suffix = format!("{sync_id}-{}", phase.as_str()).to_ascii_lowercase();
    let room = MAX_NAME.saturating_sub(suffix.len());
    let prefix: String = prefix.to_ascii_lowercase().chars().take(room).collect();
    format!("{prefix}{suffix}")
}

/// The `hook-name` label: the name, or the generateName prefix without its trailing dash,
/// cut to a valid label value.
pub fn hook_name_label(name: &str, generate_name: bool) -> String {
    let base = if generate_name {
        name.trim_end_matches('-')
    } else {
        name
    };
    let cut: String = base.chars().take(63).collect();
    cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// A short id for one sync run: lowercase hex of the time and process, 10 characters.
pub fn new_sync_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mixed = (nanos as u64) ^ ((std::process::id() as u64) << 40);
    format!("{:010x}", mixed & 0xff_ffff_ffff)
}

/// The hook object as written: the generated name in place of `generateName`, and our labels.
pub fn hook_body(
    object: &Value,
    name: &str,
    generate_name: bool,
    sync_id: &str,
    phase: Phase,
    label_name: &str,
) -> Value {
    let mut body = object.clone();
    let Some(root) = body.as_object_mut() else {
        return body;
    };
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(meta) = meta.as_object_mut() {
        if generate_name {
            meta.remove("generateName");
            meta.insert("name".into(), Value::String(name.to_string()));
        }
        let labels = meta
            .entry("labels")
            .or_insert_with(|| Value::Object(Map::new()));
        if !labels.is_object() {
            *labels = Value::Object(Map::new());
        }
        if let Some(labels) = labels.as_object_mut() {
            for (k, v) in [
                (LABEL_HOOK, "true"),
                (LABEL_SYNC_ID, sync_id),
                (LABEL_PHASE, phase.as_str()),
                (LABEL_HOOK_NAME, label_name),
            ] {
                labels.insert(k.into(), Value::String(v.to_string()));
            }
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generated_names_are_lowercase_and_fit_63() {
        assert_eq!(
            generated_name("smoke-test-", "0a1b2c3d4e", Phase::PostSync),
            "smoke-test-0a1b2c3d4e-postsync"
        );
        let long = "x".repeat(80);
        let name = generated_name(&long, "0a1b2c3d4e", Phase::PreSync);
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("0a1b2c3d4e-presync"));
    }

    #[test]
    fn hook_name_label_drops_the_trailing_dash() {
        assert_eq!(hook_name_label("smoke-test-", true), "smoke-test");
        assert_eq!(hook_name_label("db-migrate", false), "db-migrate");
    }

    #[test]
    fn body_gets_name_and_labels() {
        let object = json!({"apiVersion": "batch/v1", "kind": "Job",
                            "metadata": {"generateName": "smoke-", "labels": {"app": "shop"}}});
        let body = hook_body(
            &object,
            "smoke-abc-postsync",
            true,
            "abc",
            Phase::PostSync,
            "smoke",
        );
        assert_eq!(body["metadata"]["name"], "smoke-abc-postsync");
        assert!(body["metadata"].get("generateName").is_none());
        assert_eq!(body["metadata"]["labels"]["app"], "shop");
        assert_eq!(body["metadata"]["labels"][LABEL_HOOK], "true");
        assert_eq!(body["metadata"]["labels"][LABEL_SYNC_ID], "abc");
        assert_eq!(body["metadata"]["labels"][LABEL_PHASE], "PostSync");
        assert_eq!(body["metadata"]["labels"][LABEL_HOOK_NAME], "smoke");
    }

    #[test]
    fn sync_ids_are_short_lowercase_hex() {
        let id = new_sync_id();
        assert_eq!(id.len(), 10);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
