//! `kubectl waves plan`: the ordered steps, offline.

use clap::Args;

use super::{CommandError, CommandResult, ErrorKind, GlobalArgs, InputArgs, exit};
use crate::check::{self, Checked};
use crate::manifest;
use crate::plan::{PlanOptions, ResourceDocument};
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
