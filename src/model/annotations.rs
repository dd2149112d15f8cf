//! Parsing the annotations that decide when and how an object is synced, with Argo CD's
//! meaning (gitops-engine `pkg/sync/hook`, `syncwaves`, `helm` packages) and our strictness.
//!
//! Parsing never fails: it returns what Argo CD would make of the object plus diagnostics for
//! every value Argo CD would silently ignore. Strict mode turns those into errors; `--lenient`
//! keeps them as warnings, and then the parsed result is exactly Argo CD's behaviour.

use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;

use super::known::{self, *};
use super::{ObjectRef, Source};
use crate::diagnostics::{Code, Diagnostic, did_you_mean};

/// A sync phase. SyncFail runs only when the sync fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Phase {
    PreSync,
    Sync,
    PostSync,
    SyncFail,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::PreSync => "PreSync",
            Phase::Sync => "Sync",
            Phase::PostSync => "PostSync",
            Phase::SyncFail => "SyncFail",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Hooks Argo CD runs when an Application is deleted; `sync` reports and skips them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum DeleteHook {
    PreDelete,
    PostDelete,
}

/// The delete policies of an object, inline (there are three).
pub type DeletePolicies = smallvec::SmallVec<[DeletePolicy; 3]>;

/// When a hook object is deleted. Order of variants is the output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum DeletePolicy {
    BeforeHookCreation,
    HookSucceeded,
    HookFailed,
}

impl DeletePolicy {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "BeforeHookCreation" => Some(Self::BeforeHookCreation),
            "HookSucceeded" => Some(Self::HookSucceeded),
            "HookFailed" => Some(Self::HookFailed),
            _ => None,
        }
    }

    fn from_helm(text: &str) -> Option<Self> {
        match text {
            "before-hook-creation" => Some(Self::BeforeHookCreation),
            "hook-succeeded" => Some(Self::HookSucceeded),
            "hook-failed" => Some(Self::HookFailed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BeforeHookCreation => "BeforeHookCreation",
            Self::HookSucceeded => "HookSucceeded",
            Self::HookFailed => "HookFailed",
        }
    }
}

/// What the sync does with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A normal object, applied in the Sync phase.
    Resource,
    /// A hook, run in each of `phases` (sorted, unique). `phases` is empty for an object that
    /// is only a PreDelete/PostDelete hook.
    Hook {
        phases: Vec<Phase>,
        delete_hooks: Vec<DeleteHook>,
    },
    /// `argocd.argoproj.io/hook: Skip`: never applied.
    Skip,
    /// Argo CD drops the object entirely (unknown hook type, Helm test hook).
    Ignored { reason: String },
}

/// How a pruned object is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum PruneMode {
    #[default]
    Allow,
    Never,
    Confirm,
}

/// Per-resource `argocd.argoproj.io/sync-options`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncOptions {
    /// `None` when unset: the Application's prune setting decides (`Prune=true` overrides it).
    pub prune: Option<PruneMode>,
    pub delete: Option<PruneMode>,
    pub replace: bool,
    pub force: bool,
    /// `None` when unset: the `sync` flag decides.
    pub server_side_apply: Option<bool>,
    pub skip_dry_run_on_missing_resource: bool,
    pub validate: bool,
    pub prune_last: bool,
}

/// `argocd.argoproj.io/compare-options`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompareOptions {
    /// The only compare option Argo CD reads per resource; `ServerSideDiff` and
    /// `IncludeMutationWebhook` are read from the Application only.
    pub ignore_extraneous: bool,
}

/// The parsed annotations of one object.
#[derive(Debug, Clone)]
pub struct Annotations {
    pub wave: i64,
    pub role: Role,
    /// Effective policies (Argo's united with Helm's; BeforeHookCreation when none), sorted
    /// and unique. Held inline: every object has one, most have the default.
    pub delete_policies: DeletePolicies,
    /// Whether any delete policy was written (Argo or Helm), valid or not.
    pub explicit_delete_policy: bool,
    pub sync_options: SyncOptions,
    pub compare_options: CompareOptions,
    pub depends_on: Vec<ObjectRef>,
    pub produces: Vec<ObjectRef>,
    pub timeout: Option<Duration>,
}

