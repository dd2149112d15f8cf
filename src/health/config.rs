//! Custom health configuration read from Argo CD's `argocd-cm` ConfigMap, as argo-cd
//! `util/settings/settings.go` (`GetResourceOverrides`) reads it:
//!
//! - split keys `resource.customizations.health.<group>_<kind>` (core group: bare `<Kind>`;
//!   `all` means `*/*`) and `resource.customizations.useOpenLibs.<group>_<kind>`;
//! - the nested `resource.customizations` key, a YAML map keyed `group/Kind` (wildcards
//!   allowed) with `health.lua` and `health.lua.useOpenLibs`.
//!
//! A split key wins over the nested entry for the same group/kind. Other customization
//! types (`actions`, `ignoreDifferences`, `ignoreResourceUpdates`, `knownTypeFields`) are
//! accepted and ignored; an unknown type or a malformed `<group>_<kind>` is an error, as in
//! Argo CD.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::tree::{self, TreeCheck};
use super::{HealthError, glob, lua};

const CUSTOMIZATIONS: &str = "resource.customizations";

/// One custom health script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomHealthCheck {
    /// `group/Kind` (or the bare `Kind` of the core group), possibly a glob pattern.
    pub group_kind: String,
    /// Where it was configured, e.g. `resource.customizations.health.cert-manager.io_Certificate`;
    /// errors name it.
    pub key: String,
    /// The Lua source.
    pub script: Arc<str>,
    /// `useOpenLibs` as configured. Recorded only: our sandbox offers the same libraries to
    /// every script (see `README.md`).
    pub use_open_libs: bool,
}

/// Health settings: custom Lua checks, and whether the bundled checks are used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// Checks with a non-empty script, sorted by `group_kind`.
    checks: Vec<CustomHealthCheck>,
    /// Scripts of a `--resource-customizations` folder, sorted by folder.
    tree: Vec<TreeCheck>,
    bundled: bool,
    /// The built-in argoproj.io/Application rule (`--no-application-health` turns it off).
    application: bool,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            checks: Vec::new(),
            tree: Vec::new(),
            bundled: true,
            application: true,
        }
    }
}

