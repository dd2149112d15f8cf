//! Command-line interface: flags into option structs, then one library call per subcommand.
//! One file per subcommand, each thin.

mod annotate;
mod app;
mod cluster;
pub mod complete;
mod diff;
mod error;
mod gc;
mod health;
pub mod man;
mod plan;
mod status;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::diagnostics::{Diagnostic, Severity};
use crate::manifest::Input;
use crate::manifest::app::Application;
use crate::manifest::render::{RenderOptions, SourceType};
use crate::ui::{self, OutputFormat};
pub use error::{CommandError, CommandResult, ErrorKind, report_error, report_warning};

/// Exit codes shared by the subcommands (SPEC §7); [`ErrorKind::exit_code`] maps errors to them.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const BAD_INPUT: u8 = 2;
    pub const LINT_ERRORS: u8 = 3;
    pub const INTERRUPTED: u8 = 130;
}

/// Argo CD sync waves and hooks, run from kubectl.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-waves",
    bin_name = "kubectl waves",
    version = crate::version::LONG,
    about = "Argo CD sync waves and hooks, run from kubectl: plan, sync, diff, annotate, gc",
    long_about = "Runs the order of argocd.argoproj.io/sync-wave and hook annotations exactly as Argo CD does, \
from a laptop or CI: explain it (plan), infer it (annotate), apply it (sync), compare it (diff) and clean up after it (gc).",
    after_help = "Exit codes: 0 ok; 1 sync failed / diff found changes / status unhealthy; 2 bad input; 3 lint errors with --strict; 130 interrupted."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand accepts, as kubectl spells them.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file.
    #[arg(long, global = true, env = "KUBECONFIG", hide_env_values = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Namespace for objects without one.
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Never colour the output (NO_COLOR is honoured too).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// The most read from any one input file or stream (stdin, --health-config, a Git blob),
    /// e.g. 512Mi or 2Gi. Larger input is refused (exit 2) rather than read until memory runs out.
    #[arg(long, global = true, value_name = "SIZE", env = "KUBECTL_WAVES_MAX_INPUT_SIZE",
          default_value = "256Mi", value_parser = crate::manifest::read::parse_size)]
    pub max_input_size: u64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the ordered steps, hooks, skipped objects and lint, offline.
    Plan(plan::PlanArgs),
    /// Apply the plan to the cluster, wave by wave, waiting on health between steps.
    Sync(sync::SyncArgs),
    /// What each step will change: manifests against the cluster, or two Git revisions.
    Diff(diff::DiffArgs),
    /// Infer dependencies from references and suggest (or write) sync waves.
    Annotate(annotate::AnnotateArgs),
    /// List leftover hook Jobs and Pods (ours, Argo CD's, Helm's); delete them with --yes.
    Gc(gc::GcArgs),
    /// Live health per step in execution order, naming the object that blocks and why.
    Status(status::StatusArgs),
    /// Assess the health of objects given as YAML, as sync would (tests custom Lua checks).
    Health(health::HealthArgs),
    /// Print a shell completion script for the standalone `kubectl-waves` command.
    #[command(after_help = "Examples:
  kubectl-waves completion bash > /etc/bash_completion.d/kubectl-waves   # kubectl-waves <TAB>
  kubectl-waves completion zsh > \"${fpath[1]}/_kubectl-waves\"
  ln -s kubectl-waves \"$(dirname \"$(command -v kubectl-waves)\")/kubectl_complete-waves\"

`kubectl waves <TAB>` needs no script: kubectl 1.26 or later runs kubectl_complete-waves, which is
this binary under that name (the symlink above; a copy on Windows).")]
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (one per subcommand) into a directory (used by scripts/release).
    #[command(hide = true)]
    Man {
        /// Where to write `kubectl-waves*.1`.
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
    },
}