impl Default for Annotations {
    fn default() -> Self {
        Annotations {
            wave: 0,
            role: Role::Resource,
            delete_policies: smallvec::smallvec![DeletePolicy::BeforeHookCreation],
            explicit_delete_policy: false,
            sync_options: SyncOptions {
                validate: true,
                ..SyncOptions::default()
            },
            compare_options: CompareOptions::default(),
            depends_on: Vec::new(),
            produces: Vec::new(),
            timeout: None,
        }
    }
}

/// What the parser needs to know about the object it reads annotations of.
pub struct Context<'a> {
    /// `Kind/namespace/name` for messages.
    pub object: &'a str,
    /// Namespace for short references.
    pub namespace: &'a str,
    /// Finds the source line of an annotation key.
    pub locate: &'a dyn Fn(&str) -> Source,
}

/// Comma-separated values, trimmed, empty entries dropped, duplicates removed (as Argo CD's
/// `GetAnnotationCSVs`).
fn csv(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        if !item.is_empty() && !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Go's `strconv.Atoi` on a 64-bit platform: optional sign, ASCII digits, no spaces.
/// Why [`go_atoi`] refused `text`: out of range for a 64-bit integer, or not an integer.
fn not_an_int64(text: &str) -> &'static str {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        "is out of range (waves are 64-bit integers, -9223372036854775808 to 9223372036854775807)"
    } else {
        "is not an integer"
    }
}

pub fn go_atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok()
}

/// A Go-style duration such as `90s`, `5m`, `1h30m`, `500ms`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let value: f64 = number.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            _ => return None,
        };
        total += Duration::try_from_secs_f64(seconds).ok()?;
        rest = tail;
    }
    Some(total)
}

/// Parses the annotations of one object.
pub fn parse(
    annotations: Option<&Map<String, Value>>,
    cx: &Context<'_>,
) -> (Annotations, Vec<Diagnostic>) {
    let mut p = Parser {
        cx,
        diags: Vec::new(),
    };
    let mut out = Annotations::default();
    let Some(map) = annotations else {
        return (out, p.diags);
    };

    // Annotation values must be strings; kubectl rejects anything else, so do we.
    let mut text: Vec<(&str, &str)> = Vec::with_capacity(map.len());
    for (key, value) in map {
        match value {
            Value::String(s) => text.push((key, s)),
            other => {
                let shown = other.to_string();
                let shown = crate::diagnostics::excerpt(&shown);
                p.report(
                    Code::AnnotationNotString,
                    key,
                    format!("annotation `{key}` has the non-string value {shown}; annotation values must be strings: write `{key}: \"{}\"`", shown.trim_matches('"')),
                )
            }
        }
    }
    let get = |key: &str| text.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);

    for (key, _) in &text {
        p.check_key(key);
    }

    out.wave = p.wave(get(SYNC_WAVE), get(HELM_HOOK_WEIGHT));
    out.role = p.role(get(HOOK), get(HELM_HOOK));
    let (policies, explicit) =
        p.delete_policies(get(HOOK_DELETE_POLICY), get(HELM_HOOK_DELETE_POLICY));
    out.delete_policies = policies;
    out.explicit_delete_policy = explicit;
    if let Some(v) = get(SYNC_OPTIONS) {
        out.sync_options = p.sync_options(v);
    }
    if let Some(v) = get(COMPARE_OPTIONS) {
        out.compare_options = p.compare_options(v);
    }
    if let Some(v) = get(DEPENDS_ON) {
        out.depends_on.extend(p.references(DEPENDS_ON, v, true));
    }
    if let Some(v) = get(KPT_DEPENDS_ON) {
        // cli-utils only knows the long forms.
        out.depends_on
            .extend(p.references(KPT_DEPENDS_ON, v, false));
    }
    if let Some(v) = get(PRODUCES) {
        out.produces = p.references(PRODUCES, v, true);
    }
    if let Some(v) = get(TIMEOUT) {
        out.timeout = parse_duration(v);
        if out.timeout.is_none() {
            p.report(
                Code::InvalidTimeout,
                TIMEOUT,
                format!("`{TIMEOUT}: {v}` is not a duration; write e.g. `90s`, `5m` or `1h30m`"),
            );
        }
    }
    (out, p.diags)
}

