//! `kubectl waves status`: the live state of every object of the plan, per step, with the
//! object that blocks the rollout and why; `--watch` redraws on every change.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::cluster::{cluster_error, interrupted};
use super::{CommandError, CommandResult, ErrorKind, GlobalArgs, InputArgs, exit};
use crate::check;
use crate::cluster::Cluster;
use crate::health::HealthConfig;
use crate::manifest;
use crate::plan::{Plan, PlanOptions};
use crate::status::StatusReport;
use crate::status::watch::LivePlan;
use crate::ui::{self, OutputFormat};

/// Log lines of the blocking pod shown with `--details`, as `sync` shows for a failure.
const LOG_LINES: i64 = 20;

/// Changes are gathered this long before a redraw (a rollout changes many objects at once).
const SETTLE: Duration = Duration::from_millis(200);

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  kubectl waves status fixtures/shop                  # a table per step; the blocker marked '>'
  kubectl waves status deploy/ -n shop --details      # plus the blocking pod's events and logs
  kubectl waves status deploy/ --watch                # redraw on every change; exit 0 once healthy
  kubectl waves status deploy/ -o json                # one document (docs/status.md)

Exit codes: 0 every step done (healthy); 1 otherwise; 2 bad input or a cluster error;
130 Ctrl-C during --watch.")]
pub struct StatusArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Accept values Argo CD silently ignores, as `plan --lenient`.
    #[arg(long)]
    pub lenient: bool,
    /// Show the blocking pod's recent events and last log lines.
    #[arg(long)]
    pub details: bool,
    /// Redraw whenever a watched object changes; end when every step is done (exit 0).
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// An argocd-cm ConfigMap (YAML) with resource.customizations health checks in Lua.
    #[arg(long, value_name = "FILE")]
    pub health_config: Option<PathBuf>,
    /// Do not read custom health checks from the cluster's argocd/argocd-cm.
    #[arg(long)]
    pub no_cluster_health_config: bool,
    /// Argo CD's exact behaviour for argoproj.io/Application objects: no built-in health
    /// check (as `sync --no-application-health`).
    #[arg(long)]
    pub no_application_health: bool,
    /// A folder laid out as Argo CD's resource_customizations (<group>/<Kind>/health.lua,
    /// `_` for `*` in folder names): its health checks, after the argocd-cm ones.
    #[arg(long, value_name = "DIR")]
    pub resource_customizations: Option<PathBuf>,
}

pub fn run(args: &StatusArgs, global: &GlobalArgs) -> CommandResult {
    let input =
        super::cluster::with_helm_capabilities(args.input.input(global)?, global, "changed")?;
    let checked = check::check(
        manifest::load(&input),
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
        return Err(super::rejected_input(
            &checked.diagnostics,
            "was read from the cluster",
        ));
    }
    let plan = checked.plan;
    if plan.steps.is_empty() && plan.sync_fail.is_empty() {
        eprintln!("No resources found.");
        return Ok(exit::OK);
    }
    let file_health = super::cluster::read_health_file(args.health_config.as_deref())?;
    let runtime = super::cluster::runtime()?;
    let code = runtime.block_on(status_main(args, global, &plan, file_health));
    // The process ends right after; do not wait for watch tasks to notice.
    runtime.shutdown_background();
    code
}

async fn status_main(
    args: &StatusArgs,
    global: &GlobalArgs,
    plan: &Plan,
    file_health: Option<HealthConfig>,
) -> CommandResult {
    let cluster = super::cluster::connect(global, "changed").await?;
    let (health, _) = super::cluster::health_config(
        &cluster,
        file_health.zip(args.health_config.as_deref()),
        args.no_cluster_health_config,
        "changed",
    )
    .await?;
    let mut health = super::cluster::with_tree(health, args.resource_customizations.as_deref())?;
    if args.no_application_health {
        health = health.without_application_health();
    }
    let live = LivePlan::start(&cluster, plan)
        .await
        .map_err(|e| cluster_error(&e, "changed"))?;

    if !args.watch {
        let report = report(args, &cluster, &live, plan, &health).await;
        super::print(|out| match global.output {
            OutputFormat::Text => out.write_all(ui::status::render(&report).as_bytes()),
            format => ui::write_data(out, format, &report),
        })?;
        return Ok(if report.healthy {
            exit::OK
        } else {
            exit::FAILED
        });
    }

    let (cancel_tx, mut cancel) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        interrupted().await;
        let _ = cancel_tx.send(true);
    });
    let mut changes = live.store.subscribe();
    let redraw = global.output == OutputFormat::Text && std::io::stdout().is_terminal();
    let mut last: Option<StatusReport> = None;
    loop {
        changes.borrow_and_update();
        let report = report(args, &cluster, &live, plan, &health).await;
        if last.as_ref() != Some(&report) {
            super::print(|out| match global.output {
                OutputFormat::Text if redraw => {
                    out.write_all(b"\x1b[H\x1b[2J")?;
                    out.write_all(ui::status::render(&report).as_bytes())
                }
                OutputFormat::Text => {
                    if last.is_some() {
                        out.write_all(b"\n")?;
                    }
                    out.write_all(ui::status::render(&report).as_bytes())
                }
                // One document per line, so a script can read the changes as they come.
                OutputFormat::Json => {
                    serde_json::to_writer(&mut *out, &report).map_err(std::io::Error::other)?;
                    out.write_all(b"\n")
                }
                OutputFormat::Yaml => {
                    out.write_all(b"---\n")?;
                    ui::write_data(out, OutputFormat::Yaml, &report)
                }
            })?;
        }
        if report.healthy {
            return Ok(exit::OK);
        }
        last = Some(report);
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return Err(CommandError::failed("the watches stopped"));
                }
            }
            _ = cancel.wait_for(|c| *c) => {
                return Err(CommandError::reported(ErrorKind::Interrupted));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(SETTLE) => {}
            _ = cancel.wait_for(|c| *c) => {
                return Err(CommandError::reported(ErrorKind::Interrupted));
            }
        }
    }
}

async fn report(
    args: &StatusArgs,
    cluster: &Cluster,
    live: &LivePlan,
    plan: &Plan,
    health: &HealthConfig,
) -> StatusReport {
    let mut report = live.report(plan, health);
    live.explain_missing_inputs(cluster, plan, &mut report)
        .await;
    if args.details {
        live.add_details(cluster, &mut report, LOG_LINES).await;
    }
    report
}