/// Where manifests come from: positional paths, `-f`, or a Git revision.
#[derive(Debug, Args, Clone, Default)]
pub struct InputArgs {
    /// Manifest files or directories (recursive). `-` reads stdin.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Manifest file or directory, as kubectl's -f; `-f -` reads stdin. Repeatable.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub filenames: Vec<PathBuf>,
    /// Read the manifests from this Git revision (commit, branch, tag) instead of the files.
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,
    /// The Git repository for --revision (default: the current directory).
    #[arg(long, value_name = "DIR", requires = "revision")]
    pub repo: Option<PathBuf>,
    /// Subdirectory of the repository to read with --revision.
    #[arg(long, value_name = "SUBDIR", requires = "revision")]
    pub path: Option<String>,
    /// How the app folder becomes manifests (default: detected as Argo CD does: a
    /// kustomization file → kustomize, a Chart.yaml → helm, else directory).
    #[arg(long, value_enum, value_name = "TYPE")]
    pub source_type: Option<SourceType>,
    /// Extra options for `kustomize build`, as Argo CD's kustomize.buildOptions.
    #[arg(long, value_name = "OPTIONS", allow_hyphen_values = true)]
    pub kustomize_build_options: Option<String>,
    /// `helm template --values FILE` (repeatable).
    #[arg(long, value_name = "FILE")]
    pub helm_values: Vec<PathBuf>,
    /// `helm template --set KEY=VALUE` (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub helm_set: Vec<String>,
    /// Helm's release name (default: the chart folder's name; Argo CD uses the Application's).
    #[arg(long, value_name = "NAME")]
    pub release_name: Option<String>,
    /// An Argo CD Application: a YAML file, or the NAME of one in the cluster (--app-namespace).
    /// Its sources (Git at targetRevision, Kustomize, Helm), destination namespace, sync
    /// options and ignoreDifferences drive the run (docs/sources.md).
    #[arg(long, value_name = "FILE|NAME", conflicts_with_all = [
        "paths", "filenames", "revision", "source_type", "kustomize_build_options",
        "helm_values", "helm_set", "release_name", "helm_skip_crds",
    ])]
    pub app: Option<String>,
    /// Where `--app NAME` is read from in the cluster.
    #[arg(long, value_name = "NAMESPACE", default_value = "argocd")]
    pub app_namespace: String,
    /// The Application `--app` names, read once before the subcommand runs.
    #[arg(skip)]
    pub application: Option<Arc<Application>>,
    /// Leave the chart's `crds/` out of `helm template` (Argo CD's `helm.skipCrds`; by default
    /// they are rendered with `--include-crds`, as Argo CD does).
    #[arg(long)]
    pub helm_skip_crds: bool,
}

impl InputArgs {
    /// The input to load; a bad-input error for contradictory flags.
    pub fn input(&self, global: &GlobalArgs) -> Result<Input, CommandError> {
        if let Some(app) = &self.application {
            return Ok(Input::App {
                app: app.clone(),
                context: crate::manifest::app::ReadContext {
                    namespace: global.namespace.clone(),
                    ..Default::default()
                },
            });
        }
        let input = self.input_or_message().map_err(CommandError::bad_input)?;
        self.rendered(input, global)
            .map_err(CommandError::bad_input)
    }

