//! `kubectl waves health`: assess objects given as YAML, offline (to test custom Lua checks).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::{CommandError, CommandResult, ErrorKind, GlobalArgs, InputArgs, exit, report_warning};
use crate::diagnostics::{Code, Severity};
use crate::health::{self, Health, HealthConfig, HealthError, HealthRule};
use crate::manifest;
use crate::ui::{self, OutputFormat};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  kubectl waves health fixtures/health/pod.yaml       # the tenant troubleshooting case first
  kubectl get deploy -o yaml | kubectl waves health -f - --health-config argocd-cm.yaml\n\nExits 0 whatever the health; 2 when the input or the health config cannot be read.")]
pub struct HealthArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// An argocd-cm ConfigMap (YAML) with resource.customizations health checks in Lua.
    #[arg(long, value_name = "FILE")]
    pub health_config: Option<PathBuf>,
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
    let config = match &args.health_config {
        None => HealthConfig::default(),
        Some(path) => super::cluster::read_health_file(Some(path))?.unwrap_or_default(),
    };
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
            let (health, error) = match health::assess(&o.value, &config) {
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

fn render_text(rows: &[Assessed<'_>]) -> String {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let name = if r.namespace.is_empty() {
                r.name.to_string()
            } else {
                format!("{}/{}", r.namespace, r.name)
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
