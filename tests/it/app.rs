//! `--app FILE|NAME`: an Argo CD Application drives the run — its sources read from Git at
//! `targetRevision` (a local path with libgit2, any URL mirrored with `git`), Kustomize
//! options, destination namespace, sync options and ignoreDifferences. Repositories are made
//! by the tests; Kustomize runs the kubectl that testenv/build builds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::common::waves;
use crate::support::cluster::{cluster, wait_for};
use crate::sync::{Run, cluster_command};

/// Runs `git` in `dir`, with an identity and no signing, whatever the machine's config.
fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=waves-test",
            "-c",
            "user.email=waves-test@example.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (rel, text) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// A repository whose first commit (tagged `v1`) holds `files`.
fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    commit(dir.path(), files, "first");
    git(dir.path(), &["tag", "v1"]);
    dir
}

fn commit(dir: &Path, files: &[(&str, &str)], message: &str) {
    write(dir, files);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
}

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n")
}

/// Writes an Application (its `spec` given as YAML lines under `spec:`) and returns its path.
fn application(dir: &Path, spec: &str) -> PathBuf {
    let path = dir.join("app.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shop\n  namespace: argocd\nspec:\n  project: default\n{spec}"
        ),
    )
    .unwrap();
    path
}

/// `plan --app FILE -o json`, parsed; PATH and extra environment as given.
fn plan_json(app: &Path, env: &[(&str, &str)]) -> Value {
    let mut cmd = waves();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .args(["plan", "--app"])
        .arg(app)
        .args(["-o", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `Kind/name` of every planned object, in order.
fn names(plan: &Value) -> Vec<String> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["resources"].as_array().unwrap())
        .map(|r| {
            format!(
                "{}/{}",
                r["kind"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn an_application_reads_its_target_revision_not_the_work_tree() {
    let repo = repo(&[
        ("apps/shop/a.yaml", &config_map("a")),
        ("apps/shop/sub/deep.yaml", &config_map("deep")),
        ("README.md", "not a manifest\n"),
    ]);
    commit(
        repo.path(),
        &[("apps/shop/b.yaml", &config_map("b"))],
        "second",
    );
    // Not committed: Argo CD never sees it, nor do we.
    write(repo.path(), &[("apps/shop/c.yaml", &config_map("c"))]);
    let work = tempfile::tempdir().unwrap();
    let source = |revision: &str, directory: &str| {
        format!(
            "  source:\n    repoURL: {}\n    path: apps/shop\n    targetRevision: {revision}\n{directory}  destination:\n    server: https://kubernetes.default.svc\n    namespace: shop\n",
            repo.path().display()
        )
    };

    let plan = plan_json(&application(work.path(), &source("v1", "")), &[]);
    assert_eq!(
        names(&plan),
        ["ConfigMap/a"],
        "v1, top level only (Argo CD recurses only with directory.recurse)"
    );
    let resource = &plan["steps"][0]["resources"][0];
    assert_eq!(resource["source"], "v1:apps/shop/a.yaml:1");
    assert_eq!(
        plan["sources"],
        json!([{"type": "directory", "path": "v1:apps/shop", "application": "shop"}])
    );

    let plan = plan_json(&application(work.path(), &source("main", "")), &[]);
    assert_eq!(
        names(&plan),
        ["ConfigMap/a", "ConfigMap/b"],
        "the branch tip, committed files only"
    );

    let recurse = "    directory:\n      recurse: true\n      exclude: '{b.yaml,README*}'\n";
    let plan = plan_json(&application(work.path(), &source("HEAD", recurse)), &[]);
    assert_eq!(names(&plan), ["ConfigMap/a", "ConfigMap/deep"]);

    let include = "    directory:\n      recurse: true\n      include: 'sub/*'\n";
    let plan = plan_json(&application(work.path(), &source("HEAD", include)), &[]);
    assert_eq!(names(&plan), ["ConfigMap/deep"]);
}

#[test]
fn an_applications_kustomize_options_are_applied_to_its_app() {
    // Only the kubectl testenv/build builds: no kustomize or helm of the machine.
    let only = crate::support::tools::path_with(&["kubectl"]);
    let repo = repo(&[
        (
            "base/kustomization.yaml",
            "resources:\n- deployment.yaml\nconfigMapGenerator:\n- name: settings\n  literals: [LOG_LEVEL=info]\n",
        ),
        (
            "base/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: web\n        image: registry.invalid/web:1\n        envFrom:\n        - configMapRef: {name: settings}\n",
        ),
        ("envs/prod/kustomization.yaml", "resources:\n- ../../base\n"),
    ]);
    let work = tempfile::tempdir().unwrap();
    let app = application(
        work.path(),
        &format!(
            "  source:\n    repoURL: {}\n    path: envs/prod\n    kustomize:\n      namePrefix: prod-\n      images: [registry.invalid/web:2]\n      commonLabels: {{team: shop}}\n  destination: {{namespace: shop}}\n",
            repo.path().display()
        ),
    );
    let path = only.to_str().unwrap();
    let plan = plan_json(&app, &[("PATH", path)]);
    let names = names(&plan);
    assert!(
        names.contains(&"Deployment/prod-web".to_string()),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("ConfigMap/prod-settings-")),
        "the generated ConfigMap keeps its hash suffix: {names:?}"
    );
    assert_eq!(plan["sources"][0]["type"], "kustomize");
    assert_eq!(plan["sources"][0]["renderer"], "kubectl kustomize");
    let source = plan["steps"][0]["resources"][0]["source"].as_str().unwrap();
    assert!(
        source.starts_with("HEAD:envs/prod (kubectl kustomize):"),
        "named after the revision, not a temporary folder: {source}"
    );

    let out = waves()
        .env("PATH", path)
        .args(["annotate", "--stdout", "--app"])
        .arg(&app)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("image: registry.invalid/web:2"), "{text}");
    assert!(text.contains("team: shop"), "{text}");
    assert!(
        text.contains("name: prod-settings-"),
        "the reference follows the generated name: {text}"
    );

    let out = waves()
        .env("PATH", path)
        .args(["plan", "--app"])
        .arg(&app)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(
            "SOURCE  Application/shop: kustomize HEAD:envs/prod, rendered by `kubectl kustomize`"
        ),
        "{text}"
    );
}

#[test]
fn a_remote_repository_is_mirrored_with_git_and_fetched_on_every_run() {
    let upstream = repo(&[("deploy/a.yaml", &config_map("a"))]);
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let app = application(
        work.path(),
        &format!(
            "  source:\n    repoURL: file://{}\n    path: deploy\n    targetRevision: main\n  destination: {{namespace: shop}}\n",
            upstream.path().display()
        ),
    );
    let env = [("KUBECTL_WAVES_CACHE_DIR", cache.path().to_str().unwrap())];
    assert_eq!(names(&plan_json(&app, &env)), ["ConfigMap/a"]);
    let mirrors: Vec<_> = std::fs::read_dir(cache.path().join("git"))
        .unwrap()
        .collect();
    assert_eq!(mirrors.len(), 1, "one mirror per repoURL");

    commit(
        upstream.path(),
        &[("deploy/b.yaml", &config_map("b"))],
        "more",
    );
    assert_eq!(
        names(&plan_json(&app, &env)),
        ["ConfigMap/a", "ConfigMap/b"],
        "a branch is its current tip: the mirror is fetched again"
    );
}

#[test]
fn bad_applications_are_bad_input() {
    let repo = repo(&[("a.yaml", &config_map("a"))]);
    let work = tempfile::tempdir().unwrap();
    let run = |app: &Path, extra: &[&str]| {
        let out = waves()
            .args(["plan", "--app"])
            .arg(app)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let not_app = work.path().join("cm.yaml");
    std::fs::write(&not_app, config_map("x")).unwrap();
    let (code, err) = run(&not_app, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("holds no Argo CD Application"), "{err}");

    let app = application(
        work.path(),
        &format!(
            "  source:\n    repoURL: {}\n    targetRevision: nope\n",
            repo.path().display()
        ),
    );
    let (code, err) = run(&app, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("Application/shop"), "{err}");
    assert!(err.contains("unknown targetRevision `nope`"), "{err}");

    let app = application(
        work.path(),
        &format!(
            "  source:\n    repoURL: {}\n    plugin: {{name: cmp}}\n",
            repo.path().display()
        ),
    );
    let (code, err) = run(&app, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("plugins are not supported yet"), "{err}");

    let (code, err) = run(&app, &["fixtures/shop"]);
    assert_eq!(code, Some(2), "--app and paths exclude each other: {err}");

    let (code, err) = run(Path::new("missing-app.yaml"), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing-app.yaml"), "{err}");
}

async fn run(cmd: Command) -> Run {
    crate::sync::run_to_end(cmd).await
}

#[tokio::test]
async fn sync_and_diff_follow_the_applications_sync_options_and_ignore_differences() {
    let ns = cluster().ns("app").await;
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations: {argocd.argoproj.io/sync-wave: \"1\"}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: web, image: registry.invalid/web:1}\n";
    let repo = repo(&[
        ("deploy/settings.yaml", &config_map("settings")),
        ("deploy/web.yaml", deployment),
    ]);
    let work = tempfile::tempdir().unwrap();
    let app = application(
        work.path(),
        &format!(
            "  source:\n    repoURL: {}\n    path: deploy\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {}\n  syncPolicy:\n    syncOptions: [RespectIgnoreDifferences=true]\n  ignoreDifferences:\n  - group: apps\n    kind: Deployment\n    jsonPointers: [/spec/replicas]\n",
            repo.path().display(),
            ns.name
        ),
    );
    let app = app.to_str().unwrap();

    let r = run(cluster_command("sync", &ns.name, &["--app", app])).await;
    assert_eq!(r.code, 0, "{r:?}");
    let cm: kube::Api<ConfigMap> = ns.api();
    let settings = cm.get("settings").await.unwrap();
    let annotations = settings.metadata.annotations.unwrap_or_default();
    assert!(
        annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"),
        "no ServerSideApply=true in the Application: client-side apply, as Argo CD: {annotations:?}"
    );

    // An autoscaler (the test) owns replicas now.
    let deployments: kube::Api<Deployment> = ns.api();
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();

    let r = run(cluster_command("diff", &ns.name, &["--app", app])).await;
    assert_eq!(r.code, 0, "the ignored replicas are no difference: {r:?}");

    let r = run(cluster_command("sync", &ns.name, &["--app", app])).await;
    assert_eq!(r.code, 0, "{r:?}");
    wait_for(
        &deployments,
        "web",
        "replicas kept at 3 (RespectIgnoreDifferences=true)",
        Duration::from_secs(5),
        |d: Option<&Deployment>| d.and_then(|d| d.spec.replicas) == Some(3),
    )
    .await;

    let r = run(cluster_command("status", &ns.name, &["--app", app])).await;
    assert_eq!(r.code, 0, "status reads the same Application: {r:?}");
}

#[test]
fn a_kustomize_app_at_a_git_revision_is_rendered_and_compared_across_revisions() {
    // Only the kubectl testenv/build builds: no kustomize or helm of the machine.
    let only = crate::support::tools::path_with(&["kubectl"]);
    let deployment = |tag: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n      - {{name: web, image: 'registry.invalid/web:{tag}'}}\n"
        )
    };
    let repo = repo(&[
        ("base/kustomization.yaml", "resources:\n- deployment.yaml\n"),
        ("base/deployment.yaml", &deployment("1")),
        (
            "envs/prod/kustomization.yaml",
            "namePrefix: prod-\nresources:\n- ../../base\n",
        ),
    ]);
    commit(
        repo.path(),
        &[("base/deployment.yaml", &deployment("2"))],
        "web 2",
    );
    let path = only.to_str().unwrap();
    let repo_dir = repo.path().to_str().unwrap();

    let out = waves()
        .env("PATH", path)
        .args([
            "plan",
            "--revision",
            "v1",
            "--repo",
            repo_dir,
            "--path",
            "envs/prod",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        names(&plan),
        ["Deployment/prod-web"],
        "rendered, not read as files"
    );
    assert_eq!(plan["sources"][0]["type"], "kustomize");
    assert_eq!(plan["sources"][0]["path"], "v1:envs/prod");

    let out = waves()
        .env("PATH", path)
        .args([
            "diff",
            "--revision",
            "v1..main",
            "--repo",
            repo_dir,
            "--path",
            "envs/prod",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Deployment/prod-web"), "{text}");
    assert!(text.contains("registry.invalid/web:2"), "{text}");
}

/// The files of `fixtures/charts/hooks-demo`, as (path under `prefix`, text).
fn chart_files(prefix: &str) -> Vec<(String, String)> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{rel}/{name}");
            if entry.path().is_dir() {
                walk(&entry.path(), &rel, out);
            } else {
                out.push((rel, std::fs::read_to_string(entry.path()).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &crate::common::root().join("fixtures/charts/hooks-demo"),
        prefix,
        &mut out,
    );
    out
}

#[test]
fn an_applications_helm_source_is_rendered_as_argo_cd_renders_it() {
    let files = chart_files("charts/demo");
    let mut files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    files.push((
        "charts/demo/values-prod.yaml",
        "replicas: 2\nwidget: {enabled: false}\n",
    ));
    let repo = repo(&files);
    let dir = tempfile::tempdir().unwrap();
    let app = application(
        dir.path(),
        &format!(
            "  source:\n    repoURL: {}\n    targetRevision: v1\n    path: charts/demo\n    helm:\n      releaseName: demo\n      skipCrds: true\n      valueFiles: [values-prod.yaml]\n      parameters:\n      - {{name: replicas, value: \"4\"}}\n  destination:\n    namespace: shop\n",
            repo.path().display()
        ),
    );
    let tools = crate::support::tools::path_with(&["helm"]);
    let plan = plan_json(&app, &[("PATH", tools.to_str().unwrap())]);
    assert_eq!(
        names(&plan),
        [
            "ServiceAccount/demo-migrator",
            "ConfigMap/demo-upgrade-notice",
            "Job/demo-migrate",
            "ConfigMap/demo-config",
            "Service/demo-web",
            "Deployment/demo-web",
            "Job/demo-smoke",
            "ConfigMap/demo-release-note",
        ],
        "skipCrds and the values file's widget.enabled=false: no CRD, no Widget"
    );
    // Objects name their template in Helm's words, without a line.
    let sources: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["resources"].as_array().unwrap())
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources[0], "hooks-demo/templates/hook-serviceaccount.yaml");
    assert!(
        sources
            .iter()
            .all(|s| s.starts_with("hooks-demo/templates/") && !s.contains(".yaml:")),
        "{sources:?}"
    );
}

/// A chart whose objects show what Helm was given: release name and namespace, values from a
/// file, inline values and parameters, and the cluster it was rendered for.
const SHOP_CHART: &[(&str, &str)] = &[
    (
        "charts/shop/Chart.yaml",
        "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
    ),
    (
        "charts/shop/values.yaml",
        "message: from chart\ntag: \"1\"\nreplicas: 1\n",
    ),
    (
        "charts/shop/templates/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\n  namespace: {{ .Release.Namespace }}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"-1\"\ndata:\n  message: {{ .Values.message | quote }}\n  tag: {{ .Values.tag | quote }}\n  replicas: {{ .Values.replicas | quote }}\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n",
    ),
];

/// `annotate --stdout --app FILE`: the rendered objects as YAML.
fn rendered(app: &Path, path: &str) -> String {
    let out = waves()
        .env("PATH", path)
        .args(["annotate", "--stdout", "--app"])
        .arg(app)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_applications_helm_section_is_passed_to_helm_template_as_argo_cd_passes_it() {
    let path = crate::support::tools::path_with(&["helm"]);
    let path = path.to_str().unwrap();
    let charts = repo(SHOP_CHART);
    let values = repo(&[("envs/prod.yaml", "message: from $values\ntag: \"7\"\n")]);
    let work = tempfile::tempdir().unwrap();
    let app = application(
        work.path(),
        &format!(
            "  sources:\n  - repoURL: {}\n    path: charts/shop\n    helm:\n      releaseName: shop-prod\n      valueFiles: [$values/envs/prod.yaml]\n      parameters:\n      - {{name: replicas, value: \"3\"}}\n      valuesObject:\n        message: inline\n  - repoURL: {}\n    ref: values\n  destination: {{namespace: shop}}\n",
            charts.path().display(),
            values.path().display()
        ),
    );
    let text = rendered(&app, path);
    assert!(
        text.contains("name: shop-prod-settings"),
        "releaseName: {text}"
    );
    assert!(
        text.contains("namespace: shop"),
        "the destination namespace: {text}"
    );
    assert!(
        text.contains("message: \"inline\""),
        "inline values come last: {text}"
    );
    assert!(text.contains("tag: \"7\""), "the $values file: {text}");
    assert!(text.contains("replicas: \"3\""), "parameters: {text}");

    let plan = plan_json(&app, &[("PATH", path)]);
    assert_eq!(plan["sources"][0]["type"], "helm");
    assert_eq!(plan["sources"][0]["renderer"], "helm template");
    let source = plan["steps"][0]["resources"][0]["source"].as_str().unwrap();
    assert_eq!(
        source, "shop/templates/settings.yaml",
        "Helm's own words, no line"
    );

    // Without a release name, Argo CD uses the Application's name.
    let app = application(
        work.path(),
        &format!(
            "  source:\n    repoURL: {}\n    path: charts/shop\n  destination: {{namespace: shop}}\n",
            charts.path().display()
        ),
    );
    assert!(rendered(&app, path).contains("name: shop-settings"));

    let app = application(
        work.path(),
        &format!(
            "  source:\n    repoURL: {}\n    path: charts/shop\n    helm: {{valueFiles: [missing.yaml]}}\n",
            charts.path().display()
        ),
    );
    let out = waves()
        .env("PATH", path)
        .args(["plan", "--app"])
        .arg(&app)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("value file `missing.yaml` does not exist"),
        "{err}"
    );
}

/// Serves `dir` over HTTP on 127.0.0.1 (GET only) for as long as the test runs: a Helm chart
/// repository.
fn serve(dir: PathBuf) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) <= 2 {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/");
            let file = dir.join(path.trim_start_matches('/'));
            let response = match std::fs::read(&file) {
                Ok(body) => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend(body);
                    r
                }
                Err(_) => {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec()
                }
            };
            let _ = stream.write_all(&response);
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_chart_from_a_helm_repository_is_fetched_at_the_target_revision() {
    let tools = crate::support::tools::path_with(&["helm"]);
    let path = tools.to_str().unwrap();
    let src = tempfile::tempdir().unwrap();
    write(src.path(), SHOP_CHART);
    let served = tempfile::tempdir().unwrap();
    let helm = |args: &[&str]| {
        let out = Command::new(tools.join("helm"))
            .args(args)
            .env("HELM_CACHE_HOME", served.path().join(".cache"))
            .env("HELM_CONFIG_HOME", served.path().join(".config"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "helm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    helm(&[
        "package",
        src.path().join("charts/shop").to_str().unwrap(),
        "-d",
        served.path().to_str().unwrap(),
    ]);
    helm(&["repo", "index", served.path().to_str().unwrap()]);
    let url = serve(served.path().to_path_buf());
    let work = tempfile::tempdir().unwrap();
    let app = application(
        work.path(),
        &format!(
            "  source:\n    repoURL: {url}\n    chart: shop\n    targetRevision: 0.1.0\n    helm:\n      parameters: [{{name: tag, value: \"9\", forceString: true}}]\n  destination: {{namespace: shop}}\n"
        ),
    );
    let cache = tempfile::tempdir().unwrap();
    let out = waves()
        .env("PATH", path)
        .env("HELM_CACHE_HOME", cache.path().join("cache"))
        .env("HELM_CONFIG_HOME", cache.path().join("config"))
        .args(["annotate", "--stdout", "--app"])
        .arg(&app)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("name: shop-settings"), "{text}");
    assert!(text.contains("tag: \"9\""), "{text}");
}

#[tokio::test]
async fn sync_renders_a_chart_for_the_cluster_it_syncs_to() {
    let tools = crate::support::tools::path_with(&["helm"]);
    let ns = cluster().ns("helmcap").await;
    let chart = tempfile::tempdir().unwrap();
    write(chart.path(), SHOP_CHART);
    let dir = chart.path().join("charts/shop");
    let dir = dir.to_str().unwrap();

    let out = waves()
        .env("PATH", &tools)
        .args(["annotate", "--stdout", dir, "-n", &ns.name])
        .output()
        .unwrap();
    let offline = String::from_utf8_lossy(&out.stdout).into_owned();

    let mut cmd = cluster_command("sync", &ns.name, &[dir]);
    cmd.env("PATH", &tools);
    let r = run(cmd).await;
    assert_eq!(r.code, 0, "{r:?}");
    let cms: kube::Api<ConfigMap> = ns.api();
    let settings = cms.get("shop-settings").await.unwrap();
    let data = settings.data.unwrap_or_default();
    let version = cluster().client().await.apiserver_version().await.unwrap();
    assert_eq!(
        data.get("kube").map(String::as_str),
        Some(version.git_version.as_str()),
        "--kube-version from the cluster (offline: {offline})"
    );
    assert!(
        !offline.contains(&format!("kube: \"{}\"", version.git_version)),
        "offline, Helm's own default version is used, not the cluster's: {offline}"
    );
}

#[tokio::test]
async fn an_application_is_read_from_the_cluster_by_name() {
    let ns = cluster().ns("appname").await;
    crate::support::operators::install_operator_crds(&ns.client).await;
    let repo = repo(&[("deploy/a.yaml", &config_map("a"))]);
    let work = tempfile::tempdir().unwrap();
    let file = application(
        work.path(),
        &format!(
            "  source:\n    repoURL: {}\n    path: deploy\n  destination: {{namespace: shop}}\n",
            repo.path().display()
        ),
    );
    // In the test's namespace instead of argocd's.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("  namespace: argocd\n", "");
    std::fs::write(&file, text).unwrap();
    let out = ns_kubectl(&ns.name)
        .args(["apply", "-n", &ns.name, "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let r = run(cluster_command(
        "plan",
        &ns.name,
        &["--app", "shop", "--app-namespace", &ns.name, "-o", "json"],
    ))
    .await;
    assert_eq!(r.code, 0, "{r:?}");
    let plan: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(names(&plan), ["ConfigMap/a"]);
    assert_eq!(plan["sources"][0]["application"], "shop");

    let r = run(cluster_command(
        "plan",
        &ns.name,
        &["--app", "absent", "--app-namespace", &ns.name],
    ))
    .await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("Application {}/absent not found", ns.name)),
        "{r:?}"
    );
}

/// kubectl against the test cluster.
fn ns_kubectl(_ns: &str) -> Command {
    let mut cmd = Command::new(cluster().kubectl_path());
    cmd.env("KUBECONFIG", &cluster().kubeconfig);
    cmd
}
