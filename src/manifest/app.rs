//! An Argo CD `Application` as input (`--app FILE|NAME`): its sources are read the way Argo
//! CD's repo server reads them (Git at `targetRevision`, a directory, Kustomize or Helm app,
//! a chart from a Helm repository, `$values` references between sources), and its
//! destination, sync options and ignoreDifferences become the settings of the run.
//!
//! Git: a `repoURL` that is a local path is read with libgit2; any other URL is mirrored
//! into a cache folder with the user's own `git` (their credential helpers and SSH config,
//! as Argo CD itself shells out to git), then read with libgit2, so the crate links no TLS
//! or SSH library for Git.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::Value;

use super::git::{self, RevisionTree, TreeFilter};
use super::read;
use super::render::{self, RenderOptions, SourceType};
use super::{InputFile, SourceInfo};

/// What the run takes from an Application.
#[derive(Debug, Clone, Default)]
pub struct Application {
    /// `metadata.name`: Helm's default release name and the inventory name.
    pub name: String,
    /// Where it was read from: the file, or `argocd/NAME` in the cluster.
    pub origin: String,
    pub sources: Vec<AppSource>,
    /// `spec.destination.namespace`.
    pub destination_namespace: Option<String>,
    /// `spec.destination.server` or `.name`, for the warning when it is not the
    /// kubeconfig's cluster.
    pub destination: Option<String>,
    /// `spec.syncPolicy.syncOptions`, as written (`CreateNamespace=true`, …).
    pub sync_options: Vec<String>,
    /// `spec.syncPolicy.automated.prune`.
    pub automated_prune: bool,
    /// `spec.ignoreDifferences`, as written.
    pub ignore_differences: Value,
    /// What the last [`read_sources`] found each source to be, for `plan`'s output.
    pub read: Arc<Mutex<Vec<SourceInfo>>>,
}

impl Application {
    /// The value of a sync option (`Key=value`), the last one winning as in Argo CD's list.
    pub fn sync_option(&self, key: &str) -> Option<&str> {
        self.sync_options
            .iter()
            .rev()
            .find_map(|o| o.split_once('=').filter(|(k, _)| k.trim() == key))
            .map(|(_, v)| v.trim())
    }

