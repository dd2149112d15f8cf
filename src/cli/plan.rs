//! `kubectl waves plan`: the ordered steps, offline.

use clap::Args;

use super::{CommandError, CommandResult, ErrorKind, GlobalArgs, InputArgs, exit};
use crate::check::{self, Checked};
use crate::manifest;
use crate::plan::graph::{self, Estimates, GraphFormat, GraphPlan, Order};
use crate::plan::{Plan, PlanOptions, ResourceDocument};
use crate::ui::{self, OutputFormat};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  kubectl waves plan fixtures/shop                     # a table per step
  kubectl waves plan fixtures/tenant-a -o json         # the stable JSON shape of SPEC §7
  helm template ./chart | kubectl waves plan -f -      # from stdin
  kubectl waves plan --revision origin/main --path deploy/prod   # from Git, no checkout
  kubectl waves plan --strict deploy/                  # exit 3 on lint errors, for CI
  kubectl waves plan --lenient deploy/                 # warn where Argo CD silently ignores")]
pub struct PlanArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Accept values Argo CD silently ignores (with a warning) and behave exactly as Argo CD.
    #[arg(long)]
    pub lenient: bool,
    /// Exit 3 when lint finds errors.
    #[arg(long)]
    pub strict: bool,
    /// An argocd-cm ConfigMap (YAML) with resource.customizations health checks in Lua, as
    /// for `sync`: kinds it covers draw no WAVES005.
    #[arg(long, value_name = "FILE")]
    pub health_config: Option<std::path::PathBuf>,
    /// A folder laid out as Argo CD's resource_customizations (<group>/<Kind>/health.lua,
    /// `_` for `*` in folder names): its health checks, after the argocd-cm ones.
    #[arg(long, value_name = "DIR")]
    pub resource_customizations: Option<std::path::PathBuf>,
    /// `graph`: the order of `sync --order graph` (what each object waits for) and its
    /// critical path.
    #[arg(long, value_enum, default_value_t = Order::Waves, value_name = "ORDER")]
    pub order: Order,
    /// With --order graph: keep every Sync wave as a barrier, graph order inside a wave.
    #[arg(long)]
    pub respect_waves: bool,
    /// Per-kind readiness estimates for the critical path, e.g. Deployment=30s,StatefulSet=60s
    /// (kinds not listed: ready at once; without the flag every object counts 1s).
    #[arg(long, value_name = "KIND=DURATION,...", value_parser = Estimates::parse)]
    pub estimate: Option<Estimates>,
    /// Draw the graph order (Mermaid or Graphviz DOT) instead of the tables; implies --order graph.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub graph: Option<GraphFormat>,
}

