//! `kubectl waves gc`: list leftover hook objects (ours, Argo CD's, Helm's) and what would be
//! done with each; delete them with `--yes`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;

use super::{CommandError, CommandResult, ErrorKind, GlobalArgs, exit};
use crate::cluster::{Cluster, ResolvedKind};
use crate::gc::run::{self, Scope};
use crate::gc::{self, Selection, StateFilter};
use crate::health::HealthConfig;
use crate::ui::{self, OutputFormat};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  kubectl waves gc -n shop                         # leftover hooks and what --yes would do
  kubectl waves gc -A --yes                        # delete finished leftovers everywhere
  kubectl waves gc -n shop --state failed --keep-last 0 --logs ./hook-logs --yes
  kubectl waves gc -n shop --older-than 7d --kind Job,Secret -o json

Nothing is deleted without --yes. Never touched: objects that are not hooks, hooks annotated
only Skip or crd-install, helm.sh/resource-policy: keep, pods of a Job (they go with it), and
finalizers other than argocd.argoproj.io/hook-finalizer.

Exit codes: 0 ok; 1 a deletion failed (each is reported); 2 bad input or a cluster error.")]
pub struct GcArgs {
    /// Look in every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Only objects matching this label selector (as kubectl's -l).
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Kinds to look at, instead of Jobs, Pods and Argo Workflows (`Secret`, `jobs`,
    /// `Workflow.argoproj.io`). Repeatable, or comma-separated.
    #[arg(long, value_name = "KIND", value_delimiter = ',')]
    pub kind: Vec<String>,
    /// Which hooks are deleted: `finished` (succeeded or failed), `succeeded`, `failed`,
    /// `running`, `all`.
    #[arg(long, value_enum, default_value_t = StateFilter::Finished, value_name = "STATE")]
    pub state: StateFilter,
    /// Only hooks created at least this long ago (`30m`, `12h`, `7d`).
    #[arg(long, value_name = "DURATION", value_parser = parse_older_than)]
    pub older_than: Option<Duration>,
    /// Keep the newest N runs of each hook (default: keep the newest failed run of each).
    #[arg(long, value_name = "N")]
    pub keep_last: Option<usize>,
    /// Delete (and remove Argo CD's hook finalizer where allowed). Without it, nothing changes.
    #[arg(long)]
    pub yes: bool,
    /// Remove argocd.argoproj.io/hook-finalizer from finished hooks even when their Argo CD
    /// Application cannot be read (never while it runs an operation; never another finalizer).
    #[arg(long)]
    pub remove_finalizers: bool,
    /// Before deleting a failed hook, save its pods' logs and events under DIR.
    #[arg(long, value_name = "DIR", requires = "yes")]
    pub logs: Option<PathBuf>,
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
}

fn parse_older_than(text: &str) -> Result<Duration, String> {
    gc::parse_age(text)
        .ok_or_else(|| format!("{text:?} is not a duration (e.g. 90s, 30m, 12h, 7d, 1d12h)"))
}

pub fn run(args: &GcArgs, global: &GlobalArgs) -> CommandResult {
    let file_health = super::cluster::read_health_file(args.health_config.as_deref())?;
    // A bad folder is bad input before the cluster is contacted.
    super::cluster::lint_health(None, args.resource_customizations.as_deref())?;
    if let Some(dir) = &args.logs
        && dir.exists()
        && !dir.is_dir()
    {
        return Err(CommandError::bad_input(format!(
            "--logs {}: not a directory; nothing was deleted",
            dir.display()
        )));
    }
    let runtime = super::cluster::runtime()?;
    let code = runtime.block_on(gc_main(args, global, file_health));
    runtime.shutdown_background();
    code
}

async fn gc_main(
    args: &GcArgs,
    global: &GlobalArgs,
    file_health: Option<HealthConfig>,
) -> CommandResult {
    let cluster = super::cluster::connect(global, "deleted").await?;
    let (health, _) = super::cluster::health_config(
        &cluster,
        file_health.zip(args.health_config.as_deref()),
        args.no_cluster_health_config,
        "deleted",
    )
    .await?;
    let health = super::cluster::with_tree(health, args.resource_customizations.as_deref())?;
    let kinds = if args.kind.is_empty() {
        run::default_kinds(&cluster).await
    } else {
        let mut kinds: Vec<ResolvedKind> = Vec::new();
        for word in args.kind.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
            let kind = resolve_kind(&cluster, word).await?;
            if !kinds.iter().any(|k| {
                k.resource.api_version == kind.resource.api_version
                    && k.resource.kind == kind.resource.kind
            }) {
                kinds.push(kind);
            }
        }
        kinds
    };
    let scope = Scope {
        namespace: (!args.all_namespaces).then(|| cluster.default_namespace.clone()),
        selector: args.selector.clone(),
        kinds,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut findings = run::find(&cluster, &scope, &health, now)
        .await
        .map_err(|e| super::cluster::cluster_error(&e, "deleted"))?;
    let apps = if findings.leftovers.iter().any(|l| l.hook_finalizer) {
        run::applications(&cluster).await
    } else {
        gc::Applications::Unreadable
    };
    let selection = Selection {
        state: args.state,
        older_than: args.older_than,
        keep_last: args.keep_last,
        remove_finalizers: args.remove_finalizers,
    };
    gc::decide(&mut findings.leftovers, &selection, &apps);

    let mut failed = 0;
    if args.yes {
        failed = run::clean(&cluster, &mut findings.leftovers, args.logs.as_deref()).await;
    }
    let leftovers = &findings.leftovers;
    match global.output {
        OutputFormat::Text => {
            for p in &findings.protected {
                eprintln!("note: never touched: {p}");
            }
            if leftovers.is_empty() {
                match &scope.namespace {
                    Some(ns) => eprintln!("No leftover hook objects found in {ns} namespace."),
                    None => eprintln!("No leftover hook objects found."),
                }
            } else {
                let text = ui::gc::table(leftovers, args.all_namespaces, args.yes);
                super::print(|out| out.write_all(text.as_bytes()))?;
                eprintln!("{}", ui::gc::summary(leftovers, args.yes, failed));
            }
        }
        format => {
            let doc = ui::gc::GcDocument {
                deleted: args.yes,
                items: leftovers,
                protected: &findings.protected,
            };
            super::print(|out| ui::write_data(out, format, &doc))?;
        }
    }
    for l in leftovers {
        if let Some(e) = l.result.as_deref().and_then(|r| r.strip_prefix("failed: ")) {
            super::report_error(format!("{}: {e}", l.display_name()));
        }
    }
    if failed > 0 {
        return Err(CommandError::new(
            ErrorKind::Failed,
            format!(
                "{failed} deletion{} failed",
                if failed == 1 { "" } else { "s" }
            ),
        ));
    }
    Ok(exit::OK)
}

/// `--kind WORD` → the kind the cluster serves; the core group wins a tie, as kubectl.
async fn resolve_kind(cluster: &Cluster, word: &str) -> Result<ResolvedKind, CommandError> {
    let found = cluster.find_kinds(word).await;
    match found.as_slice() {
        [] => Err(CommandError::bad_input(format!(
            "--kind {word}: the cluster serves no such kind; nothing was deleted"
        ))
        .hint("kubectl api-resources lists the kinds")),
        [one] => Ok(one.clone()),
        [first, ..] if first.resource.group.is_empty() => Ok(first.clone()),
        several => Err(CommandError::bad_input(format!(
            "--kind {word} is ambiguous: {}; nothing was deleted",
            several
                .iter()
                .map(|k| format!("{}.{}", k.resource.kind, k.resource.group))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
