//! The inventory of an app in the ApplySet format (KEP-3659, as `kubectl apply --applyset`
//! writes it): a parent Secret that names the group-kinds and namespaces of its members, and
//! a `part-of` label on every member. Any ApplySet-aware tool can read our membership.

use std::collections::BTreeSet;

use base64::Engine as _;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use super::{Cluster, FIELD_MANAGER, LiveKey, Result};

pub const LABEL_ID: &str = "applyset.kubernetes.io/id";
pub const LABEL_PART_OF: &str = "applyset.kubernetes.io/part-of";
pub const ANNOTATION_TOOLING: &str = "applyset.kubernetes.io/tooling";
pub const ANNOTATION_GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
pub const ANNOTATION_NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";

/// `kubectl-waves/<version>`.
pub fn tooling() -> String {
    format!("kubectl-waves/v{}", env!("CARGO_PKG_VERSION"))
}

/// The ApplySet id of a parent Secret `name` in `namespace`:
/// `applyset-<base64url(sha256(<name>.<namespace>.Secret.))>-v1` (the core group is empty).
pub fn applyset_id(name: &str, namespace: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{name}.{namespace}.Secret.").as_bytes(),
    );
    format!(
        "applyset-{}-v1",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
    )
}

/// `Kind.group`, or `Kind` for the core group: how the parent lists group-kinds.
pub fn group_kind(group: &str, kind: &str) -> String {
    if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    }
}

/// Splits `Kind.group` back into (group, kind).
pub fn parse_group_kind(text: &str) -> (String, String) {
    match text.split_once('.') {
        Some((kind, group)) => (group.to_string(), kind.to_string()),
        None => (String::new(), text.to_string()),
    }
}

/// What the parent records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// `Kind.group` of every member kind.
    pub group_kinds: BTreeSet<String>,
    /// Namespaces of members other than the parent's.
    pub namespaces: BTreeSet<String>,
}

fn csv_set(value: Option<&Value>) -> BTreeSet<String> {
    value
        .and_then(Value::as_str)
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The parent of an app: where it lives and its id.
#[derive(Debug, Clone)]
pub struct ApplySet {
    pub name: String,
    pub namespace: String,
    pub id: String,
}

/// A parent as found in the cluster.
#[derive(Debug, Clone)]
pub struct Parent {
    pub inventory: Inventory,
    /// `applyset.kubernetes.io/tooling`.
    pub tooling: String,
    pub resource_version: String,
}

impl ApplySet {
    pub fn new(name: &str, namespace: &str) -> Self {
        ApplySet {
            name: name.to_string(),
            namespace: namespace.to_string(),
            id: applyset_id(name, namespace),
        }
    }

    fn api(&self, cluster: &Cluster) -> Api<k8s_openapi::api::core::v1::Secret> {
        Api::namespaced(cluster.client.clone(), &self.namespace)
    }

    /// The parent, if it exists.
    pub async fn read(&self, cluster: &Cluster) -> Result<Option<Parent>> {
        let Some(secret) = self.api(cluster).get_opt(&self.name).await? else {
            return Ok(None);
        };
        let value = serde_json::to_value(&secret).unwrap_or_default();
        let annotations = value.pointer("/metadata/annotations");
        Ok(Some(Parent {
            inventory: Inventory {
                group_kinds: csv_set(annotations.and_then(|a| a.get(ANNOTATION_GROUP_KINDS))),
                namespaces: csv_set(annotations.and_then(|a| a.get(ANNOTATION_NAMESPACES))),
            },
            tooling: annotations
                .and_then(|a| a.get(ANNOTATION_TOOLING))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            resource_version: secret.metadata.resource_version.unwrap_or_default(),
        }))
    }

    /// Writes the parent with exactly `inventory` (server-side apply).
    pub async fn write(&self, cluster: &Cluster, inventory: &Inventory) -> Result<()> {
        let join = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(",");
        let body = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": { LABEL_ID: self.id },
                "annotations": {
                    ANNOTATION_TOOLING: tooling(),
                    ANNOTATION_GROUP_KINDS: join(&inventory.group_kinds),
                    ANNOTATION_NAMESPACES: join(&inventory.namespaces),
                },
            },
            "type": "Opaque",
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        self.api(cluster)
            .patch(&self.name, &params, &Patch::Apply(&body))
            .await?;
        Ok(())
    }

    /// Every live member of the kinds and namespaces `inventory` names, with its live object.
    pub async fn members(
        &self,
        cluster: &Cluster,
        inventory: &Inventory,
    ) -> Result<Vec<(LiveKey, Value)>> {
        let selector = format!("{LABEL_PART_OF}={}", self.id);
        let mut namespaces: BTreeSet<String> = inventory.namespaces.clone();
        namespaces.insert(self.namespace.clone());
        let mut out = Vec::new();
        for gk in &inventory.group_kinds {
            let (group, kind) = parse_group_kind(gk);
            let Some(resolved) = cluster.resolve_group_kind(&group, &kind).await else {
                // The kind is gone from the cluster (its CRD was deleted): nothing to prune.
                continue;
            };
            let apis: Vec<Api<DynamicObject>> = if resolved.namespaced {
                namespaces
                    .iter()
                    .map(|ns| Api::namespaced_with(cluster.client.clone(), ns, &resolved.resource))
                    .collect()
            } else {
                vec![Api::all_with(cluster.client.clone(), &resolved.resource)]
            };
            for api in apis {
                for o in api.list(&ListParams::default().labels(&selector)).await? {
                    let key = LiveKey::new(
                        &group,
                        &kind,
                        o.metadata.namespace.as_deref().unwrap_or(""),
                        o.metadata.name.as_deref().unwrap_or(""),
                    );
                    out.push((key, serde_json::to_value(o).unwrap_or_default()));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

/// Adds the member label to an object body.
pub fn label_member(body: &mut Value, id: &str) {
    let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Default::default()));
    if !labels.is_object() {
        *labels = Value::Object(Default::default());
    }
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(LABEL_PART_OF.into(), Value::String(id.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_kubectls_format() {
        // kubectl: base64.RawURLEncoding(sha256("<name>.<namespace>.<Kind>.<group>")).
        let id = applyset_id("shop", "shop");
        assert!(id.starts_with("applyset-") && id.ends_with("-v1"), "{id}");
        let hash = &id["applyset-".len()..id.len() - 3];
        assert_eq!(hash.len(), 43, "32 bytes, unpadded base64url");
        assert!(!hash.contains('=') && !hash.contains('+') && !hash.contains('/'));
        assert_ne!(applyset_id("shop", "other"), id);
        assert_eq!(applyset_id("shop", "shop"), id);
    }

    #[test]
    fn group_kinds_round_trip() {
        assert_eq!(group_kind("apps", "Deployment"), "Deployment.apps");
        assert_eq!(group_kind("", "Secret"), "Secret");
        assert_eq!(
            parse_group_kind("Certificate.cert-manager.io"),
            ("cert-manager.io".to_string(), "Certificate".to_string())
        );
        assert_eq!(
            parse_group_kind("Secret"),
            (String::new(), "Secret".to_string())
        );
    }
}
