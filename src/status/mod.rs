//! `status`: the live state of every object of the plan, judged per step in execution order
//! as `sync` would judge it (SPEC §4, [`crate::sync::gate::judge`]), with a verdict per step
//! and the object that blocks the rollout, and why.
//!
//! [`assess`] is pure: the plan, where each object lives ([`Target`]) and a view of the live
//! objects ([`LiveView`]) in, a [`StatusReport`] out. [`watch`] keeps a [`LiveStore`] current
//! with watches for the CLI (one list per kind and namespace, then events for `--watch`).

pub mod watch;

use serde::Serialize;
use serde_json::Value;

use crate::cluster::{LiveKey, LiveStore};
use crate::health::{self, Health, HealthConfig, HealthStatus};
use crate::model::{DeletePolicy, Object, Phase};
use crate::plan::{Plan, Task};
use crate::sync::gate::{self, StuckPod, Verdict};
use crate::sync::hooks;

/// The live objects as last seen: a [`LiveStore`] kept by watches, or a list in tests.
pub trait LiveView {
    /// The object with this identity.
    fn get(&self, key: &LiveKey) -> Option<Value>;
    /// Every object of a kind (by group) in a namespace ("" for cluster-scoped).
    fn list(&self, group: &str, kind: &str, namespace: &str) -> Vec<Value>;
}

impl LiveView for LiveStore {
    fn get(&self, key: &LiveKey) -> Option<Value> {
        LiveStore::get(self, key)
    }

    fn list(&self, group: &str, kind: &str, namespace: &str) -> Vec<Value> {
        LiveStore::list(self, group, kind, namespace)
    }
}

/// Where one object of the plan lives in this cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its namespace as `sync` writes it ("" for cluster-scoped kinds).
    pub namespace: String,
    /// Whether the cluster serves its kind (a CRD not installed yet: not served).
    pub served: bool,
}

/// Whether the object is in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Presence {
    Present,
    Missing,
    /// A hook that ran and that its own delete policy removed ("ran, deleted").
    Deleted,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Present => "present",
            Presence::Missing => "missing",
            Presence::Deleted => "ran, deleted",
        }
    }
}

/// One object judged as `sync` judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ObjectState {
    /// Healthy, no health rule, or a hook that succeeded (or ran and was deleted on success).
    Done,
    /// Progressing, Suspended, Unknown, or a hook still running.
    Waiting,
    /// Degraded, a stuck pod, a failed hook: the sync would fail on it.
    Failed,
    /// Not in the cluster (a hook that has not run).
    Missing,
}

/// The last run of a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum HookResult {
    Succeeded,
    Running,
    Failed,
    /// Ran and was deleted by its delete policy; `HookSucceeded` in the policy counts as success.
    Deleted,
    /// No run of it is live, and its policy would not have deleted it.
    NotRun,
}

impl HookResult {
    pub fn as_str(self) -> &'static str {
        match self {
            HookResult::Succeeded => "succeeded",
            HookResult::Running => "running",
            HookResult::Failed => "failed",
            HookResult::Deleted => "ran, deleted",
            HookResult::NotRun => "not run",
        }
    }
}

/// A hook's last run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRun {
    /// The live object of the run (a generated name for `generateName` hooks); `None` when
    /// nothing of it is live.
    pub name: Option<String>,
    /// `kubectl-waves.io/sync-id` of the run, when it has one.
    pub sync_id: Option<String>,
    pub result: HookResult,
}

/// One object of the plan and its live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStatus {
    pub api_version: String,
    pub kind: String,
    /// Where it lives ("" for cluster-scoped): the default namespace filled in.
    pub namespace: String,
    /// As written (the `generateName` prefix of such a hook; its run is in `hookRun`).
    pub name: String,
    /// `path:line`.
    pub source: String,
    pub hook: bool,
    pub live: Presence,
    /// Argo CD's health name (`None`: no health rule; `Missing`: not in the cluster).
    pub health: HealthStatus,
    pub message: String,
    pub state: ObjectState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_run: Option<HookRun>,
    /// The pod that explains the state: stuck (ImagePullBackOff, CrashLoopBackOff, …) or not
    /// ready, as `pod NAME: why`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Its index in the plan's objects.
    #[serde(skip)]
    pub index: usize,
    /// The live object's identity, for evidence.
    #[serde(skip)]
    pub key: Option<LiveKey>,
    #[serde(skip)]
    pub stuck: Option<StuckPod>,
}

