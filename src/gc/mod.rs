//! `gc`: find leftover hook objects — ours (labelled by `sync`) and Argo CD's or Helm's
//! (annotated) — and decide which to delete. Everything here is pure: [`classify`] says
//! whether a live object is a hook leftover, [`leftover`] describes it (state from the health
//! rules, owner, why it was left), [`decide`] chooses the action under the user's filters.
//! The cluster side (listing, deleting, the finalizer, saving logs) is in [`run`].

pub mod run;

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::health::{Health, HealthStatus};
use crate::model::known::{HELM_HOOK, HELM_HOOK_DELETE_POLICY, HOOK, HOOK_DELETE_POLICY};
use crate::sync::hooks::{LABEL_HOOK, LABEL_HOOK_NAME, LABEL_PHASE, LABEL_SYNC_ID};

/// The finalizer Argo CD 3.x puts on the hooks it runs: the only finalizer `gc` ever removes.
pub const HOOK_FINALIZER: &str = "argocd.argoproj.io/hook-finalizer";
/// Helm's "never delete this" annotation (`keep`).
pub const HELM_RESOURCE_POLICY: &str = "helm.sh/resource-policy";
/// The label (or annotation) Argo CD's label tracking writes when configured with this key.
pub const ARGOCD_INSTANCE: &str = "argocd.argoproj.io/instance";
/// Argo CD's annotation tracking: `<app>:<group>/<kind>:<namespace>/<name>`.
pub const TRACKING_ID: &str = "argocd.argoproj.io/tracking-id";

/// Who created the hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Origin {
    /// `kubectl waves sync` (label `kubectl-waves.io/hook=true`).
    #[serde(rename = "kubectl-waves")]
    Waves,
    /// Annotation `argocd.argoproj.io/hook`.
    #[serde(rename = "argocd")]
    ArgoCd,
    /// Annotation `helm.sh/hook` only.
    #[serde(rename = "helm")]
    Helm,
}

/// What a live object is to `gc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Not a hook, or a pod that goes with its owner: never listed, never touched.
    NotHook,
    /// A hook object `gc` must never touch (`Skip`, `crd-install`, `resource-policy: keep`).
    Protected(String),
    /// A hook leftover candidate.
    Hook(HookMeta),
}

/// What the labels and annotations say about a hook object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookMeta {
    pub origin: Origin,
    /// The phase(s) as written: our label, else the Argo CD annotation, else Helm's.
    pub phase: String,
    /// Delete policies as written, in Argo CD's names (Helm's mapped), unknown ones verbatim.
    pub policies: Vec<String>,
}

fn labels(obj: &Value) -> Option<&serde_json::Map<String, Value>> {
    obj.pointer("/metadata/labels").and_then(Value::as_object)
}

fn annotations(obj: &Value) -> Option<&serde_json::Map<String, Value>> {
    obj.pointer("/metadata/annotations")
        .and_then(Value::as_object)
}

fn label<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    labels(obj).and_then(|m| m.get(key)).and_then(Value::as_str)
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    annotations(obj)
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
}