struct Parser<'a, 'b> {
    cx: &'a Context<'b>,
    diags: Vec<Diagnostic>,
}

impl Parser<'_, '_> {
    fn report(&mut self, code: Code, key: &str, message: String) {
        let source = (self.cx.locate)(key);
        self.diags
            .push(Diagnostic::new(code, &source, self.cx.object, message));
    }

    fn check_key(&mut self, key: &str) {
        let (prefix, known): (&str, &[&str]) = if key.starts_with(ARGOCD_PREFIX) {
            (ARGOCD_PREFIX, ARGOCD_KEYS)
        } else if key.starts_with(WAVES_PREFIX) {
            (WAVES_PREFIX, WAVES_KEYS)
        } else {
            return;
        };
        if known.contains(&key) {
            return;
        }
        let hint = match did_you_mean(key, known) {
            Some(s) => format!("; did you mean `{s}`?"),
            None => format!("; known keys under {prefix} are listed in docs/annotations.md"),
        };
        let consequence = if prefix == ARGOCD_PREFIX {
            "Argo CD ignores it without a word"
        } else {
            "it has no effect"
        };
        self.report(
            Code::UnknownAnnotation,
            key,
            format!("unknown annotation `{key}`: {consequence}{hint}"),
        );
    }

    fn wave(&mut self, wave: Option<&str>, weight: Option<&str>) -> i64 {
        // As Argo CD's syncwaves.Wave: sync-wave if it parses, else the Helm weight, else 0.
        if let Some(text) = wave {
            match go_atoi(text) {
                Some(w) => return w,
                None => self.report(
                    Code::InvalidWave,
                    SYNC_WAVE,
                    format!("`{SYNC_WAVE}: \"{}\"` {} (Argo CD would silently use {}); write a whole number such as \"-1\" or \"2\"",
                        crate::diagnostics::excerpt(text),
                        not_an_int64(text),
                        if weight.is_some() { "the helm.sh/hook-weight" } else { "wave 0" }),
                ),
            }
        }
        if let Some(text) = weight {
            match go_atoi(text) {
                Some(w) => return w,
                None => self.report(
                    Code::InvalidWave,
                    HELM_HOOK_WEIGHT,
                    format!(
                        "`{HELM_HOOK_WEIGHT}: \"{}\"` {} (Argo CD would use wave 0)",
                        crate::diagnostics::excerpt(text),
                        not_an_int64(text)
                    ),
                ),
            }
        }
        0
    }

