//! `kubectl waves annotate`: infer dependencies and suggest (or write) sync waves.

use std::io::Write;

use clap::{ArgGroup, Args};

use super::{CommandError, CommandResult, ErrorKind, GlobalArgs, InputArgs, exit, report_error};
use crate::annotate::graph::GraphFormat;
use crate::annotate::{self, Annotated, Failure, Options, explain, report, write};
use crate::manifest::Input;
use crate::ui::{self, OutputFormat};

#[derive(Debug, Args)]
#[command(
    group = ArgGroup::new("mode")
        .args(["write", "check", "stdout", "explain", "graph", "krm"])
        .multiple(false),
    after_help = "Examples:
  kubectl waves annotate fixtures/tenant-a             # proposed waves with reasons (table)
  kubectl waves annotate --check deploy/               # exit 1 if any wave would change (CI)
  kubectl waves annotate --write deploy/               # edit the files: only annotations change
  kubectl waves annotate --explain Deployment/tenant-a/frontend fixtures/tenant-a
  kubectl waves annotate --graph mermaid fixtures/shop  # or dot: waves as ranks
  helm template ./chart | kubectl waves annotate -f - --stdout | kubectl apply -f -
  kpt fn eval --exec 'kubectl-waves annotate --krm' deploy/   # as a KRM function\n\nExit codes: 0 ok; 1 --check found changes or a broken dependency, or a file could not be edited; 2 bad input, a dependency cycle, or --write on a dirty Git tree. --krm: 0 ok; 1 bad input or a cycle (the reasons in results[], or on stderr when the input is no ResourceList); 2 a wrong command line."
)]
pub struct AnnotateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Recompute every wave, also the ones already written down.
    #[arg(long)]
    pub rewrite: bool,
    /// Accept values Argo CD silently ignores (with a warning), as `plan --lenient`.
    #[arg(long)]
    pub lenient: bool,
    /// Edit the files in place: only annotation lines change.
    #[arg(long)]
    pub write: bool,
    /// With --write: also edit files that have uncommitted changes in Git.
    #[arg(long, requires = "write")]
    pub allow_dirty: bool,
    /// Exit 1 if anything would change or a dependency is broken (CI, pre-commit).
    #[arg(long)]
    pub check: bool,
    /// Print the annotated manifests as one stream (to pipe into kubectl apply).
    #[arg(long)]
    pub stdout: bool,
    /// Explain the wave of one object: Kind/namespace/name, Kind/name or name.
    #[arg(long, value_name = "OBJECT")]
    pub explain: Option<String>,
    /// Draw the dependency graph with the waves as ranks.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub graph: Option<GraphFormat>,
    /// Run as a KRM function: a ResourceList on stdin, the annotated list on stdout.
    #[arg(long)]
    pub krm: bool,
}

pub fn run(args: &AnnotateArgs, global: &GlobalArgs) -> CommandResult {
    let options = Options {
        rewrite: args.rewrite,
        lenient: args.lenient,
        destination_namespace: global.namespace.clone(),
    };
    if args.krm {
        return krm(args, global.output, options);
    }
    let input = args.input.input(global)?;
    if args.write && !matches!(input, Input::Paths(_)) {
        return Err(CommandError::bad_input(
            "--write edits files in place: give files or directories, not stdin, --revision, --app or a rendered Kustomize/Helm app (--stdout prints the annotated manifests instead)",
        ));
    }
    let a = match annotate::run(&input, options) {
        Ok(a) => a,
        Err(Failure::BadInput(checked)) => {
            return Err(super::rejected_input(&checked.diagnostics, "annotated"));
        }
        Err(Failure::Cycles { checked, cycles }) => {
            ui::print_diagnostics(&checked.diagnostics);
            for c in &cycles {
                report_error(format_args!(
                    "dependency cycle: no order of waves satisfies these references:\n{}",
                    report::render_cycle(&checked.plan.objects, &checked.graph, c).trim_end()
                ));
            }
            return Err(CommandError::bad_input(
                "remove one of the references, or order these objects by hand (a hook phase or explicit waves)",
            ));
        }
    };
    let json = global.output != OutputFormat::Text;
    if !json || args.stdout || args.graph.is_some() {
        ui::print_diagnostics(&a.proposed.diagnostics);
    }
    if let Some(query) = &args.explain {
        let index = annotate::find_object(a.objects(), query).map_err(CommandError::bad_input)?;
        let x = explain::explain(a.objects(), a.graph(), &a.analysis, index);
        super::print(|out| match global.output {
            OutputFormat::Text => out.write_all(explain::render(&x).as_bytes()),
            format => ui::write_data(out, format, &x),
        })?;
        return Ok(exit::OK);
    }
    if let Some(format) = args.graph {
        let text = annotate::graph::render(format, a.objects(), a.graph(), &a.analysis);
        super::print(|out| out.write_all(text.as_bytes()))?;
        return Ok(exit::OK);
    }
    let edits = write::planned_edits(a.objects(), &a.analysis);
    if args.stdout {
        let text = write::annotated_stream(&a.files, &edits).map_err(|(path, e)| {
            CommandError::failed(format!(
                "{path}: cannot annotate safely: {e}; nothing printed"
            ))
        })?;
        super::print(|out| out.write_all(text.as_bytes()))?;
        return Ok(exit::OK);
    }
    if args.write {
        return write_files(args, global, &a, &edits);
    }
    super::print(|out| summary(out, global.output, &a))?;
    if args.check {
        let changes = a.analysis.changes().count();
        if changes > 0 || a.has_ordering_errors() {
            return Err(CommandError::failed(format!(
                "the waves are not what the dependencies need: {changes} change{} proposed{}",
                if changes == 1 { "" } else { "s" },
                if a.has_ordering_errors() {
                    ", and a dependency is broken (see the errors above)"
                } else {
                    ""
                }
            )));
        }
    }
    Ok(exit::OK)
}