fn meta_str<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Comma-separated values, trimmed, empty ones dropped (Argo CD's `GetAnnotationCSVs`).
fn csv(text: &str) -> Vec<&str> {
    text.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

/// Whether a live object is a hook leftover candidate, protected, or none of `gc`'s business.
///
/// A pod with a controller (a Job's, a Workflow's, a ReplicaSet's pod) is never listed: it
/// goes with its owner. Protected: an Argo CD hook annotation that is only `Skip`, a Helm
/// hook that is only `crd-install`, and `helm.sh/resource-policy: keep`.
pub fn classify(obj: &Value) -> Found {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind == "Pod" && has_controller(obj) {
        return Found::NotHook;
    }
    let ours = label(obj, LABEL_HOOK) == Some("true");
    let argo = annotation(obj, HOOK);
    let helm = annotation(obj, HELM_HOOK);
    if !ours && argo.is_none() && helm.is_none() {
        return Found::NotHook;
    }
    if annotation(obj, HELM_RESOURCE_POLICY).is_some_and(|v| v.trim() == "keep") {
        return Found::Protected(format!("{HELM_RESOURCE_POLICY}: keep"));
    }
    if let Some(text) = argo {
        let values = csv(text);
        if !values.is_empty() && values.iter().all(|v| *v == "Skip") {
            return Found::Protected(format!("{HOOK}: Skip"));
        }
    }
    if !ours && argo.is_none() {
        let values = csv(helm.unwrap_or(""));
        if values.is_empty() || values.iter().all(|v| *v == "crd-install") {
            return Found::Protected(format!("{HELM_HOOK}: crd-install"));
        }
    }
    let origin = if ours {
        Origin::Waves
    } else if argo.is_some() {
        Origin::ArgoCd
    } else {
        Origin::Helm
    };
    let phase = match (ours.then(|| label(obj, LABEL_PHASE)).flatten(), argo, helm) {
        (Some(p), _, _) => p.to_string(),
        (None, Some(a), _) => csv(a).join(","),
        (None, None, Some(h)) => csv(h).join(","),
        _ => String::new(),
    };
    let mut policies: Vec<String> = Vec::new();
    let mut add = |p: String| {
        if !policies.contains(&p) {
            policies.push(p);
        }
    };
    for v in csv(annotation(obj, HOOK_DELETE_POLICY).unwrap_or("")) {
        add(v.to_string());
    }
    for v in csv(annotation(obj, HELM_HOOK_DELETE_POLICY).unwrap_or("")) {
        add(match v {
            "before-hook-creation" => "BeforeHookCreation".to_string(),
            "hook-succeeded" => "HookSucceeded".to_string(),
            "hook-failed" => "HookFailed".to_string(),
            other => other.to_string(),
        });
    }
    Found::Hook(HookMeta {
        origin,
        phase,
        policies,
    })
}

fn has_controller(obj: &Value) -> bool {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        })
}

/// A hook's state, from what the health rules say of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Running,
    Succeeded,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
        }
    }

    /// As `sync` judges a hook: Healthy or no health rule → succeeded; Progressing or
    /// Suspended → running; Degraded, Unknown, Missing → failed.
    pub fn of(health: &Health) -> State {
        match health.status {
            HealthStatus::Healthy | HealthStatus::None => State::Succeeded,
            HealthStatus::Progressing | HealthStatus::Suspended => State::Running,
            HealthStatus::Degraded | HealthStatus::Unknown | HealthStatus::Missing => State::Failed,
        }
    }
}

/// `--state`: which hooks are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum StateFilter {
    /// Succeeded or failed (default): a running hook is kept.
    #[default]
    Finished,
    Succeeded,
    Failed,
    Running,
    All,
}

impl StateFilter {
    pub fn matches(self, state: State) -> bool {
        match self {
            StateFilter::Finished => state != State::Running,
            StateFilter::Succeeded => state == State::Succeeded,
            StateFilter::Failed => state == State::Failed,
            StateFilter::Running => state == State::Running,
            StateFilter::All => true,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StateFilter::Finished => "finished",
            StateFilter::Succeeded => "succeeded",
            StateFilter::Failed => "failed",
            StateFilter::Running => "running",
            StateFilter::All => "all",
        }
    }
}

/// Who ran the hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Owner {
    /// Our sync id (label `kubectl-waves.io/sync-id`).
    SyncId(String),
    /// The Argo CD Application, as the object names it (`name` or `namespace_name`).
    Application(String),
}

impl Owner {
    pub fn display(&self) -> String {
        match self {
            Owner::SyncId(id) => format!("sync {id}"),
            Owner::Application(app) => format!("app {app}"),
        }
    }
}

/// The owner of a hook: our sync id, else the Application of `argocd.argoproj.io/instance`
/// (label or annotation), else the app part of the tracking-id annotation.
pub fn owner(obj: &Value) -> Option<Owner> {
    if label(obj, LABEL_HOOK) == Some("true")
        && let Some(id) = label(obj, LABEL_SYNC_ID)
    {
        return Some(Owner::SyncId(id.to_string()));
    }
    if let Some(app) = label(obj, ARGOCD_INSTANCE).or_else(|| annotation(obj, ARGOCD_INSTANCE))
        && !app.is_empty()
    {
        return Some(Owner::Application(app.to_string()));
    }
    let tracking = annotation(obj, TRACKING_ID)?;
    let app = tracking.split(':').next().unwrap_or("");
    (!app.is_empty()).then(|| Owner::Application(app.to_string()))
}