    fn role(&mut self, hook: Option<&str>, helm: Option<&str>) -> Role {
        let mut phases = Vec::new();
        let mut delete_hooks = Vec::new();
        let mut skip = false;
        let mut any_type = false;
        if let Some(text) = hook {
            let values = csv(text);
            if values.is_empty() {
                self.report(
                    Code::UnknownHookType,
                    HOOK,
                    format!(
                        "`{HOOK}` is empty: Argo CD drops the whole object; use one of {}",
                        HOOK_TYPES.join(", ")
                    ),
                );
            }
            for value in values {
                match value {
                    "PreSync" => phases.push(Phase::PreSync),
                    "Sync" => phases.push(Phase::Sync),
                    "PostSync" => phases.push(Phase::PostSync),
                    "SyncFail" => phases.push(Phase::SyncFail),
                    "PreDelete" => {
                        delete_hooks.push(DeleteHook::PreDelete);
                        continue;
                    }
                    "PostDelete" => {
                        delete_hooks.push(DeleteHook::PostDelete);
                        continue;
                    }
                    "Skip" => skip = true,
                    other => {
                        let hint = did_you_mean(other, HOOK_TYPES)
                            .map(|s| format!("did you mean `{s}`? "))
                            .unwrap_or_default();
                        self.report(Code::UnknownHookType, HOOK, format!("unknown hook type `{other}` in `{HOOK}`: {hint}Argo CD ignores it and drops the object when no valid type remains (valid: {})", HOOK_TYPES.join(", ")));
                        continue;
                    }
                }
                any_type = true;
            }
        }
        // Skip counts only when it is the sole valid gitops-engine type (PreDelete/PostDelete
        // are not types there: the controller partitions those objects out before the sync).
        if skip && phases.is_empty() {
            return Role::Skip;
        }
        let mut is_hook = hook.is_some();
        let mut helm_phases = Vec::new();
        let mut ignored_by = None;
        if let Some(text) = helm {
            is_hook = is_hook || text != "crd-install";
            for value in csv(text) {
                match value {
                    "pre-install" | "pre-upgrade" => helm_phases.push(Phase::PreSync),
                    "post-install" | "post-upgrade" => helm_phases.push(Phase::PostSync),
                    // Argo CD checks each annotation on its own for delete hooks.
                    "pre-delete" => delete_hooks.push(DeleteHook::PreDelete),
                    "post-delete" => delete_hooks.push(DeleteHook::PostDelete),
                    "crd-install" => {}
                    "test" | "test-success" | "test-failure" | "pre-rollback" | "post-rollback" => {
                        ignored_by = Some(value)
                    }
                    other => {
                        let hint = did_you_mean(other, HELM_HOOKS)
                            .map(|s| format!("did you mean `{s}`? "))
                            .unwrap_or_default();
                        self.report(
                            Code::UnknownHelmHook,
                            HELM_HOOK,
                            format!(
                                "unknown Helm hook `{other}` in `{HELM_HOOK}`: {hint}(valid: {})",
                                HELM_HOOKS.join(", ")
                            ),
                        );
                    }
                }
            }
        }
        // Helm's sync phases count only when the Argo annotation yields no valid type.
        if !any_type {
            phases.append(&mut helm_phases);
            if phases.is_empty()
                && delete_hooks.is_empty()
                && let (Some(value), Some(text)) = (ignored_by, helm)
            {
                self.report(
                    Code::HelmTestHookIgnored,
                    HELM_HOOK,
                    format!("`{HELM_HOOK}: {text}`: Argo CD ignores Helm `{value}` hooks, so this object is never applied"),
                );
                return Role::Ignored {
                    reason: format!("Helm `{value}` hook (ignored by Argo CD)"),
                };
            }
        }
        if !is_hook {
            return Role::Resource;
        }
        phases.sort();
        phases.dedup();
        delete_hooks.sort();
        delete_hooks.dedup();
        if phases.is_empty() && delete_hooks.is_empty() {
            return Role::Ignored {
                reason: "no valid hook type (Argo CD drops the object)".to_string(),
            };
        }
        if !delete_hooks.is_empty() {
            let names: Vec<_> = delete_hooks.iter().map(|d| format!("{d:?}")).collect();
            self.report(Code::DeleteHookNotRun, if hook.is_some() { HOOK } else { HELM_HOOK }, format!("{} hook{}: run by Argo CD when the Application is deleted, not by `kubectl waves sync`", names.join("/"), if names.len() > 1 { "s" } else { "" }));
        }
        Role::Hook {
            phases,
            delete_hooks,
        }
    }

