//! The check step: loaded manifests → their plan (Argo CD's order, [`crate::plan`]) → the
//! dependency graph between the objects ([`crate::infer`]) → lint of that order against that
//! graph ([`crate::lint`]). `plan`, `annotate` and `sync` all start here.
//!
//! ```no_run
//! use kubectl_waves::{check, manifest, plan::PlanOptions};
//!
//! let loaded = manifest::load(&manifest::Input::Paths(vec!["deploy".into()]));
//! let checked = check::check(loaded, PlanOptions::default());
//! if checked.has_input_errors() {
//!     // print checked.diagnostics, change nothing
//! }
//! for step in &checked.plan.steps {
//!     for group in &step.groups {
//!         for task in &group.tasks {
//!             let object = &checked.plan.objects[task.object];
//!             println!("{} wave {}: {}", step.phase, step.wave, object.display_name());
//!         }
//!     }
//! }
//! ```

use crate::diagnostics::{self, Diagnostic, Severity};
use crate::infer::{self, Resolved};
use crate::lint;
use crate::manifest::Loaded;
use crate::plan::{Plan, PlanDocument, PlanOptions};

/// A planned, resolved and linted input.
#[derive(Debug)]
pub struct Checked {
    /// The objects in Argo CD's order: steps, kind groups, SyncFail hooks, skipped objects.
    /// `plan.diagnostics` holds the problems of the input alone.
    pub plan: Plan,
    /// Every dependency between the plan's objects.
    pub graph: Resolved,
    /// Every finding, the input's problems and lint, sorted by source, code and object.
    pub diagnostics: Vec<Diagnostic>,
}

/// Plans loaded manifests, resolves their dependencies and lints the order.
pub fn check(loaded: Loaded, options: PlanOptions) -> Checked {
    let plan = Plan::build(loaded, options);
    let graph = infer::resolve(&plan.objects);
    Checked::new(plan, graph)
}

impl Checked {
    /// Lints `plan` against `graph`, the dependency graph of its objects (resolved already, as
    /// for the same objects with other waves).
    pub fn new(plan: Plan, graph: Resolved) -> Checked {
        let mut diagnostics = plan.diagnostics.clone();
        diagnostics.extend(lint::run(&plan, &graph));
        diagnostics::sort(&mut diagnostics);
        Checked {
            plan,
            graph,
            diagnostics,
        }
    }

    /// Whether the input itself is bad (exit 2): nothing should be planned or applied.
    pub fn has_input_errors(&self) -> bool {
        self.plan.has_input_errors()
    }

    /// Whether lint found errors (exit 3 with `--strict`).
    pub fn has_lint_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error && !d.code.is_input_problem())
    }

    /// `plan -o json`: the plan with every diagnostic.
    pub fn document(&self) -> PlanDocument<'_> {
        self.plan.document(&self.diagnostics)
    }
}
