//! The sync engine: walks the plan's steps against a cluster (SPEC §4, §5) and reports what
//! happens as [`Event`]s. It never prints; `ui::sync` renders the events.
//!
//! A step: start the watches it needs (and wait for their first list, so nothing is missed),
//! apply its kind groups one after another (the objects of a group concurrently), then judge
//! every awaited object from the watched state ([`gate::judge`]) each time a watch reports a
//! change, until all are done, one fails, a deadline passes, or the user interrupts. The next
//! step starts at once: no fixed delay.

pub mod events;
pub mod evidence;
pub mod gate;
pub mod hooks;
pub mod prune;
pub mod unit;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::cluster::applyset::{self, ApplySet, Inventory, Parent};
use crate::cluster::lease::{LeaseError, SyncLease};
use crate::cluster::live::WatchHandle;
use crate::cluster::{
    ApplyMode, Cluster, ClusterError, LiveKey, LiveStore, Propagation, Readiness, ResolvedKind,
};
use crate::health::{self, HealthConfig, HealthRule, HealthStatus};
use crate::infer::Strength;
use crate::model::{DeletePolicy, Phase};
use crate::plan::graph::Schedule;
use crate::plan::{Plan, Task};
pub use events::{Action, DeleteReason, Event, Failure, ObjectInfo, Outcome, StepSummary};
use gate::Verdict;
pub use unit::Unit;

/// While a step waits, how often the apiserver is asked whether it can serve (`/readyz`).
pub const READINESS_EVERY: Duration = Duration::from_secs(5);
/// How long the apiserver may stay unavailable (unreachable, or without its storage) before
/// the objects still awaited fail: longer than an apiserver restart takes, so a restart is
/// waited out, short enough that a lost etcd is reported instead of waited out to `--timeout`.
pub const UNAVAILABLE_FOR: Duration = Duration::from_secs(30);

/// How to sync (the flags of `kubectl waves sync`).
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub sync_id: String,
    /// Server-side apply (default); `--server-side=false` is Argo CD's client-side apply.
    pub server_side: bool,
    /// Take fields other managers own (default), as Argo CD does with server-side apply.
    pub force_conflicts: bool,
    /// `--dry-run=server`: dry-run everything, write nothing.
    pub dry_run: bool,
    /// Health-gate the last step (default); `--wait=false` returns after its apply.
    pub wait: bool,
    /// Deadline of the whole sync.
    pub timeout: Option<Duration>,
    /// Deadline of each step.
    pub wave_timeout: Option<Duration>,
    /// `--create-namespace`: create the destination namespace before its first user.
    pub create_namespace: bool,
    /// `--keep-running-hooks`: an interrupted sync leaves running hooks alone.
    pub keep_running_hooks: bool,
    /// Objects of one kind group applied at once.
    pub concurrency: usize,
    pub health: Arc<HealthConfig>,
    /// Where the custom health checks came from, for the `healthConfig` event.
    pub health_source: Option<String>,
    /// Lines of a failing pod's log to show.
    pub log_lines: i64,
    /// The app's inventory (ApplySet parent); `None`: no inventory is kept.
    pub applyset: Option<ApplySet>,
    /// `--prune`: delete members of the inventory that left the manifests.
    pub prune: bool,
    /// `--confirm-prune`: also prune objects marked `Prune=confirm`.
    pub confirm_prune: bool,
    /// `--prune-last`: every prune in the PruneLast step.
    pub prune_last: bool,
    /// `--prune-propagation`.
    pub prune_propagation: Propagation,
    /// `--apply-out-of-sync-only`: objects the dry run finds unchanged are not written.
    pub apply_out_of_sync_only: bool,
    /// `--fail-on-shared-resource`: refuse objects another app (ApplySet or Argo CD) owns.
    pub fail_on_shared_resource: bool,
    /// `--respect-ignore-differences`: fields these rules ignore keep their live values.
    pub respect_ignore: Vec<crate::diff::IgnoreRule>,
    /// `--order graph`: the steps run in graph order and what their objects wait for (the
    /// plan given to [`run`] is then the graph plan, [`crate::plan::graph::build`]).
    pub schedule: Option<Arc<Schedule>>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            sync_id: hooks::new_sync_id(),
            server_side: true,
            force_conflicts: true,
            dry_run: false,
            wait: true,
            timeout: Some(Duration::from_secs(300)),
            wave_timeout: None,
            create_namespace: false,
            keep_running_hooks: false,
            concurrency: 16,
            health: Arc::new(HealthConfig::new()),
            health_source: None,
            log_lines: 20,
            applyset: None,
            prune: false,
            confirm_prune: false,
            prune_last: false,
            prune_propagation: Propagation::Foreground,
            apply_out_of_sync_only: false,
            fail_on_shared_resource: false,
            respect_ignore: Vec::new(),
            schedule: None,
        }
    }
}

/// Errors before anything was changed (exit 2): the cluster cannot serve this plan. Every
/// variant is returned before the first write of a manifest's object (the only write before is
/// the sync's own lease, which `run` gives back), which is why the CLI can add "nothing was
/// changed"; a failure once objects are being applied is a `Failure` in the report (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{source_}: {object}: {error}")]
    Object {
        source_: String,
        object: String,
        error: ClusterError,
    },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("{0}")]
    Inventory(String),
}

/// The result of a sync.
#[derive(Debug, Clone)]
pub struct Report {
    pub outcome: Outcome,
    pub message: String,
    pub steps: Vec<StepSummary>,
    pub failures: Vec<Failure>,
    pub requests: u64,
    pub duration: Duration,
    /// Steps of the run (plan steps and prune-only steps), SyncFail not counted.
    pub total_steps: usize,
}

/// What the dry run found about one object.
struct DryRunChecked {
    action: Option<Action>,
    /// Another app that owns the live object.
    owner: Option<String>,
}

/// The answer to one write: the object as written and what the write did.
type Applied = Result<(Value, Action), ClusterError>;

/// A live member of the inventory that left the manifests.
#[derive(Debug, Clone)]
struct PruneUnit {
    key: LiveKey,
    kind: ResolvedKind,
    info: ObjectInfo,
    settings: prune::PruneSettings,
}

/// A hook this sync wrote, and how it ended.
#[derive(Debug, Clone)]
struct RanHook {
    unit: Unit,
    finished: Option<bool>,
}

/// Runs the plan against the cluster. Errors are problems found before any change (exit 2);
/// everything after the first write ends in a [`Report`].
pub async fn run(
    cluster: &Cluster,
    plan: &Plan,
    options: &SyncOptions,
    events: mpsc::UnboundedSender<Event>,
    cancel: watch::Receiver<bool>,
) -> Result<Report, SyncError> {
    let mut engine = Engine {
        cluster,
        plan,
        options,
        events,
        cancel,
        store: LiveStore::default(),
        watches: HashMap::new(),
        ran_hooks: Vec::new(),
        started: Instant::now(),
        steps: Vec::new(),
        failures: Vec::new(),
        last_health: HashMap::new(),
        namespace_created: false,
        total_steps: plan.steps.len(),
        parent: None,
        parent_written: false,
        kept_members: Inventory::default(),
        in_sync: HashSet::new(),
        lease: None,
        next_readiness: None,
        unavailable_since: None,
    };
    let result = engine.run().await;
    // An error after the lease was taken (e.g. the dry run forbidden) still gives it back.
    if let Some(lease) = engine.lease.take() {
        lease.release().await;
    }
    result
}

struct Engine<'a> {
    cluster: &'a Cluster,
    plan: &'a Plan,
    options: &'a SyncOptions,
    events: mpsc::UnboundedSender<Event>,
    cancel: watch::Receiver<bool>,
    store: LiveStore,
    /// Watches by (apiVersion, kind, namespace or "" for all).
    watches: HashMap<(String, String, String), WatchHandle>,
    ran_hooks: Vec<RanHook>,
    started: Instant,
    steps: Vec<StepSummary>,
    failures: Vec<Failure>,
    last_health: HashMap<LiveKey, (HealthStatus, String)>,
    namespace_created: bool,
    total_steps: usize,
    /// The inventory as found before this sync.
    parent: Option<Parent>,
    parent_written: bool,
    /// Kinds and namespaces of members left in place (Prune=false, Prune=confirm).
    kept_members: Inventory,
    /// Objects the dry run found unchanged (`--apply-out-of-sync-only` skips their write).
    in_sync: HashSet<LiveKey>,
    /// This app's sync lease, held while the sync runs.
    lease: Option<SyncLease>,
    /// When a waiting step asks `/readyz` next.
    next_readiness: Option<Instant>,
    /// Since when `/readyz` has said the apiserver cannot serve, and why.
    unavailable_since: Option<(Instant, String)>,
}

/// How waiting for a step ended.
enum Waited {
    Done,
    Failed,
    Terminated,
}

impl<'a> Engine<'a> {
    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    fn info(&self, unit: &Unit) -> ObjectInfo {
        let o = &self.plan.objects[unit.object];
        ObjectInfo {
            api_version: o.api_version.to_string(),
            kind: o.kind.to_string(),
            namespace: unit.namespace.clone(),
            name: unit.name.clone(),
            source: o.source.to_string(),
        }
    }

