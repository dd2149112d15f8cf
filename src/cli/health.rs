//! `kubectl waves health`: assess objects given as YAML, offline (to test custom Lua checks).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::{CommandError, CommandResult, ErrorKind, GlobalArgs, InputArgs, exit, report_warning};
use crate::diagnostics::{Code, Severity};
use crate::health::{self, Health, HealthError, HealthRule};
use crate::manifest;
use crate::ui::{self, OutputFormat};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  kubectl waves health fixtures/health/pod.yaml       # the tenant troubleshooting case first
  kubectl get deploy -o yaml | kubectl waves health -f - --health-config argocd-cm.yaml
  kubectl waves health --resource-customizations argo-cd/resource_customizations rollout.yaml
  kubectl waves health --test argo-cd/resource_customizations   # run its health_test.yaml cases\n\nExits 0 whatever the health; 2 when the input or the health config cannot be read.
With --test: 0 when every case passes, 1 when one fails, 2 when the folder cannot be read.")]
pub struct HealthArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// An argocd-cm ConfigMap (YAML) with resource.customizations health checks in Lua.
    #[arg(long, value_name = "FILE")]
    pub health_config: Option<PathBuf>,
    /// A folder laid out as Argo CD's resource_customizations (<group>/<Kind>/health.lua,
    /// `_` for `*` in folder names): its health checks, after the argocd-cm ones.
    #[arg(long, value_name = "DIR")]
    pub resource_customizations: Option<PathBuf>,
    /// Run every health_test.yaml case of a folder laid out as Argo CD's
    /// resource_customizations (inputPath judged by the folder's scripts alone; status and
    /// message must match exactly), as Argo CD's own script test does.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["resource_customizations", "health_config"])]
    pub test: Option<PathBuf>,
    /// Argo CD's exact behaviour for argoproj.io/Application objects: no built-in health
    /// check (as `sync --no-application-health`).
    #[arg(long)]
    pub no_application_health: bool,
}

/// One object's assessment, as `-o json|yaml` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Assessed<'a> {
    api_version: &'a str,
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
    source: String,
    health: Health,
    /// `built-in`, `bundled`, `generic` or `custom: <argocd-cm key>`.
    rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<HealthError>,
}

pub fn run(args: &HealthArgs, global: &GlobalArgs) -> CommandResult {
    if let Some(dir) = &args.test {
        return run_tests(dir, global);
    }
    let mut config = super::cluster::lint_health(
        args.health_config.as_deref(),
        args.resource_customizations.as_deref(),
    )?;
    if args.no_application_health {
        config = config.without_application_health();
    }
    for e in config.check_scripts() {
        report_warning(e);
    }
    let input = args.input.input(global)?;
    let loaded = manifest::load(&input);
    // Only unreadable input matters here; annotation lint is `plan`'s business.
    let unreadable: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| {
            d.severity == Severity::Error
                && matches!(
                    d.code,
                    Code::InvalidManifest | Code::NotAnObject | Code::UnreadableInput
                )
        })
        .cloned()
        .collect();
    if !unreadable.is_empty() {
        ui::print_diagnostics(&unreadable);
        return Err(CommandError::reported(ErrorKind::BadInput));
    }

    let rows: Vec<Assessed<'_>> = loaded
        .objects
        .iter()
        .map(|o| {
            let (health, error) = match health::assess(&o.value(), &config) {
                Ok(h) => (h, None),
                Err(e) => (
                    Health::new(health::HealthStatus::Unknown, e.to_string()),
                    Some(e),
                ),
            };
            let rule = match health::health_rule(&o.group, &o.kind, &config) {
                HealthRule::Custom(key) => format!("custom: {key}"),
                HealthRule::Bundled { .. } => "bundled".into(),
                HealthRule::BuiltIn => "built-in".into(),
                HealthRule::Generic => "generic".into(),
            };
            Assessed {
                api_version: &o.api_version,
                kind: &o.kind,
                namespace: &o.namespace,
                name: &o.name,
                source: o.source.to_string(),
                health,
                rule,
                error,
            }
        })
        .collect();

    super::print(|out| match global.output {
        OutputFormat::Text => out.write_all(render_text(&rows).as_bytes()),
        format => ui::write_data(out, format, &rows),
    })?;
    Ok(exit::OK)
}

/// `health --test DIR`.
fn run_tests(dir: &std::path::Path, global: &GlobalArgs) -> CommandResult {
    let report =
        health::tree::run_tests(dir).map_err(|e| CommandError::bad_input(e.to_string()))?;
    for folder in &report.without_tests {
        report_warning(format!(
            "{folder}: health.lua has no {} beside it; not tested",
            health::tree::TESTS
        ));
    }
    super::print(|out| match global.output {
        OutputFormat::Text => out.write_all(render_tests(&report).as_bytes()),
        format => ui::write_data(out, format, &report),
    })?;
    Ok(if report.failed() == 0 {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// Failed cases as a table, then one summary line (as `go test`: quiet about what passes).
fn render_tests(report: &health::tree::TreeTestReport) -> String {
    let shown = |status: &str, message: &str| {
        if message.is_empty() {
            status.to_string()
        } else {
            format!("{status} \"{}\"", message.replace('\n', " "))
        }
    };
    let rows: Vec<Vec<String>> = report
        .cases
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            let got = match (&c.error, &c.status) {
                (Some(e), _) => format!("error: {}", e.replace('\n', " ")),
                (None, Some(s)) => shown(s, c.message.as_deref().unwrap_or("")),
                (None, None) => String::new(),
            };
            vec![
                format!("{}/{}", c.folder, c.input_path),
                shown(&c.expected_status, &c.expected_message),
                got,
            ]
        })
        .collect();
    let mut out = String::new();
    if !rows.is_empty() {
        out.push_str(&ui::table(&["FAILED CASE", "EXPECTED", "GOT"], &rows));
    }
    let total = report.cases.len();
    out.push_str(&format!(
        "{} of {total} cases pass; {} fail\n",
        total - report.failed(),
        report.failed()
    ));
    out
}

fn render_text(rows: &[Assessed<'_>]) -> String {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            // An object without metadata.name is judged all the same (health needs no name).
            let shown = if r.name.is_empty() {
                "<no name>"
            } else {
                r.name
            };
            let name = if r.namespace.is_empty() {
                shown.to_string()
            } else {
                format!("{}/{shown}", r.namespace)
            };
            vec![
                r.kind.to_string(),
                name,
                r.health.status.to_string(),
                r.health.message.replace('\n', " "),
            ]
        })
        .collect();
    ui::table(&["KIND", "NAMESPACE/NAME", "HEALTH", "MESSAGE"], &table)
}
