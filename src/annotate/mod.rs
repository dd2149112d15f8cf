//! `kubectl waves annotate`: infer the order the objects need from what they reference, and
//! propose (or write) the smallest `argocd.argoproj.io/sync-wave` values that respect it.
//!
//! [`run`] loads the input, checks it as it is ([`crate::check`]: its plan, its dependency
//! graph and the lint of the current annotations), assigns waves ([`layer`]) and checks the
//! input again with the proposed waves, so that the proposal meets the same ordering rules and
//! lint as `plan`. Everything else renders or writes that result: [`report`] (table, JSON),
//! [`explain`], [`graph`] (DOT, Mermaid), [`write`] (files, annotated stream), [`krm`] (KRM
//! function), [`git`] (dirty-tree check).

pub mod explain;
pub mod git;
pub mod graph;
pub mod krm;
pub mod layer;
pub mod report;
pub mod write;

use crate::check::{self, Checked};
use crate::infer::Resolved;
use crate::manifest::{self, Input, InputFile, Loaded};
use crate::model::{Object, Phase};
use crate::plan::{Plan, PlanOptions};

/// How to annotate.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Recompute every wave, also the ones written down.
    pub rewrite: bool,
    /// Values Argo CD silently ignores become warnings (as `plan --lenient`).
    pub lenient: bool,
    /// `-n`: the namespace of objects without one (for telling duplicates apart).
    pub destination_namespace: Option<String>,
}

/// Why an object gets its suggested wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Its written wave is kept (no `--rewrite`).
    Kept,
    /// Argo CD's default, 0: nothing it needs requires a later wave.
    Default,
    /// Right after what edge `.0` points at.
    After(usize),
    /// Below 0, because the object of edge `.0`, whose wave is kept, needs it earlier.
    Before(usize),
    /// `sync` never applies it in a wave (SyncFail hook, skipped object): left alone.
    NotApplied,
    /// Left at its wave: edge `.0` asks for a wave beyond the 64-bit range (a dependency kept
    /// at the highest wave, or a user kept at the lowest). Any proposal would break the rule,
    /// so none is made; the lint reports the dependency.
    OutOfRange(usize),
}

/// The proposal for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub object: usize,
    /// The phase the object is first applied in.
    pub phase: Option<Phase>,
    /// Its wave now (0 when unset).
    pub current: i64,
    /// Whether the current wave is written down.
    pub explicit: bool,
    pub suggested: i64,
    pub why: Why,
    /// The lowest wave its dependencies allow and the edge that sets it.
    pub lowest: Option<(i64, usize)>,
}

impl Suggestion {
    /// Whether the annotation would change.
    pub fn changes(&self) -> bool {
        self.suggested != self.current
    }
}

/// A dependency cycle: edge indices, each object needing the next, the last the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub edges: Vec<usize>,
}

/// The waves for every object of a resolved input.
#[derive(Debug)]
pub struct Analysis {
    pub suggestions: Vec<Suggestion>,
    /// Per edge of the resolved graph: its weight as a wave constraint (`None`: no constraint).
    pub weights: Vec<Option<i64>>,
}

impl Analysis {
    /// The suggestions that change an annotation, in input order.
    pub fn changes(&self) -> impl Iterator<Item = &Suggestion> {
        self.suggestions.iter().filter(|s| s.changes())
    }
}

/// Assigns waves to `objects` given their resolved dependencies; the cycles if there are any.
pub fn analyze(
    objects: &[Object],
    resolved: &Resolved,
    options: Options,
) -> Result<Analysis, Vec<Cycle>> {
    let layers = layer::assign(objects, resolved, options)?;
    Ok(Analysis {
        suggestions: layers.suggestions,
        weights: layers.weights,
    })
}

/// Everything `annotate` computed for one input.
#[derive(Debug)]
pub struct Annotated {
    /// The input files, as read.
    pub files: Vec<InputFile>,
    /// The input as it is: planned, resolved and linted.
    pub current: Checked,
    pub analysis: Analysis,
    /// The input with the suggested waves, planned and linted: what remains to fix.
    pub proposed: Checked,
}

impl Annotated {
    /// The objects (the same in both plans).
    pub fn objects(&self) -> &[Object] {
        &self.current.plan.objects
    }

    /// The dependency graph of the objects (the same in both plans).
    pub fn graph(&self) -> &Resolved {
        &self.current.graph
    }

