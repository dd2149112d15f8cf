//! Kustomize and Helm apps read as Argo CD reads them: the source type detected from the app
//! folder (or `--source-type`), rendered by the tool on PATH. The Kustomize tests run the
//! `kubectl` that `testenv/build` builds (its `kubectl kustomize`), never a system one.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::waves;

/// A folder holding only the kubectl built by testenv/build, for PATH.
fn testenv_kubectl_dir() -> PathBuf {
    let dir = crate::common::root().join("target/testenv/bin");
    assert!(
        dir.join("kubectl").is_file(),
        "{}/kubectl is missing: run testenv/build (CI builds it before the tests)",
        dir.display()
    );
    // Only kubectl: a kustomize or helm of the machine must not be picked up.
    let only = tempfile::tempdir().unwrap().keep();
    std::os::unix::fs::symlink(dir.join("kubectl"), only.join("kubectl")).unwrap();
    only
}

/// A base with a Deployment reading a generated ConfigMap, and an overlay with a name
/// prefix and a patch: the shape of Argo CD's kustomize examples.
fn kustomize_app() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "base/kustomization.yaml",
        "resources:\n- deployment.yaml\nconfigMapGenerator:\n- name: settings\n  literals: [LOG_LEVEL=info]\n",
    );
    write(
        "base/deployment.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    argocd.argoproj.io/sync-wave: \"1\"
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
        envFrom:
        - configMapRef: {name: settings}
",
    );
    write(
        "overlay/kustomization.yaml",
        "namePrefix: prod-\nresources:\n- ../base\npatches:\n- target: {kind: Deployment, name: web}\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 3\n",
    );
    dir
}

fn run_with_path(path: &Path, args: &[&str]) -> (i32, String, String) {
    let out = waves().env("PATH", path).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn rendered_output_is_under_the_input_limit() {
    // A real render over a small cap: the same error as for a file or stdin, exit 2.
    let bin = testenv_kubectl_dir();
    let app = kustomize_app();
    let overlay = app.path().join("overlay");
    let (code, stdout, stderr) = run_with_path(
        &bin,
        &["plan", overlay.to_str().unwrap(), "--max-input-size", "256"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("(kubectl kustomize) is larger than the input limit of 256 bytes"),
        "{stderr}"
    );
    // A renderer whose output never ends is stopped at the cap instead of filling memory.
    let endless = tempfile::tempdir().unwrap();
    let script = endless.path().join("kustomize");
    std::fs::write(&script, "#!/bin/sh\nexec yes 'kind: ConfigMap'\n").unwrap();
    let mut mode = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut mode, 0o755);
    std::fs::set_permissions(&script, mode).unwrap();
    let path =
        std::env::join_paths([endless.path(), Path::new("/usr/bin"), Path::new("/bin")]).unwrap();
    let (code, _, stderr) = run_with_path(
        Path::new(&path),
        &["plan", overlay.to_str().unwrap(), "--max-input-size", "1Mi"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("(kustomize build) is larger than the input limit of 1 MiB"),
        "{stderr}"
    );
}

#[test]
fn a_kustomize_overlay_is_rendered_and_its_generated_references_survive() {
    let bin = testenv_kubectl_dir();
    let app = kustomize_app();
    let overlay = app.path().join("overlay");
    let overlay = overlay.to_str().unwrap();

    let (code, stdout, stderr) = run_with_path(&bin, &["plan", overlay, "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let resources: Vec<&Value> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["resources"].as_array().unwrap())
        .collect();
    let names: Vec<&str> = resources
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{stdout}");
    assert!(
        names[0].starts_with("prod-settings-"),
        "the generated ConfigMap first: {names:?}"
    );
    assert_eq!(names[1], "prod-web", "{names:?}");
    assert!(
        resources[1]["source"]
            .as_str()
            .unwrap()
            .contains("(kubectl kustomize):"),
        "{stdout}"
    );
    // The patch was applied by kustomize, not by us.
    let (_, text, _) = run_with_path(&bin, &["plan", overlay]);
    assert!(text.contains("prod-web"), "{text}");

    // annotate sees the reference kustomize rewrote to the hashed name.
    let (code, stdout, stderr) = run_with_path(&bin, &["annotate", overlay, "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let edges = report["edges"].as_array().unwrap();
    assert!(
        edges.iter().any(|e| e["from"] == "Deployment/prod-web"
            && e["to"]
                .as_str()
                .unwrap()
                .starts_with("ConfigMap/prod-settings-")),
        "{stdout}"
    );

    // --write cannot edit rendered output.
    let (code, _, stderr) = run_with_path(&bin, &["annotate", overlay, "--write"]);
    assert_eq!(code, 2, "{stderr}");

    // --source-type directory reads the files themselves: a kustomization is no object.
    let (code, _, stderr) = run_with_path(&bin, &["plan", overlay, "--source-type", "directory"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("kustomization.yaml"), "{stderr}");
}

#[test]
fn a_missing_renderer_is_named_with_what_to_do() {
    let empty = tempfile::tempdir().unwrap();
    let app = kustomize_app();
    let overlay = app.path().join("overlay");
    let (code, stdout, stderr) = run_with_path(empty.path(), &["plan", overlay.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("is a Kustomize app") && stderr.contains("kustomize build"),
        "{stderr}"
    );

    let chart = tempfile::tempdir().unwrap();
    std::fs::write(
        chart.path().join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::create_dir(chart.path().join("templates")).unwrap();
    let (code, _, stderr) = run_with_path(empty.path(), &["plan", chart.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("is a Helm chart") && stderr.contains("helm template"),
        "{stderr}"
    );
    // The flags that only make sense for one app folder say so.
    let (code, _, stderr) = run_with_path(empty.path(), &["plan", "-", "--source-type", "helm"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("exactly one app folder"), "{stderr}");
}