    /// Whether a boolean sync option is `true`.
    pub fn sync_option_true(&self, key: &str) -> bool {
        self.sync_option(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// One entry of `spec.source` / `spec.sources`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AppSource {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub path: Option<String>,
    pub target_revision: Option<String>,
    /// A chart in a Helm repository (with `repoURL` the repository).
    pub chart: Option<String>,
    /// The name other sources use in `$name/...` value files.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    pub helm: Option<HelmSource>,
    pub kustomize: Option<KustomizeSource>,
    pub directory: Option<DirectorySource>,
    pub plugin: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HelmSource {
    pub value_files: Vec<String>,
    pub values: Option<String>,
    pub values_object: Option<Value>,
    pub parameters: Vec<HelmParameter>,
    pub file_parameters: Vec<HelmFileParameter>,
    pub release_name: Option<String>,
    pub skip_crds: bool,
    pub skip_tests: bool,
    pub skip_schema_validation: bool,
    pub namespace: Option<String>,
    pub kube_version: Option<String>,
    pub api_versions: Vec<String>,
    pub ignore_missing_value_files: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HelmParameter {
    pub name: String,
    pub value: String,
    pub force_string: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HelmFileParameter {
    pub name: String,
    pub path: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KustomizeSource {
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
    pub images: Vec<String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    pub label_without_selector: bool,
    pub namespace: Option<String>,
    pub replicas: Vec<KustomizeReplica>,
    pub patches: Vec<Value>,
    pub components: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KustomizeReplica {
    pub name: String,
    pub count: Value,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DirectorySource {
    pub recurse: bool,
    pub include: Option<String>,
    pub exclude: Option<String>,
}

/// Reads the one Application in a YAML or JSON file.
pub fn read_file(path: &Path) -> Result<Application, String> {
    let display = read::display_path(path);
    let text = read::read_text_file(path)?;
    let mut apps = Vec::new();
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(&text, super::yaml_options())
        .map_err(|e| format!("{display}: not valid YAML: {e}"))?;
    for doc in docs {
        if doc.get("kind").and_then(Value::as_str) == Some("Application")
            && doc
                .get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|v| v.starts_with("argoproj.io/"))
        {
            apps.push(doc);
        }
    }
    match apps.len() {
        1 => from_value(&apps[0], &display),
        0 => Err(format!(
            "{display} holds no Argo CD Application (apiVersion argoproj.io/v1alpha1, kind Application)"
        )),
        n => {
            let names: Vec<&str> = apps
                .iter()
                .filter_map(|a| a.pointer("/metadata/name").and_then(Value::as_str))
                .collect();
            Err(format!(
                "{display} holds {n} Applications ({}); give a file with one",
                names.join(", ")
            ))
        }
    }
}

/// An Application from its JSON value; `origin` names it in messages.
pub fn from_value(doc: &Value, origin: &str) -> Result<Application, String> {
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("{origin}: the Application has no metadata.name"))?
        .to_string();
    let at = |what: &str| format!("{origin}: Application/{name}: {what}");
    let spec = doc
        .get("spec")
        .filter(|s| s.is_object())
        .ok_or_else(|| at("no spec"))?;
    let parse_source = |value: &Value, field: &str| -> Result<AppSource, String> {
        serde_path_to_error::deserialize::<_, AppSource>(value)
            .map_err(|e| at(&format!("spec.{field}.{}: {}", e.path(), e.inner())))
    };
    let mut sources = Vec::new();
    if let Some(list) = spec.get("sources").filter(|v| !v.is_null()) {
        let Value::Array(items) = list else {
            return Err(at("spec.sources must be a list"));
        };
        for (i, item) in items.iter().enumerate() {
            sources.push(parse_source(item, &format!("sources[{i}]"))?);
        }
    } else if let Some(source) = spec.get("source").filter(|v| !v.is_null()) {
        sources.push(parse_source(source, "source")?);
    }
    if sources.is_empty() {
        return Err(at("neither spec.source nor spec.sources is set"));
    }
    for (i, s) in sources.iter().enumerate() {
        if s.repo_url.trim().is_empty() {
            return Err(at(&format!("source {} has no repoURL", i + 1)));
        }
    }
    let text = |pointer: &str| {
        spec.pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let sync_options = match spec.pointer("/syncPolicy/syncOptions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|o| {
                o.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| at("spec.syncPolicy.syncOptions must be a list of strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(at("spec.syncPolicy.syncOptions must be a list")),
    };
    Ok(Application {
        origin: origin.to_string(),
        sources,
        destination_namespace: text("/destination/namespace"),
        destination: text("/destination/server").or_else(|| text("/destination/name")),
        sync_options,
        automated_prune: spec
            .pointer("/syncPolicy/automated/prune")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ignore_differences: spec
            .get("ignoreDifferences")
            .cloned()
            .unwrap_or(Value::Null),
        name,
        read: Arc::default(),
    })
}

/// How sources are fetched and rendered.
#[derive(Debug, Clone, Default)]
pub struct ReadContext {
    /// Where remote repositories are mirrored (default: the user's cache folder).
    pub cache_dir: Option<PathBuf>,
    /// The destination namespace after `-n`: Helm's `--namespace`.
    pub namespace: Option<String>,
    /// The cluster's API versions and version for Helm, when a cluster is used; an
    /// Application's own `apiVersions` / `kubeVersion` win.
    pub helm_api_versions: Vec<String>,
    pub helm_kube_version: Option<String>,
}

/// The manifests of every source, in source order, as Argo CD's repo server produces them.
pub fn read_sources(app: &Application, ctx: &ReadContext) -> Result<Vec<InputFile>, String> {
    let mut files = Vec::new();
    let mut reader = Reader {
        app,
        ctx,
        repos: Vec::new(),
        temp: Vec::new(),
        found: Vec::new(),
    };
    for (i, source) in app.sources.iter().enumerate() {
        // A source with only a `ref` provides files to the others; it renders nothing.
        if source.reference.is_some() && source.path.is_none() && source.chart.is_none() {
            continue;
        }
        let label = if app.sources.len() > 1 {
            format!("source {} ({})", i + 1, source.repo_url)
        } else {
            source.repo_url.clone()
        };
        reader
            .read_source(source, &mut files)
            .map_err(|e| format!("{}: Application/{}: {label}: {e}", app.origin, app.name))?;
    }
    if let Ok(mut read) = app.read.lock() {
        *read = reader.found;
    }
    Ok(files)
}

struct Reader<'a> {
    app: &'a Application,
    ctx: &'a ReadContext,
    /// Repositories opened so far, by repoURL.
    repos: Vec<(String, git2::Repository)>,
    /// Trees written out for a tool; removed when the reader is dropped.
    temp: Vec<TempDir>,
    /// Each source's type and renderer.
    found: Vec<SourceInfo>,
}

impl Reader<'_> {
    fn read_source(
        &mut self,
        source: &AppSource,
        files: &mut Vec<InputFile>,
    ) -> Result<(), String> {
        if source.plugin.is_some() {
            return Err("config management plugins are not supported yet; render the app yourself and pipe it: … | kubectl waves plan -f -".into());
        }
        let revision = source
            .target_revision
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "HEAD".into());
        if let Some(chart) = &source.chart {
            return self.read_repository_chart(source, chart, &revision, files);
        }
        let path = source
            .path
            .as_deref()
            .unwrap_or(".")
            .trim_matches('/')
            .trim_start_matches("./")
            .to_string();
        let path = if path == "." { String::new() } else { path };
        if path.split('/').any(|p| p == "..") {
            return Err(format!("path `{path}` leaves the repository"));
        }
        let (source_type, temp, label) = {
            let repo = self.repo(&source.repo_url)?;
            let commit = resolve_commit(repo, &revision)?;
            let tree = RevisionTree::at(repo, commit.tree_id(), &revision, &path)?;
            let label = tree.shown("");
            let explicit = [
                (source.helm.is_some(), SourceType::Helm),
                (source.kustomize.is_some(), SourceType::Kustomize),
                (source.directory.is_some(), SourceType::Directory),
            ];
            let source_type = match explicit.iter().filter(|(set, _)| *set).count() {
                0 => detect_in_tree(&tree.folder()?),
                1 => explicit
                    .iter()
                    .find(|(set, _)| *set)
                    .map(|(_, t)| *t)
                    .unwrap(),
                _ => return Err("more than one of helm, kustomize and directory is set".into()),
            };
            if source_type == SourceType::Directory {
                let dir = source.directory.clone().unwrap_or_default();
                files.append(&mut tree.manifests(&TreeFilter {
                    recurse: dir.recurse,
                    include: dir.include.as_deref(),
                    exclude: dir.exclude.as_deref(),
                    refuse_jsonnet: true,
                })?);
                (source_type, None, label)
            } else {
                // Kustomize and Helm need the files on disk: the whole tree (bases and value files
                // may live anywhere in the repository), written to a temporary folder.
                let temp = TempDir::new("app")?;
                export_tree(repo, &tree.root()?, temp.path())?;
                (source_type, Some(temp), label)
            }
        };
        let Some(temp) = temp else {
            self.found.push(SourceInfo {
                source_type: "directory",
                path: label,
                renderer: None,
                application: Some(self.app.name.clone()),
            });
            return Ok(());
        };
        let app_dir = temp.path().join(&path);
        let mut file = match source_type {
            SourceType::Kustomize => {
                let options = RenderOptions {
                    kustomize_build_options: Vec::new(),
                    ..RenderOptions::default()
                };
                let target = match &source.kustomize {
                    Some(k) if kustomize_has_edits(k) => {
                        write_kustomize_overlay(temp.path(), &path, k)?
                    }
                    _ => app_dir.clone(),
                };
                render::render(&target, SourceType::Kustomize, &options)
            }
            _ => {
                let helm = source.helm.clone().unwrap_or_default();
                let options = self.helm_options(&helm, &app_dir, temp.path())?;
                build_dependencies(&app_dir)
                    .and_then(|()| render::render(&app_dir, SourceType::Helm, &options))
            }
        }
        .map_err(|e| e.replace(&temp.path().display().to_string(), &format!("{revision}:")))?;
        file.display = relabel(&file.display, &label).into();
        files.push(file);
        self.temp.push(temp);
        self.found.push(SourceInfo {
            source_type: source_type.as_str(),
            path: label,
            renderer: render::renderer(source_type),
            application: Some(self.app.name.clone()),
        });
        Ok(())
    }

    /// A chart from a Helm repository (`repoURL` + `chart` + `targetRevision` as its version),
    /// or from an OCI registry.
    fn read_repository_chart(
        &mut self,
        source: &AppSource,
        chart: &str,
        version: &str,
        files: &mut Vec<InputFile>,
    ) -> Result<(), String> {
        let helm = source.helm.clone().unwrap_or_default();
        let temp = TempDir::new("chart")?;
        let mut options = self.helm_options(&helm, temp.path(), temp.path())?;
        let url = source.repo_url.trim_end_matches('/');
        let is_oci = url.starts_with("oci://") || !url.contains("://");
        let version = (version != "HEAD" && version != "*").then(|| version.to_string());
        options.helm_chart = Some(render::HelmChart {
            reference: if is_oci {
                format!("oci://{}/{chart}", url.trim_start_matches("oci://"))
            } else {
                chart.to_string()
            },
            repo: (!is_oci).then(|| url.to_string()),
            version: version.clone(),
        });
        let mut file = render::render(temp.path(), SourceType::Helm, &options)?;
        let path = format!(
            "{url} {chart}{}",
            version.map(|v| format!("@{v}")).unwrap_or_default()
        );
        file.display = format!("{path} (helm template)").into();
        files.push(file);
        self.found.push(SourceInfo {
            source_type: "helm",
            path,
            renderer: render::renderer(SourceType::Helm),
            application: Some(self.app.name.clone()),
        });
        self.temp.push(temp);
        Ok(())
    }

    /// `helm template`'s options for an Application's `helm` section, as Argo CD passes them.
    fn helm_options(
        &mut self,
        helm: &HelmSource,
        chart_dir: &Path,
        repo_root: &Path,
    ) -> Result<RenderOptions, String> {
        let mut values = Vec::new();
        for file in &helm.value_files {
            let resolved = if file.starts_with("http://") || file.starts_with("https://") {
                PathBuf::from(file)
            } else if let Some(rest) = file.strip_prefix('$') {
                let (name, rel) = rest.split_once('/').unwrap_or((rest, ""));
                self.reference_file(name, rel)?
            } else {
                let rel = Path::new(file);
                if rel.is_absolute()
                    || file.split('/').any(|p| p == "..")
                        && !inside(repo_root, &chart_dir.join(rel))
                {
                    return Err(format!("value file `{file}` leaves the repository"));
                }
                chart_dir.join(rel)
            };
            let is_url = resolved.to_string_lossy().contains("://");
            if !is_url && !resolved.is_file() {
                if helm.ignore_missing_value_files {
                    continue;
                }
                return Err(format!("value file `{file}` does not exist"));
            }
            values.push(resolved);
        }
        let inline = match (&helm.values_object, &helm.values) {
            (Some(object), _) if !object.is_null() => {
                Some(serde_json::to_string(object).map_err(|e| format!("valuesObject: {e}"))?)
            }
            (_, Some(text)) if !text.trim().is_empty() => Some(text.clone()),
            _ => None,
        };
        if let Some(text) = inline {
            let temp = TempDir::new("values")?;
            let file = temp.path().join("values.yaml");
            std::fs::write(&file, text).map_err(|e| format!("cannot write inline values: {e}"))?;
            values.push(file);
            self.temp.push(temp);
        }
        let mut set = Vec::new();
        let mut set_string = Vec::new();
        for p in &helm.parameters {
            let pair = format!("{}={}", p.name, p.value);
            if p.force_string {
                set_string.push(pair);
            } else {
                set.push(pair);
            }
        }
        let mut set_file = Vec::new();
        for p in &helm.file_parameters {
            set_file.push(format!("{}={}", p.name, chart_dir.join(&p.path).display()));
        }
        Ok(RenderOptions {
            release_name: Some(
                helm.release_name
                    .clone()
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| self.app.name.clone()),
            ),
            namespace: helm
                .namespace
                .clone()
                .or_else(|| self.ctx.namespace.clone()),
            helm_values: values,
            helm_set: set,
            helm_set_string: set_string,
            helm_set_file: set_file,
            helm_skip_crds: helm.skip_crds,
            helm_skip_tests: helm.skip_tests,
            helm_skip_schema_validation: helm.skip_schema_validation,
            helm_kube_version: helm
                .kube_version
                .clone()
                .or_else(|| self.ctx.helm_kube_version.clone()),
            helm_api_versions: if helm.api_versions.is_empty() {
                self.ctx.helm_api_versions.clone()
            } else {
                helm.api_versions.clone()
            },
            ..RenderOptions::default()
        })
    }

    /// `$name/rel`: a file of the source whose `ref` is `name`, at its revision.
    fn reference_file(&mut self, name: &str, rel: &str) -> Result<PathBuf, String> {
        let source = self
            .app
            .sources
            .iter()
            .find(|s| s.reference.as_deref() == Some(name))
            .ok_or_else(|| format!("`${name}` names no source with `ref: {name}`"))?
            .clone();
        if rel.split('/').any(|p| p == "..") {
            return Err(format!("`${name}/{rel}` leaves the repository"));
        }
        let revision = source
            .target_revision
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "HEAD".into());
        let temp = TempDir::new("ref")?;
        {
            let repo = self.repo(&source.repo_url)?;
            let commit = resolve_commit(repo, &revision)?;
            let root = commit.tree().map_err(|e| e.message().to_string())?;
            export_tree(repo, &root, temp.path())?;
        }
        let file = temp.path().join(rel);
        self.temp.push(temp);
        Ok(file)
    }

    /// The repository of a repoURL, opened once.
    fn repo(&mut self, url: &str) -> Result<&git2::Repository, String> {
        if let Some(i) = self.repos.iter().position(|(u, _)| u == url) {
            return Ok(&self.repos[i].1);
        }
        let repo = if is_remote(url) {
            let dir = mirror(url, self.ctx.cache_dir.as_deref())?;
            git2::Repository::open_bare(&dir)
                .map_err(|e| format!("cannot open the mirror of {url}: {}", e.message()))?
        } else {
            let path = url.strip_prefix("file://").unwrap_or(url);
            git2::Repository::discover(path)
                .map_err(|e| format!("{path} is not a Git repository: {}", e.message()))?
        };
        self.repos.push((url.to_string(), repo));
        Ok(&self.repos.last().unwrap().1)
    }
}

/// `--revision REV [--path P]` of a Kustomize or Helm app (`source_type`, else detected in the
/// tree as for a folder): the tree at the revision is written out, rendered and removed.
/// `None` for a directory source, which is read from Git directly.
pub fn read_git_app(
    repo: &Path,
    revision: &str,
    path: Option<&str>,
    source_type: Option<SourceType>,
    options: &RenderOptions,
) -> Result<Option<InputFile>, String> {
    let repository = git::open_repository(repo)?;
    let tree = RevisionTree::new(&repository, revision, path)?;
    let source_type = match source_type {
        Some(t) => t,
        None => detect_in_tree(&tree.folder()?),
    };
    if source_type == SourceType::Directory {
        return Ok(None);
    }
    let path = tree.path.clone();
    let temp = TempDir::new("rev")?;
    export_tree(&repository, &tree.root()?, temp.path())?;
    let mut options = options.clone();
    if options.release_name.is_none() {
        let base = path.rsplit('/').next().filter(|b| !b.is_empty());
        let repo_name = std::fs::canonicalize(repo)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        options.release_name = base.map(str::to_string).or(repo_name);
    }
    let label = tree.shown("");
    let dir = temp.path().join(&path);
    if source_type == SourceType::Helm {
        build_dependencies(&dir)?;
    }
    let mut file = render::render(&dir, source_type, &options)
        .map_err(|e| e.replace(&temp.path().display().to_string(), &format!("{revision}:")))?;
    file.display = relabel(&file.display, &label).into();
    Ok(Some(file))
}

/// A chart from Git whose dependencies are declared but not committed (no `charts/`
/// folder) gets them with `helm dependency build`, as Argo CD's repo server does; only ever
/// in a temporary copy, never in the user's folder.
fn build_dependencies(chart: &Path) -> Result<(), String> {
    let declared = std::fs::read_to_string(chart.join("Chart.yaml"))
        .ok()
        .and_then(|text| serde_saphyr::from_str::<Value>(&text).ok())
        .and_then(|doc| {
            doc.get("dependencies")
                .and_then(Value::as_array)
                .map(|d| !d.is_empty())
        })
        .unwrap_or(false);
    if !declared || chart.join("charts").is_dir() {
        return Ok(());
    }
    let out = Command::new("helm")
        .args(["dependency", "build"])
        .arg(chart)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "the chart declares dependencies and `helm dependency build` could not run: {e}"
            )
        })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first: Vec<&str> = stderr.lines().take(10).collect();
    Err(format!(
        "`helm dependency build` failed:\n{}",
        first.join("\n")
    ))
}

