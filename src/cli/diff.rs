//! `kubectl waves diff`: what each step will change. Against the cluster by default;
//! `--revision A..B` compares two Git revisions with no cluster at all.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{ArgAction, Args};

use super::{CommandError, CommandResult, GlobalArgs, InputArgs, exit};
use crate::check::{self, Checked};
use crate::cluster::applyset::ApplySet;
use crate::diff::live::{DiffError, DiffOptions};
use crate::diff::{DiffReport, IgnoreRule, ignore, revisions};
use crate::manifest::{self, Input};
use crate::plan::PlanOptions;
use crate::ui::{self, OutputFormat};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  kubectl waves diff fixtures/shop                     # what sync would change, step by step
  kubectl waves diff deploy/ --summary                 # counts per step only
  kubectl waves diff deploy/ --prune                   # also what --prune would delete
  kubectl waves diff --revision main..HEAD --path deploy   # two revisions, no cluster
  kubectl waves diff --revision main...feature --path deploy # against the merge base, as git diff
  kubectl waves diff deploy/ -o json                   # per step: objects, action, JSON Patch
  KUBECTL_EXTERNAL_DIFF=meld kubectl waves diff deploy/

Secret values are never shown: changed keys are named, values masked as kubectl masks them
(also in the files given to KUBECTL_EXTERNAL_DIFF).

Exit codes (as kubectl diff): 0 no differences; 1 differences; 2 bad input, the cluster
unreachable or forbidden, or an object the server refuses.")]
pub struct DiffArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Accept values Argo CD silently ignores (with a warning) and behave exactly as Argo CD.
    #[arg(long)]
    pub lenient: bool,
    /// Counts per step only, no diffs.
    #[arg(long)]
    pub summary: bool,
    /// Also list the inventory's objects that left the manifests (what `sync --prune` deletes).
    #[arg(long)]
    pub prune: bool,
    /// The app's inventory: an ApplySet parent Secret NAME in the destination namespace
    /// (default: as sync, the base name of the first path).
    #[arg(long, value_name = "NAME")]
    pub applyset: Option<String>,
    /// As `sync --confirm-prune`: Prune=confirm objects show as pruned.
    #[arg(long, requires = "prune")]
    pub confirm_prune: bool,
    /// As `sync --prune-last`: every prune in the step after the last Sync wave.
    #[arg(long, requires = "prune")]
    pub prune_last: bool,
    /// As sync: server-side apply (default); `--server-side=false` compares as client-side apply.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub server_side: Option<bool>,
    /// As sync: a field owned by another manager is a rejection, not taken over.
    #[arg(long)]
    pub no_force_conflicts: bool,
    /// As `sync --create-namespace`: the destination namespace counts as created by the sync.
    #[arg(long)]
    pub create_namespace: bool,
    /// Argo CD ignoreDifferences rules (a list, a mapping with `ignoreDifferences`, or an
    /// Application): the fields they name are left out of the comparison.
    #[arg(long, value_name = "FILE")]
    pub ignore_differences: Option<PathBuf>,
    /// An argocd-cm ConfigMap (YAML) with resource.customizations health checks in Lua, as
    /// for `sync`: lint knows the kinds it covers (no WAVES005 for them).
    #[arg(long, value_name = "FILE")]
    pub health_config: Option<PathBuf>,
    /// A folder laid out as Argo CD's resource_customizations (<group>/<Kind>/health.lua,
    /// `_` for `*` in folder names): its health checks, after the argocd-cm ones.
    #[arg(long, value_name = "DIR")]
    pub resource_customizations: Option<PathBuf>,
    /// Objects read and dry-run at once.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub concurrency: usize,
}

