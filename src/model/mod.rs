//! Pure data: Kubernetes objects as read from manifests, with their source location and the
//! parsed meaning of the annotations this tool understands.

pub mod annotations;
pub mod body;
pub mod known;
pub mod name;
pub mod reference;

use serde_json::Value;
use std::fmt;

pub use crate::source::Source;
pub use annotations::{
    Annotations, CompareOptions, DeleteHook, DeletePolicy, Phase, PruneMode, Role, SyncOptions,
};
pub use body::Body;
pub use name::Name;
pub use reference::ObjectRef;

/// Where an object lives inside its file: the index of its document in the stream (empty
/// documents are not counted, as serde-saphyr skips them) and its index in `items` when the
/// document is a List.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObjectPath {
    pub document: usize,
    pub item: Option<usize>,
}

/// One Kubernetes object from the input.
#[derive(Debug, Clone)]
pub struct Object {
    pub api_version: Name,
    /// API group, "" for the core group.
    pub group: Name,
    pub kind: Name,
    /// `metadata.namespace`, "" when absent.
    pub namespace: Name,
    /// `metadata.name`, or the `generateName` prefix when `generate_name` is set.
    pub name: String,
    pub generate_name: bool,
    pub source: Source,
    pub path: ObjectPath,
    /// The whole object as read, packed ([`Body`]; [`Object::value`] parses it). Shared, not
    /// copied, by the clones of an object (the proposal of `annotate` is the input with other
    /// waves): it is most of an object's size.
    pub body: Body,
    pub annotations: Annotations,
    /// What a CustomResourceDefinition defines, read when it was loaded: asked of every
    /// object of an unknown kind, it must not parse CRDs (often the largest objects) again.
    pub defines: Option<Box<CrdDefinition>>,
}

/// The kind a CustomResourceDefinition defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrdDefinition {
    /// `spec.group`.
    pub group: String,
    /// `spec.names.kind`.
    pub kind: String,
    /// `spec.scope` is `Cluster`.
    pub cluster_scoped: bool,
}

impl CrdDefinition {
    /// The definition in `value` if `group`/`kind` are a CustomResourceDefinition's and it
    /// names a group and kind.
    pub fn read(group: &str, kind: &str, value: &Value) -> Option<Self> {
        if kind != "CustomResourceDefinition" || group != "apiextensions.k8s.io" {
            return None;
        }
        let spec = value.get("spec")?;
        Some(CrdDefinition {
            group: spec.get("group")?.as_str()?.to_string(),
            kind: spec.get("names")?.get("kind")?.as_str()?.to_string(),
            cluster_scoped: spec.get("scope").and_then(Value::as_str) == Some("Cluster"),
        })
    }
}

impl Object {
    /// `Kind/namespace/name`, or `Kind/name` without a namespace: how messages name objects.
    pub fn display_name(&self) -> String {
        display_name(&self.kind, &self.namespace, &self.name)
    }

    /// The identity used for duplicates and references.
    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            group: self.group.to_string(),
            kind: self.kind.to_string(),
            namespace: self.namespace.to_string(),
            name: self.name.clone(),
        }
    }

    /// Whether this object runs as a hook in at least one phase.
    pub fn is_hook(&self) -> bool {
        matches!(self.annotations.role, Role::Hook { .. })
    }

    /// The whole object as read, parsed from its [`Body`] on each call: call it once per pass.
    pub fn value(&self) -> Value {
        self.body.value()
    }
}

/// `Kind/namespace/name`, or `Kind/name` when there is no namespace.
pub fn display_name(kind: &str, namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}/{namespace}/{name}")
    }
}

/// The group part of an `apiVersion` (`apps/v1` → `apps`, `v1` → ``).
pub fn group_of(api_version: &str) -> &str {
    match api_version.rsplit_once('/') {
        Some((group, _)) => group,
        None => "",
    }
}

/// Identity of an object: group, kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display_name(&self.kind, &self.namespace, &self.name))
    }
}