/// The source type of `path` at `revision` as detected in the tree; `None` when it cannot be
/// read (the read itself reports why).
pub fn git_source_type(repo: &Path, revision: &str, path: Option<&str>) -> Option<SourceType> {
    let repository = git::open_repository(repo).ok()?;
    let tree = RevisionTree::new(&repository, revision, path).ok()?;
    Some(detect_in_tree(&tree.folder().ok()?))
}

/// Whether a repoURL is fetched with `git` (any URL) rather than opened (a local path).
fn is_remote(url: &str) -> bool {
    url.contains("://") || (url.contains('@') && url.contains(':') && !Path::new(url).exists())
}

/// A bare mirror of `url` in the cache, fetched now (Argo CD resolves the revision at sync
/// time, so a branch means its current tip).
fn mirror(url: &str, cache: Option<&Path>) -> Result<PathBuf, String> {
    let base = cache
        .map(Path::to_path_buf)
        .or_else(default_cache_dir)
        .ok_or("no cache folder for Git mirrors: set XDG_CACHE_HOME or HOME")?;
    let slug: String = url
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let slug = slug.trim_matches('-');
    let slug = &slug[slug.len().saturating_sub(60)..];
    let dir = base.join("git").join(format!("{slug}-{:016x}", fnv(url)));
    let git = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("git")
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run git (needed to fetch {url}): {e}; install Git, or use a local clone as repoURL"))?;
        if out.status.success() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first: Vec<&str> = stderr.lines().take(10).collect();
            Err(format!(
                "`git {}` failed:\n{}",
                args.join(" "),
                first.join("\n")
            ))
        }
    };
    if dir.join("HEAD").is_file() {
        git(&[
            "--git-dir",
            &dir.to_string_lossy(),
            "fetch",
            "--prune",
            "--quiet",
            "origin",
        ])?;
    } else {
        std::fs::create_dir_all(dir.parent().unwrap_or(&base))
            .map_err(|e| format!("cannot create {}: {e}", base.display()))?;
        let partial = dir.with_extension("partial");
        let _ = std::fs::remove_dir_all(&partial);
        git(&[
            "clone",
            "--mirror",
            "--quiet",
            url,
            &partial.to_string_lossy(),
        ])?;
        std::fs::rename(&partial, &dir)
            .map_err(|e| format!("cannot move the mirror into {}: {e}", dir.display()))?;
    }
    Ok(dir)
}

fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KUBECTL_WAVES_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("kubectl-waves"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("kubectl-waves"))
}

/// FNV-1a: a stable folder name per URL (not security-relevant).
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// The commit a targetRevision names: `HEAD`, a branch, a tag or a commit, also as the
/// remote-tracking branch of a local clone (`origin/main`).
fn resolve_commit<'r>(
    repo: &'r git2::Repository,
    revision: &str,
) -> Result<git2::Commit<'r>, String> {
    let found = repo
        .revparse_single(revision)
        .or_else(|_| repo.revparse_single(&format!("origin/{revision}")));
    found
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| format!("unknown targetRevision `{revision}`: {}", e.message()))
}

/// Argo CD's detection on a Git tree: a Kustomization file → Kustomize, a `Chart.yaml` → Helm.
fn detect_in_tree(tree: &git2::Tree) -> SourceType {
    let has = |name: &str| tree.get_name(name).is_some();
    if render::KUSTOMIZATION_FILES.iter().any(|f| has(f)) {
        SourceType::Kustomize
    } else if has("Chart.yaml") {
        SourceType::Helm
    } else {
        SourceType::Directory
    }
}

/// Glob matching as Argo CD's directory include/exclude: `*` any run of characters (also
/// `/`), `?` one character, `[abc]` / `[a-z]` / `[!a]` a class, `{a,b}` alternatives.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    expand_braces(pattern).iter().any(|p| {
        match_simple(
            &p.chars().collect::<Vec<_>>(),
            &text.chars().collect::<Vec<_>>(),
        )
    })
}

