//! Small, lenient accessors over an object given as `serde_json::Value`.
//!
//! Argo CD converts an object to its typed Go struct before it assesses it; a missing field
//! is the type's zero value. These helpers do the same: a missing field, a `null` or a value
//! of the wrong type reads as absent, so no input can make a rule panic.

use serde_json::Value;

/// The value at `path`, if present and not `null`.
pub(crate) fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = cur.as_object()?.get(*key)?;
    }
    if cur.is_null() { None } else { Some(cur) }
}

/// The string at `path`, if present and a string.
pub(crate) fn opt_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path)?.as_str()
}

/// The string at `path`, or `""` (Go's zero value).
pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    opt_str(v, path).unwrap_or("")
}

/// An integer at `path`; a float with an integral value counts (YAML and JSON both spell
/// integers that way sometimes).
pub(crate) fn opt_int(v: &Value, path: &[&str]) -> Option<i64> {
    as_int(get(v, path)?)
}

/// An integer at `path`, or 0 (Go's zero value).
pub(crate) fn int_at(v: &Value, path: &[&str]) -> i64 {
    opt_int(v, path).unwrap_or(0)
}

/// Reads a JSON number as an integer.
pub(crate) fn as_int(v: &Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    let f = v.as_f64()?;
    if f.fract() == 0.0 && f >= i64::MIN as f64 && f <= i64::MAX as f64 {
        Some(f as i64)
    } else {
        None
    }
}

/// A boolean at `path`, or false.
pub(crate) fn bool_at(v: &Value, path: &[&str]) -> bool {
    get(v, path).and_then(Value::as_bool).unwrap_or(false)
}

/// The array at `path`, or an empty slice.
pub(crate) fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    get(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// An annotation of the object.
pub(crate) fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    opt_str(obj, &["metadata", "annotations", key])
}

/// `metadata.name`, or `""`.
pub(crate) fn name(obj: &Value) -> &str {
    str_at(obj, &["metadata", "name"])
}

/// One entry of `status.conditions`, the Kubernetes condition shape.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cond<'a> {
    pub type_: &'a str,
    pub status: &'a str,
    pub reason: &'a str,
    pub message: &'a str,
    pub observed_generation: Option<i64>,
}

impl<'a> Cond<'a> {
    fn from_value(v: &'a Value) -> Option<Self> {
        // One pass over the (small) condition map is cheaper than five hashed lookups.
        let mut c = Cond::default();
        for (key, value) in v.as_object()? {
            let text = || value.as_str().unwrap_or("");
            match key.as_str() {
                "type" => c.type_ = text(),
                "status" => c.status = text(),
                "reason" => c.reason = text(),
                "message" => c.message = text(),
                "observedGeneration" => c.observed_generation = as_int(value),
                _ => {}
            }
        }
        Some(c)
    }

    /// `status == "True"`.
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }

    /// `status == "False"`.
    pub fn is_false(&self) -> bool {
        self.status == "False"
    }

    /// "reason: message", or whichever of the two is set.
    pub fn reason_message(&self) -> String {
        join_reason(self.reason, self.message)
    }
}

/// "reason: message", or whichever of the two is set.
pub(crate) fn join_reason(reason: &str, message: &str) -> String {
    match (reason.is_empty(), message.is_empty()) {
        (false, false) => format!("{reason}: {message}"),
        (false, true) => reason.to_string(),
        (true, _) => message.to_string(),
    }
}

/// The conditions listed under `status.conditions` (entries that are not objects are skipped).
pub(crate) fn conditions(obj: &Value) -> impl Iterator<Item = Cond<'_>> {
    arr_at(obj, &["status", "conditions"])
        .iter()
        .filter_map(Cond::from_value)
}

/// The first condition of the given type.
pub(crate) fn condition<'a>(obj: &'a Value, type_: &str) -> Option<Cond<'a>> {
    conditions(obj).find(|c| c.type_ == type_)
}

/// Group, version and kind of an object, from `apiVersion` and `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gvk<'a> {
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
}

