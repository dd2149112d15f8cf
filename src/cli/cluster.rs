//! What the subcommands that talk to a cluster (`sync`, `status`, `gc`) share: the async
//! runtime, the connection, the health sources of SPEC §7, cluster errors as command errors,
//! and Ctrl-C.

use std::path::Path;

use super::{CommandError, GlobalArgs};
use crate::cluster::{Cluster, ClusterError, ConnectOptions};
use crate::health::HealthConfig;

/// The runtime a cluster subcommand runs on: two workers are plenty for I/O-bound work.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CommandError::failed(format!("cannot start the async runtime: {e}")))
}

/// Connects with kubectl's flags; `nothing` says what did not happen on failure
/// ("changed", "deleted").
pub(super) async fn connect(global: &GlobalArgs, nothing: &str) -> Result<Cluster, CommandError> {
    let options = ConnectOptions {
        kubeconfig: global.kubeconfig.clone(),
        context: global.context.clone(),
        namespace: global.namespace.clone(),
    };
    Cluster::connect(&options)
        .await
        .map_err(|e| cluster_error(&e, nothing))
}

/// A cluster problem before any change: unreachable or forbidden (exit 2), with a hint.
pub(super) fn cluster_error(e: &ClusterError, nothing: &str) -> CommandError {
    match e {
        ClusterError::Config(_) | ClusterError::Unreachable(_) => {
            CommandError::cluster_unreachable(e.to_string()).hint(format!(
                "check --kubeconfig, --context and that the apiserver is up; nothing was {nothing}"
            ))
        }
        _ if e.is_forbidden() => CommandError::cluster_forbidden(e.to_string()).hint(format!(
            "the credentials may not do this; nothing was {nothing}"
        )),
        _ => CommandError::bad_input(format!("{e}; nothing was {nothing}")),
    }
}

/// `--health-config FILE`, read before the cluster is contacted (a bad file is bad input).
pub(super) fn read_health_file(path: Option<&Path>) -> Result<Option<HealthConfig>, CommandError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let text = crate::manifest::read::read_text_file(path).map_err(CommandError::bad_input)?;
    HealthConfig::from_argocd_cm_yaml(&text)
        .map(Some)
        .map_err(|e| {
            CommandError::bad_input(format!(
                "{}: {e}",
                crate::manifest::read::display_path(path)
            ))
        })
}

/// `--resource-customizations DIR` added to `config` (a bad folder is bad input).
pub(super) fn with_tree(
    config: HealthConfig,
    dir: Option<&Path>,
) -> Result<HealthConfig, CommandError> {
    match dir {
        None => Ok(config),
        Some(dir) => config
            .with_resource_customizations(dir)
            .map_err(|e| CommandError::bad_input(e.to_string())),
    }
}

/// The health checks lint is told about before any cluster is contacted: `--health-config`
/// and `--resource-customizations` (the cluster's argocd-cm is read later, by the command).
pub(super) fn lint_health(
    file: Option<&Path>,
    dir: Option<&Path>,
) -> Result<HealthConfig, CommandError> {
    with_tree(read_health_file(file)?.unwrap_or_default(), dir)
}

/// The custom health checks (SPEC §7): the file if given, else the cluster's
/// `argocd/argocd-cm` when it exists and is readable (unless `no_cluster`); with where they
/// came from, for the output.
pub(super) async fn health_config(
    cluster: &Cluster,
    file: Option<(HealthConfig, &Path)>,
    no_cluster: bool,
    nothing: &str,
) -> Result<(HealthConfig, Option<String>), CommandError> {
    if let Some((config, path)) = file {
        return Ok((config, Some(path.display().to_string())));
    }
    if no_cluster {
        return Ok((HealthConfig::new(), None));
    }
    match cluster.config_map_data("argocd", "argocd-cm").await {
        Ok(Some(data)) => HealthConfig::from_data(data)
            .map(|c| (c, Some("the cluster's argocd/argocd-cm".to_string())))
            .map_err(|e| {
                CommandError::bad_input(format!("the cluster's argocd/argocd-cm: {e}"))
                    .hint("fix it, or pass --no-cluster-health-config")
            }),
        Ok(None) => Ok((HealthConfig::new(), None)),
        Err(e) => Err(cluster_error(&e, nothing)),
    }
}

/// Ctrl-C or SIGTERM.
pub(super) async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A Helm chart rendered for a cluster gets that cluster's API versions and version
/// (`helm template --api-versions … --kube-version …`), as Argo CD renders it; other input is
/// returned as it is, without contacting the cluster.
pub(super) fn with_helm_capabilities(
    mut input: crate::manifest::Input,
    global: &GlobalArgs,
    nothing: &str,
) -> Result<crate::manifest::Input, CommandError> {
    use crate::manifest::Input;
    use crate::manifest::render::SourceType;
    let renders_helm = match &input {
        Input::Rendered { source, .. } => *source == SourceType::Helm,
        Input::Git {
            repo,
            revision,
            path,
            source_type,
            ..
        } => {
            source_type
                .or_else(|| crate::manifest::app::git_source_type(repo, revision, path.as_deref()))
                == Some(SourceType::Helm)
        }
        Input::App { app, .. } => app.sources.iter().any(|s| {
            s.helm.is_some() || s.chart.is_some() || s.kustomize.is_none() && s.directory.is_none()
        }),
        _ => false,
    };
    if !renders_helm {
        return Ok(input);
    }
    let runtime = runtime()?;
    let (versions, kube_version) = runtime.block_on(async {
        let cluster = connect(global, nothing).await?;
        cluster
            .helm_capabilities()
            .await
            .map_err(|e| cluster_error(&e, nothing))
    })?;
    runtime.shutdown_background();
    match &mut input {
        Input::Rendered { options, .. } | Input::Git { options, .. } => {
            options.helm_api_versions = versions;
            options.helm_kube_version = Some(kube_version);
        }
        Input::App { context, .. } => {
            context.helm_api_versions = versions;
            context.helm_kube_version = Some(kube_version);
        }
        _ => {}
    }
    Ok(input)
}