    async fn unit(&self, task: &Task) -> Unit {
        let options = unit::UnitOptions {
            sync_id: &self.options.sync_id,
            applyset: self.options.applyset.as_ref(),
        };
        Unit::new(self.cluster, self.plan, task, &options).await
    }

    async fn run(&mut self) -> Result<Report, SyncError> {
        let plan = self.plan;
        let total_objects: usize = plan.steps.iter().map(|s| s.tasks().count()).sum();

        let mut step_units = Vec::with_capacity(plan.steps.len());
        for step in &plan.steps {
            let mut groups = Vec::with_capacity(step.groups.len());
            for group in &step.groups {
                let mut units = Vec::with_capacity(group.tasks.len());
                for task in &group.tasks {
                    units.push(self.unit(task).await);
                }
                groups.push(units);
            }
            step_units.push(groups);
        }
        let mut sync_fail_units = Vec::new();
        for task in &plan.sync_fail {
            sync_fail_units.push(self.unit(task).await);
        }
        let all: Vec<&Unit> = step_units
            .iter()
            .flatten()
            .flatten()
            .chain(sync_fail_units.iter())
            .collect();
        self.check_kinds(&all)?;
        let prunes = self.read_inventory(&all).await?;
        self.take_lease().await?;
        let plan_steps: Vec<(Phase, i64)> = plan.steps.iter().map(|s| (s.phase, s.wave)).collect();
        // Graph order with the Sync waves merged into one step: prunes run at its start (as
        // inside any step, before the applies), PruneLast ones after it.
        let merged_wave = self.options.schedule.as_ref().and_then(|s| {
            let sync: Vec<usize> = plan
                .steps
                .iter()
                .enumerate()
                .filter(|(_, st)| st.phase == Phase::Sync)
                .map(|(i, _)| i)
                .collect();
            match sync.as_slice() {
                [only] if s.merged => Some(plan.steps[*only].wave),
                _ => None,
            }
        });
        let prune_waves: Vec<(i64, bool)> = prunes
            .iter()
            .map(|p| {
                (
                    merged_wave.unwrap_or(p.settings.wave),
                    p.settings.prune_last,
                )
            })
            .collect();
        let run_steps = prune::schedule(&plan_steps, &prune_waves, self.options.prune_last);
        self.total_steps = run_steps.len();
        self.emit(Event::SyncStarted {
            sync_id: self.options.sync_id.clone(),
            steps: run_steps.len(),
            objects: total_objects,
            dry_run: self.options.dry_run,
        });
        if let Some(source) = &self.options.health_source {
            self.emit(Event::HealthConfig {
                source: source.clone(),
                checks: self.options.health.checks().len(),
            });
        }
        if self.options.prune {
            match &self.options.applyset {
                Some(set) if self.parent.is_none() => self.emit(Event::PruneSkipped {
                    object: None,
                    reason: format!(
                        "no inventory yet (Secret {}/{}): nothing to prune; this sync records one",
                        set.namespace, set.name
                    ),
                }),
                _ => {}
            }
        }

        // The dry run of SPEC §4: nothing is written before every object that can be checked
        // by the server was.
        let (dry_failures, in_sync) = self.dry_run(&all).await?;
        if self.cancelled() {
            return Ok(self
                .finish(
                    Outcome::Terminated,
                    "interrupted during the server-side dry run; nothing was changed".into(),
                )
                .await);
        }
        if self.options.apply_out_of_sync_only {
            self.in_sync = in_sync;
        }
        if !dry_failures.is_empty() {
            let message = format!(
                "the server-side dry run rejected {} object{}; nothing was changed",
                dry_failures.len(),
                if dry_failures.len() == 1 { "" } else { "s" }
            );
            for f in &dry_failures {
                self.emit(Event::ObjectFailed {
                    step: 0,
                    failure: f.clone(),
                });
            }
            self.failures = dry_failures;
            return Ok(self.finish(Outcome::Failed, message).await);
        }
        if self.options.dry_run {
            return Ok(self
                .finish(
                    Outcome::Succeeded,
                    "server-side dry run passed; nothing was changed (--dry-run=server)".into(),
                )
                .await);
        }
        // Every watch the sync needs starts now, together, and is listed before the first
        // write: a step then starts without a list round trip per new kind. (Kinds a CRD of
        // this sync defines are watched once they are served.)
        let planned: Vec<&Unit> = step_units
            .iter()
            .flatten()
            .flatten()
            .chain(sync_fail_units.iter())
            .collect();
        if let Err(e) = self.ensure_watches(&planned).await {
            return Err(SyncError::Cluster(e));
        }

        let steps_total = run_steps.len();
        let mut outcome = Outcome::Succeeded;
        let mut message = String::new();
        for (index, step) in run_steps.iter().enumerate() {
            let mut no_groups: Vec<Vec<Unit>> = Vec::new();
            let groups: &mut Vec<Vec<Unit>> = match step.plan_step {
                Some(i) => &mut step_units[i],
                None => &mut no_groups,
            };
            let step_prunes: Vec<PruneUnit> =
                step.prunes.iter().map(|&i| prunes[i].clone()).collect();
            if self.cancelled() {
                outcome = Outcome::Terminated;
                break;
            }
            let number = index + 1;
            let step_started = Instant::now();
            let objects: usize = groups.iter().map(Vec::len).sum::<usize>() + step_prunes.len();
            self.emit(Event::StepStarted {
                step: number,
                steps: steps_total,
                phase: step.phase,
                wave: step.wave,
                objects,
            });
            let last = index + 1 == steps_total;
            let schedule = self.options.schedule.clone();
            let in_graph = schedule
                .as_ref()
                .zip(step.plan_step)
                .is_some_and(|(s, i)| s.graph_steps.contains(&i));
            let result = match schedule {
                Some(schedule) if in_graph => {
                    self.run_graph_step(number, groups, &step_prunes, last, &schedule)
                        .await
                }
                _ => self.run_step(number, groups, &step_prunes, last).await,
            };
            let step_outcome = match result {
                Waited::Done => Outcome::Succeeded,
                Waited::Failed => Outcome::Failed,
                Waited::Terminated => Outcome::Terminated,
            };
            let duration_ms = step_started.elapsed().as_millis() as u64;
            self.emit(Event::StepFinished {
                step: number,
                outcome: step_outcome,
                duration_ms,
            });
            self.steps.push(StepSummary {
                step: number,
                phase: step.phase,
                wave: step.wave,
                objects,
                outcome: step_outcome,
                duration_ms,
            });
            match step_outcome {
                Outcome::Succeeded => {}
                Outcome::Failed => {
                    outcome = Outcome::Failed;
                    message = format!(
                        "{} {} wave {} failed",
                        step_label(number, steps_total),
                        step.phase,
                        step.wave
                    );
                    break;
                }
                Outcome::Terminated => {
                    outcome = Outcome::Terminated;
                    break;
                }
            }
        }

        match outcome {
            Outcome::Succeeded => {
                self.narrow_inventory().await;
                self.delete_hooks_by_policy(DeletePolicy::HookSucceeded, 0)
                    .await;
                message = format!(
                    "synced {} step{}",
                    steps_total,
                    if steps_total == 1 { "" } else { "s" },
                );
            }
            Outcome::Failed => {
                // Argo CD's order (gitops-engine's sync_context.go, checked by the differential
                // tests): the hooks with HookFailed are deleted as soon as the operation fails,
                // before the SyncFail hooks start; SyncFail hooks with HookFailed once they ran.
                self.delete_hooks_by_policy(DeletePolicy::HookFailed, 0)
                    .await;
                if !sync_fail_units.is_empty() {
                    let before_sync_fail = self.ran_hooks.len();
                    self.run_sync_fail(&mut sync_fail_units).await;
                    if self.cancelled() {
                        // Interrupted while the SyncFail hooks ran: those still running are
                        // handled as any running hook of an interrupted sync.
                        self.stop_running_hooks().await;
                        outcome = Outcome::Terminated;
                        message = format!("{message}; interrupted while its SyncFail hooks ran");
                    } else {
                        self.delete_hooks_by_policy(DeletePolicy::HookFailed, before_sync_fail)
                            .await;
                    }
                }
            }
            Outcome::Terminated => {
                self.stop_running_hooks().await;
                let done = self
                    .steps
                    .iter()
                    .filter(|s| s.outcome == Outcome::Succeeded)
                    .count();
                message = format!(
                    "interrupted: {done} of {steps_total} step{} completed; no SyncFail hooks run",
                    if steps_total == 1 { "" } else { "s" }
                );
            }
        }
        Ok(self.finish(outcome, message).await)
    }