impl<'a> Gvk<'a> {
    /// Reads `apiVersion` (`group/version`, or `version` for the core group) and `kind`.
    pub fn of(obj: &'a Value) -> Self {
        let api_version = str_at(obj, &["apiVersion"]);
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        Gvk {
            group,
            version,
            kind: str_at(obj, &["kind"]),
        }
    }
}

impl std::fmt::Display for Gvk<'_> {
    /// As Go's `schema.GroupVersionKind.String()`: `apps/v1beta2, Kind=Deployment`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}, Kind={}", self.group, self.version, self.kind)
    }
}

/// `group/Kind`, or the bare kind for the core group (Argo CD's `GetConfigMapKey`).
pub(crate) fn group_kind_key(group: &str, kind: &str) -> String {
    if group.is_empty() {
        kind.to_string()
    } else {
        format!("{group}/{kind}")
    }
}

/// Splits a comma list annotation value the way Argo CD does (trimmed parts).
pub(crate) fn csv(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim)
}

/// Whether Argo CD treats the object as a hook (gitops-engine `hook.IsHook`): an
/// `argocd.argoproj.io/hook` annotation that is not `Skip` alone, else a `helm.sh/hook`
/// annotation other than `crd-install`.
pub(crate) fn is_hook(obj: &Value) -> bool {
    if let Some(value) = annotation(obj, "argocd.argoproj.io/hook") {
        let types: Vec<&str> = csv(value)
            .filter(|t| matches!(*t, "PreSync" | "Sync" | "PostSync" | "SyncFail" | "Skip"))
            .collect();
        let skip = types.contains(&"Skip") && types.len() == 1;
        return !skip;
    }
    matches!(annotation(obj, "helm.sh/hook"), Some(v) if v != "crd-install")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accessors_are_lenient() {
        let v = json!({"a": {"b": 3, "c": "x", "d": null, "e": 2.0, "f": 2.5, "g": [1]}});
        assert_eq!(opt_int(&v, &["a", "b"]), Some(3));
        assert_eq!(opt_int(&v, &["a", "e"]), Some(2));
        assert_eq!(opt_int(&v, &["a", "f"]), None);
        assert_eq!(opt_int(&v, &["a", "c"]), None);
        assert_eq!(str_at(&v, &["a", "b"]), "");
        assert!(get(&v, &["a", "d"]).is_none());
        assert!(get(&v, &["a", "b", "x"]).is_none());
        assert_eq!(arr_at(&v, &["a", "g"]).len(), 1);
        assert!(arr_at(&v, &["a", "c"]).is_empty());
    }

    #[test]
    fn gvk_and_keys() {
        let v = json!({"apiVersion": "apps/v1", "kind": "Deployment"});
        let g = Gvk::of(&v);
        assert_eq!((g.group, g.version, g.kind), ("apps", "v1", "Deployment"));
        assert_eq!(g.to_string(), "apps/v1, Kind=Deployment");
        let v = json!({"apiVersion": "v1", "kind": "Pod"});
        assert_eq!(Gvk::of(&v).group, "");
        assert_eq!(group_kind_key("", "Pod"), "Pod");
        assert_eq!(
            group_kind_key("cert-manager.io", "Certificate"),
            "cert-manager.io/Certificate"
        );
    }

    #[test]
    fn hooks_as_argo_cd() {
        let hook = |k: &str, v: &str| json!({"metadata": {"annotations": {k: v}}});
        assert!(is_hook(&hook("argocd.argoproj.io/hook", "PreSync")));
        assert!(!is_hook(&hook("argocd.argoproj.io/hook", "Skip")));
        assert!(is_hook(&hook("argocd.argoproj.io/hook", "Skip,PreSync")));
        assert!(is_hook(&hook("helm.sh/hook", "pre-install")));
        assert!(!is_hook(&hook("helm.sh/hook", "crd-install")));
        assert!(!is_hook(&json!({})));
    }
}
