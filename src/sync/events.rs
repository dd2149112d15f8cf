//! What a sync reports while it runs: typed events on a channel. Renderers in `ui` turn them
//! into a live view, plain lines or JSON lines (`-o json`, schema in `docs/sync-events.md`).

use serde::Serialize;

use crate::health::HealthStatus;
use crate::model::Phase;

/// An object as events name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectInfo {
    pub api_version: String,
    pub kind: String,
    /// "" for cluster-scoped objects.
    pub namespace: String,
    /// The name written (a generateName hook's generated name).
    pub name: String,
    /// `path:line` of the manifest ("" for objects the sync adds, e.g. `--create-namespace`).
    pub source: String,
}

impl ObjectInfo {
    /// `Kind/namespace/name`.
    pub fn display(&self) -> String {
        crate::model::display_name(&self.kind, &self.namespace, &self.name)
    }
}

/// What an apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    Created,
    Configured,
    Unchanged,
    Replaced,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Replaced => "replaced",
        }
    }
}

/// How a step, or the whole sync, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    Succeeded,
    Failed,
    /// Stopped by Ctrl-C / SIGTERM (Argo CD's terminate).
    Terminated,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "Succeeded",
            Outcome::Failed => "Failed",
            Outcome::Terminated => "Terminated",
        }
    }
}

/// Why a hook object was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DeleteReason {
    BeforeHookCreation,
    HookSucceeded,
    HookFailed,
    /// Still running when the sync was interrupted.
    Terminated,
}

/// A step's line in the final summary.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepSummary {
    /// 1-based; SyncFail hooks are reported as phase SyncFail after the last step.
    pub step: usize,
    pub phase: Phase,
    pub wave: i64,
    pub objects: usize,
    pub outcome: Outcome,
    pub duration_ms: u64,
}

/// Why an object failed the sync, with the evidence gathered for it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub object: ObjectInfo,
    pub message: String,
    /// The pod whose state or logs explain the failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Its last log lines, where the API has them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
    /// Its (or the object's) recent events.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

/// One thing that happened.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event {
    #[serde(rename_all = "camelCase")]
    SyncStarted {
        sync_id: String,
        steps: usize,
        objects: usize,
        dry_run: bool,
    },
    /// Where custom health checks come from (a file, the cluster's argocd-cm, none).
    #[serde(rename_all = "camelCase")]
    HealthConfig { source: String, checks: usize },
    /// The server-side dry run of every object that can be dry-run passed.
    #[serde(rename_all = "camelCase")]
    DryRunPassed { objects: usize, deferred: usize },
    /// The result of one object's server-side dry run (`--dry-run=server` only).
    #[serde(rename_all = "camelCase")]
    DryRunResult { object: ObjectInfo, action: Action },
    #[serde(rename_all = "camelCase")]
    StepStarted {
        step: usize,
        steps: usize,
        phase: Phase,
        wave: i64,
        objects: usize,
    },
    #[serde(rename_all = "camelCase")]
    Applied {
        step: usize,
        object: ObjectInfo,
        action: Action,
        hook: bool,
    },
    /// An awaited object's health changed.
    #[serde(rename_all = "camelCase")]
    Health {
        step: usize,
        object: ObjectInfo,
        status: HealthStatus,
        message: String,
        done: bool,
    },
    /// Graph order: an object that cannot start yet and the dependencies it still waits for
    /// (`Kind/namespace/name (applied)` or `(healthy)`); sent when that list changes, empty
    /// when it starts.
    #[serde(rename_all = "camelCase")]
    Waiting {
        step: usize,
        object: ObjectInfo,
        waits_for: Vec<String>,
    },
    /// The inventory (ApplySet parent) was written, widened to these group-kinds.
    #[serde(rename_all = "camelCase")]
    Inventory {
        name: String,
        namespace: String,
        id: String,
        group_kinds: Vec<String>,
    },
    /// A member that left the manifests was deleted (`--prune`).
    #[serde(rename_all = "camelCase")]
    Pruned { step: usize, object: ObjectInfo },
    /// A prune that did not happen, and why (no inventory yet, Prune=false, Prune=confirm).
    #[serde(rename_all = "camelCase")]
    PruneSkipped {
        object: Option<ObjectInfo>,
        reason: String,
    },
    /// Something the user should know that does not stop the sync.
    #[serde(rename_all = "camelCase")]
    Warning { message: String },
    #[serde(rename_all = "camelCase")]
    HookDeleted {
        object: ObjectInfo,
        reason: DeleteReason,
    },
    /// A hook that `--keep-running-hooks` left running after an interruption.
    #[serde(rename_all = "camelCase")]
    HookKept { object: ObjectInfo },
    #[serde(rename_all = "camelCase")]
    ObjectFailed { step: usize, failure: Failure },
    #[serde(rename_all = "camelCase")]
    StepFinished {
        step: usize,
        outcome: Outcome,
        duration_ms: u64,
    },
    #[serde(rename_all = "camelCase")]
    SyncFailStarted { hooks: usize },
    #[serde(rename_all = "camelCase")]
    SyncFinished {
        outcome: Outcome,
        message: String,
        duration_ms: u64,
        requests: u64,
        steps: Vec<StepSummary>,
        failures: Vec<Failure>,
    },
}
