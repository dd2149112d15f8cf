//! `diff`: what each step of the plan will change, in execution order. Two comparisons:
//! the manifests against the live cluster ([`live::against_cluster`]: server-side dry-run
//! normalised, as `sync` would write), and two Git revisions against each other
//! ([`revisions::compare`]: no cluster; objects that appear, disappear, change, or move to
//! another step). Both give a [`DiffReport`]; `ui::diff` renders it. Nothing here prints.

pub mod ignore;
pub mod live;
pub mod normalize;
pub mod patch;
pub mod revisions;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::model::Phase;
pub use crate::sync::ObjectInfo;
pub use ignore::IgnoreRule;
pub use normalize::SecretKeys;
pub use patch::PatchOp;

/// What happens to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DiffAction {
    // Against the cluster.
    /// Not live yet: `sync` creates it (the server validated it).
    Create,
    /// Not live yet, and its Namespace or CRD is created by this sync: not dry-run.
    CreateNotValidated,
    /// Live and different from what `sync` would write.
    Change,
    /// Live and the same.
    Unchanged,
    /// In the inventory, not in the manifests: `sync --prune` deletes it.
    Prune,
    /// In the inventory, not in the manifests, but `Prune=false` / `Prune=confirm` keeps it.
    Keep,
    /// A hook: recreated every sync, never diffed.
    WillRun,
    /// The server refused the dry run (the message says why): `sync` would fail here.
    Rejected,
    // Between revisions.
    /// In the second revision only.
    Added,
    /// In the first revision only.
    Removed,
    /// In both, in the same step, with different content.
    Changed,
    /// In another step than before (its content may have changed too).
    Moved,
}

impl DiffAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DiffAction::Create => "create",
            DiffAction::CreateNotValidated => "create (not validated)",
            DiffAction::Change => "change",
            DiffAction::Unchanged => "unchanged",
            DiffAction::Prune => "prune",
            DiffAction::Keep => "keep",
            DiffAction::WillRun => "will run",
            DiffAction::Rejected => "rejected",
            DiffAction::Added => "added",
            DiffAction::Removed => "removed",
            DiffAction::Changed => "changed",
            DiffAction::Moved => "moved",
        }
    }

    /// The name in `-o json|yaml` (and its counts): the camelCase of the variant.
    pub fn key(self) -> &'static str {
        match self {
            DiffAction::Create => "create",
            DiffAction::CreateNotValidated => "createNotValidated",
            DiffAction::Change => "change",
            DiffAction::Unchanged => "unchanged",
            DiffAction::Prune => "prune",
            DiffAction::Keep => "keep",
            DiffAction::WillRun => "willRun",
            DiffAction::Rejected => "rejected",
            DiffAction::Added => "added",
            DiffAction::Removed => "removed",
            DiffAction::Changed => "changed",
            DiffAction::Moved => "moved",
        }
    }

    /// Whether the action is a difference for the exit code (as `kubectl diff`: 1). Hooks
    /// run every sync and kept objects stay: neither is a difference.
    pub fn is_difference(self) -> bool {
        !matches!(
            self,
            DiffAction::Unchanged | DiffAction::WillRun | DiffAction::Keep
        )
    }
}

/// A step as the plan names it: a phase and a wave (SyncFail hooks: one step, wave 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct StepRef {
    pub phase: Phase,
    pub wave: i64,
}

impl fmt::Display for StepRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.phase == Phase::SyncFail {
            return f.write_str("SyncFail (only if the sync fails)");
        }
        write!(f, "{} wave {}", self.phase, self.wave)
    }
}

/// One object of a step and what happens to it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDiff {
    pub object: ObjectInfo,
    pub action: DiffAction,
    /// `Moved`: the step it was in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<StepRef>,
    /// Why (a rejection, a kept object, a create that could not be validated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Secrets: which keys change (their values never appear).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_keys: Option<SecretKeys>,
    /// From the first version to the second, Secret values masked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patch: Vec<PatchOp>,
    /// The two versions, normalised and masked, for the text and external diffs.
    #[serde(skip)]
    pub before: Option<Value>,
    #[serde(skip)]
    pub after: Option<Value>,
}

impl ObjectDiff {
    pub fn new(object: ObjectInfo, action: DiffAction) -> Self {
        ObjectDiff {
            object,
            action,
            from: None,
            message: None,
            secret_keys: None,
            patch: Vec::new(),
            before: None,
            after: None,
        }
    }

    /// Sets both versions: masks Secret values (kubectl's masks), records which keys
    /// change, and the patch between them. Call after every other normalisation.
    pub fn with_versions(mut self, before: Option<Value>, after: Option<Value>) -> Self {
        let (mut before, mut after) = (before, after);
        let secret = before
            .as_ref()
            .or(after.as_ref())
            .is_some_and(normalize::is_secret);
        if secret {
            let keys = normalize::mask_secret(before.as_mut(), after.as_mut());
            self.secret_keys = Some(keys);
        }
        self.patch = match (&before, &after) {
            (Some(b), Some(a)) => patch::json_patch(b, a),
            (None, Some(a)) => vec![PatchOp {
                op: "add",
                path: String::new(),
                value: Some(a.clone()),
            }],
            (Some(_), None) => vec![PatchOp {
                op: "remove",
                path: String::new(),
                value: None,
            }],
            (None, None) => Vec::new(),
        };
        self.before = before;
        self.after = after;
        self
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// One step: its objects in execution order (prunes first, as `sync` runs them) and counts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepDiff {
    #[serde(flatten)]
    pub step: StepRef,
    /// Action → number of objects.
    pub counts: BTreeMap<&'static str, usize>,
    pub objects: Vec<ObjectDiff>,
}

impl StepDiff {
    pub fn new(step: StepRef, objects: Vec<ObjectDiff>) -> Self {
        let mut counts = BTreeMap::new();
        for o in &objects {
            *counts.entry(o.action.key()).or_insert(0) += 1;
        }
        StepDiff {
            step,
            counts,
            objects,
        }
    }

    pub fn count(&self, action: DiffAction) -> usize {
        self.counts.get(action.key()).copied().unwrap_or(0)
    }
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffReport {
    /// What was compared, e.g. `manifests → cluster` or `main → feature`.
    pub from: String,
    pub to: String,
    pub steps: Vec<StepDiff>,
    /// Action → number of objects, over all steps.
    pub totals: BTreeMap<&'static str, usize>,
    /// Whether anything differs (exit code 1).
    pub differs: bool,
    /// Whether the server refused an object (exit code 2).
    pub rejected: bool,
}

impl DiffReport {
    pub fn new(from: String, to: String, steps: Vec<StepDiff>) -> Self {
        let mut totals = BTreeMap::new();
        let mut differs = false;
        let mut rejected = false;
        for o in steps.iter().flat_map(|s| &s.objects) {
            *totals.entry(o.action.key()).or_insert(0) += 1;
            differs |= o.action.is_difference();
            rejected |= o.action == DiffAction::Rejected;
        }
        DiffReport {
            from,
            to,
            steps,
            totals,
            differs,
            rejected,
        }
    }
}