/// The runs of one hook share a group: our `hook-name` label; for others the generateName
/// prefix (without its trailing dash), else the name with Argo CD's generated suffix
/// `-<rev7>-<phase>-<unix>` cut off, else the name.
pub fn run_group(obj: &Value) -> String {
    if label(obj, LABEL_HOOK) == Some("true")
        && let Some(name) = label(obj, LABEL_HOOK_NAME)
    {
        return name.to_string();
    }
    let generate = meta_str(obj, "generateName");
    if !generate.is_empty() {
        return generate.trim_end_matches('-').to_string();
    }
    let name = meta_str(obj, "name");
    strip_argocd_suffix(name).unwrap_or(name).to_string()
}

/// `<prefix><rev7>-<phase>-<unix>` (lowercase) → `<prefix>` without its trailing dash.
fn strip_argocd_suffix(name: &str) -> Option<&str> {
    let mut parts = name.rsplitn(4, '-');
    let unix = parts.next()?;
    let phase = parts.next()?;
    let rev = parts.next()?;
    let rest = parts.next();
    let phases = [
        "presync",
        "sync",
        "postsync",
        "syncfail",
        "predelete",
        "postdelete",
    ];
    let is_rev = rev.len() >= 7 && rev.chars().all(|c| c.is_ascii_alphanumeric());
    let is_unix = unix.len() >= 9 && unix.chars().all(|c| c.is_ascii_digit());
    if !(is_unix && is_rev && phases.contains(&phase)) {
        return None;
    }
    // The revision is glued to the prefix: `<prefix><rev7>`; cut its last 7 characters.
    let glued = match rest {
        Some(r) => &name[..r.len() + 1 + rev.len()],
        None => rev,
    };
    let prefix = &glued[..glued.len() - 7];
    let prefix = prefix.trim_end_matches('-');
    (!prefix.is_empty()).then_some(prefix)
}

/// Why a hook was left in the cluster.
pub fn why_left(state: State, policies: &[String]) -> String {
    let has = |p: &str| policies.iter().any(|x| x == p);
    match state {
        State::Running => "running (its sync was interrupted, or still runs)".to_string(),
        _ if !has("HookSucceeded") && !has("HookFailed") => {
            if has("BeforeHookCreation") {
                "no policy after the sync (BeforeHookCreation only)".to_string()
            } else {
                "no policy".to_string()
            }
        }
        State::Succeeded if has("HookSucceeded") => {
            "sync interrupted (or it failed after this hook)".to_string()
        }
        State::Failed if has("HookFailed") => "sync interrupted".to_string(),
        State::Succeeded => "policy did not cover the outcome (HookFailed only)".to_string(),
        State::Failed => "policy did not cover the outcome (HookSucceeded only)".to_string(),
    }
}

/// What `gc` does with a leftover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", content = "reason", rename_all = "lowercase")]
pub enum Action {
    /// Delete it (after removing the hook finalizer when it has one).
    Delete,
    /// Leave it, and why.
    Keep(String),
}

/// One leftover hook object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Leftover {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub origin: Origin,
    pub phase: String,
    pub delete_policies: Vec<String>,
    pub state: State,
    /// The health message: the failure reason of a failed hook.
    pub message: String,
    /// `metadata.creationTimestamp` as written.
    pub created: String,
    /// Seconds since creation (`None` when the timestamp is missing or unreadable).
    pub age_seconds: Option<u64>,
    pub owner: Option<Owner>,
    pub why_left: String,
    /// The hook its runs are grouped under (`--keep-last`).
    pub hook: String,
    /// Carries `argocd.argoproj.io/hook-finalizer`.
    pub hook_finalizer: bool,
    /// `metadata.deletionTimestamp` is set.
    pub terminating: bool,
    #[serde(flatten)]
    pub action: Action,
    /// Only with `--yes`: what happened (`deleted`, `finalizer removed`, `gone`, or the error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

