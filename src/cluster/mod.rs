//! The only code that talks to the apiserver: a client from kubeconfig, discovery, server-side
//! apply (and its dry run), client-side apply, replace, delete-and-wait, get, pod logs and
//! events, and watches (`live`). `sync` (and later `diff`, `gc`, `status`) build on it and see
//! objects as plain `serde_json::Value`s.

pub mod applyset;
pub mod kinds;
pub mod lease;
pub mod live;
pub mod retry;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, LogParams, Patch, PatchParams, PostParams,
    PropagationPolicy,
};
use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::Value;

pub use kinds::{Kinds, ResolvedKind};
pub use live::{LiveKey, LiveStore};

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "kubectl-waves";

/// The annotation client-side apply keeps, as `kubectl apply` does.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// How to find the cluster: kubectl's flags.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// `-n`: overrides the context's namespace.
    pub namespace: Option<String>,
}

/// An error from the cluster, with what the apiserver said.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    /// The kubeconfig cannot be read or names nothing usable.
    #[error("cannot load the kubeconfig: {0}")]
    Config(String),
    /// No answer from the apiserver (connection refused, TLS, timeout).
    #[error("cannot reach the cluster: {0}")]
    Unreachable(String),
    /// The apiserver answered with an error status.
    #[error("{message}")]
    Api {
        code: u16,
        reason: String,
        message: String,
    },
    /// A kind the cluster does not serve.
    #[error(
        "the cluster has no kind {kind} in {api_version} (is its CustomResourceDefinition installed?)"
    )]
    UnknownKind { api_version: String, kind: String },
}

impl ClusterError {
    /// 404 from the apiserver.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClusterError::Api { code: 404, .. })
    }

    /// 409 Conflict (e.g. a server-side apply conflict without force, an existing name).
    pub fn is_conflict(&self) -> bool {
        matches!(self, ClusterError::Api { code: 409, .. })
    }

    /// 401/403: the credentials may not do this.
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            ClusterError::Api {
                code: 401 | 403,
                ..
            }
        )
    }
}

impl From<kube::Error> for ClusterError {
    fn from(e: kube::Error) -> Self {
        match e {
            kube::Error::Api(status) => ClusterError::Api {
                code: status.code,
                reason: status.reason.clone(),
                message: if status.message.is_empty() {
                    format!("{} ({})", status.reason, status.code)
                } else if status.code == 429 || status.code >= 500 {
                    // Still failing after the retries: say what kind of failure it is.
                    format!("{} ({} {})", status.message, status.code, status.reason)
                } else {
                    status.message.clone()
                },
            },
            other => ClusterError::Unreachable(other.to_string()),
        }
    }
}

pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

/// How long one readiness probe may take (`/readyz` bounds its own storage check to 2 s).
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(5);

/// What the apiserver says about itself and its storage ([`Cluster::readiness`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// No answer, or an answer that it cannot serve; why.
    Unavailable(String),
    /// The credentials may not read `/readyz`, or another answer: nothing is known.
    Unknown,
}

/// The failed checks of a `/readyz` answer (`[-]etcd failed: reason withheld` lines) as
/// `etcd, etcd-readiness failed`; another answer is quoted cut short.
fn failed_checks(text: &str) -> String {
    let failed: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("[-]"))
        .map(|l| l.split_once(' ').map_or(l, |(name, _)| name))
        .collect();
    if failed.is_empty() {
        crate::diagnostics::excerpt(text.trim()).into_owned()
    } else {
        format!("{} failed", failed.join(", "))
    }
}

/// A connected cluster: a client, its default namespace, the kinds it serves, and a count of
/// the HTTP requests sent (for the benchmark and `-v` output).
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    /// `-n`, else the context's namespace, else `default`.
    pub default_namespace: String,
    requests: Arc<AtomicU64>,
    /// Requests sent again after a transient failure ([`retry`]).
    retries: Arc<AtomicU64>,
    /// The deadline every request respects ([`Cluster::set_deadline`]).
    deadline: retry::Deadline,
    kinds: Arc<tokio::sync::RwLock<Kinds>>,
}