pub fn run(args: &PlanArgs, global: &GlobalArgs) -> CommandResult {
    let input = args.input.input(global)?;
    let health = super::cluster::lint_health(
        args.health_config.as_deref(),
        args.resource_customizations.as_deref(),
    )?;
    let loaded = manifest::load(&input);
    let checked = check::check(
        loaded,
        PlanOptions {
            lenient: args.lenient,
            destination_namespace: global.namespace.clone(),
            health,
        },
    );
    if checked.has_input_errors() {
        return Err(super::rejected_input(&checked.diagnostics, "planned"));
    }
    if args.respect_waves && args.order != Order::Graph && args.graph.is_none() {
        return Err(CommandError::bad_input(
            "--respect-waves only changes --order graph",
        ));
    }
    if args.estimate.is_some() && args.order != Order::Graph && args.graph.is_none() {
        return Err(CommandError::bad_input(
            "--estimate is for the critical path of --order graph",
        )
        .hint("pass --order graph --estimate ..."));
    }
    if args.order == Order::Graph || args.graph.is_some() {
        return run_graph(args, global, checked);
    }
    if global.output == OutputFormat::Text {
        ui::print_diagnostics(&checked.diagnostics);
        if checked.plan.objects.is_empty() {
            // As kubectl: say so on stderr, print nothing, succeed.
            eprintln!("No resources found.");
            return Ok(exit::OK);
        }
    }
    // Rendered apps and Applications say what produced the objects; plain files need not.
    let sources = match &input {
        manifest::Input::Rendered { .. } | manifest::Input::App { .. } => {
            manifest::describe(&input)
        }
        // At a Git revision only a rendered app says so.
        manifest::Input::Git { .. } => {
            let described = manifest::describe(&input);
            if described.iter().any(|s| s.renderer.is_some()) {
                described
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    };
    super::print(|out| match global.output {
        OutputFormat::Text => {
            for s in &sources {
                let by = s
                    .renderer
                    .as_deref()
                    .map(|r| format!(", rendered by `{r}`"))
                    .unwrap_or_default();
                let app = s
                    .application
                    .as_deref()
                    .map(|a| format!("Application/{a}: "))
                    .unwrap_or_default();
                writeln!(out, "SOURCE  {app}{} {}{by}", s.source_type, s.path)?;
            }
            if !sources.is_empty() {
                writeln!(out)?;
            }
            out.write_all(render_text(&checked).as_bytes())
        }
        format => {
            let mut doc = checked.document();
            doc.sources = sources.clone();
            ui::write_data(out, format, &doc)
        }
    })?;
    let lint_errors = args.strict && checked.has_lint_errors();
    // Freeing 10,000 parsed objects one by one takes longer than the rest of the output; the
    // process ends right after this, so let the OS take the memory back.
    std::mem::forget(checked);
    if lint_errors {
        // The diagnostics above say what lint found.
        return Err(CommandError::reported(ErrorKind::LintErrors));
    }
    Ok(exit::OK)
}

/// `plan --order graph` / `plan --graph FORMAT`.
pub(super) fn run_graph(args: &PlanArgs, global: &GlobalArgs, checked: Checked) -> CommandResult {
    let Checked {
        plan,
        graph: resolved,
        diagnostics,
    } = checked;
    let waves_plan = Plan {
        objects: Vec::new(),
        steps: plan.steps.clone(),
        sync_fail: Vec::new(),
        skipped: Vec::new(),
        diagnostics: Vec::new(),
        health: plan.health.clone(),
    };
    let gp = graph::build(plan, &resolved, args.respect_waves).map_err(|e| {
        CommandError::bad_input(format!("{}: {e}", e.source_))
            .hint("break the cycle (a depends-on annotation or a reference), or use --order waves")
    })?;
    let estimated = args.estimate.is_some();
    let estimates = args.estimate.clone().unwrap_or_else(|| {
        let kinds: std::collections::BTreeSet<&str> =
            gp.plan.objects.iter().map(|o| o.kind.as_str()).collect();
        let text: Vec<String> = kinds.iter().map(|k| format!("{k}=1s")).collect();
        Estimates::parse(&text.join(",")).unwrap_or_default()
    });
    let critical = graph::critical_path(&gp, &waves_plan, &estimates);
    if let Some(format) = args.graph {
        let text = graph::render(format, &gp, &critical.objects);
        super::print(|out| out.write_all(text.as_bytes()))?;
        return Ok(exit::OK);
    }
    let lint_errors = args.strict
        && diagnostics.iter().any(|d| {
            d.severity == crate::diagnostics::Severity::Error && !d.code.is_input_problem()
        });
    match global.output {
        OutputFormat::Text => {
            ui::print_diagnostics(&diagnostics);
            for edge in &gp.dropped {
                eprintln!("note: {edge} not followed (a DNS name only; the two reach each other)");
            }
            let text = render_graph_text(&gp, &critical, estimated);
            super::print(|out| out.write_all(text.as_bytes()))?;
        }
        format => {
            let document = GraphDocument::new(&gp, &critical, &diagnostics);
            super::print(|out| ui::write_data(out, format, &document))?;
        }
    }
    if lint_errors {
        return Err(CommandError::reported(ErrorKind::LintErrors));
    }
    Ok(exit::OK)
}

/// What each object of a graph step waits for, as `Kind/ns/name (applied|healthy)`.
fn waits_of(gp: &GraphPlan, object: usize) -> Vec<String> {
    gp.schedule
        .waits
        .get(&object)
        .into_iter()
        .flatten()
        .map(|w| {
            format!(
                "{} ({})",
                gp.plan.objects[w.object].display_name(),
                match w.strength {
                    crate::infer::Strength::Exists => "applied",
                    crate::infer::Strength::Ready => "healthy",
                }
            )
        })
        .collect()
}

/// `plan --order graph -o json|yaml`: the steps in graph order with what each object waits
/// for, and the critical path.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct GraphDocument<'a> {
    order: &'static str,
    steps: Vec<GraphStepDocument<'a>>,
    critical_path: CriticalPathDocument,
    diagnostics: &'a [crate::diagnostics::Diagnostic],
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct GraphStepDocument<'a> {
    phase: crate::model::Phase,
    wave: i64,
    graph: bool,
    resources: Vec<GraphResourceDocument<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct GraphResourceDocument<'a> {
    #[serde(flatten)]
    resource: ResourceDocument<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    waits_for: Vec<String>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct CriticalPathDocument {
    objects: Vec<String>,
    seconds: f64,
    waves_seconds: f64,
}

impl<'a> GraphDocument<'a> {
    fn new(
        gp: &'a GraphPlan,
        critical: &graph::CriticalPath,
        diagnostics: &'a [crate::diagnostics::Diagnostic],
    ) -> Self {
        let doc = gp.plan.document(diagnostics);
        let steps = doc
            .steps
            .into_iter()
            .zip(gp.plan.steps.iter())
            .enumerate()
            .map(|(s, (d, step))| GraphStepDocument {
                phase: d.phase,
                wave: d.wave,
                graph: gp.schedule.graph_steps.contains(&s),
                resources: d
                    .resources
                    .into_iter()
                    .zip(step.tasks())
                    .map(|(r, t)| GraphResourceDocument {
                        resource: r,
                        waits_for: waits_of(gp, t.object),
                    })
                    .collect(),
            })
            .collect();
        GraphDocument {
            order: "graph",
            steps,
            critical_path: CriticalPathDocument {
                objects: critical
                    .objects
                    .iter()
                    .map(|&o| gp.plan.objects[o].display_name())
                    .collect(),
                seconds: critical.graph.as_secs_f64(),
                waves_seconds: critical.waves.as_secs_f64(),
            },
            diagnostics,
        }
    }
}

/// The human view of graph order: a table per step (graph steps with WAITS FOR), then the
/// critical path against the wave order's estimate.
fn render_graph_text(gp: &GraphPlan, critical: &graph::CriticalPath, estimated: bool) -> String {
    let mut out = String::new();
    let total = gp.plan.steps.len();
    for (s, step) in gp.plan.steps.iter().enumerate() {
        if s > 0 {
            out.push('\n');
        }
        let graph_step = gp.schedule.graph_steps.contains(&s);
        let title = if graph_step && gp.schedule.merged {
            format!("STEP {}/{total}  {} graph order", s + 1, step.phase)
        } else if graph_step {
            format!(
                "STEP {}/{total}  {} wave {} graph order",
                s + 1,
                step.phase,
                step.wave
            )
        } else {
            format!("STEP {}/{total}  {} wave {}", s + 1, step.phase, step.wave)
        };
        out.push_str(&ui::heading(&title));
        out.push('\n');
        let rows: Vec<Vec<String>> = step
            .tasks()
            .map(|t| {
                let o = &gp.plan.objects[t.object];
                let waits = waits_of(gp, t.object);
                vec![
                    o.kind.to_string(),
                    namespaced(&o.namespace, &o.name),
                    if !graph_step {
                        "(previous step)".to_string()
                    } else if waits.is_empty() {
                        "-".to_string()
                    } else {
                        waits.join(", ")
                    },
                    o.source.to_string(),
                ]
            })
            .collect();
        out.push_str(&ui::table(
            &["KIND", "NAMESPACE/NAME", "WAITS FOR", "SOURCE"],
            &rows,
        ));
    }
    let chain: Vec<String> = critical
        .objects
        .iter()
        .map(|&o| gp.plan.objects[o].display_name())
        .collect();
    out.push_str(&format!(
        "\n{}\n  {}\n",
        ui::heading(&format!(
            "CRITICAL PATH  {} (wave order: {}){}",
            crate::sync::humantime(critical.graph),
            crate::sync::humantime(critical.waves),
            if estimated {
                ""
            } else {
                "; no --estimate: 1s per object"
            }
        )),
        chain.join(" → ")
    ));
    out
}

/// The human view: one table per step, then SyncFail hooks and skipped objects.
pub fn render_text(checked: &Checked) -> String {
    let doc = checked.document();
    let mut out = String::new();
    let total = doc.steps.len();
    for (i, step) in doc.steps.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&ui::heading(&format!(
            "STEP {}/{total}  {} wave {}",
            i + 1,
            step.phase,
            step.wave
        )));
        out.push('\n');
        out.push_str(&resource_table(&step.resources));
    }
    if !doc.sync_fail.is_empty() {
        out.push_str(&format!(
            "\n{}\n",
            ui::heading("ON FAILURE  SyncFail hooks, applied together")
        ));
        out.push_str(&resource_table(&doc.sync_fail));
    }
    if !doc.skipped.is_empty() {
        out.push_str(&format!(
            "\n{}\n",
            ui::heading("SKIPPED  never applied by sync")
        ));
        let rows: Vec<Vec<String>> = doc
            .skipped
            .iter()
            .map(|s| {
                vec![
                    s.resource.kind.to_string(),
                    namespaced(s.resource.namespace, s.resource.name),
                    s.reason.to_string(),
                    s.resource.source.clone(),
                ]
            })
            .collect();
        out.push_str(&ui::table(
            &["KIND", "NAMESPACE/NAME", "REASON", "SOURCE"],
            &rows,
        ));
    }
    let applies: usize = doc.steps.iter().map(|s| s.resources.len()).sum();
    let (errors, warnings) =
        checked
            .diagnostics
            .iter()
            .fold((0, 0), |(e, w), d| match d.severity {
                crate::diagnostics::Severity::Error => (e + 1, w),
                crate::diagnostics::Severity::Warning => (e, w + 1),
            });
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    out.push_str(&format!(
        "\n{}, {}, {} on failure, {}; {}, {}\n",
        plural(total, "step"),
        plural(applies, "object"),
        plural(doc.sync_fail.len(), "hook"),
        format_args!("{} skipped", doc.skipped.len()),
        plural(errors, "error"),
        plural(warnings, "warning"),
    ));
    out
}

/// `namespace/name`, or `name` without a namespace.
fn namespaced(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}/{name}")
    }
}

/// KIND, NAMESPACE/NAME, HOOK (delete policies, `-` for non-hooks), SOURCE.
fn resource_table(resources: &[ResourceDocument<'_>]) -> String {
    let rows: Vec<Vec<String>> = resources
        .iter()
        .map(|r| {
            let hook = if r.hook {
                r.delete_policies.join(",")
            } else {
                "-".to_string()
            };
            vec![
                r.kind.to_string(),
                namespaced(r.namespace, r.name),
                hook,
                r.source.clone(),
            ]
        })
        .collect();
    ui::table(&["KIND", "NAMESPACE/NAME", "HOOK", "SOURCE"], &rows)
}
