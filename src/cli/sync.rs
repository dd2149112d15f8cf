//! `kubectl waves sync`: apply the plan to the cluster, wave by wave, waiting on health.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgAction, Args, ValueEnum};

use super::{CommandError, CommandResult, ErrorKind, GlobalArgs, InputArgs, exit};
use crate::check;
use crate::cluster::Propagation;
use crate::cluster::applyset::ApplySet;
use crate::health::HealthConfig;
use crate::manifest;
use crate::model::annotations::parse_duration;
use crate::plan::graph::{self, Order};
use crate::plan::{Plan, PlanOptions};
use crate::sync::{Outcome, SyncOptions};
use crate::ui::{self, OutputFormat, sync::Progress, sync::SyncRenderer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    /// Ask the server to validate every object (admission, schema, conflicts); write nothing.
    Server,
    /// Offline: the same as `kubectl waves plan`.
    Client,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  kubectl waves sync fixtures/shop                       # live view on a terminal, lines in CI
  kubectl waves sync deploy/ -n shop --create-namespace  # objects without a namespace go to shop
  kubectl waves sync deploy/ --dry-run=server            # the apiserver validates; nothing written
  helm template ./chart | kubectl waves sync -f - -o json   # one JSON event per line (docs/sync.md)
  kubectl waves sync deploy/ --timeout 10m --wave-timeout 2m
  kubectl waves sync deploy/ --server-side=false         # Argo CD's default client-side apply
  kubectl waves sync deploy/ --prune                     # delete what left deploy/
  kubectl waves sync - --applyset shop --prune < all.yaml
  kubectl waves sync deploy/ --metrics-file /var/lib/node_exporter/textfile/waves.prom
  kubectl waves sync deploy/ --order graph               # by dependencies, not waves

Exit codes: 0 synced; 1 the sync failed (a Degraded object, a failed hook, a rejected apply or
dry run, a deadline); 2 bad input, or the cluster unreachable or forbidden before any change;
130 interrupted (Ctrl-C / SIGTERM; a second Ctrl-C exits at once).")]
pub struct SyncArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Accept values Argo CD silently ignores (with a warning) and behave exactly as Argo CD.
    #[arg(long)]
    pub lenient: bool,
    /// Server-side apply (default). `--server-side=false` uses client-side apply, Argo CD's default.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub server_side: Option<bool>,
    /// Fail on a field owned by another manager (naming it) instead of taking it over.
    #[arg(long)]
    pub no_force_conflicts: bool,
    /// `server`: validate everything with the apiserver and change nothing; `client`: as `plan`.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "server", value_name = "MODE")]
    pub dry_run: Option<DryRun>,
    /// Wait for the last step to become healthy (default). `--wait=false` returns after its apply.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true", value_name = "BOOL")]
    pub wait: bool,
    /// Deadline for the whole sync (`0` for none).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Deadline for each step (default: none, only --timeout).
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub wave_timeout: Option<Duration>,
    /// Create the destination namespace (-n) before its first user, as Argo CD's CreateNamespace=true.
    #[arg(long)]
    pub create_namespace: bool,
    /// On Ctrl-C, leave running hooks in the cluster (listed) instead of deleting them.
    #[arg(long)]
    pub keep_running_hooks: bool,
    /// An argocd-cm ConfigMap (YAML) with resource.customizations health checks in Lua.
    #[arg(long, value_name = "FILE")]
    pub health_config: Option<PathBuf>,
    /// Do not read custom health checks from the cluster's argocd/argocd-cm.
    #[arg(long)]
    pub no_cluster_health_config: bool,
    /// A folder laid out as Argo CD's resource_customizations (<group>/<Kind>/health.lua,
    /// `_` for `*` in folder names): its health checks, after the argocd-cm ones.
    #[arg(long, value_name = "DIR")]
    pub resource_customizations: Option<PathBuf>,
    /// Objects of one kind group applied at once.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub concurrency: usize,
    /// Delete objects of the inventory that are no longer in the manifests (SPEC §4 order).
    #[arg(long)]
    pub prune: bool,
    /// The app's inventory: an ApplySet parent Secret NAME in the destination namespace
    /// (default: the base name of the first path; none for stdin unless given).
    #[arg(long, value_name = "NAME")]
    pub applyset: Option<String>,
    /// Also prune objects annotated Prune=confirm.
    #[arg(long, requires = "prune")]
    pub confirm_prune: bool,
    /// Prune everything in the extra step after the last Sync wave (Argo CD's PruneLast=true).
    #[arg(long, requires = "prune")]
    pub prune_last: bool,
    /// Write only objects the server-side dry run finds different from the live ones
    /// (Argo CD's ApplyOutOfSyncOnly=true); the others are still awaited.
    #[arg(long)]
    pub apply_out_of_sync_only: bool,
    /// Refuse (before any change) objects that belong to another ApplySet or Argo CD application.
    #[arg(long)]
    pub fail_on_shared_resource: bool,
    /// Argo CD ignoreDifferences rules (a list, a mapping with `ignoreDifferences`, or an
    /// Application), for --respect-ignore-differences.
    #[arg(long, value_name = "FILE", requires = "respect_ignore_differences")]
    pub ignore_differences: Option<PathBuf>,
    /// Argo CD's RespectIgnoreDifferences=true: fields the rules ignore keep their live
    /// values (a sync does not revert an autoscaler's replicas).
    #[arg(long, requires = "ignore_differences")]
    pub respect_ignore_differences: bool,
    /// How pruned objects' dependents are deleted.
    #[arg(long, value_enum, value_name = "POLICY")]
    pub prune_propagation: Option<Propagation>,
    /// `waves`: Argo CD's total order (default). `graph`: inside the Sync phase each object
    /// starts as soon as its own dependencies are done (docs/graph-order.md).
    #[arg(long, value_enum, default_value_t = Order::Waves, value_name = "ORDER")]
    pub order: Order,
    /// With --order graph: keep every Sync wave as a barrier, graph order inside a wave.
    #[arg(long)]
    pub respect_waves: bool,
    /// Argo CD's exact behaviour for argoproj.io/Application objects: no built-in health
    /// check (a wave does not wait for a child app to be Synced and Healthy).
    #[arg(long)]
    pub no_application_health: bool,
    /// Write the result of this sync as Prometheus gauges to FILE (atomically), for
    /// node_exporter's textfile collector or a Pushgateway; labelled with the inventory name.
    #[arg(long, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,
}