/// The client configuration kubectl's rules give: `--kubeconfig` (several files merged as
/// kubectl merges them), else `KUBECONFIG`, else `~/.kube/config`, else in-cluster; `--context`.
async fn client_config(options: &ConnectOptions) -> Result<Config> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kube_options = KubeConfigOptions {
        context: options.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &options.kubeconfig {
        // `KUBECONFIG=a:b` names several files, merged as kubectl merges them (first wins).
        Some(paths) => {
            let mut merged: Option<Kubeconfig> = None;
            for path in std::env::split_paths(paths) {
                let next = Kubeconfig::read_from(&path)
                    .map_err(|e| ClusterError::Config(format!("{}: {e}", path.display())))?;
                merged = Some(match merged {
                    None => next,
                    Some(m) => m
                        .merge(next)
                        .map_err(|e| ClusterError::Config(e.to_string()))?,
                });
            }
            let kubeconfig =
                merged.ok_or_else(|| ClusterError::Config("--kubeconfig names no file".into()))?;
            Config::from_custom_kubeconfig(kubeconfig, &kube_options)
                .await
                .map_err(|e| ClusterError::Config(format!("{}: {e}", paths.display())))?
        }
        None if options.context.is_some() => Config::from_kubeconfig(&kube_options)
            .await
            .map_err(|e| ClusterError::Config(e.to_string()))?,
        None => Config::infer()
            .await
            .map_err(|e| ClusterError::Config(e.to_string()))?,
    };
    Ok(config)
}

/// The contexts of the kubeconfig kubectl would read (`--kubeconfig`, else `KUBECONFIG`, else
/// `~/.kube/config`), for completion; none when it cannot be read.
pub fn kubeconfig_contexts(kubeconfig: Option<&std::path::Path>) -> Vec<String> {
    let files: Vec<PathBuf> = match kubeconfig {
        Some(paths) => std::env::split_paths(paths).collect(),
        None => match std::env::var_os("KUBECONFIG") {
            Some(paths) if !paths.is_empty() => std::env::split_paths(&paths).collect(),
            _ => std::env::var_os("HOME")
                .map(|home| vec![PathBuf::from(home).join(".kube").join("config")])
                .unwrap_or_default(),
        },
    };
    let mut names: Vec<String> = Vec::new();
    for file in files {
        if let Ok(config) = Kubeconfig::read_from(&file) {
            for context in config.contexts {
                if !names.contains(&context.name) {
                    names.push(context.name);
                }
            }
        }
    }
    names
}

/// The names of the cluster's namespaces, for completion: one list request, no discovery, given
/// up after `timeout` (a shell waits on it).
pub async fn namespace_names(options: &ConnectOptions, timeout: Duration) -> Result<Vec<String>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = client_config(options).await?;
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    let client = Client::try_from(config).map_err(|e| ClusterError::Config(e.to_string()))?;
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    let list = tokio::time::timeout(timeout, api.list_metadata(&ListParams::default()))
        .await
        .map_err(|_| ClusterError::Unreachable("no answer in time".into()))??;
    Ok(list
        .items
        .into_iter()
        .filter_map(|ns| ns.metadata.name)
        .collect())
}

impl Cluster {
    /// Connects with kubectl's rules: `--kubeconfig`, else `KUBECONFIG`, else `~/.kube/config`,
    /// else in-cluster; `--context`; `-n`. Discovery runs once here.
    pub async fn connect(options: &ConnectOptions) -> Result<Cluster> {
        let mut config = client_config(options).await?;
        // kube's own retry (429/503/504, up to 15 times, backoff up to 1000 s, POST included)
        // is replaced by ours, which knows which requests are safe to send twice.
        config.default_retry = false;
        let default_namespace = options
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let requests = Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        let retries = Arc::new(AtomicU64::new(0));
        let deadline = retry::Deadline::default();
        // Counted per attempt: the retry layer sits above the counter.
        let client = ClientBuilder::try_from(config)
            .map_err(|e| ClusterError::Config(e.to_string()))?
            .with_layer(&tower::util::MapRequestLayer::new(
                move |req: http::Request<kube::client::Body>| {
                    counter.fetch_add(1, Ordering::Relaxed);
                    req
                },
            ))
            .with_layer(&tower::buffer::BufferLayer::new(1024))
            .with_layer(&retry::RetryLayer {
                deadline: deadline.clone(),
                retries: retries.clone(),
            })
            .build();
        let kinds = Kinds::discover(&client).await?;
        Ok(Cluster {
            client,
            default_namespace,
            requests,
            retries,
            deadline,
            kinds: Arc::new(tokio::sync::RwLock::new(kinds)),
        })
    }