impl ObjectStatus {
    /// `Kind/namespace/name`.
    pub fn display(&self) -> String {
        let name = self
            .hook_run
            .as_ref()
            .and_then(|r| r.name.as_deref())
            .unwrap_or(&self.name);
        crate::model::display_name(&self.kind, &self.namespace, name)
    }
}

/// A step's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StepVerdict {
    /// Every object is done.
    Done,
    /// The first step that is not done: the rollout stops here.
    Blocking,
    /// After the blocking step, some of its objects are live but not all done.
    Waiting,
    /// After the blocking step, none of its objects is live.
    NotStarted,
}

impl StepVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            StepVerdict::Done => "done",
            StepVerdict::Blocking => "blocking",
            StepVerdict::Waiting => "waiting",
            StepVerdict::NotStarted => "not started",
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepStatus {
    /// 1-based, as `sync` counts.
    pub step: usize,
    pub phase: Phase,
    pub wave: i64,
    pub verdict: StepVerdict,
    pub objects: Vec<ObjectStatus>,
}

/// The object the rollout waits on, with the reason; `logs` and `events` with `--details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blocker {
    pub step: usize,
    pub phase: Phase,
    pub wave: i64,
    /// The object as in `steps[].objects[]`.
    pub object: ObjectStatus,
    /// Why: its health (and the pod that shows it).
    pub reason: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// The pod `logs` and `events` are about (with `--details`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_pod: Option<String>,
}

/// The whole answer of `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    /// Every step done (exit 0).
    pub healthy: bool,
    /// One line: `all N steps done`, or where it blocks and why.
    pub summary: String,
    pub steps: Vec<StepStatus>,
    /// `None` when healthy.
    pub blocking: Option<Blocker>,
    /// SyncFail hooks (they run only when a sync fails; not part of the verdict).
    pub sync_fail: Vec<ObjectStatus>,
}

/// Judges every object of `plan` from `live` and gives each step its verdict.
///
/// `targets[i]` is where `plan.objects[i]` lives. A hook's last run is found among the live
/// objects of its kind by our labels (`hook-name` and `phase`, the newest run first), else by
/// its name; a hook with none live whose delete policy removes it is "ran, deleted" once
/// anything of the app is live (its success assumed when the policy has `HookSucceeded`).
pub fn assess(
    plan: &Plan,
    targets: &[Target],
    live: &dyn LiveView,
    health: &HealthConfig,
) -> StatusReport {
    let observed: Vec<Vec<Observed>> = plan
        .steps
        .iter()
        .map(|s| {
            s.tasks()
                .map(|t| observe(plan, t, &targets[t.object], live))
                .collect()
        })
        .collect();
    let sync_fail_observed: Vec<Observed> = plan
        .sync_fail
        .iter()
        .map(|t| observe(plan, t, &targets[t.object], live))
        .collect();
    let anything_live = observed
        .iter()
        .flatten()
        .chain(&sync_fail_observed)
        .any(|o| o.live.is_some());

    let mut steps = Vec::with_capacity(plan.steps.len());
    let mut blocking: Option<Blocker> = None;
    for (i, (step, observed)) in plan.steps.iter().zip(observed).enumerate() {
        let objects: Vec<ObjectStatus> = step
            .tasks()
            .zip(observed)
            .map(|(t, o)| judge_object(plan, t, &targets[t.object], o, live, health, anything_live))
            .collect();
        let done = objects.iter().all(|o| o.state == ObjectState::Done);
        let any_present = objects.iter().any(|o| o.live == Presence::Present);
        let verdict = if blocking.is_none() {
            if done {
                StepVerdict::Done
            } else {
                StepVerdict::Blocking
            }
        } else if done && any_present {
            StepVerdict::Done
        } else if any_present {
            StepVerdict::Waiting
        } else {
            StepVerdict::NotStarted
        };
        if verdict == StepVerdict::Blocking {
            let culprit = objects
                .iter()
                .find(|o| o.state == ObjectState::Failed)
                .or_else(|| objects.iter().find(|o| o.state != ObjectState::Done));
            if let Some(culprit) = culprit {
                blocking = Some(Blocker {
                    step: i + 1,
                    phase: step.phase,
                    wave: step.wave,
                    reason: reason_of(culprit),
                    object: culprit.clone(),
                    logs: Vec::new(),
                    events: Vec::new(),
                    evidence_pod: None,
                });
            }
        }
        steps.push(StepStatus {
            step: i + 1,
            phase: step.phase,
            wave: step.wave,
            verdict,
            objects,
        });
    }
    let sync_fail = plan
        .sync_fail
        .iter()
        .zip(sync_fail_observed)
        .map(|(t, o)| judge_object(plan, t, &targets[t.object], o, live, health, anything_live))
        .collect();
    let summary = summary_of(steps.len(), blocking.as_ref());
    StatusReport {
        healthy: blocking.is_none(),
        summary,
        steps,
        blocking,
        sync_fail,
    }
}

