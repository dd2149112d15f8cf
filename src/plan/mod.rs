//! The plan: validated objects in Argo CD's order, grouped into steps (phase + wave) and kind
//! groups, with the objects that never run and the problems of the input itself. Pure
//! ordering: the dependency graph and lint come on top of it in [`crate::check`].

pub mod graph;
pub mod order;

use serde::Serialize;

use crate::diagnostics::{Code, Diagnostic, Severity};
use crate::manifest::Loaded;
use crate::model::{Object, Phase, Role};
pub use order::Task;

/// How strictly to read the input.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Values Argo CD silently ignores become warnings instead of errors.
    pub lenient: bool,
    /// The Application's destination namespace (`-n`), which Argo CD gives to objects without
    /// one before it orders Namespaces; output keeps namespaces as written.
    pub destination_namespace: Option<String>,
    /// The health checks the sync will use (`--health-config`), so that lint knows which
    /// custom resource kinds have one (WAVES005).
    pub health: crate::health::HealthConfig,
}

/// Objects of one kind applied together (concurrently) inside a step.
#[derive(Debug, Clone)]
pub struct KindGroup {
    pub kind: String,
    pub tasks: Vec<Task>,
}

/// One phase + wave: applied group after group, then awaited.
#[derive(Debug, Clone)]
pub struct Step {
    pub phase: Phase,
    pub wave: i64,
    pub groups: Vec<KindGroup>,
}

impl Step {
    /// Tasks in apply order.
    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.groups.iter().flat_map(|g| g.tasks.iter())
    }
}

/// An object that the sync will not apply, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub object: usize,
    pub reason: String,
}

/// The ordered, validated plan.
#[derive(Debug)]
pub struct Plan {
    pub objects: Vec<Object>,
    /// In execution order.
    pub steps: Vec<Step>,
    /// SyncFail hooks, applied all at once when the sync fails.
    pub sync_fail: Vec<Task>,
    pub skipped: Vec<Skipped>,
    /// Problems of the input itself (reading, annotations, duplicates), sorted by source; lint
    /// findings are in [`crate::check::Checked::diagnostics`].
    pub diagnostics: Vec<Diagnostic>,
    /// The health checks lint takes as known (from [`PlanOptions::health`]).
    pub health: crate::health::HealthConfig,
}

impl Plan {
    /// Builds the plan from loaded objects: orders them in steps and kind groups.
    pub fn build(loaded: Loaded, options: PlanOptions) -> Plan {
        let Loaded {
            mut objects,
            mut diagnostics,
            ..
        } = loaded;
        crate::manifest::check_duplicates(
            &objects,
            options.destination_namespace.as_deref(),
            &mut diagnostics,
        );
        if options.lenient {
            for d in &mut diagnostics {
                if d.code.lenient_demotes() || d.code == Code::DuplicateObject {
                    d.severity = Severity::Warning;
                }
            }
            objects = keep_last_duplicates(objects, options.destination_namespace.as_deref());
        }
        let mut tasks = Vec::with_capacity(objects.len());
        let mut skipped = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            let wave = o.annotations.wave;
            match &o.annotations.role {
                Role::Resource => tasks.push(Task {
                    object: i,
                    phase: Phase::Sync,
                    wave,
                }),
                Role::Hook {
                    phases,
                    delete_hooks,
                } => {
                    for &phase in phases {
                        tasks.push(Task {
                            object: i,
                            phase,
                            wave,
                        });
                    }
                    if phases.is_empty() {
                        let names: Vec<String> =
                            delete_hooks.iter().map(|d| format!("{d:?}")).collect();
                        skipped.push(Skipped {
                            object: i,
                            reason: format!("{} hook: not run by sync", names.join("/")),
                        });
                    }
                }
                Role::Skip => skipped.push(Skipped {
                    object: i,
                    reason: "hook: Skip".into(),
                }),
                Role::Ignored { reason } => skipped.push(Skipped {
                    object: i,
                    reason: reason.clone(),
                }),
            }
        }
        order::sort(
            &mut tasks,
            &objects,
            options.destination_namespace.as_deref(),
        );
        skipped.sort_by(|a, b| {
            let task = |i| Task {
                object: i,
                phase: Phase::Sync,
                wave: objects[i].annotations.wave,
            };
            order::compare(&task(a.object), &task(b.object), &objects)
        });
        let (sync_fail, tasks): (Vec<Task>, Vec<Task>) =
            tasks.into_iter().partition(|t| t.phase == Phase::SyncFail);
        let steps = group_steps(&tasks, &objects);
        crate::diagnostics::sort(&mut diagnostics);
        Plan {
            objects,
            steps,
            sync_fail,
            skipped,
            diagnostics,
            health: options.health,
        }
    }

    /// Whether the input itself is bad (exit 2).
    pub fn has_input_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error && d.code.is_input_problem())
    }

    /// Index of the step and kind group where each object is first applied, if at all.
    pub fn positions(&self) -> Vec<Vec<(usize, usize)>> {
        let mut out = vec![Vec::new(); self.objects.len()];
        for (s, step) in self.steps.iter().enumerate() {
            for (g, group) in step.groups.iter().enumerate() {
                for t in &group.tasks {
                    out[t.object].push((s, g));
                }
            }
        }
        out
    }
}