fn expand_braces(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_string()];
    };
    let mut depth = 0;
    let mut close = None;
    let mut splits = Vec::new();
    for (i, c) in pattern[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            ',' if depth == 1 => splits.push(open + i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_string()];
    };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    let mut bounds = vec![open];
    bounds.extend(&splits);
    bounds.push(close);
    let mut out = Vec::new();
    for pair in bounds.windows(2) {
        let alt = &pattern[pair[0] + 1..pair[1]];
        for rest in expand_braces(&format!("{alt}{tail}")) {
            out.push(format!("{head}{rest}"));
        }
    }
    out
}

fn match_simple(p: &[char], t: &[char]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, len)) = match_class(&p[pi..], t[ti])
                        && matched
                    {
                        pi += len;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `[...]` at the start of `p`: whether `c` matches and the class's length.
fn match_class(p: &[char], c: char) -> Option<(bool, usize)> {
    let end = p.iter().skip(2).position(|x| *x == ']')? + 2;
    let body = &p[1..end];
    let (negate, body) = match body.first() {
        Some('!') | Some('^') => (true, &body[1..]),
        _ => (false, body),
    };
    let mut matched = false;
    let mut i = 0;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == '-' {
            matched |= body[i] <= c && c <= body[i + 2];
            i += 3;
        } else {
            matched |= body[i] == c;
            i += 1;
        }
    }
    Some((matched != negate, end + 1))
}