/// The inventory's default name: the base name of the first path (or of `--path` in Git),
/// made a valid object name; `None` for stdin.
pub(super) fn default_applyset_name(input: &crate::manifest::Input) -> Option<String> {
    use crate::manifest::Input;
    let base = match input {
        Input::Stdin => return None,
        Input::App { app, .. } => app.name.clone(),
        Input::Rendered { dir, .. } => std::fs::canonicalize(dir)
            .unwrap_or_else(|_| dir.clone())
            .file_name()?
            .to_string_lossy()
            .into_owned(),
        Input::Paths(paths) => {
            let first = paths.first()?;
            let full = std::fs::canonicalize(first).unwrap_or_else(|_| first.clone());
            let name = if full.is_file() {
                full.file_stem()
            } else {
                full.file_name()
            };
            name?.to_string_lossy().into_owned()
        }
        Input::Git { repo, path, .. } => match path.as_deref().map(|p| p.trim_end_matches('/')) {
            Some(p) if !p.is_empty() => p.rsplit('/').next()?.to_string(),
            _ => std::fs::canonicalize(repo)
                .ok()?
                .file_name()?
                .to_string_lossy()
                .into_owned(),
        },
    };
    let name: String = base
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name
        .trim_matches(|c: char| c == '-' || c == '.')
        .to_string();
    (!name.is_empty()).then(|| name.chars().take(253).collect())
}