/// A health configuration that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HealthConfigError {
    /// The file is not valid YAML.
    #[error("health config is not valid YAML: {0}")]
    Yaml(String),
    /// No ConfigMap in the file.
    #[error("health config: {0}")]
    NotAConfigMap(String),
    /// A `--resource-customizations` folder (or a file in it) cannot be read.
    #[error("resource customizations: {path}: {message}")]
    Tree {
        /// The folder or file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A `data` value or key Argo CD would reject.
    #[error("health config: {key}: {message}")]
    BadKey {
        /// The `data` key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl HealthConfig {
    /// No custom checks; bundled checks on.
    pub fn new() -> Self {
        HealthConfig::default()
    }

    /// Reads a local `argocd-cm` ConfigMap (YAML; with several documents, the ConfigMap named
    /// `argocd-cm`, else the only ConfigMap).
    pub fn from_argocd_cm_yaml(text: &str) -> Result<Self, HealthConfigError> {
        let docs: Vec<Value> = serde_saphyr::from_multiple(text)
            .map_err(|e| HealthConfigError::Yaml(e.to_string()))?;
        let config_maps: Vec<&Value> = docs
            .iter()
            .filter(|d| d.get("kind").and_then(Value::as_str) == Some("ConfigMap"))
            .collect();
        let cm = match config_maps.as_slice() {
            [] => {
                return Err(HealthConfigError::NotAConfigMap(
                    "no ConfigMap found (expected the argocd-cm ConfigMap)".into(),
                ));
            }
            [one] => *one,
            many => many
                .iter()
                .find(|d| d.pointer("/metadata/name").and_then(Value::as_str) == Some("argocd-cm"))
                .copied()
                .ok_or_else(|| {
                    HealthConfigError::NotAConfigMap(
                        "several ConfigMaps and none is named argocd-cm".into(),
                    )
                })?,
        };
        let mut data = BTreeMap::new();
        if let Some(map) = cm.get("data").and_then(Value::as_object) {
            for (k, v) in map {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => {
                        return Err(HealthConfigError::BadKey {
                            key: k.clone(),
                            message: "a ConfigMap data value must be a string".into(),
                        });
                    }
                };
                data.insert(k.clone(), v);
            }
        }
        HealthConfig::from_data(&data)
    }

    /// Reads the `data` map of an `argocd-cm` ConfigMap (e.g. the cluster's `argocd/argocd-cm`).
    pub fn from_data<K, V>(
        data: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, HealthConfigError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let data: Vec<(K, V)> = data.into_iter().collect();
        let mut entries: BTreeMap<String, CustomHealthCheck> = BTreeMap::new();

        if let Some((_, nested)) = data.iter().find(|(k, _)| k.as_ref() == CUSTOMIZATIONS) {
            read_nested(nested.as_ref(), &mut entries)?;
        }

        for (k, v) in &data {
            let (k, v) = (k.as_ref(), v.as_ref());
            if !k.starts_with(CUSTOMIZATIONS) {
                continue;
            }
            let parts: Vec<&str> = k.splitn(4, '.').collect();
            let [_, _, kind_of_customization, group_kind] = parts.as_slice() else {
                continue;
            };
            let mut group_kind = override_key(group_kind).ok_or_else(|| HealthConfigError::BadKey {
                key: k.to_string(),
                message: format!(
                    "group kind should be in format `resource.customizations.<type>.<group_kind>` \
                     or `resource.customizations.<type>.<kind>`, got group kind: '{group_kind}'"
                ),
            })?;
            if group_kind == "all" {
                group_kind = "*/*".to_string();
            }
            // The `health` and `useOpenLibs` keys of one group/kind fill the same entry.
            let empty = || CustomHealthCheck {
                group_kind: group_kind.clone(),
                key: k.to_string(),
                script: Arc::from(""),
                use_open_libs: false,
            };
            match *kind_of_customization {
                "health" => {
                    let entry = entries.entry(group_kind.clone()).or_insert_with(empty);
                    entry.key = k.to_string();
                    entry.script = Arc::from(v);
                }
                "useOpenLibs" => {
                    let b = parse_go_bool(v).ok_or_else(|| HealthConfigError::BadKey {
                        key: k.to_string(),
                        message: format!("invalid boolean {v:?}"),
                    })?;
                    entries
                        .entry(group_kind.clone())
                        .or_insert_with(empty)
                        .use_open_libs = b;
                }
                "actions" | "ignoreDifferences" | "ignoreResourceUpdates" | "knownTypeFields" => {}
                other => {
                    return Err(HealthConfigError::BadKey {
                        key: k.to_string(),
                        message: format!("resource customization type {other} not supported"),
                    });
                }
            }
        }

        let checks = entries
            .into_values()
            .filter(|c| !c.script.trim().is_empty())
            .collect();
        Ok(HealthConfig {
            checks,
            tree: Vec::new(),
            bundled: true,
            application: true,
        })
    }

    /// Adds (or replaces) a script for `group_kind` (`group/Kind`, bare `Kind` for the core
    /// group, or a glob pattern); `key` names it in errors.
    pub fn with_script(mut self, group_kind: &str, key: &str, script: &str) -> Self {
        self.checks.retain(|c| c.group_kind != group_kind);
        self.checks.push(CustomHealthCheck {
            group_kind: group_kind.to_string(),
            key: key.to_string(),
            script: Arc::from(script),
            use_open_libs: false,
        });
        self.checks.sort_by(|a, b| a.group_kind.cmp(&b.group_kind));
        self
    }

    /// Adds the scripts of a folder laid out as Argo CD's `resource_customizations` tree
    /// (`<group>/<Kind>/health.lua`, `_` for `*` in folder names). They come after the
    /// configured scripts and before the bundled and built-in checks, as Argo CD's embedded
    /// scripts do.
    pub fn with_resource_customizations(
        mut self,
        dir: &std::path::Path,
    ) -> Result<Self, HealthConfigError> {
        self.tree = tree::load(dir)?;
        Ok(self)
    }

    /// Turns off the checks bundled for kinds where Argo CD embeds a Lua script (to get
    /// Argo CD's behaviour with its embedded scripts replaced by nothing, e.g. in tests).
    pub fn without_bundled_checks(mut self) -> Self {
        self.bundled = false;
        self
    }

    /// Turns off the built-in argoproj.io/Application rule: Argo CD's own behaviour since 1.8.
    pub fn without_application_health(mut self) -> Self {
        self.application = false;
        self
    }

    /// Whether the built-in argoproj.io/Application rule is used.
    pub fn application_health(&self) -> bool {
        self.application
    }

    /// Whether the bundled checks are used.
    pub fn bundled_checks(&self) -> bool {
        self.bundled
    }

    /// The configured custom checks, sorted by group/kind.
    pub fn checks(&self) -> &[CustomHealthCheck] {
        &self.checks
    }

    /// The custom check for a group/kind: the exact key first, then the most specific
    /// wildcard key that matches (as Argo CD's `GetHealthScript`, which picks any).
    pub fn lookup(&self, group: &str, kind: &str) -> Option<&CustomHealthCheck> {
        self.lookup_configured(group, kind)
            .or_else(|| tree::lookup(&self.tree, group, kind).map(|t| &t.check))
    }

    /// [`HealthConfig::lookup`] among the `argocd-cm` scripts only.
    fn lookup_configured(&self, group: &str, kind: &str) -> Option<&CustomHealthCheck> {
        if self.checks.is_empty() {
            return None;
        }
        let exact = |c: &&CustomHealthCheck| {
            if group.is_empty() {
                c.group_kind == kind
            } else {
                c.group_kind.len() == group.len() + 1 + kind.len()
                    && c.group_kind.starts_with(group)
                    && c.group_kind[group.len()..].starts_with('/')
                    && c.group_kind.ends_with(kind)
            }
        };
        if let Some(c) = self.checks.iter().find(exact) {
            return Some(c);
        }
        let key = super::object::group_kind_key(group, kind);
        // The most specific matching pattern (most literal characters) wins, then key order.
        // Argo CD takes whichever its map iteration meets first.
        self.checks
            .iter()
            .filter(|c| glob::is_pattern(&c.group_kind) && glob::matches(&c.group_kind, &key))
            .max_by(|a, b| {
                glob::literal_len(&a.group_kind)
                    .cmp(&glob::literal_len(&b.group_kind))
                    .then_with(|| b.group_kind.cmp(&a.group_kind))
            })
    }

    /// Compiles every script and returns the ones that do not compile, so a caller can
    /// report them up front (assessing an object of such a kind returns the same error).
    pub fn check_scripts(&self) -> Vec<HealthError> {
        self.checks
            .iter()
            .chain(self.tree.iter().map(|t| &t.check))
            .filter_map(lua::compile_error)
            .collect()
    }
}