pub fn run(args: &DiffArgs, global: &GlobalArgs) -> CommandResult {
    let rules = read_ignore_rules(args.ignore_differences.as_deref())?;
    let options = PlanOptions {
        lenient: args.lenient,
        destination_namespace: global.namespace.clone(),
        health: super::cluster::lint_health(
            args.health_config.as_deref(),
            args.resource_customizations.as_deref(),
        )?,
    };
    if let Some((from, to)) = revision_range(&args.input)? {
        return run_revisions(args, global, options, from, to);
    }
    let input =
        super::cluster::with_helm_capabilities(args.input.input(global)?, global, "compared")?;
    let app = super::app::AppSettings::of(&args.input)?;
    let mut rules = rules;
    rules.extend(app.ignore.iter().cloned());
    let applyset_name = args
        .applyset
        .clone()
        .or_else(|| super::sync::default_applyset_name(&input));
    let checked = {
        let mut loaded = manifest::load(&input);
        super::app::apply_resource_options(&args.input, &mut loaded.objects);
        let checked = check::check(loaded, options);
        if checked.has_input_errors() {
            return Err(super::rejected_input(&checked.diagnostics, "compared"));
        }
        checked
    };
    if global.output == OutputFormat::Text {
        ui::print_diagnostics(&checked.diagnostics);
    }
    let plan = checked.plan;
    let prune = args.prune || app.prune;
    if plan.steps.is_empty() && plan.sync_fail.is_empty() && !prune {
        eprintln!("No resources found.");
        return Ok(exit::OK);
    }
    let runtime = super::cluster::runtime()?;
    let report = runtime.block_on(async {
        let cluster = super::cluster::connect(global, "compared").await?;
        let options = DiffOptions {
            server_side: args.server_side.or(app.server_side).unwrap_or(true),
            force_conflicts: !args.no_force_conflicts,
            concurrency: args.concurrency.max(1),
            applyset: applyset_name
                .as_deref()
                .map(|name| ApplySet::new(name, &cluster.default_namespace)),
            prune,
            confirm_prune: args.confirm_prune,
            prune_last: args.prune_last || app.prune_last,
            create_namespace: args.create_namespace || app.create_namespace,
            ignore: rules,
        };
        crate::diff::live::against_cluster(&cluster, &plan, &options)
            .await
            .map_err(|e| match e {
                DiffError::Cluster(e) => super::cluster::cluster_error(&e, "compared"),
                DiffError::Object { error, .. } if error.is_forbidden() => {
                    super::cluster::cluster_error(&error, "compared")
                }
                other => CommandError::bad_input(other.to_string()),
            })
    });
    runtime.shutdown_background();
    let mut report = report?;
    report.from = "live".into();
    report.to = "desired".into();
    finish(args, global, &report, "LIVE", "MERGED")
}

/// `--revision A..B` (or `A...B`, against the merge base as `git diff` does): the two
/// revisions, `None` for a single revision.
fn revision_range(input: &InputArgs) -> Result<Option<(String, String)>, CommandError> {
    let Some(revision) = &input.revision else {
        return Ok(None);
    };
    let (from, to, merge_base) = if let Some((a, b)) = revision.split_once("...") {
        (a, b, true)
    } else if let Some((a, b)) = revision.split_once("..") {
        (a, b, false)
    } else {
        return Ok(None);
    };
    let from = if from.is_empty() { "HEAD" } else { from };
    let to = if to.is_empty() { "HEAD" } else { to };
    if !input.paths.is_empty() || !input.filenames.is_empty() {
        return Err(CommandError::bad_input(
            "--revision reads the manifests from Git: give the directory with --path, not as a PATH",
        ));
    }
    if merge_base {
        let repo = input.repo.clone().unwrap_or_else(|| PathBuf::from("."));
        let base = manifest::git::merge_base(&repo, from, to).map_err(CommandError::bad_input)?;
        return Ok(Some((base, to.to_string())));
    }
    Ok(Some((from.to_string(), to.to_string())))
}

fn run_revisions(
    args: &DiffArgs,
    global: &GlobalArgs,
    options: PlanOptions,
    from: String,
    to: String,
) -> CommandResult {
    let repo = args
        .input
        .repo
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let input = |revision: &str| Input::Git {
        repo: repo.clone(),
        revision: revision.to_string(),
        path: args.input.path.clone(),
        source_type: args.input.source_type,
        options: Box::default(),
    };
    let a = checked(&input(&from), options.clone())?;
    let b = checked(&input(&to), options)?;
    if global.output == OutputFormat::Text {
        // Warnings of the revision under review only: the other one is already merged.
        ui::print_diagnostics(&b.diagnostics);
    }
    let label = |rev: &str| {
        if rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit()) {
            rev[..12].to_string()
        } else {
            rev.to_string()
        }
    };
    let report = revisions::compare(&a.plan, &b.plan, &label(&from), &label(&to));
    let dir = |rev: &str| {
        let clean: String = label(rev)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        clean
    };
    finish(args, global, &report, &dir(&from), &dir(&to))
}