fn kustomize_has_edits(k: &KustomizeSource) -> bool {
    k.name_prefix.as_deref().is_some_and(|s| !s.is_empty())
        || k.name_suffix.as_deref().is_some_and(|s| !s.is_empty())
        || !k.images.is_empty()
        || !k.common_labels.is_empty()
        || !k.common_annotations.is_empty()
        || k.namespace.as_deref().is_some_and(|s| !s.is_empty())
        || !k.replicas.is_empty()
        || !k.patches.is_empty()
        || !k.components.is_empty()
}

/// Argo CD applies an Application's `kustomize` section with `kustomize edit` in its copy of
/// the app; we get the same output from a kustomization layered over the app (its only
/// resource), written next to the exported tree.
fn write_kustomize_overlay(
    root: &Path,
    path: &str,
    k: &KustomizeSource,
) -> Result<PathBuf, String> {
    let dir = root.join(".kubectl-waves-overlay");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot write the overlay: {e}"))?;
    let app = if path.is_empty() {
        "..".to_string()
    } else {
        format!("../{path}")
    };
    let mut doc = serde_json::Map::new();
    doc.insert(
        "apiVersion".into(),
        "kustomize.config.k8s.io/v1beta1".into(),
    );
    doc.insert("kind".into(), "Kustomization".into());
    doc.insert(
        "resources".into(),
        Value::Array(vec![Value::String(app.clone())]),
    );
    if let Some(p) = k.name_prefix.as_deref().filter(|s| !s.is_empty()) {
        doc.insert("namePrefix".into(), p.into());
    }
    if let Some(s) = k.name_suffix.as_deref().filter(|s| !s.is_empty()) {
        doc.insert("nameSuffix".into(), s.into());
    }
    if let Some(ns) = k.namespace.as_deref().filter(|s| !s.is_empty()) {
        doc.insert("namespace".into(), ns.into());
    }
    if !k.images.is_empty() {
        doc.insert(
            "images".into(),
            Value::Array(k.images.iter().map(|i| kustomize_image(i)).collect()),
        );
    }
    if !k.common_labels.is_empty() {
        let pairs = serde_json::to_value(&k.common_labels).unwrap_or_default();
        doc.insert(
            "labels".into(),
            serde_json::json!([{"pairs": pairs, "includeSelectors": !k.label_without_selector}]),
        );
    }
    if !k.common_annotations.is_empty() {
        doc.insert(
            "commonAnnotations".into(),
            serde_json::to_value(&k.common_annotations).unwrap_or_default(),
        );
    }
    if !k.replicas.is_empty() {
        let list: Vec<Value> = k
            .replicas
            .iter()
            .map(|r| {
                let count = match &r.count {
                    Value::String(s) => {
                        s.parse::<i64>().map(Value::from).unwrap_or(r.count.clone())
                    }
                    other => other.clone(),
                };
                serde_json::json!({"name": r.name, "count": count})
            })
            .collect();
        doc.insert("replicas".into(), Value::Array(list));
    }
    if !k.patches.is_empty() {
        doc.insert("patches".into(), Value::Array(k.patches.clone()));
    }
    if !k.components.is_empty() {
        let list = k
            .components
            .iter()
            .map(|c| {
                if c.contains("://") {
                    Value::String(c.clone())
                } else {
                    Value::String(format!("{app}/{c}"))
                }
            })
            .collect();
        doc.insert("components".into(), Value::Array(list));
    }
    // JSON is YAML: kustomize reads it as its kustomization.yaml.
    let text = serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default();
    std::fs::write(dir.join("kustomization.yaml"), text)
        .map_err(|e| format!("cannot write the overlay: {e}"))?;
    Ok(dir)
}