    /// A single app folder that is a Kustomize or Helm app (detected, or `--source-type`)
    /// becomes a rendered input.
    fn rendered(&self, input: Input, global: &GlobalArgs) -> Result<Input, String> {
        let renders = self.kustomize_build_options.is_some()
            || !self.helm_values.is_empty()
            || !self.helm_set.is_empty()
            || self.release_name.is_some()
            || self.helm_skip_crds;
        let options = || RenderOptions {
            release_name: self.release_name.clone(),
            namespace: global.namespace.clone(),
            kustomize_build_options: self
                .kustomize_build_options
                .as_deref()
                .map(|o| o.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            helm_values: self.helm_values.clone(),
            helm_set: self.helm_set.clone(),
            helm_skip_crds: self.helm_skip_crds,
            ..RenderOptions::default()
        };
        let dir = match input {
            Input::Paths(paths) if paths.len() == 1 && paths[0].is_dir() => paths[0].clone(),
            // A Kustomize or Helm app at a Git revision is rendered when read. Its type is
            // detected once, here: `plan`'s source line, the cluster's Helm capabilities and
            // the read all ask for it.
            Input::Git {
                repo,
                revision,
                path,
                source_type,
                ..
            } => {
                let source_type = source_type.or_else(|| {
                    crate::manifest::app::git_source_type(&repo, &revision, path.as_deref())
                });
                return Ok(Input::Git {
                    repo,
                    revision,
                    path,
                    source_type,
                    options: Box::new(options()),
                });
            }
            _ if self.source_type.is_some_and(|t| t != SourceType::Directory) || renders => {
                return Err(
                    "--source-type, --kustomize-build-options and the Helm flags need exactly one app folder or --revision (not files or stdin)"
                        .into(),
                );
            }
            other => return Ok(other),
        };
        let source = self
            .source_type
            .unwrap_or_else(|| crate::manifest::render::detect(&dir));
        if source == SourceType::Directory {
            return Ok(Input::Paths(vec![dir]));
        }
        Ok(Input::Rendered {
            dir,
            source,
            options: Box::new(options()),
        })
    }

    fn input_or_message(&self) -> Result<Input, String> {
        let mut paths: Vec<PathBuf> = self.paths.iter().chain(&self.filenames).cloned().collect();
        if let Some(revision) = &self.revision {
            if !paths.is_empty() {
                return Err("--revision reads the manifests from Git: give the directory with --path, not as a PATH".into());
            }
            let repo = self.repo.clone().unwrap_or_else(|| PathBuf::from("."));
            return Ok(Input::Git {
                repo,
                revision: revision.clone(),
                path: self.path.clone(),
                source_type: self.source_type,
                options: Box::default(),
            });
        }
        let stdin = paths.iter().any(|p| p.as_os_str() == "-");
        if stdin {
            if paths.len() > 1 {
                return Err("`-` (stdin) cannot be combined with other paths".into());
            }
            return Ok(Input::Stdin);
        }
        if paths.is_empty() {
            paths.push(PathBuf::from("."));
        }
        Ok(Input::Paths(paths))
    }
}

/// Parses the command line and runs the subcommand.
pub fn main() -> ExitCode {
    // kubectl (>= 1.26) completes `kubectl waves …` by running `kubectl_complete-waves …`.
    // args_os: a path that is not UTF-8 must reach clap's error, not panic here.
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let called_as = args
        .first()
        .and_then(|p| std::path::Path::new(p).file_stem())
        .map(|s| s.to_string_lossy().into_owned());
    if called_as.as_deref() == Some("kubectl_complete-waves") {
        return complete::run(&args[1..]);
    }
    if args.get(1).map(String::as_str) == Some("__complete") {
        return complete::run(&args[2..]);
    }
    let mut cli = Cli::parse();
    crate::ui::init_color(cli.global.no_color);
    crate::manifest::read::set_max_input_bytes(cli.global.max_input_size);
    if let Err(e) = app::prepare(&mut cli) {
        return ExitCode::from(error::finish(Err(e)));
    }
    let result = match &cli.command {
        Command::Plan(args) => plan::run(args, &cli.global),
        Command::Annotate(args) => annotate::run(args, &cli.global),
        Command::Sync(args) => sync::run(args, &cli.global),
        Command::Diff(args) => diff::run(args, &cli.global),
        Command::Gc(args) => gc::run(args, &cli.global),
        Command::Status(args) => status::run(args, &cli.global),
        Command::Health(args) => health::run(args, &cli.global),
        Command::Completion { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "kubectl-waves", &mut std::io::stdout());
            Ok(exit::OK)
        }
        Command::Man { out_dir } => man::write_pages(out_dir).map(|_| exit::OK).map_err(|e| {
            CommandError::failed(format!(
                "cannot write man pages to {}: {e}",
                out_dir.display()
            ))
        }),
    };
    ExitCode::from(error::finish(result))
}

/// Writes a result to stdout through one buffer (pretty JSON would otherwise cost a write
/// call per line); a closed pipe (`| head`) is not an error.
pub fn print(
    f: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), CommandError> {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    match f(&mut out).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CommandError::failed(format!("cannot write output: {e}"))),
    }
}

/// Input with errors: prints its diagnostics and returns the error that ends the command,
/// `N problems in the input; nothing <done>` (exit 2).
pub fn rejected_input(diagnostics: &[Diagnostic], done: &str) -> CommandError {
    ui::print_diagnostics(diagnostics);
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    CommandError::bad_input(format!(
        "{errors} problem{} in the input; nothing {done}",
        if errors == 1 { "" } else { "s" }
    ))
}