    /// Whether the proposal leaves an ordering error that waves alone cannot fix (or that
    /// `--rewrite` would): a kept wave or a phase that breaks a dependency.
    pub fn has_ordering_errors(&self) -> bool {
        self.proposed.has_lint_errors()
    }
}

/// Why `annotate` could not propose anything.
#[derive(Debug)]
pub enum Failure {
    /// The input itself is bad: the diagnostics say why.
    BadInput(Box<Checked>),
    /// The dependencies form cycles (edges of `checked.graph`).
    Cycles {
        checked: Box<Checked>,
        cycles: Vec<Cycle>,
    },
}

/// Loads `input` and annotates it.
pub fn run(input: &Input, options: Options) -> Result<Annotated, Failure> {
    let (files, diagnostics) = manifest::read_input(input);
    run_files(files, diagnostics, options)
}

/// Annotates files already read (`diagnostics`: problems found reading them).
pub fn run_files(
    files: Vec<InputFile>,
    mut diagnostics: Vec<crate::diagnostics::Diagnostic>,
    options: Options,
) -> Result<Annotated, Failure> {
    let mut loaded = manifest::parse_files(&files);
    diagnostics.append(&mut loaded.diagnostics);
    loaded.diagnostics = diagnostics;
    loaded.files = files.len();
    let input_diagnostics = loaded.diagnostics.clone();
    let plan_options = PlanOptions {
        lenient: options.lenient,
        destination_namespace: options.destination_namespace.clone(),
        ..PlanOptions::default()
    };
    let current = check::check(loaded, plan_options.clone());
    if current.has_input_errors() {
        return Err(Failure::BadInput(Box::new(current)));
    }
    let analysis = match analyze(&current.plan.objects, &current.graph, options) {
        Ok(a) => a,
        Err(cycles) => {
            return Err(Failure::Cycles {
                checked: Box::new(current),
                cycles,
            });
        }
    };
    let mut objects = current.plan.objects.clone();
    for s in &analysis.suggestions {
        objects[s.object].annotations.wave = s.suggested;
    }
    let proposed = Plan::build(
        Loaded {
            objects,
            diagnostics: input_diagnostics,
            files: files.len(),
        },
        plan_options,
    );
    // Waves are not references: the proposal has the same dependency graph.
    let proposed = Checked::new(proposed, current.graph.clone());
    Ok(Annotated {
        files,
        current,
        analysis,
        proposed,
    })
}

/// Finds an object by `Kind/namespace/name`, `Kind/name` or `name` (kind case-insensitive);
/// an error listing the candidates when there are none or several.
pub fn find_object(objects: &[Object], query: &str) -> Result<usize, String> {
    let parts: Vec<&str> = query.split('/').collect();
    let matches: Vec<usize> = objects
        .iter()
        .enumerate()
        .filter(|(_, o)| match parts.as_slice() {
            [kind, ns, name] => {
                o.kind.eq_ignore_ascii_case(kind) && o.namespace == *ns && o.name == *name
            }
            [kind, name] => o.kind.eq_ignore_ascii_case(kind) && o.name == *name,
            [name] => o.name == *name,
            _ => false,
        })
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!(
            "no object `{query}` in the input; name it as Kind/namespace/name, Kind/name or name"
        )),
        many => Err(format!(
            "`{query}` matches {} objects ({}); name one as Kind/namespace/name",
            many.len(),
            many.iter()
                .map(|&i| objects[i].display_name())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proposal_shares_the_parsed_objects_instead_of_copying_them() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    argocd.argoproj.io/sync-wave: \"3\"\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n";
        let files = vec![InputFile {
            display: "m.yaml".into(),
            text: text.into(),
            json: false,
        }];
        let options = Options {
            rewrite: true,
            ..Options::default()
        };
        let a = run_files(files, Vec::new(), options).expect("annotated");
        let current = &a.current.plan.objects;
        let proposed = &a.proposed.plan.objects;
        assert_eq!(current.len(), 2);
        assert_eq!(proposed.len(), 2);
        for (c, p) in current.iter().zip(proposed) {
            assert!(c.body.shares(&p.body), "{} was copied", c.display_name());
        }
        // The proposal differs in its waves only.
        assert_eq!(current[0].annotations.wave, 3);
        assert_eq!(proposed[0].annotations.wave, 0);
    }
}