/// An image as `kustomize edit set image` takes it: `[old=]new[:tag][@digest]`.
fn kustomize_image(spec: &str) -> Value {
    let (old, new) = match spec.split_once('=') {
        Some((o, n)) => (Some(o), n),
        None => (None, spec),
    };
    let (rest, digest) = match new.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (new, None),
    };
    // A tag is after the last `:` that follows the last `/` (a registry may have a port).
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
        None => (rest, None),
    };
    let mut image = serde_json::Map::new();
    match old {
        Some(old) => {
            image.insert("name".into(), old.into());
            image.insert("newName".into(), name.into());
        }
        None => {
            image.insert("name".into(), name.into());
        }
    }
    if let Some(tag) = tag {
        image.insert("newTag".into(), tag.into());
    }
    if let Some(digest) = digest {
        image.insert("digest".into(), digest.into());
    }
    Value::Object(image)
}

/// Writes every file of `tree` under `dest` (symlinks as symlinks, executables executable;
/// submodules are skipped, as Argo CD does not fetch them either unless configured).
fn export_tree(repo: &git2::Repository, tree: &git2::Tree, dest: &Path) -> Result<(), String> {
    let mut failure: Option<String> = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        let Ok(name) = entry.name() else {
            return git2::TreeWalkResult::Skip;
        };
        let target = dest.join(root).join(name);
        let result: Result<(), String> = match entry.kind() {
            Some(git2::ObjectType::Tree) => {
                std::fs::create_dir_all(&target).map_err(|e| e.to_string())
            }
            Some(git2::ObjectType::Blob) => (|| {
                let blob = repo
                    .find_blob(entry.id())
                    .map_err(|e| e.message().to_string())?;
                if blob.size() as u64 > read::max_input_bytes() {
                    return Err(read::too_large(
                        &format!("{root}{name}"),
                        read::max_input_bytes(),
                    ));
                }
                if entry.filemode() == 0o120000 {
                    #[cfg(unix)]
                    {
                        let link = String::from_utf8_lossy(blob.content()).into_owned();
                        return std::os::unix::fs::symlink(link, &target)
                            .map_err(|e| e.to_string());
                    }
                }
                std::fs::write(&target, blob.content()).map_err(|e| e.to_string())?;
                #[cfg(unix)]
                if entry.filemode() == 0o100755 {
                    use std::os::unix::fs::PermissionsExt;
                    let _ =
                        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755));
                }
                Ok(())
            })(),
            _ => Ok(()),
        };
        match result {
            Ok(()) => git2::TreeWalkResult::Ok,
            Err(e) => {
                failure = Some(format!("cannot write {root}{name} for the renderer: {e}"));
                git2::TreeWalkResult::Abort
            }
        }
    })
    .ok();
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Whether `path` (resolved lexically) stays under `root`.
fn inside(root: &Path, path: &Path) -> bool {
    let mut parts: Vec<std::path::Component> = Vec::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::CurDir => {}
            other => parts.push(other),
        }
    }
    parts.iter().collect::<PathBuf>().starts_with(root)
}