/// `--metrics-file`: its directory must exist before anything is changed (bad input otherwise).
fn check_metrics_file(file: &std::path::Path) -> Result<(), CommandError> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if file.file_name().is_none() || file.is_dir() {
        return Err(CommandError::bad_input(format!(
            "--metrics-file {}: not a file name; nothing was changed",
            file.display()
        )));
    }
    if !dir.is_dir() {
        return Err(CommandError::bad_input(format!(
            "--metrics-file {}: directory {} does not exist; nothing was changed",
            file.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// The graph order of `plan`; a dependency cycle is bad input (exit 2), before any change.
pub(super) fn graph_plan(
    plan: Plan,
    resolved: &crate::infer::Resolved,
    respect_waves: bool,
) -> Result<(Plan, Option<graph::Schedule>), CommandError> {
    match graph::build(plan, resolved, respect_waves) {
        Ok(gp) => {
            for edge in &gp.dropped {
                eprintln!(
                    "note: --order graph: {edge} not followed (a DNS name only; the two reach each other)"
                );
            }
            Ok((gp.plan, Some(gp.schedule)))
        }
        Err(e) => Err(CommandError::bad_input(format!(
            "{}: {e}\nnothing was changed",
            e.source_
        ))
        .hint("break the cycle (a depends-on annotation or a reference), or sync with --order waves")),
    }
}

/// A deadline flag; `0` (zero) means none.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration (e.g. 90s, 5m, 1h30m, or 0 for none)"))
}

pub fn run(args: &SyncArgs, global: &GlobalArgs) -> CommandResult {
    let mut input = args.input.input(global)?;
    if args.dry_run != Some(DryRun::Client) {
        input = super::cluster::with_helm_capabilities(input, global, "changed")?;
    }
    let app = super::app::AppSettings::of(&args.input)?;
    let applyset_name = args
        .applyset
        .clone()
        .or_else(|| default_applyset_name(&input));
    if args.prune && applyset_name.is_none() {
        return Err(CommandError::bad_input(
            "--prune needs an inventory name when the manifests come from stdin; nothing was changed",
        )
        .hint("pass --applyset NAME (the same name on every sync of this app)"));
    }
    let mut loaded = manifest::load(&input);
    super::app::apply_resource_options(&args.input, &mut loaded.objects);
    let checked = check::check(
        loaded,
        PlanOptions {
            lenient: args.lenient,
            destination_namespace: global.namespace.clone(),
            health: super::cluster::lint_health(
                args.health_config.as_deref(),
                args.resource_customizations.as_deref(),
            )?,
        },
    );
    if checked.has_input_errors() {
        return Err(super::rejected_input(&checked.diagnostics, "was changed"));
    }
    if args.dry_run == Some(DryRun::Client) && args.order == Order::Graph {
        // Offline, as `plan --order graph`: the order this sync would use.
        let plan_args = super::plan::PlanArgs {
            input: args.input.clone(),
            lenient: args.lenient,
            strict: false,
            health_config: None,
            resource_customizations: None,
            order: Order::Graph,
            respect_waves: args.respect_waves,
            estimate: None,
            graph: None,
        };
        return super::plan::run_graph(&plan_args, global, checked);
    }
    if args.dry_run == Some(DryRun::Client) {
        super::print(|out| match global.output {
            OutputFormat::Text => out.write_all(super::plan::render_text(&checked).as_bytes()),
            format => ui::write_data(out, format, &checked.document()),
        })?;
        return Ok(exit::OK);
    }
    if global.output == OutputFormat::Yaml {
        return Err(CommandError::bad_input(
            "sync prints its events as JSON lines: use -o json, or the default text",
        ));
    }
    if args.respect_waves && args.order != Order::Graph {
        return Err(CommandError::bad_input(
            "--respect-waves only changes --order graph; nothing was changed",
        )
        .hint("pass --order graph --respect-waves, or neither"));
    }
    ui::print_diagnostics(&checked.diagnostics);
    let (plan, schedule) = match args.order {
        Order::Waves => (checked.plan, None),
        Order::Graph => graph_plan(checked.plan, &checked.graph, args.respect_waves)?,
    };
    if plan.steps.is_empty() && plan.sync_fail.is_empty() {
        eprintln!("No resources found.");
        return Ok(exit::OK);
    }
    if let Some(file) = &args.metrics_file {
        check_metrics_file(file)?;
    }
    let file_health = super::cluster::read_health_file(args.health_config.as_deref())?;
    let runtime = super::cluster::runtime()?;
    let code = runtime.block_on(sync_main(
        args,
        global,
        &plan,
        schedule,
        file_health,
        applyset_name,
        app,
    ));
    // The process ends right after; do not wait for watch tasks to notice.
    runtime.shutdown_background();
    code
}

async fn sync_main(
    args: &SyncArgs,
    global: &GlobalArgs,
    plan: &Plan,
    schedule: Option<graph::Schedule>,
    file_health: Option<HealthConfig>,
    applyset_name: Option<String>,
    app: super::app::AppSettings,
) -> CommandResult {
    let cluster = super::cluster::connect(global, "changed").await?;
    let mut renderer = SyncRenderer::new(Progress::detect(global.output == OutputFormat::Json));
    let mut metrics = ui::metrics::SyncMetrics::new();
    let (health, health_source) = super::cluster::health_config(
        &cluster,
        file_health.zip(args.health_config.as_deref()),
        args.no_cluster_health_config,
        "changed",
    )
    .await?;
    let health = super::cluster::with_tree(health, args.resource_customizations.as_deref())?;
    let options = SyncOptions {
        server_side: args.server_side.or(app.server_side).unwrap_or(true),
        force_conflicts: !args.no_force_conflicts,
        dry_run: args.dry_run == Some(DryRun::Server),
        wait: args.wait,
        timeout: Some(args.timeout).filter(|t| !t.is_zero()),
        wave_timeout: args.wave_timeout.filter(|t| !t.is_zero()),
        create_namespace: args.create_namespace || app.create_namespace,
        keep_running_hooks: args.keep_running_hooks,
        concurrency: args.concurrency.max(1),
        health: Arc::new(if args.no_application_health {
            health.without_application_health()
        } else {
            health
        }),
        health_source,
        schedule: schedule.map(Arc::new),
        applyset: applyset_name
            .as_deref()
            .map(|name| ApplySet::new(name, &cluster.default_namespace)),
        prune: args.prune || app.prune,
        confirm_prune: args.confirm_prune,
        prune_last: args.prune_last || app.prune_last,
        prune_propagation: args
            .prune_propagation
            .or(app.prune_propagation)
            .unwrap_or_default(),
        apply_out_of_sync_only: args.apply_out_of_sync_only || app.apply_out_of_sync_only,
        fail_on_shared_resource: args.fail_on_shared_resource || app.fail_on_shared_resource,
        respect_ignore: if args.respect_ignore_differences {
            super::diff::read_ignore_rules(args.ignore_differences.as_deref())?
        } else if app.respect_ignore_differences {
            app.ignore.clone()
        } else {
            Vec::new()
        },
        ..SyncOptions::default()
    };

    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        super::cluster::interrupted().await;
        let _ = cancel_tx.send(true);
        eprintln!("interrupted: stopping after the running applies (Ctrl-C again to exit at once)");
        super::cluster::interrupted().await;
        std::process::exit(exit::INTERRUPTED as i32);
    });

    // Requests stop waiting (and retrying) at the sync's deadline: a hung apiserver cannot
    // hold the sync past --timeout.
    cluster.set_deadline(options.timeout.map(|t| tokio::time::Instant::now() + t));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let engine = crate::sync::run(&cluster, plan, &options, tx, cancel_rx);
    tokio::pin!(engine);
    let result = loop {
        tokio::select! {
            Some(event) = rx.recv() => {
                metrics.event(&event);
                renderer.event(&event);
            }
            result = &mut engine => break result,
        }
    };
    while let Ok(event) = rx.try_recv() {
        metrics.event(&event);
        renderer.event(&event);
    }
    if cluster.retries() > 0 && global.output == OutputFormat::Text {
        eprintln!(
            "{} requests were sent again after transient apiserver errors (429, 5xx, lost connections)",
            cluster.retries()
        );
    }
    let report = match result {
        Ok(r) => r,
        Err(crate::sync::SyncError::Cluster(e)) => {
            return Err(super::cluster::cluster_error(&e, "changed"));
        }
        Err(e @ crate::sync::SyncError::Inventory(_)) => {
            return Err(CommandError::bad_input(format!("{e}; nothing was changed")));
        }
        Err(e) => return Err(CommandError::bad_input(format!("{e}; nothing was changed"))),
    };
    if let Some(file) = &args.metrics_file {
        let app = applyset_name.as_deref().unwrap_or("");
        if let Some(text) = metrics.render(app, std::time::SystemTime::now()) {
            ui::metrics::write_atomically(file, &text).map_err(|e| {
                CommandError::failed(format!(
                    "the sync ended ({}) but --metrics-file {} could not be written: {e}",
                    report.outcome.as_str(),
                    file.display()
                ))
            })?;
        }
    }
    if global.output == OutputFormat::Text {
        let text = ui::sync::summary(
            report.outcome,
            &report.message,
            if options.dry_run { &[] } else { &report.steps },
            report.total_steps,
            report.requests,
            report.duration,
        );
        super::print(|out| out.write_all(text.as_bytes()))?;
    }
    match report.outcome {
        Outcome::Succeeded => Ok(exit::OK),
        Outcome::Failed => Err(CommandError::reported(ErrorKind::Failed)),
        Outcome::Terminated => Err(CommandError::reported(ErrorKind::Interrupted)),
    }
}