/// Reads the nested `resource.customizations` YAML.
fn read_nested(
    text: &str,
    entries: &mut BTreeMap<String, CustomHealthCheck>,
) -> Result<(), HealthConfigError> {
    if text.trim().is_empty() {
        return Ok(());
    }
    let bad = |message: String| HealthConfigError::BadKey {
        key: CUSTOMIZATIONS.to_string(),
        message,
    };
    let value: Value =
        serde_saphyr::from_str(text).map_err(|e| bad(format!("not valid YAML: {e}")))?;
    let map = match &value {
        Value::Object(m) => m,
        Value::Null => return Ok(()),
        _ => return Err(bad("expected a map keyed by group/Kind".into())),
    };
    for (group_kind, overrides) in map {
        let Some(overrides) = overrides.as_object() else {
            if overrides.is_null() {
                continue;
            }
            return Err(bad(format!("{group_kind}: expected a map")));
        };
        let script = match overrides.get("health.lua") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(bad(format!("{group_kind}: health.lua must be a string"))),
        };
        let use_open_libs = match overrides.get("health.lua.useOpenLibs") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => parse_go_bool(s).ok_or_else(|| {
                bad(format!(
                    "{group_kind}: health.lua.useOpenLibs: invalid boolean {s:?}"
                ))
            })?,
            Some(_) => {
                return Err(bad(format!(
                    "{group_kind}: health.lua.useOpenLibs must be a boolean"
                )));
            }
        };
        entries.insert(
            group_kind.clone(),
            CustomHealthCheck {
                group_kind: group_kind.clone(),
                key: format!("{CUSTOMIZATIONS}[{group_kind:?}][\"health.lua\"]"),
                script: Arc::from(script),
                use_open_libs,
            },
        );
    }
    Ok(())
}

/// Argo CD's `convertToOverrideKey`: `group_Kind` → `group/Kind`, `Kind` → `Kind`.
fn override_key(group_kind: &str) -> Option<String> {
    let parts: Vec<&str> = group_kind.split('_').collect();
    match parts.as_slice() {
        [group, kind] => Some(format!("{group}/{kind}")),
        [kind] if !kind.is_empty() => Some((*kind).to_string()),
        _ => None,
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}