impl Leftover {
    /// `Kind/namespace/name`.
    pub fn display_name(&self) -> String {
        crate::model::display_name(&self.kind, &self.namespace, &self.name)
    }
}

/// Describes a hook object (`meta` from [`classify`]) with its health, at `now` (Unix seconds).
pub fn leftover(obj: &Value, meta: HookMeta, health: &Health, now: i64) -> Leftover {
    let state = State::of(health);
    let created = meta_str(obj, "creationTimestamp").to_string();
    let age_seconds = parse_timestamp(&created).map(|t| (now - t).max(0) as u64);
    let hook_finalizer = obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|f| f.as_str() == Some(HOOK_FINALIZER)));
    Leftover {
        api_version: obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        kind: obj
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        namespace: meta_str(obj, "namespace").to_string(),
        name: meta_str(obj, "name").to_string(),
        origin: meta.origin,
        phase: meta.phase,
        why_left: why_left(state, &meta.policies),
        delete_policies: meta.policies,
        state,
        message: health.message.clone(),
        created,
        age_seconds,
        owner: owner(obj),
        hook: run_group(obj),
        hook_finalizer,
        terminating: obj.pointer("/metadata/deletionTimestamp").is_some(),
        action: Action::Delete,
        result: None,
    }
}

/// The user's filters.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub state: StateFilter,
    /// Only hooks created at least this long ago.
    pub older_than: Option<Duration>,
    /// Keep the newest N runs of each hook; `None`: keep the newest failed run of each.
    pub keep_last: Option<usize>,
    /// Remove the hook finalizer even when the Application cannot be read.
    pub remove_finalizers: bool,
}

/// What is known of Argo CD's Applications, to decide about the hook finalizer.
#[derive(Debug, Clone, Default)]
pub enum Applications {
    /// The Application CRD is not served or the Applications cannot be listed.
    #[default]
    Unreadable,
    /// Every Application: (namespace, name) → an operation is running.
    Read(Vec<(String, String, bool)>),
}

/// Whether Argo CD may still process a hook of `owner`: `Some(true)` an operation is running,
/// `Some(false)` none (or the Application is gone), `None` unknown.
pub fn operation_running(apps: &Applications, owner: Option<&Owner>) -> Option<bool> {
    let Applications::Read(apps) = apps else {
        return None;
    };
    let Some(Owner::Application(app)) = owner else {
        return None;
    };
    let matches: Vec<bool> = apps
        .iter()
        .filter(|(ns, name, _)| name == app || format!("{ns}_{name}") == *app)
        .map(|(_, _, running)| *running)
        .collect();
    Some(matches.iter().any(|r| *r))
}

/// Whether an Application object has an operation in progress: an `operation` requested, or
/// `status.operationState.phase` Running or Terminating.
pub fn application_busy(app: &Value) -> bool {
    if app.get("operation").is_some_and(|o| !o.is_null()) {
        return true;
    }
    matches!(
        app.pointer("/status/operationState/phase")
            .and_then(Value::as_str),
        Some("Running" | "Terminating")
    )
}