    async fn finish(&mut self, outcome: Outcome, message: String) -> Report {
        if let Some(lease) = self.lease.take() {
            lease.release().await;
        }
        let report = Report {
            outcome,
            message: message.clone(),
            steps: self.steps.clone(),
            failures: self.failures.clone(),
            requests: self.cluster.requests(),
            duration: self.started.elapsed(),
            total_steps: self.total_steps,
        };
        self.emit(Event::SyncFinished {
            outcome,
            message,
            duration_ms: report.duration.as_millis() as u64,
            requests: report.requests,
            steps: report.steps.clone(),
            failures: report.failures.clone(),
        });
        // Stop the watches before the caller's runtime winds down.
        self.watches.clear();
        report
    }

    /// Every kind must be served by the cluster or defined by a CRD of this sync.
    fn check_kinds(&self, units: &[&Unit]) -> Result<(), SyncError> {
        let defined: HashSet<(String, String)> = self
            .plan
            .objects
            .iter()
            .filter_map(crate::infer::refs::crd_defines)
            .collect();
        for u in units {
            let o = &self.plan.objects[u.object];
            if u.kind.is_none() && !defined.contains(&(o.group.to_string(), o.kind.to_string())) {
                return Err(SyncError::Object {
                    source_: o.source.to_string(),
                    object: o.display_name(),
                    error: ClusterError::UnknownKind {
                        api_version: o.api_version.to_string(),
                        kind: o.kind.to_string(),
                    },
                });
            }
        }
        Ok(())
    }

    /// Server-side dry run of every object whose namespace and kind exist already. Returns
    /// the rejections; a cluster error (unreachable, forbidden) is an error.
    async fn dry_run(
        &self,
        units: &[&Unit],
    ) -> Result<(Vec<Failure>, HashSet<LiveKey>), SyncError> {
        let mut namespaces: BTreeSet<&str> = BTreeSet::new();
        for u in units {
            if !u.namespace.is_empty() {
                namespaces.insert(&u.namespace);
            }
        }
        let mut existing = HashSet::new();
        for ns in namespaces {
            if self.cluster.namespace_exists(ns).await? {
                existing.insert(ns.to_string());
            }
        }
        // Namespaces this sync creates; objects in any other missing namespace are dry-run
        // anyway, so the server rejects them before anything is written.
        let mut created: HashSet<&str> = self
            .plan
            .objects
            .iter()
            .filter(|o| o.kind == "Namespace" && o.group.is_empty())
            .map(|o| o.name.as_str())
            .collect();
        if self.options.create_namespace {
            created.insert(&self.cluster.default_namespace);
        }
        let checkable: Vec<&Unit> = units
            .iter()
            .copied()
            .filter(|u| {
                u.kind.is_some()
                    && (u.namespace.is_empty()
                        || existing.contains(&u.namespace)
                        || !created.contains(u.namespace.as_str()))
            })
            .collect();
        let deferred = units.len() - checkable.len();
        let results: Vec<(usize, Result<DryRunChecked, ClusterError>)> =
            futures_util::stream::iter(
                checkable
                    .iter()
                    .enumerate()
                    .map(|(i, u)| async move { (i, self.dry_run_one(u).await) }),
            )
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await;
        let mut failures = Vec::new();
        let mut in_sync = HashSet::new();
        let mut results = results;
        results.sort_by_key(|(i, _)| *i);
        for (i, result) in results {
            let u = checkable[i];
            match result {
                Ok(checked) => {
                    if let (Some(owner), true) =
                        (&checked.owner, self.options.fail_on_shared_resource)
                    {
                        failures.push(Failure {
                            object: self.info(u),
                            message: format!(
                                "shared resource: it belongs to {owner} (--fail-on-shared-resource)"
                            ),
                            pod: None,
                            logs: Vec::new(),
                            events: Vec::new(),
                        });
                        continue;
                    }
                    if checked.action == Some(Action::Unchanged) && !u.hook {
                        in_sync.insert(u.key.clone());
                    }
                    if let (Some(action), true) = (checked.action, self.options.dry_run) {
                        self.emit(Event::DryRunResult {
                            object: self.info(u),
                            action,
                        });
                    }
                }
                Err(e) if e.is_forbidden() || matches!(e, ClusterError::Unreachable(_)) => {
                    let o = &self.plan.objects[u.object];
                    return Err(SyncError::Object {
                        source_: o.source.to_string(),
                        object: o.display_name(),
                        error: e,
                    });
                }
                Err(e) => failures.push(Failure {
                    object: self.info(u),
                    message: format!("server-side dry run: {e}"),
                    pod: None,
                    logs: Vec::new(),
                    events: Vec::new(),
                }),
            }
        }
        if failures.is_empty() {
            self.emit(Event::DryRunPassed {
                objects: checkable.len(),
                deferred,
            });
        }
        Ok((failures, in_sync))
    }

    /// `None` when the object is not dry-run (a hook that will be deleted and recreated).
    async fn dry_run_one(&self, u: &Unit) -> Result<DryRunChecked, ClusterError> {
        let none = DryRunChecked {
            action: None,
            owner: None,
        };
        let Some(kind) = &u.kind else {
            return Ok(none);
        };
        let o = &self.plan.objects[u.object];
        let replaced_hook = u.hook
            && o.annotations
                .delete_policies
                .contains(&DeletePolicy::BeforeHookCreation);
        // The live object is read only where it matters: to skip a hook that will be deleted
        // first, to say what `--dry-run=server` would do, and for the two options below.
        let live = if replaced_hook
            || self.options.dry_run
            || self.options.apply_out_of_sync_only
            || self.options.fail_on_shared_resource
        {
            self.cluster.get(kind, &u.namespace, &u.name).await?
        } else {
            None
        };
        if replaced_hook && live.is_some() {
            return Ok(none);
        }
        let owner = live.as_ref().and_then(|l| self.other_owner(l));
        let result = self.write(u, kind, true).await?;
        Ok(DryRunChecked {
            action: Some(dry_run_action(live.as_ref(), &result)),
            owner,
        })
    }

    /// Another app that owns a live object: another ApplySet, or an Argo CD Application
    /// (its tracking-id annotation).
    fn other_owner(&self, live: &Value) -> Option<String> {
        let ours = self.options.applyset.as_ref().map(|s| s.id.as_str());
        if let Some(set) = live
            .pointer("/metadata/labels")
            .and_then(|l| l.get(applyset::LABEL_PART_OF))
            .and_then(Value::as_str)
            && Some(set) != ours
        {
            return Some(format!("ApplySet {set}"));
        }
        live.pointer("/metadata/annotations")
            .and_then(|a| a.get("argocd.argoproj.io/tracking-id"))
            .and_then(Value::as_str)
            .map(|id| {
                let app = id.split(':').next().unwrap_or(id);
                format!("Argo CD application {app}")
            })
    }

    /// Writes one object as its sync options say.
    async fn write(
        &self,
        u: &Unit,
        kind: &ResolvedKind,
        dry_run: bool,
    ) -> Result<Value, ClusterError> {
        let how = unit::WriteOptions {
            server_side: self.options.server_side,
            force_conflicts: self.options.force_conflicts,
            dry_run,
        };
        let o = &self.plan.objects[u.object];
        // RespectIgnoreDifferences: the ignored fields are written with their live values.
        if !self.options.respect_ignore.is_empty()
            && !u.hook
            && self
                .options
                .respect_ignore
                .iter()
                .any(|r| r.matches(&o.group, &o.kind, &u.namespace, &u.name))
            && let Some(live) = self.cluster.get(kind, &u.namespace, &u.name).await?
        {
            let mut adjusted = u.clone();
            crate::diff::ignore::respect_live(
                &self.options.respect_ignore,
                &o.group,
                &o.kind,
                &u.namespace,
                &u.name,
                &mut adjusted.body,
                &live,
            );
            return adjusted.write(self.cluster, o, kind, how).await;
        }
        u.write(self.cluster, o, kind, how).await
    }