/// Argo CD keeps only the last of several objects with one identity (and warns); `--lenient`
/// does the same.
fn keep_last_duplicates(objects: Vec<Object>, destination: Option<&str>) -> Vec<Object> {
    use crate::manifest::effective_key;
    let mut last = std::collections::HashMap::with_capacity(objects.len());
    for (i, o) in objects.iter().enumerate() {
        if !o.generate_name {
            last.insert(effective_key(o, destination), i);
        }
    }
    objects
        .into_iter()
        .enumerate()
        .filter(|(i, o)| o.generate_name || last.get(&effective_key(o, destination)) == Some(i))
        .map(|(_, o)| o)
        .collect()
}

/// Cuts the sorted tasks into steps (same phase and wave) and kind groups (consecutive tasks of
/// one kind).
fn group_steps(tasks: &[Task], objects: &[Object]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for &t in tasks {
        let kind = &objects[t.object].kind;
        match steps.last_mut() {
            Some(step) if step.phase == t.phase && step.wave == t.wave => {
                match step.groups.last_mut() {
                    Some(group) if &group.kind == kind => group.tasks.push(t),
                    _ => step.groups.push(KindGroup {
                        kind: kind.to_string(),
                        tasks: vec![t],
                    }),
                }
            }
            _ => steps.push(Step {
                phase: t.phase,
                wave: t.wave,
                groups: vec![KindGroup {
                    kind: kind.to_string(),
                    tasks: vec![t],
                }],
            }),
        }
    }
    steps
}

/// `plan -o json`: the stable shape of SPEC §7.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanDocument<'a> {
    pub steps: Vec<StepDocument<'a>>,
    pub sync_fail: Vec<ResourceDocument<'a>>,
    pub skipped: Vec<SkippedDocument<'a>>,
    pub diagnostics: &'a [Diagnostic],
    /// Where the objects came from when a tool or an Application produced them (source
    /// type, renderer, Application); set by the caller that read the input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<crate::manifest::SourceInfo>,
}

#[derive(Debug, Serialize)]
pub struct StepDocument<'a> {
    pub phase: Phase,
    pub wave: i64,
    pub resources: Vec<ResourceDocument<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDocument<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub hook: bool,
    pub delete_policies: Vec<&'static str>,
    pub source: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedDocument<'a> {
    #[serde(flatten)]
    pub resource: ResourceDocument<'a>,
    pub reason: &'a str,
}

impl Plan {
    /// The serialisable view of the plan, with `diagnostics` (all of them: see
    /// [`crate::check::Checked::document`]).
    pub fn document<'a>(&'a self, diagnostics: &'a [Diagnostic]) -> PlanDocument<'a> {
        PlanDocument {
            sources: Vec::new(),
            steps: self
                .steps
                .iter()
                .map(|s| StepDocument {
                    phase: s.phase,
                    wave: s.wave,
                    resources: s.tasks().map(|t| self.resource(t.object)).collect(),
                })
                .collect(),
            sync_fail: self
                .sync_fail
                .iter()
                .map(|t| self.resource(t.object))
                .collect(),
            skipped: self
                .skipped
                .iter()
                .map(|s| SkippedDocument {
                    resource: self.resource(s.object),
                    reason: &s.reason,
                })
                .collect(),
            diagnostics,
        }
    }

    fn resource(&self, index: usize) -> ResourceDocument<'_> {
        let o = &self.objects[index];
        let hook = o.is_hook();
        ResourceDocument {
            api_version: &o.api_version,
            kind: &o.kind,
            namespace: &o.namespace,
            name: &o.name,
            hook,
            delete_policies: if hook {
                o.annotations
                    .delete_policies
                    .iter()
                    .map(|p| p.as_str())
                    .collect()
            } else {
                Vec::new()
            },
            source: o.source.to_string(),
        }
    }
}