/// Chooses the action of every leftover (in place).
pub fn decide(leftovers: &mut [Leftover], selection: &Selection, apps: &Applications) {
    // Runs of one hook, newest first.
    let mut groups: HashMap<(String, String, String), Vec<usize>> = HashMap::new();
    for (i, l) in leftovers.iter().enumerate() {
        groups
            .entry((l.namespace.clone(), l.kind.clone(), l.hook.clone()))
            .or_default()
            .push(i);
    }
    let mut kept_by_group: HashMap<usize, String> = HashMap::new();
    for runs in groups.values_mut() {
        runs.sort_by(|a, b| {
            let (a, b) = (&leftovers[*a], &leftovers[*b]);
            b.created.cmp(&a.created).then_with(|| b.name.cmp(&a.name))
        });
        match selection.keep_last {
            Some(n) => {
                for &i in runs.iter().take(n) {
                    let l = &leftovers[i];
                    kept_by_group.insert(
                        i,
                        format!(
                            "one of the newest {n} run{} of {}",
                            if n == 1 { "" } else { "s" },
                            l.hook
                        ),
                    );
                }
            }
            None => {
                if let Some(&i) = runs.iter().find(|&&i| leftovers[i].state == State::Failed) {
                    kept_by_group.insert(
                        i,
                        format!(
                            "newest failed run of {} (--keep-last 0 deletes it)",
                            leftovers[i].hook
                        ),
                    );
                }
            }
        }
    }
    for (i, l) in leftovers.iter_mut().enumerate() {
        l.action = action(l, selection, apps, kept_by_group.remove(&i));
    }
}

fn action(l: &Leftover, s: &Selection, apps: &Applications, kept: Option<String>) -> Action {
    if l.terminating && !l.hook_finalizer {
        return Action::Keep("being deleted (waiting on other finalizers)".into());
    }
    if !s.state.matches(l.state) {
        return Action::Keep(match l.state {
            State::Running => "running (--state running or all deletes it)".into(),
            state => format!("{} (not in --state {})", state.as_str(), s.state.as_str()),
        });
    }
    if let Some(min) = s.older_than {
        match l.age_seconds {
            Some(age) if age >= min.as_secs() => {}
            Some(_) => {
                return Action::Keep(format!(
                    "younger than --older-than {}",
                    format_age(min.as_secs())
                ));
            }
            None => return Action::Keep("no creation time (--older-than)".into()),
        }
    }
    if let Some(reason) = kept {
        return Action::Keep(reason);
    }
    if l.hook_finalizer {
        if l.state == State::Running {
            return Action::Keep("running, with Argo CD's hook finalizer".into());
        }
        match operation_running(apps, l.owner.as_ref()) {
            Some(true) => {
                let app = match &l.owner {
                    Some(Owner::Application(a)) => a.as_str(),
                    _ => "?",
                };
                return Action::Keep(format!(
                    "hook finalizer: Application {app} has an operation running"
                ));
            }
            Some(false) => {}
            None if s.remove_finalizers => {}
            None => {
                return Action::Keep(
                    "hook finalizer: the Application cannot be read (--remove-finalizers)".into(),
                );
            }
        }
    }
    Action::Delete
}

/// Seconds since the Unix epoch of an RFC 3339 time as the apiserver writes it
/// (`2026-11-30T01:02:03Z`, optional fraction and offset).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + min * 60 + sec - offset)
}

/// An age as kubectl prints it: `45s`, `3m20s`, `25m`, `5h10m`, `30h`, `3d4h`, `40d`.
pub fn format_age(seconds: u64) -> String {
    let (m, h, d) = (seconds / 60, seconds / 3600, seconds / 86_400);
    if seconds < 120 {
        format!("{seconds}s")
    } else if m < 10 {
        match seconds % 60 {
            0 => format!("{m}m"),
            s => format!("{m}m{s}s"),
        }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        match m % 60 {
            0 => format!("{h}h"),
            r => format!("{h}h{r}m"),
        }
    } else if h < 48 {
        format!("{h}h")
    } else if d < 8 {
        match h % 24 {
            0 => format!("{d}d"),
            r => format!("{d}d{r}h"),
        }
    } else {
        format!("{d}d")
    }
}

/// `--older-than`: a Go duration (`90s`, `30m`, `1h30m`) or whole days in front (`7d`, `1d12h`).
pub fn parse_age(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Some((days, rest)) = text.split_once('d')
        && !days.is_empty()
        && days.bytes().all(|b| b.is_ascii_digit())
    {
        let days = Duration::from_secs(days.parse::<u64>().ok()?.checked_mul(86_400)?);
        if rest.is_empty() {
            return Some(days);
        }
        return crate::model::annotations::parse_duration(rest).map(|d| days + d);
    }
    crate::model::annotations::parse_duration(text)
}

#[cfg(test)]
mod tests;