/// Loads and checks one input; input errors end the command (exit 2).
fn checked(input: &Input, options: PlanOptions) -> Result<Checked, CommandError> {
    let checked = check::check(manifest::load(input), options);
    if checked.has_input_errors() {
        return Err(super::rejected_input(&checked.diagnostics, "compared"));
    }
    Ok(checked)
}

pub(super) fn read_ignore_rules(path: Option<&Path>) -> Result<Vec<IgnoreRule>, CommandError> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let text = crate::manifest::read::read_text_file(path).map_err(CommandError::bad_input)?;
    ignore::parse_rules(&text).map_err(|e| {
        CommandError::bad_input(format!(
            "{}: {e}",
            crate::manifest::read::display_path(path)
        ))
    })
}

/// Prints the report (or hands it to `KUBECTL_EXTERNAL_DIFF`) and gives kubectl diff's exit
/// code: 0 same, 1 different, 2 an object the server refused.
fn finish(
    args: &DiffArgs,
    global: &GlobalArgs,
    report: &DiffReport,
    from_dir: &str,
    to_dir: &str,
) -> CommandResult {
    let external = std::env::var("KUBECTL_EXTERNAL_DIFF")
        .ok()
        .filter(|v| !v.is_empty());
    let mut code = match (global.output, &external) {
        (OutputFormat::Text, Some(program)) if !args.summary => {
            run_external(program, report, from_dir, to_dir)?
        }
        (OutputFormat::Text, _) => {
            super::print(|out| {
                out.write_all(ui::diff::render_text(report, args.summary).as_bytes())
            })?;
            exit::OK
        }
        (format, _) => {
            super::print(|out| ui::write_data(out, format, report))?;
            exit::OK
        }
    };
    if report.differs {
        code = code.max(exit::FAILED);
    }
    if report.rejected {
        return Err(CommandError::bad_input(
            "the server refused objects above (`rejected`): sync would fail there",
        ));
    }
    Ok(code)
}

/// Runs `KUBECTL_EXTERNAL_DIFF` as kubectl does: the variable split on spaces, the first
/// word the program, the two folders first, then the other words that are only letters,
/// digits, `-` and `=`. Its exit code 0 or 1 is ours; more is an error.
fn run_external(
    program: &str,
    report: &DiffReport,
    from: &str,
    to: &str,
) -> Result<u8, CommandError> {
    let temp = |prefix: &str| -> Result<PathBuf, CommandError> {
        let dir = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir(&dir)
            .map_err(|e| CommandError::failed(format!("cannot create {}: {e}", dir.display())))?;
        Ok(dir)
    };
    let (from_dir, to_dir) = (temp(from)?, temp(to)?);
    let result = (|| {
        ui::diff::write_external(report, &from_dir, &to_dir)
            .map_err(|e| CommandError::failed(format!("cannot write the files to compare: {e}")))?;
        let mut words = program.split(' ');
        let name = words.next().unwrap_or_default();
        let extra = words.filter(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '=')
        });
        let status = Command::new(name)
            .arg(&from_dir)
            .arg(&to_dir)
            .args(extra)
            .status()
            .map_err(|e| CommandError::bad_input(format!("failed to run {name:?}: {e}")))?;
        match status.code() {
            Some(code @ (0 | 1)) => Ok(code as u8),
            other => Err(CommandError::bad_input(format!(
                "{name:?} failed ({})",
                other.map_or("killed by a signal".to_string(), |c| format!("exit {c}"))
            ))),
        }
    })();
    let _ = std::fs::remove_dir_all(&from_dir);
    let _ = std::fs::remove_dir_all(&to_dir);
    result
}