/// The renderer's stream name with the temporary folder replaced by `REV:path`.
fn relabel(display: &str, label: &str) -> String {
    match display.split_once(" (") {
        Some((_, tool)) => format!("{label} ({tool}"),
        None => label.to_string(),
    }
}

/// A folder removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> Result<TempDir, String> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "kubectl-waves-{what}-{}-{nanos:x}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_argo_cd_directory_filters() {
        assert!(glob_match("*.yaml", "a.yaml"));
        assert!(glob_match("*.yaml", "sub/a.yaml"), "`*` crosses folders");
        assert!(!glob_match("*.yaml", "a.json"));
        assert!(glob_match("{config.json,env-usw2/*}", "env-usw2/x.yaml"));
        assert!(glob_match("{config.json,env-usw2/*}", "config.json"));
        assert!(!glob_match("{config.json,env-usw2/*}", "deploy.yaml"));
        assert!(glob_match("app-?.yaml", "app-1.yaml"));
        assert!(glob_match("[a-c]*.yaml", "b.yaml"));
        assert!(!glob_match("[!a-c]*.yaml", "b.yaml"));
    }

    #[test]
    fn images_are_read_as_kustomize_edit_set_image() {
        assert_eq!(
            kustomize_image("nginx:1.25"),
            serde_json::json!({"name": "nginx", "newTag": "1.25"})
        );
        assert_eq!(
            kustomize_image("nginx=registry:5000/web/nginx:2"),
            serde_json::json!({"name": "nginx", "newName": "registry:5000/web/nginx", "newTag": "2"})
        );
        assert_eq!(
            kustomize_image("registry:5000/nginx@sha256:abc"),
            serde_json::json!({"name": "registry:5000/nginx", "digest": "sha256:abc"})
        );
    }

    #[test]
    fn an_application_is_read_with_its_settings() {
        let doc: Value = serde_saphyr::from_str(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: shop, namespace: argocd}\nspec:\n  source: {repoURL: /r, path: apps/shop, targetRevision: main, helm: {parameters: [{name: a, value: '1', forceString: true}]}}\n  destination: {server: 'https://kubernetes.default.svc', namespace: shop}\n  syncPolicy:\n    automated: {prune: true}\n    syncOptions: [CreateNamespace=true, ServerSideApply=true, ServerSideApply=false]\n",
        )
        .unwrap();
        let app = from_value(&doc, "app.yaml").unwrap();
        assert_eq!(app.name, "shop");
        assert_eq!(app.destination_namespace.as_deref(), Some("shop"));
        assert!(app.automated_prune);
        assert!(app.sync_option_true("CreateNamespace"));
        assert!(
            !app.sync_option_true("ServerSideApply"),
            "the last one wins"
        );
        assert!(app.sources[0].helm.as_ref().unwrap().parameters[0].force_string);
    }

    #[test]
    fn a_bad_field_names_its_path() {
        let doc: Value = serde_saphyr::from_str(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: shop}\nspec:\n  source: {repoURL: /r, helm: {valueFiles: values.yaml}}\n",
        )
        .unwrap();
        let err = from_value(&doc, "app.yaml").unwrap_err();
        assert!(
            err.contains("app.yaml: Application/shop: spec.source.helm.valueFiles"),
            "{err}"
        );
    }

    #[test]
    fn overlay_paths_cannot_escape() {
        assert!(inside(Path::new("/t"), Path::new("/t/a/../b")));
        assert!(!inside(Path::new("/t"), Path::new("/t/a/../../etc")));
    }
}