    /// What `helm template` needs to render for this cluster as Argo CD renders: every served
    /// API version (and version/Kind), and the server's version (`v1.34.0`).
    pub async fn helm_capabilities(&self) -> Result<(Vec<String>, String)> {
        let versions = self.kinds.read().await.api_versions();
        let info = self.client.apiserver_version().await?;
        Ok((versions, info.git_version))
    }

    /// Asks `/readyz` once (never retried, at most [`READINESS_TIMEOUT`]): is the apiserver
    /// there, and can it reach its storage? A sync waiting on a wave asks while it waits, so
    /// an apiserver that lost etcd is reported instead of waited out.
    pub async fn readiness(&self) -> Readiness {
        let request = match http::Request::get("/readyz")
            .extension(retry::SingleAttempt)
            .body(Vec::new())
        {
            Ok(r) => r,
            Err(_) => return Readiness::Unknown,
        };
        let answer = tokio::time::timeout(READINESS_TIMEOUT, self.client.request_text(request));
        match answer.await {
            Err(_) => Readiness::Unavailable(format!(
                "no answer to /readyz within {}s",
                READINESS_TIMEOUT.as_secs()
            )),
            Ok(Ok(_)) => Readiness::Ready,
            Ok(Err(kube::Error::Api(status))) if status.code >= 500 || status.code == 429 => {
                Readiness::Unavailable(format!(
                    "/readyz answered {}: {}",
                    status.code,
                    failed_checks(&status.message)
                ))
            }
            Ok(Err(kube::Error::Api(_))) => Readiness::Unknown,
            Ok(Err(e)) => Readiness::Unavailable(e.to_string()),
        }
    }

    /// HTTP requests sent so far (watch connections count once each).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests sent again after a transient failure so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// No request waits past `at`, and none is retried after it (`--timeout`); clean-up
    /// requests after it still get a few seconds each.
    pub fn set_deadline(&self, at: Option<tokio::time::Instant>) {
        self.deadline.set(at);
    }

    /// The resource serving `apiVersion`/`kind`, if the cluster has it.
    pub async fn resolve(&self, api_version: &str, kind: &str) -> Option<ResolvedKind> {
        self.kinds.read().await.resolve(api_version, kind)
    }

    /// The preferred version's resource for `group`/`kind`.
    pub async fn resolve_group_kind(&self, group: &str, kind: &str) -> Option<ResolvedKind> {
        self.kinds.read().await.resolve_group_kind(group, kind)
    }

    /// The kinds a user's word names (`Job`, `jobs`, `Workflow.argoproj.io`); see [`Kinds::find`].
    pub async fn find_kinds(&self, word: &str) -> Vec<ResolvedKind> {
        self.kinds.read().await.find(word)
    }

    /// Reads discovery again for one group (after a CRD of this sync is Established).
    pub async fn refresh_kinds(&self, group: &str) -> Result<()> {
        let found = Kinds::discover_group(&self.client, group).await?;
        self.kinds.write().await.merge(found);
        Ok(())
    }

