//! `kubectl waves diff`: against the real control plane of `testenv/` (each test syncs a small
//! app into a fresh namespace, changes its files, and reads what `diff` says), and between
//! two Git revisions of a repository the test builds (no cluster at all).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::run;
use crate::support::cluster::{TestNs, cluster};
use crate::sync::{Run, app, cluster_command, config_map, deployment, path, sync};

/// `kubectl-waves diff` with the test cluster's kubeconfig, in namespace `ns`, and no
/// external diff program from the environment.
fn diff_command(ns: &str, args: &[&str]) -> Command {
    let mut cmd = cluster_command("diff", ns, args);
    cmd.env_remove("KUBECTL_EXTERNAL_DIFF");
    cmd
}

async fn run_diff(cmd: Command) -> Run {
    crate::sync::run_to_end(cmd).await
}

async fn diff(ns: &str, args: &[&str]) -> Run {
    run_diff(diff_command(ns, args)).await
}

/// `diff -o json`, parsed.
async fn diff_json(ns: &str, args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let r = diff(ns, &all).await;
    let json = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"));
    (r.code, json)
}

/// (step, kind/name, action) of every object in a JSON report.
fn actions(report: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for step in report["steps"].as_array().unwrap() {
        let label = format!("{} {}", step["phase"].as_str().unwrap(), step["wave"]);
        for o in step["objects"].as_array().unwrap() {
            out.push((
                label.clone(),
                format!(
                    "{}/{}",
                    o["object"]["kind"].as_str().unwrap(),
                    o["object"]["name"].as_str().unwrap()
                ),
                o["action"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

fn action_of<'a>(list: &'a [(String, String, String)], object: &str) -> (&'a str, &'a str) {
    list.iter()
        .find(|(_, o, _)| o == object)
        .map(|(s, _, a)| (s.as_str(), a.as_str()))
        .unwrap_or_else(|| panic!("{object} not in {list:?}"))
}

fn secret(name: &str, wave: i64, password: &str) -> String {
    format!(
        "apiVersion: v1
kind: Secret
metadata:
  name: {name}
  annotations:
    argocd.argoproj.io/sync-wave: \"{wave}\"
stringData:
  password: {password}
  user: app
---
"
    )
}

async fn synced(ns: &TestNs, dir: &tempfile::TempDir) {
    let r = sync(&ns.name, &[path(dir), "--timeout", "90s"]).await;
    assert_eq!(r.code, 0, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_reports_create_change_unchanged_and_prune_per_step() {
    let ns = cluster().ns("diff-steps").await;
    let files = |config: &str, with_web: bool| {
        let mut text = config_map("settings", -1).replace("key: value", config);
        if with_web {
            text.push_str(&deployment("web", 0, "", ""));
        }
        text.push_str(&config_map("routes", 1));
        text
    };
    let dir = app(&[("app.yaml", &files("key: value", true))]);
    let inventory = ["--applyset", "diff-app"];

    // Nothing live yet: every object is a create, in its step, and that is a difference.
    let (code, before) = diff_json(&ns.name, &[path(&dir), inventory[0], inventory[1]]).await;
    assert_eq!(code, 1, "{before}");
    let list = actions(&before);
    assert_eq!(
        action_of(&list, "ConfigMap/settings"),
        ("Sync -1", "create")
    );
    assert_eq!(action_of(&list, "Deployment/web"), ("Sync 0", "create"));
    assert_eq!(action_of(&list, "ConfigMap/routes"), ("Sync 1", "create"));

    let r = sync(
        &ns.name,
        &[path(&dir), "--timeout", "90s", "--applyset", "diff-app"],
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}");

    // Right after the sync: no differences, although the live Deployment carries every field
    // the apiserver defaulted (strategy, probes' defaults, terminationMessagePath, ...).
    let r = diff(&ns.name, &[path(&dir), "--applyset", "diff-app"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("No differences"), "{r:?}");
    assert!(
        !r.stdout.contains("\n+") && !r.stdout.contains("\n-"),
        "{r:?}"
    );

    // One change, one object gone (prune with --prune), one unchanged: counted per step.
    std::fs::write(dir.path().join("app.yaml"), files("key: changed", false)).unwrap();
    let (code, after) =
        diff_json(&ns.name, &[path(&dir), "--applyset", "diff-app", "--prune"]).await;
    assert_eq!(code, 1, "{after}");
    let list = actions(&after);
    assert_eq!(
        action_of(&list, "ConfigMap/settings"),
        ("Sync -1", "change")
    );
    assert_eq!(action_of(&list, "Deployment/web"), ("Sync 0", "prune"));
    assert_eq!(
        action_of(&list, "ConfigMap/routes"),
        ("Sync 1", "unchanged")
    );
    let settings = after["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["objects"].as_array().unwrap())
        .find(|o| o["object"]["name"] == "settings")
        .unwrap();
    assert_eq!(
        settings["patch"],
        serde_json::json!([{"op": "replace", "path": "/data/key", "value": "changed"}])
    );
    assert_eq!(after["totals"]["change"], 1);
    assert_eq!(after["totals"]["prune"], 1);

    // The text view: steps in execution order with their counts, the YAML diff of the change.
    let r = diff(&ns.name, &[path(&dir), "--applyset", "diff-app", "--prune"]).await;
    assert_eq!(r.code, 1, "{r:?}");
    let settings_step = r
        .stdout
        .find("Sync wave -1  (change 1)")
        .expect("step -1 header");
    let prune_step = r
        .stdout
        .find("Sync wave 0  (prune 1)")
        .expect("step 0 header");
    let last_step = r
        .stdout
        .find("Sync wave 1  (unchanged 1)")
        .expect("step 1 header");
    assert!(
        settings_step < prune_step && prune_step < last_step,
        "{r:?}"
    );
    assert!(
        r.stdout.contains("-  key: value\n+  key: changed\n"),
        "{r:?}"
    );
    // Without --prune the Deployment is not mentioned.
    let r = diff(&ns.name, &[path(&dir), "--applyset", "diff-app"]).await;
    assert!(!r.stdout.contains("Deployment/"), "{r:?}");
    // --summary: headers only.
    let r = diff(
        &ns.name,
        &[path(&dir), "--applyset", "diff-app", "--summary"],
    )
    .await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.stdout.contains("key: changed"), "{r:?}");
    assert!(r.stdout.contains("(change 1)"), "{r:?}");
}

/// Every file under `dir`, read as text.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.push_str(&all_text(&p));
        } else {
            out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_value_never_leaks_and_the_external_diff_gets_two_folders() {
    let ns = cluster().ns("diff-secret").await;
    let old = "old-Pa55word-7f3a";
    let new = "new-Pa55word-91c2";
    let dir = app(&[("app.yaml", &secret("db", 0, old))]);
    synced(&ns, &dir).await;
    std::fs::write(dir.path().join("app.yaml"), secret("db", 0, new)).unwrap();
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let forbidden = [old.to_string(), new.to_string(), b64(old), b64(new)];
    let assert_clean = |what: &str, text: &str| {
        for f in &forbidden {
            assert!(!text.contains(f.as_str()), "{what} leaks {f}:\n{text}");
        }
    };

    let r = diff(&ns.name, &[path(&dir)]).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("Secret keys: changed password"), "{r:?}");
    assert!(
        r.stdout.contains("*** (before)") && r.stdout.contains("*** (after)"),
        "{r:?}"
    );
    assert_clean("text stdout", &r.stdout);
    assert_clean("text stderr", &r.stderr);
    for format in ["json", "yaml"] {
        let r = diff(&ns.name, &[path(&dir), "-o", format]).await;
        assert_eq!(r.code, 1, "{r:?}");
        assert!(r.stdout.contains("password"), "{r:?}");
        assert_clean(format, &r.stdout);
        assert_clean(format, &r.stderr);
    }

    // KUBECTL_EXTERNAL_DIFF: a program that records its arguments and copies both folders,
    // run as kubectl runs it (the folders first, then the words that look like flags).
    let capture = tempfile::tempdir().unwrap();
    let script = capture.path().join("record-diff");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {out}/args\ncp -r \"$1\" {out}/from\ncp -r \"$2\" {out}/to\nexit 1\n",
            out = capture.path().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = diff_command(&ns.name, &[path(&dir)]);
    cmd.env(
        "KUBECTL_EXTERNAL_DIFF",
        format!("{} -u --color=never $(rm)", script.display()),
    );
    let r = run_diff(cmd).await;
    assert_eq!(r.code, 1, "the program's exit 1 means differences: {r:?}");
    assert_clean("external stdout", &r.stdout);
    let args = std::fs::read_to_string(capture.path().join("args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(args.len(), 4, "{args:?}");
    let name = |p: &str| {
        Path::new(p)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    assert!(name(args[0]).starts_with("LIVE-"), "{args:?}");
    assert!(name(args[1]).starts_with("MERGED-"), "{args:?}");
    assert_eq!(
        &args[2..],
        ["-u", "--color=never"],
        "words with other characters are dropped"
    );
    let file = format!("v1.Secret.{}.db", ns.name);
    let from = std::fs::read_to_string(capture.path().join("from").join(&file)).unwrap();
    let to = std::fs::read_to_string(capture.path().join("to").join(&file)).unwrap();
    assert!(
        from.contains("*** (before)") && to.contains("*** (after)"),
        "{from}\n{to}"
    );
    assert_clean("external files", &all_text(capture.path()));
    // The folders are removed afterwards.
    assert!(!Path::new(args[0]).exists() && !Path::new(args[1]).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_differences_leaves_out_pointers_and_other_managers_fields() {
    let ns = cluster().ns("diff-ignore").await;
    let dir = app(&[("app.yaml", &deployment("web", 0, "", ""))]);
    synced(&ns, &dir).await;
    // Another manager (an autoscaler, say) changes the replicas.
    let out = cluster()
        .kubectl()
        .args(["-n", &ns.name, "scale", "deployment/web", "--replicas=3"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Our apply forces its value back: a change.
    let (code, report) = diff_json(&ns.name, &[path(&dir)]).await;
    assert_eq!(code, 1, "{report}");
    assert_eq!(action_of(&actions(&report), "Deployment/web").1, "change");

    let rules = tempfile::tempdir().unwrap();
    let pointers = rules.path().join("pointers.yaml");
    std::fs::write(
        &pointers,
        "- group: apps\n  kind: Deployment\n  jsonPointers: [/spec/replicas]\n",
    )
    .unwrap();
    let (code, report) = diff_json(
        &ns.name,
        &[
            path(&dir),
            "--ignore-differences",
            pointers.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        action_of(&actions(&report), "Deployment/web").1,
        "unchanged"
    );

    // The same through an Application's managedFieldsManagers (kubectl scale's manager).
    let application = rules.path().join("app.yaml");
    std::fs::write(
        &application,
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec:\n  ignoreDifferences:\n  - group: apps\n    kind: Deployment\n    name: web\n    managedFieldsManagers: [kubectl]\n",
    )
    .unwrap();
    let (code, report) = diff_json(
        &ns.name,
        &[
            path(&dir),
            "--ignore-differences",
            application.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{report}");

    // jqPathExpressions are refused, not skipped.
    let jq = rules.path().join("jq.yaml");
    std::fs::write(
        &jq,
        "- kind: Deployment\n  jqPathExpressions: ['.spec.replicas']\n",
    )
    .unwrap();
    let r = diff(
        &ns.name,
        &[path(&dir), "--ignore-differences", jq.to_str().unwrap()],
    )
    .await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("jq.yaml: rule 1: jqPathExpressions"),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_in_a_namespace_or_kind_this_sync_creates_are_not_validated() {
    let ns = cluster().ns("diff-new").await;
    let group = format!("{}.diff.test", ns.name);
    let other = format!("{}-app", ns.name);
    let files = format!(
        "apiVersion: v1
kind: Namespace
metadata:
  name: {other}
  annotations: {{argocd.argoproj.io/sync-wave: \"-1\"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: inside, namespace: {other}}}
data: {{a: b}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
  annotations: {{argocd.argoproj.io/sync-wave: \"-1\"}}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: widgets, singular: widget, kind: Widget}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: {group}/v1
kind: Widget
metadata: {{name: w}}
spec: {{size: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: broken}}
spec:
  ports: [{{port: 99999}}]
"
    );
    let dir = app(&[("app.yaml", &files)]);
    let (code, report) = diff_json(&ns.name, &[path(&dir)]).await;
    let list = actions(&report);
    // The Namespace and the CRD can be dry-run: they are creates.
    assert_eq!(action_of(&list, &format!("Namespace/{other}")).1, "create");
    assert_eq!(
        action_of(&list, &format!("CustomResourceDefinition/widgets.{group}")).1,
        "create"
    );
    // What lives in them cannot be yet.
    assert_eq!(action_of(&list, "ConfigMap/inside").1, "createNotValidated");
    assert_eq!(action_of(&list, "Widget/w").1, "createNotValidated");
    let messages: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["objects"].as_array().unwrap())
        .filter_map(|o| o["message"].as_str())
        .collect();
    assert!(
        messages.contains(&format!("Namespace {other} is created by this sync").as_str()),
        "{messages:?}"
    );
    // The server refuses the invalid Service: reported in its step, and exit 2.
    assert_eq!(action_of(&list, "Service/broken").1, "rejected");
    assert!(messages.iter().any(|m| m.contains("99999")), "{messages:?}");
    assert_eq!(code, 2, "{report}");
}

/// A repository with two commits of one app: the first, and the change under review.
fn repository(first: &[(&str, &str)], second: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    let sig = git2::Signature::now("t", "t@example.com").unwrap();
    let app = dir.path().join("deploy");
    let mut parent: Option<git2::Oid> = None;
    for (n, files) in [first, second].into_iter().enumerate() {
        if app.exists() {
            std::fs::remove_dir_all(&app).unwrap();
        }
        std::fs::create_dir_all(&app).unwrap();
        for (name, text) in files {
            std::fs::write(app.join(name), text).unwrap();
        }
        let mut index = repo.index().unwrap();
        index.remove_all(["*"], None).unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let parents: Vec<git2::Commit> = parent
            .map(|p| repo.find_commit(p).unwrap())
            .into_iter()
            .collect();
        let parent_refs: Vec<&git2::Commit> = parents.iter().collect();
        let id = repo
            .commit(
                Some("HEAD"),
                &sig,
                &sig,
                &format!("c{n}"),
                &tree,
                &parent_refs,
            )
            .unwrap();
        parent = Some(id);
    }
    dir
}

#[test]
fn two_revisions_compare_per_step_with_no_cluster() {
    let hook = "apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    argocd.argoproj.io/hook: PreSync
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: registry.invalid/m:1}]
";
    let first = [
        ("config.yaml", config_map("config", 1)),
        ("old.yaml", secret("old", 0, "first-S3cret")),
        ("web.yaml", deployment("web", 2, "", "")),
    ];
    let second = [
        ("config.yaml", config_map("config", 2)),
        ("hook.yaml", hook.to_string()),
        (
            "web.yaml",
            deployment("web", 2, "", "").replace("replicas: 1", "replicas: 2"),
        ),
    ];
    let as_refs = |files: &[(&str, String)]| -> Vec<(String, String)> {
        files
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect()
    };
    let (a, b) = (as_refs(&first), as_refs(&second));
    let a: Vec<(&str, &str)> = a.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let b: Vec<(&str, &str)> = b.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let dir = repository(&a, &b);
    let repo = dir.path().to_str().unwrap();
    // No kubeconfig anywhere: this never contacts a cluster.
    let base = [
        "diff",
        "--revision",
        "HEAD~1..HEAD",
        "--repo",
        repo,
        "--path",
        "deploy",
        "--kubeconfig",
        "/nonexistent",
    ];

    let (code, stdout, stderr) = run(&base);
    assert_eq!(code, 1, "{stderr}");
    let step = |label: &str| {
        stdout
            .find(label)
            .unwrap_or_else(|| panic!("no {label:?} in\n{stdout}"))
    };
    // Steps in execution order, the hook first.
    assert!(
        step("PreSync wave 0") < step("Sync wave 0") && step("Sync wave 0") < step("Sync wave 1")
    );
    assert!(step("Sync wave 1") < step("Sync wave 2"));
    assert!(
        stdout.contains("added                   Job/migrate"),
        "{stdout}"
    );
    assert!(
        stdout.contains("removed                 Secret/old"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ConfigMap/config")
            && stdout.contains("moves from Sync wave 1 to Sync wave 2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("moved away              ConfigMap/config  → Sync wave 2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("-  replicas: 1\n+  replicas: 2\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("first-S3cret"),
        "a Secret value leaked:\n{stdout}"
    );

    let (code, stdout, stderr) = run(&[&base[..], &["-o", "json"]].concat());
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let list = actions(&report);
    assert_eq!(action_of(&list, "Job/migrate"), ("PreSync 0", "added"));
    assert_eq!(action_of(&list, "Secret/old"), ("Sync 0", "removed"));
    assert_eq!(action_of(&list, "ConfigMap/config"), ("Sync 2", "moved"));
    assert_eq!(action_of(&list, "Deployment/web"), ("Sync 2", "changed"));
    assert_eq!(report["from"], "HEAD~1");
    assert_eq!(report["to"], "HEAD");
    assert!(!stdout.contains("first-S3cret"));

    // The same revision on both sides: nothing differs, exit 0.
    let (code, stdout, stderr) = run(&[
        "diff",
        "--revision",
        "HEAD..HEAD",
        "--repo",
        repo,
        "--path",
        "deploy",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("No differences"), "{stdout}");
    // A revision that does not exist: exit 2, named.
    let (code, _, stderr) = run(&[
        "diff",
        "--revision",
        "HEAD..nope",
        "--repo",
        repo,
        "--path",
        "deploy",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_objects_of_a_kind_are_read_by_one_list_and_compared_the_same() {
    let ns = cluster().ns("diff-many").await;
    let maps = |n: usize, changed: usize| -> String {
        (0..n)
            .map(|i| {
                let text = config_map(&format!("m{i}"), (i % 2) as i64);
                if i == changed {
                    text.replace("key: value", "key: other")
                } else {
                    text
                }
            })
            .collect()
    };
    let dir = app(&[("app.yaml", &maps(12, usize::MAX))]);
    synced(&ns, &dir).await;
    // One more object (not live), one changed, the other eleven unchanged.
    std::fs::write(dir.path().join("app.yaml"), maps(13, 4)).unwrap();
    let (code, report) = diff_json(&ns.name, &[path(&dir)]).await;
    assert_eq!(code, 1, "{report}");
    let list = actions(&report);
    assert_eq!(action_of(&list, "ConfigMap/m4"), ("Sync 0", "change"));
    assert_eq!(action_of(&list, "ConfigMap/m12"), ("Sync 0", "create"));
    assert_eq!(report["totals"]["unchanged"], 11, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_respecting_ignore_differences_keeps_the_live_replicas() {
    let ns = cluster().ns("diff-respect").await;
    let dir = app(&[("app.yaml", &deployment("web", 0, "", ""))]);
    synced(&ns, &dir).await;
    let out = cluster()
        .kubectl()
        .args(["-n", &ns.name, "scale", "deployment/web", "--replicas=3"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rules = tempfile::tempdir().unwrap();
    let file = rules.path().join("ignore.yaml");
    std::fs::write(
        &file,
        "- group: apps\n  kind: Deployment\n  jsonPointers: [/spec/replicas]\n",
    )
    .unwrap();
    let replicas = || async {
        let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> = ns.api();
        api.get("web").await.unwrap().spec.replicas
    };
    let r = sync(
        &ns.name,
        &[
            path(&dir),
            "--timeout",
            "90s",
            "--ignore-differences",
            file.to_str().unwrap(),
            "--respect-ignore-differences",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        replicas().await,
        Some(3),
        "the ignored field kept its live value"
    );
    // Without the option the manifests win, as Argo CD without RespectIgnoreDifferences.
    synced(&ns, &dir).await;
    assert_eq!(replicas().await, Some(1));
}
