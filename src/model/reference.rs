//! Object references as written in `depends-on` and `produces` annotations.

use std::fmt;

/// A reference to another object. `group` is `None` for the short `Kind/name` form, which
/// matches the kind in any group; `namespace` is already resolved against the referring
/// object (`""` for cluster-scoped).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    pub group: Option<String>,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    /// Parses one entry: `Kind/name` (same namespace as the referrer),
    /// `group/namespaces/ns/Kind/name`, or `group/Kind/name` (cluster-scoped), the core group
    /// being empty (`/namespaces/shop/Secret/db`).
    pub fn parse(text: &str, referrer_namespace: &str) -> Result<ObjectRef, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let nonempty = |s: &str, what: &str| {
            if s.is_empty() {
                Err(format!("`{text}`: the {what} is empty"))
            } else {
                Ok(s.to_string())
            }
        };
        match parts.as_slice() {
            [kind, name] => Ok(ObjectRef {
                group: None,
                kind: nonempty(kind, "kind")?,
                namespace: referrer_namespace.to_string(),
                name: nonempty(name, "name")?,
            }),
            [group, kind, name] => Ok(ObjectRef {
                group: Some(group.to_string()),
                kind: nonempty(kind, "kind")?,
                namespace: String::new(),
                name: nonempty(name, "name")?,
            }),
            [group, "namespaces", ns, kind, name] => Ok(ObjectRef {
                group: Some(group.to_string()),
                kind: nonempty(kind, "kind")?,
                namespace: nonempty(ns, "namespace")?,
                name: nonempty(name, "name")?,
            }),
            _ => Err(format!(
                "`{text}` is not `Kind/name`, `group/Kind/name` or `group/namespaces/ns/Kind/name`"
            )),
        }
    }

    /// Whether an object with this identity is the one referred to.
    pub fn matches(&self, group: &str, kind: &str, namespace: &str, name: &str) -> bool {
        self.kind == kind
            && self.name == name
            && self.namespace == namespace
            && self.group.as_deref().is_none_or(|g| g == group)
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::display_name(
            &self.kind,
            &self.namespace,
            &self.name,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let r = ObjectRef::parse("Secret/db", "shop").unwrap();
        assert!(r.matches("", "Secret", "shop", "db"));
        assert!(!r.matches("", "Secret", "other", "db"));
        let r = ObjectRef::parse("/namespaces/shop/Secret/db", "x").unwrap();
        assert_eq!(r.group.as_deref(), Some(""));
        assert!(r.matches("", "Secret", "shop", "db"));
        assert!(!r.matches("apps", "Secret", "shop", "db"));
        let r = ObjectRef::parse("rbac.authorization.k8s.io/ClusterRole/view", "x").unwrap();
        assert!(r.matches("rbac.authorization.k8s.io", "ClusterRole", "", "view"));
        assert!(ObjectRef::parse("Secret", "x").is_err());
        assert!(ObjectRef::parse("Secret/", "x").is_err());
        assert!(ObjectRef::parse("a/b/c/d", "x").is_err());
    }
}