/// `all N steps done`, or where the rollout is blocked and why.
pub fn summary_of(steps: usize, blocking: Option<&Blocker>) -> String {
    match blocking {
        None => format!("all {steps} step{} done", if steps == 1 { "" } else { "s" }),
        Some(b) => format!(
            "blocked at step {}/{steps} ({} wave {}): {}: {}",
            b.step,
            b.phase,
            b.wave,
            b.object.display(),
            b.reason
        ),
    }
}

/// What was found live for one task.
struct Observed {
    live: Option<Value>,
    key: Option<LiveKey>,
}

fn observe(plan: &Plan, task: &Task, target: &Target, live: &dyn LiveView) -> Observed {
    let o = &plan.objects[task.object];
    if !target.served {
        return Observed {
            live: None,
            key: None,
        };
    }
    let found = if o.is_hook() {
        last_run(o, task.phase, &target.namespace, live)
    } else {
        let key = LiveKey::new(&o.group, &o.kind, &target.namespace, &o.name);
        live.get(&key)
    };
    let key = found.as_ref().map(|v| {
        LiveKey::new(
            &o.group,
            &o.kind,
            &target.namespace,
            v.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or(&o.name),
        )
    });
    Observed { live: found, key }
}

fn label<'a>(object: &'a Value, name: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(name))
        .and_then(Value::as_str)
}

/// The newest live run of a hook in `phase`: by our labels, else (a fixed name, e.g. a run
/// Argo CD made) the object of that name.
fn last_run(o: &Object, phase: Phase, namespace: &str, live: &dyn LiveView) -> Option<Value> {
    let wanted = hooks::hook_name_label(&o.name, o.generate_name);
    let mut runs: Vec<Value> = live
        .list(&o.group, &o.kind, namespace)
        .into_iter()
        .filter(|v| {
            label(v, hooks::LABEL_HOOK_NAME) == Some(wanted.as_str())
                && label(v, hooks::LABEL_PHASE) == Some(phase.as_str())
        })
        .collect();
    let created = |v: &Value| {
        (
            v.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            v.pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .and_then(|r| r.parse::<u64>().ok())
                .unwrap_or(0),
        )
    };
    runs.sort_by_key(created);
    if let Some(newest) = runs.pop() {
        return Some(newest);
    }
    if o.generate_name {
        return None;
    }
    live.get(&LiveKey::new(&o.group, &o.kind, namespace, &o.name))
}