    fn api(&self, kind: &ResolvedKind, namespace: &str) -> Api<DynamicObject> {
        if kind.namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &kind.resource)
        } else {
            Api::all_with(self.client.clone(), &kind.resource)
        }
    }

    /// The live object, or `None` when it does not exist.
    pub async fn get(
        &self,
        kind: &ResolvedKind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>> {
        let found = self.api(kind, namespace).get_opt(name).await?;
        Ok(found.map(to_value))
    }

    /// Server-side apply under [`FIELD_MANAGER`]; `force` takes fields other managers own,
    /// `dry_run` asks the server what it would do.
    pub async fn apply(
        &self,
        kind: &ResolvedKind,
        namespace: &str,
        object: &Value,
        mode: ApplyMode,
    ) -> Result<Value> {
        let name = name_of(object);
        let mut params = PatchParams::apply(FIELD_MANAGER);
        params.force = mode.force_conflicts;
        params.dry_run = mode.dry_run;
        if !mode.validate {
            params = params.validation_ignore();
        }
        let applied = self
            .api(kind, namespace)
            .patch(name, &params, &Patch::Apply(object))
            .await?;
        Ok(to_value(applied))
    }

    /// Client-side apply as `kubectl apply` without `--server-side`: create with the
    /// last-applied annotation, else a three-way JSON merge patch (last applied → desired,
    /// on top of live), keeping the annotation current.
    pub async fn apply_client_side(
        &self,
        kind: &ResolvedKind,
        namespace: &str,
        object: &Value,
        mode: ApplyMode,
    ) -> Result<Value> {
        let name = name_of(object);
        let mut desired = object.clone();
        let mut recorded = object.clone();
        if let Some(meta) = recorded.get_mut("metadata").and_then(Value::as_object_mut)
            && let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut)
        {
            annotations.remove(LAST_APPLIED);
        }
        let recorded_text = serde_json::to_string(&recorded).unwrap_or_default();
        set_annotation(&mut desired, LAST_APPLIED, &recorded_text);
        let api = self.api(kind, namespace);
        let post = PostParams {
            dry_run: mode.dry_run,
            field_manager: Some(FIELD_MANAGER.to_string()),
        };
        match api.get_opt(name).await? {
            None => {
                let object: DynamicObject = serde_json::from_value(desired)
                    .map_err(|e| ClusterError::Config(e.to_string()))?;
                Ok(to_value(api.create(&post, &object).await?))
            }
            Some(live) => {
                let live = to_value(live);
                let previous = live
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(LAST_APPLIED))
                    .and_then(Value::as_str)
                    .and_then(|t| serde_json::from_str::<Value>(t).ok())
                    .unwrap_or(Value::Null);
                let patch = three_way_merge_patch(&previous, &desired);
                let mut params = PatchParams {
                    dry_run: mode.dry_run,
                    field_manager: Some(FIELD_MANAGER.to_string()),
                    ..PatchParams::default()
                };
                if !mode.validate {
                    params = params.validation_ignore();
                }
                Ok(to_value(
                    api.patch(name, &params, &Patch::Merge(&patch)).await?,
                ))
            }
        }
    }

    /// `Replace=true`: create, or PUT over the live object (kubectl replace).
    pub async fn replace(
        &self,
        kind: &ResolvedKind,
        namespace: &str,
        object: &Value,
        dry_run: bool,
    ) -> Result<Value> {
        let name = name_of(object);
        let api = self.api(kind, namespace);
        let post = PostParams {
            dry_run,
            field_manager: Some(FIELD_MANAGER.to_string()),
        };
        let mut desired: DynamicObject = serde_json::from_value(object.clone())
            .map_err(|e| ClusterError::Config(e.to_string()))?;
        match api.get_opt(name).await? {
            None => Ok(to_value(api.create(&post, &desired).await?)),
            Some(live) => {
                desired.metadata.resource_version = live.metadata.resource_version.clone();
                Ok(to_value(api.replace(name, &post, &desired).await?))
            }
        }
    }

    /// Creates an object (a hook with a generated name).
    pub async fn create(
        &self,
        kind: &ResolvedKind,
        namespace: &str,
        object: &Value,
        dry_run: bool,
    ) -> Result<Value> {
        let post = PostParams {
            dry_run,
            field_manager: Some(FIELD_MANAGER.to_string()),
        };
        let object: DynamicObject = serde_json::from_value(object.clone())
            .map_err(|e| ClusterError::Config(e.to_string()))?;
        Ok(to_value(
            self.api(kind, namespace).create(&post, &object).await?,
        ))
    }

    /// Deletes an object; gone already is not an error. Returns whether it existed.
    pub async fn delete(
        &self,
        kind: &ResolvedKind,
        namespace: &str,
        name: &str,
        propagation: Propagation,
    ) -> Result<bool> {
        let params = DeleteParams {
            propagation_policy: Some(match propagation {
                Propagation::Foreground => PropagationPolicy::Foreground,
                Propagation::Background => PropagationPolicy::Background,
                Propagation::Orphan => PropagationPolicy::Orphan,
            }),
            ..DeleteParams::default()
        };
        match self.api(kind, namespace).delete(name, &params).await {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = ClusterError::from(e);
                if e.is_not_found() { Ok(false) } else { Err(e) }
            }
        }
    }

    /// Every object of `kind` in `namespace` (`None`: all namespaces), optionally filtered by a
    /// label selector, with `apiVersion` and `kind` filled in (list items carry neither).
    pub async fn list(
        &self,
        kind: &ResolvedKind,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>> {
        let api = match namespace {
            Some(ns) if kind.namespaced => {
                Api::namespaced_with(self.client.clone(), ns, &kind.resource)
            }
            _ => Api::all_with(self.client.clone(), &kind.resource),
        };
        let mut params = ListParams::default();
        if let Some(selector) = label_selector {
            params = params.labels(selector);
        }
        let list = api.list(&params).await?;
        Ok(list
            .items
            .into_iter()
            .map(|item| {
                let mut value = to_value(item);
                if let Some(map) = value.as_object_mut() {
                    map.insert(
                        "apiVersion".into(),
                        Value::String(kind.resource.api_version.clone()),
                    );
                    map.insert("kind".into(), Value::String(kind.resource.kind.clone()));
                }
                value
            })
            .collect())
    }

    /// Removes one finalizer, found at `index` of `metadata.finalizers`, with a JSON patch that
    /// first tests it is still there: nothing else changes, and a list that changed meanwhile
    /// makes the patch fail (422) instead of removing another finalizer.
    pub async fn remove_finalizer(
        &self,
        kind: &ResolvedKind,
        namespace: &str,
        name: &str,
        finalizer: &str,
        index: usize,
    ) -> Result<()> {
        let path = format!("/metadata/finalizers/{index}");
        let body = serde_json::to_vec(&serde_json::json!([
            {"op": "test", "path": path, "value": finalizer},
            {"op": "remove", "path": path},
        ]))
        .map_err(|e| ClusterError::Config(e.to_string()))?;
        let api = self.api(kind, namespace);
        let url = format!("{}/{name}?fieldManager={FIELD_MANAGER}", api.resource_url());
        let request = http::Request::patch(url)
            .header(http::header::CONTENT_TYPE, "application/json-patch+json")
            .body(body)
            .map_err(|e| ClusterError::Config(e.to_string()))?;
        self.client.request::<DynamicObject>(request).await?;
        Ok(())
    }

    /// Waits until the object is gone, with a watch on its name (no polling).
    pub async fn wait_gone(
        &self,
        kind: &ResolvedKind,
        namespace: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<bool> {
        let api = self.api(kind, namespace);
        let stream = kube::runtime::watcher::watch_object(api, name).boxed();
        let wait = async {
            let mut stream = stream;
            while let Some(event) = stream.next().await {
                match event {
                    Ok(None) => return Ok(()),
                    Ok(Some(_)) => continue,
                    Err(e) => return Err(ClusterError::Unreachable(e.to_string())),
                }
            }
            Err(ClusterError::Unreachable("watch ended".into()))
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(())) => Ok(true),
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(false),
        }
    }

    /// The last `lines` lines of a pod's container log; `None` when the API has none.
    pub async fn pod_logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        lines: i64,
    ) -> Option<String> {
        let api: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(self.client.clone(), namespace);
        let params = LogParams {
            container: Some(container.to_string()),
            tail_lines: Some(lines),
            ..LogParams::default()
        };
        api.logs(pod, &params)
            .await
            .ok()
            .filter(|l| !l.trim().is_empty())
    }

    /// Recent events about an object, oldest first, as `reason: message` lines.
    pub async fn events_for(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
        limit: usize,
    ) -> Vec<String> {
        let api: Api<k8s_openapi::api::core::v1::Event> =
            Api::namespaced(self.client.clone(), namespace);
        let params = ListParams::default().fields(&format!(
            "involvedObject.kind={kind},involvedObject.name={name}"
        ));
        let Ok(list) = api.list(&params).await else {
            return Vec::new();
        };
        let mut events: Vec<_> = list.items;
        events.sort_by(|a, b| {
            let time = |e: &k8s_openapi::api::core::v1::Event| {
                e.last_timestamp
                    .as_ref()
                    .map(|t| t.0.to_string())
                    .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
                    .unwrap_or_default()
            };
            time(a).cmp(&time(b))
        });
        let skip = events.len().saturating_sub(limit);
        events
            .into_iter()
            .skip(skip)
            .map(|e| {
                format!(
                    "{} {}: {}",
                    e.type_.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    e.message.unwrap_or_default().trim()
                )
            })
            .collect()
    }

    /// The `data` of a ConfigMap: `Ok(None)` when it does not exist or cannot be read.
    pub async fn config_map_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Vec<(String, String)>>> {
        let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(self.client.clone(), namespace);
        match api.get_opt(name).await {
            Ok(found) => Ok(found.map(|cm| cm.data.unwrap_or_default().into_iter().collect())),
            Err(e) => {
                let e = ClusterError::from(e);
                if e.is_forbidden() { Ok(None) } else { Err(e) }
            }
        }
    }

    /// Whether a Namespace exists.
    pub async fn namespace_exists(&self, name: &str) -> Result<bool> {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        Ok(api.get_opt(name).await?.is_some())
    }

    /// A watch of one kind in one namespace (or all), feeding `store`.
    pub fn watch(
        &self,
        kind: &ResolvedKind,
        namespace: Option<&str>,
        store: LiveStore,
    ) -> live::WatchHandle {
        let api = match namespace {
            Some(ns) if kind.namespaced => {
                Api::namespaced_with(self.client.clone(), ns, &kind.resource)
            }
            _ => Api::all_with(self.client.clone(), &kind.resource),
        };
        live::spawn_watch(api, kind.clone(), store)
    }
}