    /// Makes sure the watches `units` need are running and listed.
    async fn ensure_watches(&mut self, units: &[&Unit]) -> Result<(), ClusterError> {
        let mut wanted: Vec<(ResolvedKind, String)> = Vec::new();
        for u in units {
            let Some(kind) = &u.kind else { continue };
            wanted.push((
                kind.clone(),
                if kind.namespaced {
                    u.namespace.clone()
                } else {
                    String::new()
                },
            ));
            if matches!(
                kind.resource.kind.as_str(),
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job"
            ) && let Some(pod) = self.cluster.resolve("v1", "Pod").await
            {
                wanted.push((pod, u.namespace.clone()));
            }
        }
        let mut new = Vec::new();
        for (kind, namespace) in wanted {
            let key = (
                kind.resource.api_version.clone(),
                kind.resource.kind.clone(),
                namespace.clone(),
            );
            if self.watches.contains_key(&key) {
                continue;
            }
            let scope = (!namespace.is_empty()).then_some(namespace.as_str());
            let handle = self.cluster.watch(&kind, scope, self.store.clone());
            self.watches.insert(key.clone(), handle);
            new.push(key);
        }
        for key in new {
            if let Some(handle) = self.watches.get_mut(&key) {
                tokio::select! {
                    _ = handle.listed() => {}
                    _ = tokio::time::sleep(Duration::from_secs(30)) => {
                        return Err(ClusterError::Unreachable(format!(
                            "cannot list {} in {}: {}",
                            key.1,
                            if key.2.is_empty() { "the cluster" } else { &key.2 },
                            self.store.watch_errors().join("; ")
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// `--create-namespace`: the destination namespace, right before its first user.
    async fn create_namespace_if_needed(
        &mut self,
        step: usize,
        units: &[&Unit],
    ) -> Result<(), ClusterError> {
        if !self.options.create_namespace || self.namespace_created {
            return Ok(());
        }
        let target = self.cluster.default_namespace.clone();
        if !units.iter().any(|u| u.namespace == target) {
            return Ok(());
        }
        self.namespace_created = true;
        if self.cluster.namespace_exists(&target).await? {
            return Ok(());
        }
        let Some(kind) = self.cluster.resolve("v1", "Namespace").await else {
            return Ok(());
        };
        let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target}});
        let mode = ApplyMode {
            dry_run: false,
            force_conflicts: self.options.force_conflicts,
            validate: true,
        };
        let applied = self.cluster.apply(&kind, "", &body, mode).await?;
        self.store
            .observe(LiveKey::new("", "Namespace", "", &target), applied);
        self.emit(Event::Applied {
            step,
            object: ObjectInfo {
                api_version: "v1".into(),
                kind: "Namespace".into(),
                namespace: String::new(),
                name: target,
                source: String::new(),
            },
            action: Action::Created,
            hook: false,
        });
        Ok(())
    }

    /// Applies a step group by group, then waits for it.
    async fn run_step(
        &mut self,
        step: usize,
        groups: &mut [Vec<Unit>],
        prunes: &[PruneUnit],
        last: bool,
    ) -> Waited {
        let step_started = Instant::now();
        // Prunes first, as Argo CD does inside a step.
        if !prunes.is_empty() {
            match self.run_prunes(step, prunes).await {
                Waited::Done => {}
                other => return other,
            }
        }
        let flat: Vec<&Unit> = groups.iter().flatten().collect();
        if let Err(e) = self.create_namespace_if_needed(step, &flat).await {
            self.fail_plain(step, None, format!("cannot create the namespace: {e}"));
            return Waited::Failed;
        }
        if let Err(e) = self.ensure_watches(&flat).await {
            self.fail_plain(step, None, e.to_string());
            return Waited::Failed;
        }
        for group in groups.iter_mut() {
            // Kinds defined by a CRD applied earlier in this sync resolve now.
            for u in group.iter_mut() {
                if u.kind.is_none() {
                    let o = &self.plan.objects[u.object];
                    match self
                        .discover_new_kind(&o.group, &o.api_version, &o.kind)
                        .await
                    {
                        Ok(kind) => u.kind = Some(kind),
                        Err(e) => {
                            self.fail_plain(step, Some(u.clone()), e.to_string());
                            return Waited::Failed;
                        }
                    }
                }
            }
            let group_refs: Vec<&Unit> = group.iter().collect();
            if let Err(e) = self.ensure_watches(&group_refs).await {
                self.fail_plain(step, None, e.to_string());
                return Waited::Failed;
            }
            // The inventory is widened right before its first member is written (right after
            // the destination Namespace, when this sync creates it).
            let members = group.iter().any(|u| !u.hook);
            let creates_parent_namespace = self.options.applyset.as_ref().is_some_and(|set| {
                group.iter().any(|u| {
                    self.plan.objects[u.object].kind == "Namespace" && u.name == set.namespace
                })
            });
            if members && !creates_parent_namespace && !self.write_parent(step).await {
                return Waited::Failed;
            }
            if !self.apply_group(step, group).await {
                return Waited::Failed;
            }
            if creates_parent_namespace && !self.write_parent(step).await {
                return Waited::Failed;
            }
            // A CRD must be Established before a custom resource of it can be applied.
            if group
                .first()
                .is_some_and(|u| self.plan.objects[u.object].kind == "CustomResourceDefinition")
            {
                let crds: Vec<Unit> = group.clone();
                match self.wait_for(step, &crds, step_started).await {
                    Waited::Done => {}
                    other => return other,
                }
            }
        }
        let awaited: Vec<Unit> = groups
            .iter()
            .flatten()
            .filter(|u| u.hook || !last || self.options.wait)
            .cloned()
            .collect();
        self.wait_for(step, &awaited, step_started).await
    }

    /// Graph order (`--order graph`): each object of the step is applied as soon as what it
    /// waits for is done (an *exists* dependency applied, a *ready* one healthy), and judged
    /// from the watches like any awaited object. A failure stops new starts at once.
    async fn run_graph_step(
        &mut self,
        step: usize,
        groups: &mut [Vec<Unit>],
        prunes: &[PruneUnit],
        last: bool,
        schedule: &Schedule,
    ) -> Waited {
        #[derive(Clone, Copy, PartialEq, Eq)]
        enum State {
            Waiting,
            Applied(Instant),
            Done,
        }
        let step_started = Instant::now();
        if !prunes.is_empty() {
            match self.run_prunes(step, prunes).await {
                Waited::Done => {}
                other => return other,
            }
        }
        let mut units: Vec<Unit> = groups.iter().flatten().cloned().collect();
        let flat: Vec<&Unit> = units.iter().collect();
        if let Err(e) = self.create_namespace_if_needed(step, &flat).await {
            self.fail_plain(step, None, format!("cannot create the namespace: {e}"));
            return Waited::Failed;
        }
        if let Err(e) = self.ensure_watches(&flat).await {
            self.fail_plain(step, None, e.to_string());
            return Waited::Failed;
        }
        let position: HashMap<usize, usize> = units
            .iter()
            .enumerate()
            .map(|(i, u)| (u.object, i))
            .collect();
        let waits: Vec<Vec<(usize, Strength)>> = units
            .iter()
            .map(|u| {
                schedule
                    .waits
                    .get(&u.object)
                    .into_iter()
                    .flatten()
                    .filter_map(|w| position.get(&w.object).map(|&p| (p, w.strength)))
                    .collect()
            })
            .collect();
        // Awaited: hooks, everything unless this is the last step with --wait=false, and what
        // another object needs healthy.
        let mut awaited: Vec<bool> = units
            .iter()
            .map(|u| u.hook || !last || self.options.wait)
            .collect();
        for w in &waits {
            for &(p, strength) in w {
                if strength == Strength::Ready {
                    awaited[p] = true;
                }
            }
        }
        let n = units.len();
        let mut state = vec![State::Waiting; n];
        let mut told: Vec<Option<Vec<String>>> = vec![None; n];
        let mut changes = self.store.subscribe();
        let mut cancel = self.cancel.clone();
        let step_deadline = self.options.wave_timeout.map(|t| step_started + t);
        let sync_deadline = self.options.timeout.map(|t| self.started + t);
        loop {
            changes.borrow_and_update();
            if self.cancelled() {
                return Waited::Terminated;
            }
            // Judge what runs.
            let mut failed: Vec<(usize, Verdict, Option<gate::StuckPod>)> = Vec::new();
            let mut verdicts: HashMap<usize, Verdict> = HashMap::new();
            for i in 0..n {
                if !matches!(state[i], State::Applied(_)) {
                    continue;
                }
                if !awaited[i] {
                    state[i] = State::Done;
                    continue;
                }
                let u = units[i].clone();
                let (verdict, stuck) = self.judge(step, &u).await;
                match verdict {
                    Verdict::Done { .. } => {
                        state[i] = State::Done;
                        self.mark_hook(&u.key, true);
                    }
                    Verdict::Waiting { .. } => {
                        verdicts.insert(i, verdict);
                    }
                    Verdict::Failed { .. } => failed.push((i, verdict, stuck)),
                }
            }
            if !failed.is_empty() {
                for (i, verdict, stuck) in failed {
                    let u = units[i].clone();
                    self.mark_hook(&u.key, false);
                    let failure = self
                        .evidence(&u, verdict.message().to_string(), stuck)
                        .await;
                    self.emit(Event::ObjectFailed {
                        step,
                        failure: failure.clone(),
                    });
                    self.failures.push(failure);
                }
                return Waited::Failed;
            }
            // Start what can start.
            let startable: Vec<usize> = (0..n)
                .filter(|&i| {
                    state[i] == State::Waiting
                        && waits[i].iter().all(|&(p, strength)| match strength {
                            Strength::Exists => state[p] != State::Waiting,
                            Strength::Ready => state[p] == State::Done,
                        })
                })
                .collect();
            if !startable.is_empty() {
                for &i in &startable {
                    if told[i].as_ref().is_some_and(|t| !t.is_empty()) {
                        told[i] = Some(Vec::new());
                        self.emit(Event::Waiting {
                            step,
                            object: self.info(&units[i]),
                            waits_for: Vec::new(),
                        });
                    }
                }
                if !self.start_graph_batch(step, &mut units, &startable).await {
                    return Waited::Failed;
                }
                let now = Instant::now();
                for &i in &startable {
                    state[i] = State::Applied(now);
                }
                // What was just applied may let others start: look again at once.
                continue;
            }
            if state.iter().all(|s| *s == State::Done) {
                return Waited::Done;
            }
            // The frontier: what each waiting object still waits for.
            for i in 0..n {
                if state[i] != State::Waiting {
                    continue;
                }
                let blockers: Vec<String> = waits[i]
                    .iter()
                    .filter(|&&(p, strength)| match strength {
                        Strength::Exists => state[p] == State::Waiting,
                        Strength::Ready => state[p] != State::Done,
                    })
                    .map(|&(p, strength)| {
                        format!(
                            "{} ({})",
                            self.info(&units[p]).display(),
                            match strength {
                                Strength::Exists => "applied",
                                Strength::Ready => "healthy",
                            }
                        )
                    })
                    .collect();
                if told[i].as_ref() != Some(&blockers) {
                    self.emit(Event::Waiting {
                        step,
                        object: self.info(&units[i]),
                        waits_for: blockers.clone(),
                    });
                    told[i] = Some(blockers);
                }
            }
            // Deadlines: the step's and the sync's fail everything not done; an object's own
            // counts from its apply.
            let now = Instant::now();
            let shared = self.shared_stop(now, step_deadline, sync_deadline).await;
            let mut next: Option<Instant> = [step_deadline, sync_deadline, self.next_readiness]
                .into_iter()
                .flatten()
                .min();
            let mut timed_out: Vec<(usize, String)> = Vec::new();
            for i in 0..n {
                let u = &units[i];
                let own = match state[i] {
                    State::Applied(at) => u.timeout.map(|t| at + t),
                    _ => None,
                };
                let passed = match (&shared, own) {
                    (Some(what), _) if state[i] != State::Done => Some(what.clone()),
                    (None, Some(own)) if now >= own => Some(format!(
                        "kubectl-waves.io/timeout {}",
                        humantime(u.timeout.unwrap_or_default())
                    )),
                    (None, Some(own)) => {
                        next = Some(next.map_or(own, |n| n.min(own)));
                        None
                    }
                    _ => None,
                };
                if let Some(what) = passed {
                    let why = match (state[i], verdicts.get(&i)) {
                        (State::Waiting, _) => format!(
                            "not started: waits for {}",
                            told[i].clone().unwrap_or_default().join(", ")
                        ),
                        (_, Some(v)) if !v.message().is_empty() => {
                            format!("still {}: {}", v.status(), v.message())
                        }
                        (_, Some(v)) => format!("still {}", v.status()),
                        _ => "still not healthy".to_string(),
                    };
                    timed_out.push((i, format!("{what}; {why}")));
                }
            }
            if !timed_out.is_empty() {
                for (i, message) in timed_out {
                    let u = units[i].clone();
                    if state[i] == State::Waiting {
                        self.fail_object(step, self.info(&u), message);
                        continue;
                    }
                    self.fail_timed_out(step, &u, message).await;
                }
                return Waited::Failed;
            }
            if let Some(ended) = next_change(&mut changes, &mut cancel, next).await {
                return ended;
            }
        }
    }

    /// Applies the objects of a graph step that can start now, together. Kinds defined by a
    /// CRD of this sync resolve first (their CRD is Established: a *ready* dependency); the
    /// inventory is widened before the first member is written (right after the parent's
    /// Namespace when this sync creates it). False when something failed.
    async fn start_graph_batch(
        &mut self,
        step: usize,
        units: &mut [Unit],
        batch: &[usize],
    ) -> bool {
        for &i in batch {
            if units[i].kind.is_none() {
                let o = &self.plan.objects[units[i].object];
                match self
                    .discover_new_kind(&o.group, &o.api_version, &o.kind)
                    .await
                {
                    Ok(kind) => units[i].kind = Some(kind),
                    Err(e) => {
                        self.fail_plain(step, Some(units[i].clone()), e.to_string());
                        return false;
                    }
                }
            }
        }
        let chosen: Vec<Unit> = batch.iter().map(|&i| units[i].clone()).collect();
        let refs: Vec<&Unit> = chosen.iter().collect();
        if let Err(e) = self.ensure_watches(&refs).await {
            self.fail_plain(step, None, e.to_string());
            return false;
        }
        let parent_namespace = self.options.applyset.as_ref().map(|s| s.namespace.clone());
        let (first, rest): (Vec<Unit>, Vec<Unit>) = chosen.into_iter().partition(|u| {
            self.plan.objects[u.object].kind == "Namespace"
                && parent_namespace.as_deref() == Some(u.name.as_str())
        });
        if !first.is_empty() && !self.apply_group(step, &first).await {
            return false;
        }
        if rest.iter().any(|u| !u.hook) && !self.write_parent(step).await {
            return false;
        }
        if !first.is_empty() && !self.write_parent(step).await {
            return false;
        }
        rest.is_empty() || self.apply_group(step, &rest).await
    }

    /// Finds a kind whose CRD this sync just made Established. The apiserver serves the new
    /// group's discovery a moment after Established (404 until then), and discovery cannot be
    /// watched, so this asks again with a short back-off, for at most 30 s.
    async fn discover_new_kind(
        &self,
        group: &str,
        api_version: &str,
        kind: &str,
    ) -> Result<ResolvedKind, ClusterError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut pause = Duration::from_millis(50);
        loop {
            let refreshed = self.cluster.refresh_kinds(group).await;
            if let Some(found) = self.cluster.resolve(api_version, kind).await {
                return Ok(found);
            }
            if Instant::now() >= deadline {
                return Err(match refreshed {
                    Err(e) => e,
                    Ok(()) => ClusterError::UnknownKind {
                        api_version: api_version.to_string(),
                        kind: kind.to_string(),
                    },
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// Applies the objects of one kind group concurrently. False when one was rejected.
    async fn apply_group(&mut self, step: usize, group: &[Unit]) -> bool {
        let this = &*self;
        let results: Vec<(usize, Applied)> = futures_util::stream::iter(
            group
                .iter()
                .enumerate()
                .map(|(i, u)| async move { (i, this.apply_one(u).await) }),
        )
        .buffer_unordered(self.options.concurrency.max(1))
        .collect()
        .await;
        let mut results = results;
        results.sort_by_key(|(i, _)| *i);
        let mut ok = true;
        for (i, result) in results {
            let u = &group[i];
            match result {
                Ok((value, action)) => {
                    self.store.observe(u.key.clone(), value);
                    if u.hook {
                        self.ran_hooks.push(RanHook {
                            unit: u.clone(),
                            finished: None,
                        });
                    }
                    self.emit(Event::Applied {
                        step,
                        object: self.info(u),
                        action,
                        hook: u.hook,
                    });
                }
                Err(e) => {
                    ok = false;
                    self.fail_plain(step, Some(u.clone()), apply_failure(&e));
                }
            }
        }
        ok
    }

    async fn apply_one(&self, u: &Unit) -> Result<(Value, Action), ClusterError> {
        let Some(kind) = &u.kind else {
            let o = &self.plan.objects[u.object];
            return Err(ClusterError::UnknownKind {
                api_version: o.api_version.to_string(),
                kind: o.kind.to_string(),
            });
        };
        let o = &self.plan.objects[u.object];
        let mut before = self.store.get(&u.key);
        // `--apply-out-of-sync-only`: the dry run found it as the manifests say.
        if self.in_sync.contains(&u.key)
            && let Some(live) = &before
        {
            return Ok((live.clone(), Action::Unchanged));
        }
        if u.hook
            && before.is_some()
            && o.annotations
                .delete_policies
                .contains(&DeletePolicy::BeforeHookCreation)
        {
            self.cluster
                .delete(kind, &u.namespace, &u.name, Propagation::Background)
                .await?;
            if !self
                .cluster
                .wait_gone(kind, &u.namespace, &u.name, Duration::from_secs(120))
                .await?
            {
                return Err(ClusterError::Api {
                    code: 409,
                    reason: "AlreadyExists".into(),
                    message: "the previous run of this hook was not deleted within 120s (BeforeHookCreation)".into(),
                });
            }
            self.emit(Event::HookDeleted {
                object: self.info(u),
                reason: DeleteReason::BeforeHookCreation,
            });
            before = None;
        }
        let applied = self.write(u, kind, false).await?;
        let action = action_of(
            before.as_ref(),
            &applied,
            o.annotations.sync_options.replace,
        );
        Ok((applied, action))
    }

    fn fail_plain(&mut self, step: usize, unit: Option<Unit>, message: String) {
        let object = match &unit {
            Some(u) => self.info(u),
            None => ObjectInfo {
                api_version: String::new(),
                kind: String::new(),
                namespace: String::new(),
                name: String::new(),
                source: String::new(),
            },
        };
        self.fail_object(step, object, message);
    }

    fn fail_object(&mut self, step: usize, object: ObjectInfo, message: String) {
        let failure = Failure {
            object,
            message,
            pod: None,
            logs: Vec::new(),
            events: Vec::new(),
        };
        self.emit(Event::ObjectFailed {
            step,
            failure: failure.clone(),
        });
        self.failures.push(failure);
    }

    /// Reads the inventory; with `--prune`, returns its members that left the manifests.
    async fn read_inventory(&mut self, units: &[&Unit]) -> Result<Vec<PruneUnit>, SyncError> {
        let Some(set) = &self.options.applyset else {
            return Ok(Vec::new());
        };
        let parent = set.read(self.cluster).await?;
        if let Some(p) = &parent
            && !p.tooling.starts_with("kubectl-waves/")
        {
            return Err(SyncError::Inventory(format!(
                "Secret {}/{} is the ApplySet parent of another tool ({}); choose another name with --applyset",
                set.namespace,
                set.name,
                if p.tooling.is_empty() {
                    "no tooling annotation"
                } else {
                    &p.tooling
                }
            )));
        }
        let mut out = Vec::new();
        if self.options.prune
            && let Some(p) = &parent
        {
            let desired: HashSet<&LiveKey> =
                units.iter().filter(|u| !u.hook).map(|u| &u.key).collect();
            for (key, live) in set.members(self.cluster, &p.inventory).await? {
                if desired.contains(&key) {
                    continue;
                }
                let Some(kind) = self.cluster.resolve_group_kind(&key.group, &key.kind).await
                else {
                    continue;
                };
                let info = ObjectInfo {
                    api_version: live
                        .get("apiVersion")
                        .and_then(Value::as_str)
                        .unwrap_or(&kind.resource.api_version)
                        .to_string(),
                    kind: key.kind.clone(),
                    namespace: key.namespace.clone(),
                    name: key.name.clone(),
                    source: String::new(),
                };
                let settings = prune::settings(&live);
                let skip = if settings.never {
                    Some("Prune=false: left in place".to_string())
                } else if settings.confirm && !self.options.confirm_prune {
                    Some(
                        "Prune=confirm: left in place (pass --confirm-prune to prune it)"
                            .to_string(),
                    )
                } else {
                    None
                };
                match skip {
                    Some(reason) => {
                        self.kept_members
                            .group_kinds
                            .insert(applyset::group_kind(&key.group, &key.kind));
                        if !key.namespace.is_empty() && key.namespace != set.namespace {
                            self.kept_members.namespaces.insert(key.namespace.clone());
                        }
                        self.emit(Event::PruneSkipped {
                            object: Some(info),
                            reason,
                        });
                    }
                    None => out.push(PruneUnit {
                        key,
                        kind,
                        info,
                        settings,
                    }),
                }
            }
        }
        self.parent = parent;
        Ok(out)
    }

    /// One sync of an app at a time (SPEC §4): the app's lease, or an error naming its holder.
    async fn take_lease(&mut self) -> Result<(), SyncError> {
        let Some(set) = &self.options.applyset else {
            return Ok(());
        };
        if self.options.dry_run {
            return Ok(());
        }
        let holder = crate::cluster::lease::holder_identity(&self.options.sync_id);
        match self
            .cluster
            .acquire_sync_lease(&set.namespace, &set.name, &holder)
            .await
        {
            Ok(lease) => {
                if let Some(previous) = lease.as_ref().and_then(|l| l.taken_over_from.clone()) {
                    self.emit(Event::Warning {
                        message: format!(
                            "took over the sync lease of {previous}: that process no longer runs"
                        ),
                    });
                }
                self.lease = lease;
                Ok(())
            }
            // Credentials that may not manage Leases still sync, unguarded, and say so.
            Err(LeaseError::Cluster(e)) if e.is_forbidden() => {
                self.emit(Event::Warning {
                    message: format!(
                        "cannot take the sync lease ({e}); a concurrent sync of this app will not be refused"
                    ),
                });
                Ok(())
            }
            Err(LeaseError::Cluster(e)) => Err(SyncError::Cluster(e)),
            Err(e @ LeaseError::Held { .. }) => Err(SyncError::Inventory(e.to_string())),
        }
    }

    /// The inventory this sync's objects need: their kinds, and namespaces besides the parent's.
    fn desired_inventory(&self) -> Inventory {
        let mut inventory = Inventory::default();
        let Some(set) = &self.options.applyset else {
            return inventory;
        };
        for step in &self.plan.steps {
            for t in step.tasks() {
                let o = &self.plan.objects[t.object];
                if o.is_hook() {
                    continue;
                }
                inventory
                    .group_kinds
                    .insert(applyset::group_kind(&o.group, &o.kind));
                let ns: &str = if o.namespace.is_empty() {
                    &self.cluster.default_namespace
                } else {
                    &o.namespace
                };
                if ns != set.namespace && !unit::crd_scope_is_cluster(self.plan, o) {
                    inventory.namespaces.insert(ns.to_string());
                }
            }
        }
        inventory
    }

    /// Widens the parent (what it had, plus what this sync writes), once, before the first
    /// member is applied: an interrupted sync never forgets what it created.
    async fn write_parent(&mut self, step: usize) -> bool {
        let Some(set) = self.options.applyset.clone() else {
            return true;
        };
        if self.parent_written {
            return true;
        }
        let mut inventory = self.desired_inventory();
        if let Some(p) = &self.parent {
            inventory
                .group_kinds
                .extend(p.inventory.group_kinds.iter().cloned());
            inventory
                .namespaces
                .extend(p.inventory.namespaces.iter().cloned());
        }
        if let Err(e) = set.write(self.cluster, &inventory).await {
            self.fail_object(
                step,
                parent_info(&set),
                format!("cannot write the inventory: {e}"),
            );
            return false;
        }
        self.parent_written = true;
        self.emit(Event::Inventory {
            name: set.name.clone(),
            namespace: set.namespace.clone(),
            id: set.id.clone(),
            group_kinds: inventory.group_kinds.into_iter().collect(),
        });
        true
    }

    /// After a successful sync with `--prune`: the parent names exactly what is left.
    async fn narrow_inventory(&mut self) {
        let Some(set) = self.options.applyset.clone() else {
            return;
        };
        if !self.options.prune || !self.parent_written {
            return;
        }
        let mut inventory = self.desired_inventory();
        inventory
            .group_kinds
            .extend(self.kept_members.group_kinds.iter().cloned());
        inventory
            .namespaces
            .extend(self.kept_members.namespaces.iter().cloned());
        if let Err(e) = set.write(self.cluster, &inventory).await {
            self.fail_object(
                0,
                parent_info(&set),
                format!("cannot narrow the inventory: {e}"),
            );
        }
    }

    /// Deletes the step's prunes (concurrently) and waits for them to be gone, or for the user
    /// to interrupt (an object a finalizer holds would otherwise keep a Ctrl-C waiting).
    async fn run_prunes(&mut self, step: usize, prunes: &[PruneUnit]) -> Waited {
        let this = &*self;
        let propagation = self.options.prune_propagation;
        let mut cancel = self.cancel.clone();
        let deletes =
            futures_util::stream::iter(prunes.iter().enumerate().map(|(i, p)| async move {
                let result = async {
                    this.cluster
                        .delete(&p.kind, &p.key.namespace, &p.key.name, propagation)
                        .await?;
                    if propagation == Propagation::Orphan {
                        return Ok(true);
                    }
                    this.cluster
                        .wait_gone(
                            &p.kind,
                            &p.key.namespace,
                            &p.key.name,
                            Duration::from_secs(300),
                        )
                        .await
                }
                .await;
                (i, result)
            }))
            .buffer_unordered(self.options.concurrency.max(1))
            .collect::<Vec<(usize, Result<bool, ClusterError>)>>();
        let mut results = tokio::select! {
            results = deletes => results,
            _ = cancel.wait_for(|c| *c) => return Waited::Terminated,
        };
        results.sort_by_key(|(i, _)| *i);
        let mut ok = true;
        for (i, result) in results {
            let p = &prunes[i];
            match result {
                Ok(true) => {
                    self.store.forget(&p.key, None);
                    self.emit(Event::Pruned {
                        step,
                        object: p.info.clone(),
                    });
                }
                Ok(false) => {
                    ok = false;
                    self.fail_object(
                        step,
                        p.info.clone(),
                        "prune: still there after 5m (a finalizer?)".into(),
                    );
                }
                Err(e) => {
                    ok = false;
                    self.fail_object(step, p.info.clone(), format!("prune: {e}"));
                }
            }
        }
        if ok { Waited::Done } else { Waited::Failed }
    }

    /// Health of one live object; Lua checks run off the async workers.
    async fn assess(&self, live: &Value) -> Result<health::Health, health::HealthError> {
        let gvk_group = live
            .get("apiVersion")
            .and_then(Value::as_str)
            .map(crate::model::group_of)
            .unwrap_or("");
        let kind = live.get("kind").and_then(Value::as_str).unwrap_or("");
        match health::health_rule(gvk_group, kind, &self.options.health) {
            HealthRule::Custom(_) => {
                let cfg = self.options.health.clone();
                let live = live.clone();
                tokio::task::spawn_blocking(move || health::assess(&live, &cfg))
                    .await
                    .unwrap_or_else(|e| {
                        Ok(health::Health::new(HealthStatus::Unknown, e.to_string()))
                    })
            }
            _ => health::assess(live, &self.options.health),
        }
    }

    /// The verdict on one applied unit from the watched state (reported when it changed), and
    /// the stuck pod behind it if any.
    async fn judge(&mut self, step: usize, u: &Unit) -> (Verdict, Option<gate::StuckPod>) {
        let live = self.store.get(&u.key);
        let (verdict, stuck) = match &live {
            None => (
                gate::judge(
                    None,
                    u.hook,
                    Ok(health::Health::new(HealthStatus::Missing, "")),
                    None,
                ),
                None,
            ),
            Some(live) => {
                let pods = self.store.list("", "Pod", &u.namespace);
                let behind = gate::pods_of(live, &pods);
                let stuck = gate::stuck_pod(&behind);
                let health = self.assess(live).await;
                (
                    gate::judge(Some(live), u.hook, health, stuck.as_ref()),
                    stuck,
                )
            }
        };
        self.report_health(step, u, &verdict);
        (verdict, stuck)
    }

    /// Waits until every unit is done, one fails, a deadline passes, or the user interrupts.
    async fn wait_for(&mut self, step: usize, units: &[Unit], step_started: Instant) -> Waited {
        let mut changes = self.store.subscribe();
        let mut cancel = self.cancel.clone();
        let step_deadline = self.options.wave_timeout.map(|t| step_started + t);
        let sync_deadline = self.options.timeout.map(|t| self.started + t);
        let mut done: HashSet<LiveKey> = HashSet::new();
        loop {
            changes.borrow_and_update();
            let mut waiting: Vec<(&Unit, Verdict)> = Vec::new();
            let mut failed: Vec<(&Unit, Verdict, Option<gate::StuckPod>)> = Vec::new();
            for u in units {
                if done.contains(&u.key) {
                    continue;
                }
                let (verdict, stuck) = self.judge(step, u).await;
                match verdict {
                    Verdict::Done { .. } => {
                        done.insert(u.key.clone());
                        self.mark_hook(&u.key, true);
                    }
                    Verdict::Waiting { .. } => waiting.push((u, verdict)),
                    Verdict::Failed { .. } => failed.push((u, verdict, stuck)),
                }
            }
            if !failed.is_empty() {
                for (u, verdict, stuck) in failed {
                    self.mark_hook(&u.key, false);
                    let failure = self.evidence(u, verdict.message().to_string(), stuck).await;
                    self.emit(Event::ObjectFailed {
                        step,
                        failure: failure.clone(),
                    });
                    self.failures.push(failure);
                }
                return Waited::Failed;
            }
            if waiting.is_empty() {
                return Waited::Done;
            }
            // Deadlines: the step's and the sync's fail everything still awaited; an
            // object's own (`kubectl-waves.io/timeout`) fails that object.
            let now = Instant::now();
            let shared = self.shared_stop(now, step_deadline, sync_deadline).await;
            let mut next: Option<Instant> = [step_deadline, sync_deadline, self.next_readiness]
                .into_iter()
                .flatten()
                .min();
            let mut timed_out: Vec<(&Unit, String)> = Vec::new();
            for (u, verdict) in &waiting {
                let own = u.timeout.map(|t| step_started + t);
                let passed = match (&shared, own) {
                    (Some(what), _) => Some(what.clone()),
                    (None, Some(own)) if now >= own => Some(format!(
                        "kubectl-waves.io/timeout {}",
                        humantime(u.timeout.unwrap_or_default())
                    )),
                    (None, Some(own)) => {
                        next = Some(next.map_or(own, |n| n.min(own)));
                        None
                    }
                    (None, None) => None,
                };
                if let Some(what) = passed {
                    let why = if verdict.message().is_empty() {
                        verdict.status().as_str().to_string()
                    } else {
                        format!("{}: {}", verdict.status(), verdict.message())
                    };
                    timed_out.push((u, format!("{what}; still {why}")));
                }
            }
            if !timed_out.is_empty() {
                for (u, message) in timed_out {
                    self.fail_timed_out(step, u, message).await;
                }
                return Waited::Failed;
            }
            if let Some(ended) = next_change(&mut changes, &mut cancel, next).await {
                return ended;
            }
        }
    }

    /// Why everything still awaited fails at `now`, if it does: the step's deadline
    /// (`--wave-timeout`), the sync's, or an apiserver unavailable for [`UNAVAILABLE_FOR`].
    async fn shared_stop(
        &mut self,
        now: Instant,
        step_deadline: Option<Instant>,
        sync_deadline: Option<Instant>,
    ) -> Option<String> {
        if step_deadline.is_some_and(|d| now >= d) {
            return Some(format!(
                "deadline passed (--wave-timeout {})",
                humantime(self.options.wave_timeout.unwrap_or_default())
            ));
        }
        if sync_deadline.is_some_and(|d| now >= d) {
            return Some(format!(
                "deadline passed (--timeout {})",
                humantime(self.options.timeout.unwrap_or_default())
            ));
        }
        self.cluster_unavailable(now).await
    }

    /// Asks `/readyz` when it is due ([`READINESS_EVERY`]); `Some` once the apiserver has been
    /// unavailable for [`UNAVAILABLE_FOR`]. Requests after that (clean-up) get the short
    /// after-deadline timeout and no retries: the cluster is not going to answer them.
    async fn cluster_unavailable(&mut self, now: Instant) -> Option<String> {
        if self.next_readiness.is_some_and(|t| now < t) {
            return None;
        }
        if self.next_readiness.is_none() {
            // The first wait of the sync: its writes just succeeded.
            self.next_readiness = Some(now + READINESS_EVERY);
            return None;
        }
        let answer = self.cluster.readiness().await;
        let asked = Instant::now();
        self.next_readiness = Some(asked + READINESS_EVERY);
        match answer {
            Readiness::Unavailable(why) => {
                let since = self
                    .unavailable_since
                    .get_or_insert_with(|| (now, why.clone()))
                    .0;
                self.unavailable_since = Some((since, why.clone()));
                let down = asked.duration_since(since);
                if down < UNAVAILABLE_FOR {
                    return None;
                }
                self.cluster.set_deadline(Some(tokio::time::Instant::now()));
                Some(format!(
                    "the cluster is unavailable: no usable answer from the apiserver for {} ({why})",
                    humantime(down)
                ))
            }
            Readiness::Ready | Readiness::Unknown => {
                self.unavailable_since = None;
                None
            }
        }
    }

    /// Fails an applied object whose deadline passed, with the evidence for it.
    async fn fail_timed_out(&mut self, step: usize, u: &Unit, message: String) {
        let message = self.explain_missing_inputs(u, message).await;
        self.mark_hook(&u.key, false);
        let stuck = self.store.get(&u.key).and_then(|live| {
            let pods = self.store.list("", "Pod", &u.namespace);
            gate::stuck_pod(&gate::pods_of(&live, &pods))
        });
        let failure = self.evidence(u, message, stuck).await;
        self.emit(Event::ObjectFailed {
            step,
            failure: failure.clone(),
        });
        self.failures.push(failure);
    }

    fn report_health(&mut self, step: usize, u: &Unit, verdict: &Verdict) {
        let now = (verdict.status(), verdict.message().to_string());
        if self.last_health.get(&u.key) == Some(&now) {
            return;
        }
        self.last_health.insert(u.key.clone(), now.clone());
        self.emit(Event::Health {
            step,
            object: self.info(u),
            status: now.0,
            message: now.1,
            done: matches!(verdict, Verdict::Done { .. }),
        });
    }

    fn mark_hook(&mut self, key: &LiveKey, succeeded: bool) {
        for h in &mut self.ran_hooks {
            if &h.unit.key == key && h.finished.is_none() {
                h.finished = Some(succeeded);
            }
        }
    }

    /// A waiting object's Secrets and ConfigMaps that do not exist: the usual reason a hook
    /// hangs (it reads a Secret a later wave creates).
    async fn explain_missing_inputs(&self, u: &Unit, message: String) -> String {
        let default_ns = &self.cluster.default_namespace;
        let objects = &self.plan.objects;
        let missing = evidence::missing_inputs(
            self.cluster,
            &self.store,
            self.plan,
            u.object,
            &u.namespace,
            |i| {
                // Secrets and ConfigMaps are namespaced: theirs, else the default.
                if objects[i].namespace.is_empty() {
                    default_ns.clone()
                } else {
                    objects[i].namespace.to_string()
                }
            },
        )
        .await;
        if missing.is_empty() {
            return message;
        }
        let listed: Vec<String> = missing
            .iter()
            .map(|m| {
                let note = match m.created_in {
                    Some(s) => {
                        let step = &self.plan.steps[s];
                        format!(
                            " (this sync creates it later, in step {} {} wave {})",
                            s + 1,
                            step.phase,
                            step.wave
                        )
                    }
                    None => String::new(),
                };
                format!("{}/{}/{} does not exist{note}", m.kind, m.namespace, m.name)
            })
            .collect();
        format!("{message}; it reads {}", listed.join(", "))
    }

    /// The failure of `u` with the evidence a user would look up: the stuck pod, its last
    /// log lines and recent events ([`evidence::gather`]).
    async fn evidence(&self, u: &Unit, message: String, stuck: Option<gate::StuckPod>) -> Failure {
        let found = evidence::gather(
            self.cluster,
            &self.store,
            &u.key,
            stuck.as_ref(),
            self.options.log_lines,
        )
        .await;
        Failure {
            object: self.info(u),
            message,
            pod: found.pod,
            logs: found.logs,
            events: found.events,
        }
    }

    /// SyncFail hooks: kind group by kind group, then awaited together; failures reported (not
    /// retried).
    async fn run_sync_fail(&mut self, units: &mut [Unit]) {
        self.emit(Event::SyncFailStarted { hooks: units.len() });
        let started = Instant::now();
        let number = self.plan.steps.len() + 1;
        let refs: Vec<&Unit> = units.iter().collect();
        let result = match self.ensure_watches(&refs).await {
            Err(e) => {
                self.fail_plain(number, None, e.to_string());
                Waited::Failed
            }
            Ok(()) => {
                // Argo CD applies the SyncFail hooks in plan order one kind at a time, the hooks
                // of a kind concurrently (gitops-engine's runTasks; the differential tests
                // check it).
                let mut applied = true;
                let mut start = 0;
                while applied && start < units.len() {
                    let kind = &self.plan.objects[units[start].object].kind;
                    let end = start
                        + units[start..]
                            .iter()
                            .take_while(|u| &self.plan.objects[u.object].kind == kind)
                            .count();
                    applied = self.apply_group(number, &units[start..end]).await;
                    start = end;
                }
                if applied {
                    // A fresh deadline: the sync's own may be what failed it.
                    let saved = self.started;
                    self.started = Instant::now();
                    let result = self.wait_for(number, units, started).await;
                    self.started = saved;
                    result
                } else {
                    Waited::Failed
                }
            }
        };
        let outcome = match result {
            Waited::Done => Outcome::Succeeded,
            Waited::Failed => Outcome::Failed,
            Waited::Terminated => Outcome::Terminated,
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        self.emit(Event::StepFinished {
            step: number,
            outcome,
            duration_ms,
        });
        self.steps.push(StepSummary {
            step: number,
            phase: Phase::SyncFail,
            wave: 0,
            objects: units.len(),
            outcome,
            duration_ms,
        });
    }

    /// After the operation: hooks whose policy matches the outcome are deleted, of those run
    /// from the `from`-th on.
    async fn delete_hooks_by_policy(&mut self, policy: DeletePolicy, from: usize) {
        let reason = match policy {
            DeletePolicy::HookSucceeded => DeleteReason::HookSucceeded,
            _ => DeleteReason::HookFailed,
        };
        let hooks: Vec<Unit> = self.ran_hooks[from..]
            .iter()
            .filter(|h| {
                self.plan.objects[h.unit.object]
                    .annotations
                    .delete_policies
                    .contains(&policy)
            })
            .map(|h| h.unit.clone())
            .collect();
        self.delete_hooks(&hooks, reason).await;
    }

    async fn delete_hooks(&mut self, hooks: &[Unit], reason: DeleteReason) {
        let mut seen = HashSet::new();
        for u in hooks {
            if !seen.insert(u.key.clone()) {
                continue;
            }
            let Some(kind) = &u.kind else { continue };
            match self
                .cluster
                .delete(kind, &u.namespace, &u.name, Propagation::Background)
                .await
            {
                Ok(_) => self.emit(Event::HookDeleted {
                    object: self.info(u),
                    reason,
                }),
                Err(e) => {
                    let failure = Failure {
                        object: self.info(u),
                        message: format!("cannot delete hook ({reason:?}): {e}"),
                        pod: None,
                        logs: Vec::new(),
                        events: Vec::new(),
                    };
                    self.emit(Event::ObjectFailed {
                        step: 0,
                        failure: failure.clone(),
                    });
                    self.failures.push(failure);
                }
            }
        }
    }

    /// Terminate: hooks still running are deleted (or listed with `--keep-running-hooks`).
    async fn stop_running_hooks(&mut self) {
        let running: Vec<Unit> = self
            .ran_hooks
            .iter()
            .filter(|h| h.finished.is_none())
            .map(|h| h.unit.clone())
            .collect();
        if self.options.keep_running_hooks {
            for u in &running {
                self.emit(Event::HookKept {
                    object: self.info(u),
                });
            }
        } else {
            self.delete_hooks(&running, DeleteReason::Terminated).await;
        }
    }
}

/// Waits for the next watch change, the next deadline, or an interruption; `Some` when the
/// wait ends the step.
async fn next_change(
    changes: &mut watch::Receiver<u64>,
    cancel: &mut watch::Receiver<bool>,
    next: Option<Instant>,
) -> Option<Waited> {
    let sleep = async {
        match next {
            Some(t) => tokio::time::sleep_until(t.into()).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        changed = changes.changed() => changed.is_err().then_some(Waited::Failed),
        _ = sleep => None,
        _ = cancel.wait_for(|c| *c) => Some(Waited::Terminated),
    }
}

/// Created, configured or unchanged, from the object before and after the write.
fn action_of(before: Option<&Value>, after: &Value, replace: bool) -> Action {
    let rv = |v: &Value| {
        v.pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(String::from)
    };
    match before {
        None => Action::Created,
        Some(b) if rv(b) == rv(after) => Action::Unchanged,
        Some(_) if replace => Action::Replaced,
        Some(_) => Action::Configured,
    }
}

fn parent_info(set: &ApplySet) -> ObjectInfo {
    ObjectInfo {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: set.namespace.clone(),
        name: set.name.clone(),
        source: String::new(),
    }
}

/// What a dry-run write would do: the server answers with the object as it would be, under
/// the live resourceVersion, so compare contents (managedFields and the counters aside).
fn dry_run_action(live: Option<&Value>, result: &Value) -> Action {
    let Some(live) = live else {
        return Action::Created;
    };
    let content = |v: &Value| {
        let mut v = v.clone();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in ["managedFields", "resourceVersion", "generation"] {
                meta.remove(k);
            }
        }
        v
    };
    if content(live) == content(result) {
        Action::Unchanged
    } else {
        Action::Configured
    }
}

fn step_label(number: usize, total: usize) -> String {
    format!("step {number}/{total}")
}

/// `90s`, `5m`, `1h30m`.
pub fn humantime(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// The words for an apply that failed: "rejected" only when the apiserver judged the object
/// (a 4xx); a server that kept failing or a lost connection is not a verdict on the manifest,
/// and after a lost connection the object may well have been applied.
fn apply_failure(e: &ClusterError) -> String {
    match e {
        ClusterError::Unreachable(_) => format!(
            "apply not confirmed: {e} (the object may have been applied; a re-run completes the sync)"
        ),
        ClusterError::Api { code, .. } if *code == 429 || *code >= 500 => {
            format!("apply failed: {e} (the apiserver kept failing after the retries)")
        }
        _ => format!("apply rejected: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_client_error_is_called_a_rejection() {
        let api = |code: u16| ClusterError::Api {
            code,
            reason: String::new(),
            message: format!("status {code}"),
        };
        assert!(apply_failure(&api(422)).starts_with("apply rejected: status 422"));
        assert!(apply_failure(&api(503)).starts_with("apply failed: status 503"));
        assert!(apply_failure(&api(429)).starts_with("apply failed"));
        let lost = apply_failure(&ClusterError::Unreachable("connection reset".into()));
        assert!(lost.starts_with("apply not confirmed"), "{lost}");
    }

    #[test]
    fn action_from_resource_versions() {
        let a = json!({"metadata": {"resourceVersion": "5"}});
        let b = json!({"metadata": {"resourceVersion": "6"}});
        assert_eq!(action_of(None, &a, false), Action::Created);
        assert_eq!(action_of(Some(&a), &a, false), Action::Unchanged);
        assert_eq!(action_of(Some(&a), &b, false), Action::Configured);
        assert_eq!(action_of(Some(&a), &b, true), Action::Replaced);
    }

    #[test]
    fn dry_run_action_compares_contents_not_versions() {
        let live = json!({"metadata": {"name": "a", "resourceVersion": "5", "managedFields": []},
                          "data": {"k": "1"}});
        let same = json!({"metadata": {"name": "a", "resourceVersion": "5",
                          "managedFields": [{"manager": "kubectl-waves"}]}, "data": {"k": "1"}});
        let changed =
            json!({"metadata": {"name": "a", "resourceVersion": "5"}, "data": {"k": "2"}});
        assert_eq!(dry_run_action(None, &live), Action::Created);
        assert_eq!(dry_run_action(Some(&live), &same), Action::Unchanged);
        assert_eq!(dry_run_action(Some(&live), &changed), Action::Configured);
    }

    #[test]
    fn durations_read_like_flags() {
        assert_eq!(humantime(Duration::from_secs(90)), "1m30s");
        assert_eq!(humantime(Duration::from_secs(300)), "5m");
        assert_eq!(humantime(Duration::from_millis(500)), "500ms");
    }
}