    fn delete_policies(
        &mut self,
        argo: Option<&str>,
        helm: Option<&str>,
    ) -> (DeletePolicies, bool) {
        let mut out = DeletePolicies::new();
        if let Some(text) = argo {
            for value in csv(text) {
                match DeletePolicy::parse(value) {
                    Some(p) => out.push(p),
                    None => {
                        let hint = did_you_mean(value, DELETE_POLICIES)
                            .map(|s| format!("did you mean `{s}`? "))
                            .unwrap_or_default();
                        self.report(Code::UnknownDeletePolicy, HOOK_DELETE_POLICY, format!("unknown delete policy `{value}` in `{HOOK_DELETE_POLICY}`: {hint}Argo CD ignores it (valid: {})", DELETE_POLICIES.join(", ")));
                    }
                }
            }
        }
        if let Some(text) = helm {
            for value in csv(text) {
                match DeletePolicy::from_helm(value) {
                    Some(p) => out.push(p),
                    None => {
                        let hint = did_you_mean(value, HELM_DELETE_POLICIES)
                            .map(|s| format!("did you mean `{s}`? "))
                            .unwrap_or_default();
                        self.report(
                            Code::UnknownHelmHook,
                            HELM_HOOK_DELETE_POLICY,
                            format!(
                                "unknown Helm delete policy `{value}`: {hint}(valid: {})",
                                HELM_DELETE_POLICIES.join(", ")
                            ),
                        );
                    }
                }
            }
        }
        let explicit = argo.is_some() || helm.is_some();
        if out.is_empty() {
            out.push(DeletePolicy::BeforeHookCreation);
        }
        out.sort();
        out.dedup();
        (out, explicit)
    }