/// How an object is written.
#[derive(Debug, Clone, Copy)]
pub struct ApplyMode {
    pub dry_run: bool,
    pub force_conflicts: bool,
    pub validate: bool,
}

/// Deletion propagation (`--prune-propagation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Propagation {
    #[default]
    Foreground,
    Background,
    Orphan,
}

fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn to_value(object: DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

fn set_annotation(object: &mut Value, key: &str, value: &str) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(key.to_string(), Value::String(value.to_string()));
    }
}

/// A JSON merge patch that sets everything `desired` has and removes (null) what the previous
/// apply set and `desired` no longer has; fields nobody applied are left to their owners.
pub fn three_way_merge_patch(previous: &Value, desired: &Value) -> Value {
    match (previous, desired) {
        (Value::Object(prev), Value::Object(want)) => {
            let mut out = serde_json::Map::new();
            for (k, v) in want {
                let p = prev.get(k).unwrap_or(&Value::Null);
                out.insert(k.clone(), three_way_merge_patch(p, v));
            }
            for k in prev.keys() {
                if !want.contains_key(k) {
                    out.insert(k.clone(), Value::Null);
                }
            }
            Value::Object(out)
        }
        (_, want) => want.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn three_way_patch_removes_only_previously_applied_fields() {
        let previous = json!({"data": {"a": "1", "b": "2"}, "metadata": {"labels": {"x": "y"}}});
        let desired = json!({"data": {"a": "3"}, "metadata": {}});
        let patch = super::three_way_merge_patch(&previous, &desired);
        assert_eq!(
            patch,
            json!({"data": {"a": "3", "b": null}, "metadata": {"labels": null}})
        );
    }

    #[test]
    fn readyz_failures_name_the_failed_checks() {
        let answer = "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n\
                      [-]etcd-readiness failed: reason withheld\n[+]shutdown ok\nreadyz check failed";
        assert_eq!(super::failed_checks(answer), "etcd, etcd-readiness failed");
        assert_eq!(
            super::failed_checks("Service Unavailable"),
            "Service Unavailable"
        );
        assert!(super::failed_checks(&"x".repeat(500)).contains("(500 bytes in all)"));
    }
}