fn judge_object(
    plan: &Plan,
    task: &Task,
    target: &Target,
    observed: Observed,
    live: &dyn LiveView,
    cfg: &HealthConfig,
    anything_live: bool,
) -> ObjectStatus {
    let o = &plan.objects[task.object];
    let hook = o.is_hook();
    let mut status = ObjectStatus {
        api_version: o.api_version.to_string(),
        kind: o.kind.to_string(),
        namespace: target.namespace.clone(),
        name: o.name.clone(),
        source: o.source.to_string(),
        hook,
        live: Presence::Missing,
        health: HealthStatus::Missing,
        message: String::new(),
        state: ObjectState::Missing,
        hook_run: None,
        pod: None,
        index: task.object,
        key: observed.key,
        stuck: None,
    };
    let Some(object) = observed.live else {
        status.message = if target.served {
            "not in the cluster".to_string()
        } else {
            format!(
                "the cluster does not serve {} {} (is its CustomResourceDefinition installed?)",
                o.api_version, o.kind
            )
        };
        if hook {
            let policies = &o.annotations.delete_policies;
            let on_success = policies.contains(&DeletePolicy::HookSucceeded);
            let on_failure = policies.contains(&DeletePolicy::HookFailed);
            let result = if anything_live && (on_success || on_failure) {
                status.live = Presence::Deleted;
                status.health = HealthStatus::None;
                if on_success {
                    status.state = ObjectState::Done;
                    status.message = "ran, deleted by its delete policy".into();
                } else {
                    status.state = ObjectState::Failed;
                    status.message = "ran and failed: deleted by its HookFailed policy".into();
                }
                HookResult::Deleted
            } else {
                if target.served {
                    status.message = "not run".into();
                }
                HookResult::NotRun
            };
            status.hook_run = Some(HookRun {
                name: None,
                sync_id: None,
                result,
            });
        }
        return status;
    };
    status.live = Presence::Present;
    let pods = live.list("", "Pod", &target.namespace);
    let behind = gate::pods_of(&object, &pods);
    let stuck = gate::stuck_pod(&behind);
    let assessed = health::assess(&object, cfg);
    let health_message = assessed.as_ref().map(|h| h.message.clone()).ok();
    let verdict = gate::judge(Some(&object), hook, assessed, stuck.as_ref());
    status.health = verdict.status();
    // "no health check for …" says nothing a user needs: the column shows `-`.
    if status.health != HealthStatus::None {
        status.message = verdict.message().to_string();
    }
    status.state = match verdict {
        Verdict::Done { .. } => ObjectState::Done,
        Verdict::Waiting { .. } => ObjectState::Waiting,
        Verdict::Failed { .. } => ObjectState::Failed,
    };
    if let Some(s) = &stuck
        && status.state == ObjectState::Failed
        && status.message.starts_with(&format!("pod {}:", s.pod))
    {
        // judge put the pod's problem in the message; keep the object's own health first.
        status.pod = Some(status.message.clone());
        status.message = health_message
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| s.problem.reason.clone());
        status.stuck = Some(s.clone());
    } else if status.state != ObjectState::Done {
        status.pod = behind.iter().find_map(|p| pod_note(p, cfg));
    }
    // Argo CD leaves such an object out of the Application's health (controller/health.go;
    // a live annotation, exactly "true", never on hooks); its sync engine never reads it,
    // so `sync` still waits for the object.
    if !hook
        && status.state != ObjectState::Done
        && object
            .pointer("/metadata/annotations/argocd.argoproj.io~1ignore-healthcheck")
            .and_then(Value::as_str)
            == Some("true")
    {
        status.state = ObjectState::Done;
        status.message = format!(
            "health ignored (argocd.argoproj.io/ignore-healthcheck): {}",
            status.message
        );
        status.pod = None;
        status.stuck = None;
    }
    if hook {
        status.hook_run = Some(HookRun {
            name: object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(String::from),
            sync_id: label(&object, hooks::LABEL_SYNC_ID).map(String::from),
            result: match status.state {
                ObjectState::Done => HookResult::Succeeded,
                ObjectState::Failed => HookResult::Failed,
                _ => HookResult::Running,
            },
        });
    }
    status
}

/// `pod NAME: why` for a pod that is not healthy yet (none for a healthy or finished one).
fn pod_note(pod: &Value, cfg: &HealthConfig) -> Option<String> {
    let name = pod.pointer("/metadata/name").and_then(Value::as_str)?;
    let Health { status, message } = health::assess_or_unknown(pod, cfg);
    if matches!(status, HealthStatus::Healthy | HealthStatus::None) {
        return None;
    }
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    let ready = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        })
        .and_then(|c| c.get("status").and_then(Value::as_str))
        == Some("True");
    let mut note = format!("pod {name}: {phase}");
    if !ready && phase != "Succeeded" {
        note.push_str(", not ready");
    }
    if !message.is_empty() {
        note.push_str(&format!(" ({message})"));
    }
    Some(note)
}

/// Why an object blocks: its health and message, then the pod that shows it.
fn reason_of(o: &ObjectStatus) -> String {
    let mut reason = match (o.live, o.health) {
        (Presence::Missing, _) => format!("missing: {}", o.message),
        (Presence::Deleted, _) => o.message.clone(),
        (_, status) if o.message.is_empty() => status.as_str().to_string(),
        (_, status) => format!("{status}: {}", o.message),
    };
    if let Some(pod) = &o.pod {
        reason.push_str("; ");
        reason.push_str(pod);
    }
    reason
}

#[cfg(test)]
mod tests;
