//! `--app FILE|NAME`: the Argo CD Application is read once, before the subcommand runs, so
//! its destination namespace becomes `-n` (unless given) and every subcommand finds it on
//! its input flags. What each subcommand takes from it is applied where its flags are read.

use std::path::Path;
use std::sync::Arc;

use super::{Cli, Command, CommandError, GlobalArgs, InputArgs};
use crate::cluster::Propagation;
use crate::diff::IgnoreRule;
use crate::manifest::app::{self, Application};
use crate::model::Object;

/// Reads the Application named by `--app` (if any) into the subcommand's input flags.
pub(super) fn prepare(cli: &mut Cli) -> Result<(), CommandError> {
    let (input, touches_cluster): (&mut InputArgs, bool) = match &mut cli.command {
        Command::Plan(a) => (&mut a.input, false),
        Command::Annotate(a) => (&mut a.input, false),
        Command::Health(a) => (&mut a.input, false),
        Command::Sync(a) => (&mut a.input, true),
        Command::Diff(a) => (&mut a.input, true),
        Command::Status(a) => (&mut a.input, true),
        _ => return Ok(()),
    };
    let Some(spec) = input.app.clone() else {
        return Ok(());
    };
    let application = if is_cluster_name(&spec) {
        from_cluster(&spec, &input.app_namespace, &cli.global)?
    } else {
        app::read_file(Path::new(&spec)).map_err(CommandError::bad_input)?
    };
    if touches_cluster
        && let Some(dest) = &application.destination
        && dest != "https://kubernetes.default.svc"
        && dest != "in-cluster"
    {
        super::report_warning(format!(
            "Application/{} deploys to {dest} in Argo CD; this run uses the kubeconfig's context{}",
            application.name,
            cli.global
                .context
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        ));
    }
    if cli.global.namespace.is_none() {
        cli.global.namespace = application.destination_namespace.clone();
    }
    input.application = Some(Arc::new(application));
    Ok(())
}

/// `--app shop` reads the Application from the cluster; `--app shop.yaml`, `--app ./shop`
/// or any existing file is a file.
fn is_cluster_name(spec: &str) -> bool {
    !Path::new(spec).exists()
        && !spec.is_empty()
        && spec.len() <= 253
        && spec
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && !spec.ends_with(".yaml")
        && !spec.ends_with(".yml")
        && !spec.ends_with(".json")
}

fn from_cluster(
    name: &str,
    namespace: &str,
    global: &GlobalArgs,
) -> Result<Application, CommandError> {
    let runtime = super::cluster::runtime()?;
    let origin = format!("{namespace}/{name}");
    runtime.block_on(async {
        let cluster = super::cluster::connect(global, "read").await?;
        let Some(kind) = cluster.resolve("argoproj.io/v1alpha1", "Application").await else {
            return Err(CommandError::bad_input(format!(
                "--app {name}: the cluster has no Argo CD Application kind (argoproj.io/v1alpha1); give the Application as a file: --app FILE"
            )));
        };
        let found = cluster
            .get(&kind, namespace, name)
            .await
            .map_err(|e| super::cluster::cluster_error(&e, "read"))?;
        let Some(doc) = found else {
            return Err(CommandError::bad_input(format!(
                "--app {name}: Application {origin} not found (is it in another namespace? --app-namespace NS)"
            )));
        };
        app::from_value(&doc, &origin).map_err(CommandError::bad_input)
    })
}

/// What `sync` and `diff` take from the Application's `spec.syncPolicy` and
/// `spec.ignoreDifferences`, with explicit flags winning where a flag can say "no".
#[derive(Debug, Clone, Default)]
pub(super) struct AppSettings {
    pub create_namespace: bool,
    pub prune: bool,
    pub prune_last: bool,
    pub apply_out_of_sync_only: bool,
    pub fail_on_shared_resource: bool,
    pub server_side: Option<bool>,
    pub respect_ignore_differences: bool,
    pub prune_propagation: Option<Propagation>,
    pub ignore: Vec<IgnoreRule>,
}

impl AppSettings {
    pub fn of(input: &InputArgs) -> Result<AppSettings, CommandError> {
        let Some(app) = &input.application else {
            return Ok(AppSettings::default());
        };
        let ignore = if app.ignore_differences.is_null() {
            Vec::new()
        } else {
            crate::diff::ignore::parse_rule_list(&app.ignore_differences).map_err(|e| {
                CommandError::bad_input(format!(
                    "{}: Application/{}: spec.ignoreDifferences: {e}",
                    app.origin, app.name
                ))
            })?
        };
        let prune_propagation = match app.sync_option("PrunePropagationPolicy") {
            None => None,
            Some(v) => Some(match v.to_ascii_lowercase().as_str() {
                "foreground" => Propagation::Foreground,
                "background" => Propagation::Background,
                "orphan" => Propagation::Orphan,
                other => {
                    return Err(CommandError::bad_input(format!(
                        "{}: Application/{}: PrunePropagationPolicy={other} is not foreground, background or orphan",
                        app.origin, app.name
                    )));
                }
            }),
        };
        Ok(AppSettings {
            create_namespace: app.sync_option_true("CreateNamespace"),
            prune: app.automated_prune,
            prune_last: app.sync_option_true("PruneLast"),
            apply_out_of_sync_only: app.sync_option_true("ApplyOutOfSyncOnly"),
            fail_on_shared_resource: app.sync_option_true("FailOnSharedResource"),
            server_side: Some(app.sync_option_true("ServerSideApply")),
            respect_ignore_differences: app.sync_option_true("RespectIgnoreDifferences"),
            prune_propagation,
            ignore,
        })
    }
}

/// The Application's sync options that Argo CD applies to every resource as if each carried
/// them (`Replace=true`, `Validate=false`, `SkipDryRunOnMissingResource=true`): OR-ed into
/// each object's own options, as Argo CD checks "the resource's annotation or the
/// Application's option".
pub(super) fn apply_resource_options(input: &InputArgs, objects: &mut [Object]) {
    let Some(app) = &input.application else {
        return;
    };
    let replace = app.sync_option_true("Replace");
    let no_validate = app
        .sync_option("Validate")
        .is_some_and(|v| v.eq_ignore_ascii_case("false"));
    let skip_dry_run = app.sync_option_true("SkipDryRunOnMissingResource");
    for obj in objects {
        let options = &mut obj.annotations.sync_options;
        options.replace |= replace;
        if no_validate {
            options.validate = false;
        }
        options.skip_dry_run_on_missing_resource |= skip_dry_run;
    }
}