    fn sync_options(&mut self, text: &str) -> SyncOptions {
        let mut o = SyncOptions {
            validate: true,
            ..SyncOptions::default()
        };
        for item in csv(text) {
            let (key, value) = item.split_once('=').unwrap_or((item, ""));
            if known::APP_SYNC_OPTIONS.contains(&key) {
                self.report(Code::AppLevelOptionOnResource, SYNC_OPTIONS, format!("`{item}` is an Application-level sync option; Argo CD ignores it on a resource (use the `sync` flag instead)"));
                continue;
            }
            let allowed = SYNC_OPTION_VALUES
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| *v);
            let Some(allowed) = allowed.filter(|vals| vals.contains(&value)) else {
                let names: Vec<String> = SYNC_OPTION_VALUES
                    .iter()
                    .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}={v}")))
                    .collect();
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let hint = did_you_mean(item, &refs)
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                self.report(
                    Code::UnknownSyncOption,
                    SYNC_OPTIONS,
                    format!("unknown sync option `{item}`: {hint}Argo CD ignores it"),
                );
                continue;
            };
            let _ = allowed;
            if known::SYNC_OPTION_NO_EFFECT.contains(&item) {
                self.report(
                    Code::OptionWithoutEffect,
                    SYNC_OPTIONS,
                    format!("`{item}` has no effect on a resource (it is the default); remove it"),
                );
                continue;
            }
            if (key == "Prune" && o.prune.is_some()) || (key == "Delete" && o.delete.is_some()) {
                self.report(
                    Code::OptionWithoutEffect,
                    SYNC_OPTIONS,
                    format!("`{item}` repeats `{key}=`; Argo CD uses the first one, so this has no effect"),
                );
                continue;
            }
            let flag = value == "true";
            let mode = match value {
                "false" => PruneMode::Never,
                "confirm" => PruneMode::Confirm,
                _ => PruneMode::Allow,
            };
            match key {
                "Prune" => o.prune = Some(mode),
                "Delete" => o.delete = Some(mode),
                "Replace" => o.replace = flag,
                "Force" => o.force = flag,
                "ServerSideApply" => o.server_side_apply = Some(flag),
                "SkipDryRunOnMissingResource" => o.skip_dry_run_on_missing_resource = flag,
                "Validate" => o.validate = flag,
                "PruneLast" => o.prune_last = flag,
                _ => {}
            }
        }
        o
    }

    fn compare_options(&mut self, text: &str) -> CompareOptions {
        let mut o = CompareOptions::default();
        for item in csv(text) {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (item, None),
            };
            let ok = COMPARE_OPTION_VALUES.iter().any(|(k, vals)| {
                *k == key
                    && match (vals, value) {
                        (None, None) => true,
                        (Some(vals), Some(v)) => vals.contains(&v),
                        _ => false,
                    }
            });
            if !ok {
                let names = [
                    "IgnoreExtraneous",
                    "ServerSideDiff=true",
                    "ServerSideDiff=false",
                    "IncludeMutationWebhook=true",
                ];
                let hint = did_you_mean(item, &names)
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                self.report(
                    Code::UnknownCompareOption,
                    COMPARE_OPTIONS,
                    format!("unknown compare option `{item}`: {hint}Argo CD ignores it"),
                );
                continue;
            }
            if key == "IgnoreExtraneous" {
                o.ignore_extraneous = true;
            } else {
                self.report(
                    Code::AppLevelOptionOnResource,
                    COMPARE_OPTIONS,
                    format!("`{item}` is an Application-level compare option; Argo CD reads it only from the Application, not from a resource"),
                );
            }
        }
        o
    }

    fn references(&mut self, key: &str, text: &str, short_form: bool) -> Vec<ObjectRef> {
        let mut out = Vec::new();
        for item in csv(text) {
            let parsed = ObjectRef::parse(item, self.cx.namespace).and_then(|r| {
                if !short_form && r.group.is_none() {
                    Err(format!("`{item}`: {key} needs the form `group/namespaces/ns/Kind/name` or `group/Kind/name`"))
                } else {
                    Ok(r)
                }
            });
            match parsed {
                Ok(r) => out.push(r),
                Err(e) => self.report(
                    Code::InvalidReference,
                    key,
                    format!("invalid reference in `{key}`: {e}"),
                ),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(annotations: Value) -> (Annotations, Vec<Diagnostic>) {
        let locate = |_: &str| Source::new("t.yaml", 1);
        let cx = Context {
            object: "Job/ns/x",
            namespace: "ns",
            locate: &locate,
        };
        parse(annotations.as_object(), &cx)
    }

    fn codes(d: &[Diagnostic]) -> Vec<&'static str> {
        d.iter().map(|d| d.code.id()).collect()
    }

    #[test]
    fn defaults() {
        let (a, d) = run(json!({}));
        assert_eq!(a.wave, 0);
        assert_eq!(a.role, Role::Resource);
        assert_eq!(
            a.delete_policies.as_slice(),
            [DeletePolicy::BeforeHookCreation]
        );
        assert!(!a.explicit_delete_policy);
        assert!(d.is_empty());
    }

    #[test]
    fn waves_follow_go_atoi() {
        for (text, wave) in [
            ("-2", -2),
            ("+5", 5),
            ("007", 7),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ] {
            let (a, d) = run(json!({ SYNC_WAVE: text }));
            assert_eq!(a.wave, wave, "{text}");
            assert!(d.is_empty());
        }
        for text in ["two", "1.5", " 1", "", "9223372036854775808", "0x10"] {
            let (a, d) = run(json!({ SYNC_WAVE: text }));
            assert_eq!(a.wave, 0);
            assert_eq!(codes(&d), ["WAVES101"], "{text}");
        }
    }

    #[test]
    fn bad_wave_falls_back_to_helm_weight() {
        let (a, d) = run(json!({ SYNC_WAVE: "x", HELM_HOOK_WEIGHT: "4" }));
        assert_eq!(a.wave, 4);
        assert_eq!(codes(&d), ["WAVES101"]);
        let (a, _) = run(json!({ HELM_HOOK_WEIGHT: "-3" }));
        assert_eq!(a.wave, -3);
        let (a, _) = run(json!({ SYNC_WAVE: "1", HELM_HOOK_WEIGHT: "-3" }));
        assert_eq!(a.wave, 1);
    }

    #[test]
    fn hook_types() {
        let (a, _) = run(json!({ HOOK: "PreSync, PostSync,PreSync" }));
        assert_eq!(
            a.role,
            Role::Hook {
                phases: vec![Phase::PreSync, Phase::PostSync],
                delete_hooks: vec![]
            }
        );
        let (a, _) = run(json!({ HOOK: "Skip" }));
        assert_eq!(a.role, Role::Skip);
        let (a, _) = run(json!({ HOOK: "Skip,PreSync" }));
        assert_eq!(
            a.role,
            Role::Hook {
                phases: vec![Phase::PreSync],
                delete_hooks: vec![]
            }
        );
        let (a, d) = run(json!({ HOOK: "Presync" }));
        assert!(matches!(a.role, Role::Ignored { .. }));
        assert_eq!(codes(&d), ["WAVES102"]);
        assert!(
            d[0].message.contains("did you mean `PreSync`"),
            "{}",
            d[0].message
        );
        let (a, d) = run(json!({ HOOK: "Presync,Sync" }));
        assert_eq!(
            a.role,
            Role::Hook {
                phases: vec![Phase::Sync],
                delete_hooks: vec![]
            }
        );
        assert_eq!(codes(&d), ["WAVES102"]);
        // PreDelete is not a sync type: the Helm annotation still decides the phase.
        let (a, d) = run(json!({ HOOK: "PreDelete", HELM_HOOK: "pre-install" }));
        assert_eq!(
            a.role,
            Role::Hook {
                phases: vec![Phase::PreSync],
                delete_hooks: vec![DeleteHook::PreDelete]
            }
        );
        assert_eq!(codes(&d), ["WAVES122"]);
        let (a, _) = run(json!({ HOOK: "PostSync", HELM_HOOK: "pre-delete" }));
        assert_eq!(
            a.role,
            Role::Hook {
                phases: vec![Phase::PostSync],
                delete_hooks: vec![DeleteHook::PreDelete]
            }
        );
        let (a, d) = run(json!({ HOOK: "PreDelete" }));
        assert_eq!(
            a.role,
            Role::Hook {
                phases: vec![],
                delete_hooks: vec![DeleteHook::PreDelete]
            }
        );
        assert_eq!(codes(&d), ["WAVES122"]);
    }

    #[test]
    fn helm_mapping() {
        let (a, _) = run(json!({ HELM_HOOK: "pre-install,pre-upgrade" }));
        assert_eq!(
            a.role,
            Role::Hook {
                phases: vec![Phase::PreSync],
                delete_hooks: vec![]
            }
        );
        let (a, _) = run(json!({ HELM_HOOK: "post-install" }));
        assert_eq!(
            a.role,
            Role::Hook {
                phases: vec![Phase::PostSync],
                delete_hooks: vec![]
            }
        );
        let (a, d) = run(json!({ HELM_HOOK: "crd-install" }));
        assert_eq!(a.role, Role::Resource);
        assert!(d.is_empty());
        let (a, d) = run(json!({ HELM_HOOK: "test" }));
        assert!(matches!(a.role, Role::Ignored { .. }));
        assert_eq!(codes(&d), ["WAVES121"]);
        // The Argo annotation wins when it yields a valid type.
        let (a, _) = run(json!({ HOOK: "Sync", HELM_HOOK: "pre-install" }));
        assert_eq!(
            a.role,
            Role::Hook {
                phases: vec![Phase::Sync],
                delete_hooks: vec![]
            }
        );
        // ... and Helm's is used when it does not.
        let (a, _) = run(json!({ HOOK: "Bogus", HELM_HOOK: "pre-install" }));
        assert_eq!(
            a.role,
            Role::Hook {
                phases: vec![Phase::PreSync],
                delete_hooks: vec![]
            }
        );
        let (a, _) = run(
            json!({ HELM_HOOK_DELETE_POLICY: "hook-succeeded", HOOK_DELETE_POLICY: "HookFailed" }),
        );
        assert_eq!(
            a.delete_policies.as_slice(),
            [DeletePolicy::HookSucceeded, DeletePolicy::HookFailed]
        );
        assert!(a.explicit_delete_policy);
    }

    #[test]
    fn delete_policies() {
        let (a, d) = run(json!({ HOOK_DELETE_POLICY: "HookSucceeded,BeforeHookCreation" }));
        assert_eq!(
            a.delete_policies.as_slice(),
            [
                DeletePolicy::BeforeHookCreation,
                DeletePolicy::HookSucceeded
            ]
        );
        assert!(d.is_empty());
        let (a, d) = run(json!({ HOOK_DELETE_POLICY: "Hook Succeeded" }));
        assert_eq!(
            a.delete_policies.as_slice(),
            [DeletePolicy::BeforeHookCreation]
        );
        assert!(d[0].message.contains("did you mean `HookSucceeded`"));
    }

    #[test]
    fn unknown_keys_suggest() {
        let (_, d) = run(json!({ "argocd.argoproj.io/hook-deletion-policy": "HookSucceeded" }));
        assert_eq!(codes(&d), ["WAVES106"]);
        assert!(
            d[0].message
                .contains("did you mean `argocd.argoproj.io/hook-delete-policy`"),
            "{}",
            d[0].message
        );
        let (_, d) = run(json!({ "kubectl-waves.io/depend-on": "Secret/x" }));
        assert!(
            d[0].message
                .contains("did you mean `kubectl-waves.io/depends-on`")
        );
        let (_, d) =
            run(json!({ "argocd.argoproj.io/tracking-id": "x", "example.com/anything": "y" }));
        assert!(d.is_empty());
    }

    #[test]
    fn options() {
        let (a, d) = run(
            json!({ SYNC_OPTIONS: "Prune=false,ServerSideApply=true, PruneLast=true,CreateNamespace=true" }),
        );
        assert_eq!(a.sync_options.prune, Some(PruneMode::Never));
        assert_eq!(a.sync_options.server_side_apply, Some(true));
        assert!(a.sync_options.prune_last);
        assert_eq!(codes(&d), ["WAVES120"]);
        let (_, d) = run(json!({ SYNC_OPTIONS: "Prune=nope" }));
        assert_eq!(codes(&d), ["WAVES104"]);
        // Argo CD reads the first Prune=; values that are the default do nothing.
        let (a, d) = run(json!({ SYNC_OPTIONS: "Prune=confirm,Prune=false,Replace=false" }));
        assert_eq!(a.sync_options.prune, Some(PruneMode::Confirm));
        assert_eq!(codes(&d), ["WAVES124", "WAVES124"]);
        let (a, _) = run(json!({ SYNC_OPTIONS: "Prune=true" }));
        assert_eq!(
            a.sync_options.prune,
            Some(PruneMode::Allow),
            "distinct from unset"
        );
        let (a, d) = run(json!({ COMPARE_OPTIONS: "IgnoreExtraneous,ServerSideDiff=false" }));
        assert!(a.compare_options.ignore_extraneous);
        assert_eq!(
            codes(&d),
            ["WAVES120"],
            "ServerSideDiff is read from the Application only"
        );
        let (_, d) = run(json!({ COMPARE_OPTIONS: "IgnoreExtraneus" }));
        assert_eq!(codes(&d), ["WAVES105"]);
    }

    #[test]
    fn references_and_timeouts() {
        let (a, d) = run(
            json!({ DEPENDS_ON: "Secret/db,/namespaces/other/ConfigMap/c", PRODUCES: "Secret/made", TIMEOUT: "1m30s" }),
        );
        assert!(d.is_empty());
        assert_eq!(a.depends_on.len(), 2);
        assert_eq!(a.depends_on[0].namespace, "ns");
        assert_eq!(a.produces[0].name, "made");
        assert_eq!(a.timeout, Some(Duration::from_secs(90)));
        let (_, d) = run(json!({ KPT_DEPENDS_ON: "Secret/db", TIMEOUT: "soon" }));
        assert_eq!(codes(&d), ["WAVES107", "WAVES108"]);
    }

    #[test]
    fn non_string_values_are_errors() {
        let (_, d) = run(json!({ SYNC_WAVE: 1 }));
        assert_eq!(codes(&d), ["WAVES205"]);
        assert!(d[0].message.contains("\"1\""));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("5d"), None);
    }
}