/// The table or the JSON/YAML document.
fn summary(out: &mut dyn Write, format: OutputFormat, a: &Annotated) -> std::io::Result<()> {
    match format {
        OutputFormat::Text => out.write_all(report::render_text(a).as_bytes()),
        format => ui::write_data(out, format, &report::document(a)),
    }
}

fn write_files(
    args: &AnnotateArgs,
    global: &GlobalArgs,
    a: &Annotated,
    edits: &[write::FileEdits],
) -> CommandResult {
    if !args.allow_dirty {
        let paths: Vec<&std::path::Path> = edits
            .iter()
            .map(|f| std::path::Path::new(&*f.path))
            .collect();
        let dirty = annotate::git::uncommitted(&paths);
        if !dirty.is_empty() {
            for (path, why) in &dirty {
                report_error(format_args!("{path} {why}"));
            }
            return Err(CommandError::bad_input(
                "--write edits only files committed as they are, so that `git diff` shows the edit and `git checkout` undoes it; commit or stash first, or pass --allow-dirty",
            ));
        }
    }
    // Said right away, before the files are edited: they are edited all the same.
    let printed = super::print(|out| summary(out, global.output, a)).map_err(|e| {
        report_error(&e);
        CommandError::reported(e.kind)
    });
    let written = write::write_files(edits);
    let mut failed = 0;
    let mut changed = 0;
    for w in &written {
        match &w.result {
            Ok(true) => changed += 1,
            Ok(false) => {}
            Err(e) => {
                failed += 1;
                report_error(format_args!("{}: not edited: {e}", w.path));
            }
        }
    }
    eprintln!(
        "wrote {changed} file{}{}",
        if changed == 1 { "" } else { "s" },
        if failed > 0 {
            format!("; {failed} left untouched (see above)")
        } else {
            String::new()
        }
    );
    if failed > 0 {
        // Each file that could not be edited was named above.
        return Err(CommandError::reported(ErrorKind::Failed));
    }
    printed.map(|()| exit::OK)
}

/// Exit codes follow the KRM function convention that kpt and kustomize read: 0, or 1 when the
/// function failed on its input (whatever the reason); 2 is kept for a wrong command line, which
/// the orchestrator's user has to fix, as for every other subcommand.
fn krm(args: &AnnotateArgs, output: OutputFormat, options: Options) -> CommandResult {
    if !args.input.paths.is_empty()
        || !args.input.filenames.is_empty()
        || args.input.revision.is_some()
    {
        return Err(CommandError::bad_input(
            "--krm reads a ResourceList from stdin; give no paths",
        ));
    }
    if output != OutputFormat::Text {
        return Err(CommandError::bad_input(
            "--krm writes a ResourceList in the format it was given; leave out -o",
        ));
    }
    let text = crate::manifest::read::read_stdin_text().map_err(CommandError::failed)?;
    let output = annotate::krm::run(&text, options);
    super::print(|out| out.write_all(output.text.as_bytes()))?;
    match (output.error, output.exit) {
        (_, exit::OK) => Ok(exit::OK),
        (Some(e), _) => Err(CommandError::failed(e)),
        // The reasons are in the ResourceList's results.
        (None, _) => Err(CommandError::reported(ErrorKind::Failed)),
    }
}
