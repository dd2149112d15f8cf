//! `kubectl waves sync` against the real control plane of `testenv/`. Each test writes a small
//! app into a temporary directory, syncs it into a fresh namespace, and asserts on what the
//! cluster saw (a trace of watch events ordered by resourceVersion), not on our own log.

use std::process::{Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ListParams;

use crate::common::bin;
use crate::support::cluster::{TestNs, cluster};
use crate::support::recorder::{KINDS, Recorder, Trace};

/// The result of one `kubectl waves sync`.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `kubectl-waves SUBCOMMAND` with the test cluster's kubeconfig, in namespace `ns`.
pub fn cluster_command(subcommand: &str, ns: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.current_dir(crate::common::root())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .arg(subcommand)
        .args(args)
        .args(["-n", ns, "--kubeconfig"])
        .arg(&cluster().kubeconfig)
        .stdin(Stdio::null());
    cmd
}

/// `kubectl-waves sync` with the test cluster's kubeconfig, in namespace `ns`.
pub fn sync_command(ns: &str, args: &[&str]) -> Command {
    cluster_command("sync", ns, args)
}

/// Runs a sync to its end (off the async workers, so the recorder keeps receiving).
pub async fn sync(ns: &str, args: &[&str]) -> Run {
    run_to_end(sync_command(ns, args)).await
}

/// Runs a command to its end off the async workers (recorders and watches keep receiving).
pub async fn run_to_end(mut cmd: Command) -> Run {
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run kubectl-waves"))
        .await
        .expect("command task");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes `files` (name, YAML) into a new temporary directory.
pub fn app(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write manifest");
    }
    dir
}

pub(crate) fn path(dir: &tempfile::TempDir) -> &str {
    dir.path().to_str().expect("utf-8 temp path")
}

async fn recorder(ns: &TestNs) -> Recorder {
    Recorder::start(&ns.client, &ns.name, KINDS).await
}

pub(crate) fn job(
    name: &str,
    annotations: &str,
    pod_labels: &str,
    pod_annotations: &str,
) -> String {
    format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  {name}
  annotations:
{annotations}
spec:
  backoffLimit: 0
  template:
    metadata:
      labels: {{{pod_labels}}}
      annotations: {{{pod_annotations}}}
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: registry.invalid/job:1
"
    )
}

pub(crate) fn config_map(name: &str, wave: i64) -> String {
    format!(
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  annotations:
    argocd.argoproj.io/sync-wave: \"{wave}\"
data:
  key: value
---
"
    )
}

pub(crate) fn deployment(name: &str, wave: i64, pod_labels: &str, pod_annotations: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  annotations:
    argocd.argoproj.io/sync-wave: \"{wave}\"
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}{pod_labels}}}
      annotations: {{{pod_annotations}}}
    spec:
      containers:
      - name: main
        image: registry.invalid/{name}:1
---
"
    )
}

/// A namespaced CustomResourceDefinition that takes any fields (group: one per test, as CRDs
/// are cluster-wide).
fn namespaced_crd(group: &str, plural: &str, singular: &str, kind: &str) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: {plural}, singular: {singular}, kind: {kind}}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"
    )
}

/// The seeds' deadlock: a PreSync hook (kept Pending by kwok) reads a Secret that only the
/// Sync phase creates.
pub(crate) fn hook_reading_a_later_secret() -> tempfile::TempDir {
    let hook = "apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    argocd.argoproj.io/hook: PreSync
    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {test.waves/ready-after: 1h}
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: registry.invalid/migrate:1
        envFrom:
        - secretRef: {name: db-credentials}
";
    let secret = "apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
stringData: {password: x}
";
    app(&[("hook.yaml", hook), ("secret.yaml", secret)])
}

fn available(o: &serde_json::Value) -> bool {
    o.pointer("/status/availableReplicas")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0)
        >= 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_starts_only_after_the_previous_one_is_healthy() {
    let ns = cluster().ns("sync-order").await;
    let dir = app(&[(
        "app.yaml",
        &[
            config_map("first", -1),
            deployment("slow", 0, "", "test.waves/ready-after: \"3s\""),
            config_map("last", 1),
        ]
        .concat(),
    )]);
    let rec = recorder(&ns).await;
    let run = sync(&ns.name, &[path(&dir)]).await;
    let trace = rec.stop().await;
    assert_eq!(run.code, 0, "{run:?}");
    let first = trace
        .first_event("ADDED", "ConfigMap", "first")
        .expect("first created");
    let slow = trace
        .first_event("ADDED", "Deployment", "slow")
        .expect("slow created");
    let ready = trace
        .first_where("Deployment", "slow", &available)
        .expect("slow became available");
    let last = trace
        .first_event("ADDED", "ConfigMap", "last")
        .expect("last created");
    assert!(first < slow, "wave -1 before wave 0: {first} < {slow}");
    assert!(
        ready < last,
        "wave 1 applied only after the wave-0 Deployment was available ({ready} < {last})"
    );
    assert!(run.stdout.contains("Sync Succeeded"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_presync_hook_stops_the_sync_and_runs_syncfail() {
    let ns = cluster().ns("sync-presync-fail").await;
    let dir = app(&[
        (
            "hooks.yaml",
            &[
                job(
                    "name: migrate",
                    "    argocd.argoproj.io/hook: PreSync",
                    "test.waves/fail: exit-1",
                    "",
                ),
                "---\n".into(),
                job(
                    "generateName: alert-",
                    "    argocd.argoproj.io/hook: SyncFail",
                    "",
                    "",
                ),
            ]
            .concat(),
        ),
        ("app.yaml", &config_map("app", 0)),
    ]);
    let rec = recorder(&ns).await;
    let run = sync(&ns.name, &[path(&dir)]).await;
    let trace = rec.stop().await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        trace.first_event("ADDED", "ConfigMap", "app").is_none(),
        "the Sync phase never ran"
    );
    let jobs = trace.added("Job");
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert_eq!(jobs[0], "migrate");
    assert!(
        jobs[1].starts_with("alert-") && jobs[1].ends_with("-syncfail"),
        "{jobs:?}"
    );
    assert!(
        run.stderr.contains("Job/") && run.stderr.contains("/migrate"),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_policies_and_generated_names() {
    let ns = cluster().ns("sync-hook-policies").await;
    let hooks = [
        job(
            "name: succeeded",
            "    argocd.argoproj.io/hook: PreSync\n    argocd.argoproj.io/hook-delete-policy: HookSucceeded",
            "",
            "",
        ),
        job(
            "name: failed-only",
            "    argocd.argoproj.io/hook: PreSync\n    argocd.argoproj.io/hook-delete-policy: HookFailed",
            "",
            "",
        ),
        job(
            "name: recreated",
            "    argocd.argoproj.io/hook: PreSync",
            "",
            "",
        ),
        job(
            "generateName: smoke-",
            "    argocd.argoproj.io/hook: PostSync\n    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation",
            "",
            "",
        ),
    ]
    .join("---\n");
    let dir = app(&[("hooks.yaml", &hooks), ("app.yaml", &config_map("app", 0))]);
    let run = sync(&ns.name, &[path(&dir)]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let jobs = ns.api::<Job>();
    assert!(
        jobs.get_opt("succeeded").await.unwrap().is_none(),
        "HookSucceeded deleted after success"
    );
    assert!(
        jobs.get_opt("failed-only").await.unwrap().is_some(),
        "HookFailed kept after success"
    );
    assert!(jobs.get_opt("recreated").await.unwrap().is_some());
    let smoke: Vec<Job> = jobs
        .list(&ListParams::default().labels("kubectl-waves.io/hook-name=smoke"))
        .await
        .unwrap()
        .items;
    assert_eq!(smoke.len(), 1);
    let labels = smoke[0].metadata.labels.clone().unwrap_or_default();
    let name = smoke[0].metadata.name.clone().unwrap_or_default();
    let sync_id = labels
        .get("kubectl-waves.io/sync-id")
        .cloned()
        .unwrap_or_default();
    assert_eq!(name, format!("smoke-{sync_id}-postsync"));
    assert_eq!(
        labels.get("kubectl-waves.io/hook").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        labels.get("kubectl-waves.io/phase").map(String::as_str),
        Some("PostSync")
    );

    // A second sync deletes the finished fixed-name hook before creating it again.
    let rec = recorder(&ns).await;
    let again = sync(&ns.name, &[path(&dir)]).await;
    let trace = rec.stop().await;
    assert_eq!(again.code, 0, "{again:?}");
    let deleted = trace
        .first_event("DELETED", "Job", "recreated")
        .expect("old run deleted");
    let added = trace
        .first_event("ADDED", "Job", "recreated")
        .expect("new run created");
    assert!(
        deleted < added,
        "BeforeHookCreation: delete ({deleted}) before create ({added})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_container_config_error_fails_fast_naming_the_secret() {
    let ns = cluster().ns("sync-config-error").await;
    let dir = app(&[(
        "app.yaml",
        &deployment(
            "api",
            0,
            ", test.waves/fail: create-config",
            "test.waves/message: 'secret \"api-credentials\" not found'",
        ),
    )]);
    let run = sync(&ns.name, &[path(&dir), "--timeout", "3m"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("CreateContainerConfigError"), "{run:?}");
    assert!(
        run.stderr.contains("secret \"api-credentials\" not found"),
        "{run:?}"
    );
    assert!(run.stderr.contains("pod api-"), "names the pod: {run:?}");
    assert!(
        !run.stderr.contains("deadline"),
        "failed fast, not by deadline: {run:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_reading_a_secret_of_a_later_wave_is_reported_by_deadline() {
    let ns = cluster().ns("sync-deadlock").await;
    let dir = hook_reading_a_later_secret();
    let run = sync(&ns.name, &[path(&dir), "--timeout", "4s"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("deadline passed (--timeout 4s)"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains(&format!(
            "Secret/{}/db-credentials does not exist (this sync creates it later, in step 2 Sync wave 0)",
            ns.name
        )),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_server_writes_nothing() {
    let ns = cluster().ns("sync-dry-run").await;
    let dir = app(&[(
        "app.yaml",
        &[config_map("settings", 0), deployment("web", 1, "", "")].concat(),
    )]);
    let rec = recorder(&ns).await;
    let run = sync(&ns.name, &[path(&dir), "--dry-run=server"]).await;
    let trace = rec.stop().await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(trace.is_empty(), "nothing written: {trace:?}");
    assert!(
        run.stdout.contains(&format!(
            "ConfigMap/{}/settings created (server dry run)",
            ns.name
        )),
        "{run:?}"
    );

    // After a real sync, a changed ConfigMap would be configured, the rest unchanged.
    let synced = sync(&ns.name, &[path(&dir), "--applyset", "app"]).await;
    assert_eq!(synced.code, 0, "{synced:?}");
    let changed = app(&[(
        "app.yaml",
        &[
            config_map("settings", 0).replace("key: value", "key: other"),
            deployment("web", 1, "", ""),
        ]
        .concat(),
    )]);
    let rec = recorder(&ns).await;
    let run = sync(
        &ns.name,
        &[path(&changed), "--dry-run=server", "--applyset", "app"],
    )
    .await;
    let trace = rec.stop().await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(trace.is_empty(), "nothing written: {trace:?}");
    assert!(
        run.stdout.contains(&format!(
            "ConfigMap/{}/settings configured (server dry run)",
            ns.name
        )),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(&format!(
            "Deployment/{}/web unchanged (server dry run)",
            ns.name
        )),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_dry_run_changes_nothing_and_runs_no_syncfail_hook() {
    let ns = cluster().ns("sync-dry-reject").await;
    let bad_service = "apiVersion: v1
kind: Service
metadata:
  name: broken
  annotations:
    argocd.argoproj.io/sync-wave: \"1\"
spec:
  ports:
  - port: 99999
";
    let alert = job(
        "name: alert",
        "    argocd.argoproj.io/hook: SyncFail",
        "",
        "",
    );
    let dir = app(&[
        ("a.yaml", &config_map("fine", 0)),
        ("b-service.yaml", bad_service),
        ("c-alert.yaml", &alert),
    ]);
    let rec = recorder(&ns).await;
    let run = sync(&ns.name, &[path(&dir)]).await;
    let trace = rec.stop().await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        trace.is_empty(),
        "nothing written, no SyncFail hook: {trace:?}"
    );
    assert!(
        run.stderr.contains("b-service.yaml:1"),
        "names path:line: {run:?}"
    );
    assert!(
        run.stderr.contains(&format!("Service/{}/broken", ns.name)),
        "{run:?}"
    );
    assert!(run.stderr.contains("server-side dry run"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_and_its_custom_resource_in_one_sync() {
    let ns = cluster().ns("sync-crd").await;
    // CRDs are cluster-wide: a group of this test's own.
    let group = format!("{}.waves.test", ns.name);
    let crd = namespaced_crd(&group, "widgets", "widget", "Widget");
    let widget = format!(
        "apiVersion: {group}/v1
kind: Widget
metadata:
  name: gear
spec:
  size: 3
"
    );
    let dir = app(&[("crd.yaml", &crd), ("widget.yaml", &widget)]);
    let run = sync(&ns.name, &[path(&dir)]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let kubectl = cluster()
        .kubectl()
        .args([
            "get",
            &format!("widgets.{group}"),
            "gear",
            "-n",
            &ns.name,
            "-o",
            "name",
        ])
        .output()
        .expect("kubectl get");
    assert!(
        String::from_utf8_lossy(&kubectl.stdout).contains("gear"),
        "{}",
        String::from_utf8_lossy(&kubectl.stderr)
    );
    let _ = cluster()
        .kubectl()
        .args(["delete", "crd", &format!("widgets.{group}"), "--wait=false"])
        .output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sync_with_nothing_changed_writes_nothing_but_hooks() {
    let ns = cluster().ns("sync-idempotent").await;
    let service = "apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
---
";
    let hook = job(
        "name: smoke",
        "    argocd.argoproj.io/hook: PostSync",
        "",
        "",
    );
    let dir = app(&[(
        "app.yaml",
        &[
            config_map("settings", 0),
            deployment("web", 1, "", ""),
            service.into(),
            hook,
        ]
        .concat(),
    )]);
    let first = sync(&ns.name, &[path(&dir)]).await;
    assert_eq!(first.code, 0, "{first:?}");
    let rec = Recorder::start(
        &ns.client,
        &ns.name,
        &[
            ("v1", "ConfigMap", "configmaps"),
            ("v1", "Service", "services"),
            ("apps/v1", "Deployment", "deployments"),
            ("batch/v1", "Job", "jobs"),
        ],
    )
    .await;
    let second = sync(&ns.name, &[path(&dir)]).await;
    let trace = rec.stop().await;
    assert_eq!(second.code, 0, "{second:?}");
    let non_hooks: Vec<_> = trace.iter().filter(|w| w.kind != "Job").collect();
    assert!(
        non_hooks.is_empty(),
        "no write to non-hook objects: {non_hooks:?}"
    );
    assert!(
        trace.first_event("ADDED", "Job", "smoke").is_some(),
        "the hook ran again"
    );
    let configs: ConfigMap = ns.api::<ConfigMap>().get("settings").await.unwrap();
    let labels = configs.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels.keys().collect::<Vec<_>>(),
        ["applyset.kubernetes.io/part-of"],
        "non-hooks get only the inventory label"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_events_parse_and_match_what_happened() {
    let ns = cluster().ns("sync-json").await;
    let dir = app(&[(
        "app.yaml",
        &[config_map("one", 0), config_map("two", 1)].concat(),
    )]);
    let run = sync(&ns.name, &[path(&dir), "-o", "json"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(events.first().unwrap()["event"], "syncStarted");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "syncFinished");
    assert_eq!(last["outcome"], "Succeeded");
    assert_eq!(last["steps"].as_array().unwrap().len(), 2);
    let applied: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "applied")
        .map(|e| e["object"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(applied, ["one", "two"]);
    for name in applied {
        assert!(ns.api::<ConfigMap>().get_opt(name).await.unwrap().is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_mid_wave_deletes_running_hooks_and_exits_130() {
    let ns = cluster().ns("sync-sigint").await;
    let hook = job(
        "name: long",
        "    argocd.argoproj.io/hook: PreSync",
        "",
        "test.waves/ready-after: 1h",
    );
    let dir = app(&[("hook.yaml", &hook), ("app.yaml", &config_map("app", 0))]);
    let mut cmd = sync_command(&ns.name, &[path(&dir)]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("start sync");
    let jobs = ns.api::<Job>();
    crate::support::cluster::wait_for(
        &jobs,
        "long",
        "created",
        Duration::from_secs(60),
        kube::runtime::wait::conditions::is_created(),
    )
    .await;
    // Give the sync a moment to be waiting on the hook, then interrupt it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(run.code, 130, "{run:?}");
    assert!(run.stdout.contains("interrupted"), "{run:?}");
    assert!(
        ns.api::<ConfigMap>()
            .get_opt("app")
            .await
            .unwrap()
            .is_none(),
        "no new step"
    );
    crate::support::cluster::wait_for(
        &jobs,
        "long",
        "deleted",
        Duration::from_secs(30),
        |j: Option<&Job>| j.is_none() || j.is_some_and(|j| j.metadata.deletion_timestamp.is_some()),
    )
    .await;
}

fn config_map_with(name: &str, annotations: &str) -> String {
    format!(
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  annotations: {{{annotations}}}
data: {{key: value}}
---
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_mirrors_waves_runs_prune_last_after_the_last_wave_and_keeps_prune_false() {
    let ns = cluster().ns("sync-prune").await;
    let before = app(&[(
        "app.yaml",
        &[
            config_map_with("stays", ""),
            config_map_with("gone-w0", "argocd.argoproj.io/sync-wave: '0'"),
            config_map_with("gone-w5", "argocd.argoproj.io/sync-wave: '5'"),
            config_map_with(
                "gone-last",
                "argocd.argoproj.io/sync-options: PruneLast=true",
            ),
            config_map_with("kept", "argocd.argoproj.io/sync-options: Prune=false"),
        ]
        .concat(),
    )]);
    let first = sync(&ns.name, &[path(&before), "--applyset", "app"]).await;
    assert_eq!(first.code, 0, "{first:?}");

    let after = app(&[(
        "app.yaml",
        &[
            config_map_with("stays", ""),
            config_map_with("new-w3", "argocd.argoproj.io/sync-wave: '3'"),
        ]
        .concat(),
    )]);
    let rec = recorder(&ns).await;
    let run = sync(&ns.name, &[path(&after), "--applyset", "app", "--prune"]).await;
    let trace = rec.stop().await;
    assert_eq!(run.code, 0, "{run:?}");
    let at = |what: &str, name: &str| {
        trace
            .first_event(what, "ConfigMap", name)
            .unwrap_or_else(|| panic!("no {what} {name} in {trace:?}"))
    };
    // Prune waves {0, 5} are mirrored: the wave-5 object goes first (with wave 0's step),
    // the wave-0 one with wave 5; PruneLast after everything (wave 6).
    assert!(at("DELETED", "gone-w5") < at("ADDED", "new-w3"));
    assert!(at("ADDED", "new-w3") < at("DELETED", "gone-w0"));
    assert!(at("DELETED", "gone-w0") < at("DELETED", "gone-last"));
    assert!(
        trace.first_event("DELETED", "ConfigMap", "kept").is_none(),
        "Prune=false is never pruned"
    );
    assert!(
        ns.api::<ConfigMap>()
            .get_opt("kept")
            .await
            .unwrap()
            .is_some()
    );
    assert!(run.stderr.contains("not pruned: Prune=false"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inventory_is_an_applyset_kubectl_agrees_with() {
    let ns = cluster().ns("sync-applyset").await;
    let dir = app(&[("app.yaml", &config_map_with("one", ""))]);
    let run = sync(&ns.name, &[path(&dir), "--applyset", "shop"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let parent = ns
        .api::<k8s_openapi::api::core::v1::Secret>()
        .get("shop")
        .await
        .expect("the parent Secret exists");
    let labels = parent.metadata.labels.unwrap_or_default();
    let annotations = parent.metadata.annotations.unwrap_or_default();
    let id = labels
        .get("applyset.kubernetes.io/id")
        .expect("id label")
        .clone();
    assert_eq!(
        annotations
            .get("applyset.kubernetes.io/contains-group-kinds")
            .map(String::as_str),
        Some("ConfigMap")
    );
    assert!(annotations["applyset.kubernetes.io/tooling"].starts_with("kubectl-waves/v"));
    let member = ns.api::<ConfigMap>().get("one").await.unwrap();
    assert_eq!(
        member.metadata.labels.unwrap_or_default()["applyset.kubernetes.io/part-of"],
        id
    );
    assert_eq!(
        id,
        kubectl_waves::cluster::applyset::applyset_id("shop", &ns.name)
    );

    // kubectl computes the same id for a parent of the same name and namespace.
    let other = cluster().ns("sync-applyset-kubectl").await;
    let file = dir.path().join("app.yaml");
    let out = cluster()
        .kubectl()
        .env("KUBECTL_APPLYSET", "true")
        .args([
            "apply",
            "--server-side",
            "--prune",
            "--applyset=secret/shop",
            "-n",
            &other.name,
            "-f",
        ])
        .arg(&file)
        .output()
        .expect("kubectl apply --applyset");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = other
        .api::<k8s_openapi::api::core::v1::Secret>()
        .get("shop")
        .await
        .unwrap()
        .metadata
        .labels
        .unwrap_or_default()["applyset.kubernetes.io/id"]
        .clone();
    assert_eq!(
        theirs,
        kubectl_waves::cluster::applyset::applyset_id("shop", &other.name)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_without_an_inventory_prunes_nothing_and_says_so() {
    let ns = cluster().ns("sync-prune-none").await;
    let dir = app(&[("app.yaml", &config_map_with("one", ""))]);
    let run = sync(&ns.name, &[path(&dir), "--applyset", "fresh", "--prune"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("no inventory yet"), "{run:?}");
}

/// The plan's steps as (step index, kind, name, hook) of the objects the recorder sees in
/// `namespace` (fixed names only: generated hook names are not known in advance).
fn planned(fixture: &str, namespace: &str) -> Vec<(usize, String, String, bool)> {
    let (code, stdout, stderr) = crate::common::run(&["plan", fixture, "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).expect("plan JSON");
    let watched: Vec<&str> = KINDS.iter().map(|(_, k, _)| *k).collect();
    let mut out = Vec::new();
    for (i, step) in plan["steps"].as_array().unwrap().iter().enumerate() {
        for r in step["resources"].as_array().unwrap() {
            let kind = r["kind"].as_str().unwrap();
            let name = r["name"].as_str().unwrap();
            if r["namespace"] == namespace && watched.contains(&kind) && !name.ends_with('-') {
                let hook = r["hook"].as_bool().unwrap_or(false);
                out.push((i, kind.to_string(), name.to_string(), hook));
            }
        }
    }
    out
}

/// Syncs a fixture app, checks that the cluster saw its objects created step by step, then
/// syncs it again and checks that nothing but its hooks was written.
async fn sync_fixture_twice(fixture: &str, namespace: &str) {
    sync_fixture_twice_with(fixture, namespace, &[]).await;
}

/// [`sync_fixture_twice`] with more arguments for `sync` (and `plan`).
async fn sync_fixture_twice_with(fixture: &str, namespace: &str, extra: &[&str]) {
    let client = cluster().client().await;
    let _logs = cluster().failure_logs();
    let rec = Recorder::start(&client, namespace, KINDS).await;
    let args: Vec<&str> = [fixture, "--timeout", "3m"]
        .iter()
        .chain(extra)
        .copied()
        .collect();
    let run = sync(namespace, &args).await;
    let trace = rec.stop().await;
    assert_eq!(run.code, 0, "{run:?}");
    let planned = planned(fixture, namespace);
    assert!(planned.len() >= 5, "{planned:?}");
    let created: Vec<(usize, u64, String)> = planned
        .iter()
        .map(|(step, kind, name, _)| {
            let rv = trace
                .first_event("ADDED", kind, name)
                .unwrap_or_else(|| panic!("{kind}/{name} was never created: {trace:?}"));
            (*step, rv, format!("{kind}/{name}"))
        })
        .collect();
    for a in &created {
        for b in &created {
            if a.0 < b.0 {
                assert!(
                    a.1 < b.1,
                    "{} (step {}) created after {} (step {})",
                    a.2,
                    a.0 + 1,
                    b.2,
                    b.0 + 1
                );
            }
        }
    }

    let rec = Recorder::start(&client, namespace, KINDS).await;
    let again = sync(namespace, &args).await;
    let trace = rec.stop().await;
    assert_eq!(again.code, 0, "{again:?}");
    // Hooks run again (BeforeHookCreation recreates them); their pods too.
    let hooks: Vec<(&str, &str)> = planned
        .iter()
        .filter(|p| p.3)
        .map(|p| (p.1.as_str(), p.2.as_str()))
        .collect();
    let writes: Vec<String> = trace
        .iter()
        .filter(|w| w.kind != "Pod" && !hooks.contains(&(w.kind.as_str(), w.name.as_str())))
        .filter(|w| {
            w.object
                .pointer("/metadata/labels/kubectl-waves.io~1hook")
                .is_none()
        })
        // What a controller made (a CronJob's Job on its schedule, a Deployment's ReplicaSet)
        // has an owner; the sync applies only manifests, which have none.
        .filter(|w| w.object.pointer("/metadata/ownerReferences/0").is_none())
        .map(|w| format!("{} {}/{}", w.kind_of_event, w.kind, w.name))
        .collect();
    assert!(
        writes.is_empty(),
        "a second sync wrote non-hook objects: {writes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_fixture_syncs_in_order_and_a_second_sync_is_a_no_op() {
    sync_fixture_twice("fixtures/shop", "shop").await;
}

/// Plays the CloudNativePG operator in `namespace`: every `Cluster` reports itself healthy
/// (the ledger's database check holds its wave until then).
fn play_cnpg_operator(
    client: &kube::Client,
    namespace: &str,
) -> crate::support::operators::DatabaseOperator {
    let cnpg = kube::api::ApiResource {
        group: "postgresql.cnpg.io".into(),
        version: "v1".into(),
        api_version: "postgresql.cnpg.io/v1".into(),
        kind: "Cluster".into(),
        plural: "clusters".into(),
    };
    crate::support::operators::run_status_writer(
        client,
        namespace,
        cnpg,
        serde_json::json!({"status": {
            "phase": "Cluster in healthy state",
            "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterIsReady"}],
        }}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_fixture_syncs_in_order_and_a_second_sync_is_a_no_op() {
    let client = cluster().client().await;
    crate::support::operators::install_fixture_storage_classes(&client).await;
    // The database's CloudNativePG check holds wave -5 until the operator reports a healthy
    // cluster; this plays the operator.
    let operator = play_cnpg_operator(&client, "enterprise");
    sync_fixture_twice("fixtures/ledger", "enterprise").await;
    let seen = operator.deployments_when_running();
    assert!(
        seen.iter().any(|(name, _)| name == "ledger-db"),
        "the fake CloudNativePG operator never saw ledger-db: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_a_fixture_syncs_in_order_and_a_second_sync_is_a_no_op() {
    let client = cluster().client().await;
    crate::support::operators::install_operator_crds(&client).await;
    crate::support::operators::install_fixture_storage_classes(&client).await;
    sync_fixture_twice("fixtures/tenant-a", "tenant-a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_on_shared_resource_refuses_another_apps_object_before_any_change() {
    let ns = cluster().ns("sync-shared").await;
    let theirs = format!(
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
  namespace: {}
  annotations:
    argocd.argoproj.io/tracking-id: 'billing:/ConfigMap:{}/shared'
data: {{owner: billing}}
",
        ns.name, ns.name
    );
    let mut kubectl = cluster().kubectl();
    kubectl.args(["apply", "-f", "-"]).stdin(Stdio::piped());
    let mut child = kubectl.spawn().expect("kubectl apply");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), theirs.as_bytes()).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());

    let dir = app(&[(
        "app.yaml",
        &[config_map("mine", -1), config_map("shared", 0)].concat(),
    )]);
    let rec = recorder(&ns).await;
    let run = sync(&ns.name, &[path(&dir), "--fail-on-shared-resource"]).await;
    let trace = rec.stop().await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(trace.is_empty(), "nothing written: {trace:?}");
    assert!(
        run.stderr
            .contains("it belongs to Argo CD application billing"),
        "{run:?}"
    );

    // Without the flag, Git wins as in Argo CD.
    let run = sync(&ns.name, &[path(&dir)]).await;
    assert_eq!(run.code, 0, "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_out_of_sync_only_writes_only_what_changed() {
    let ns = cluster().ns("sync-out-of-sync").await;
    let files = |second: &str| {
        app(&[(
            "app.yaml",
            &[
                config_map("same", 0),
                config_map("edited", 0).replace("key: value", second),
            ]
            .concat(),
        )])
    };
    let first = files("key: value");
    let run = sync(&ns.name, &[path(&first), "--applyset", "app"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let second = files("key: changed");
    let rec = recorder(&ns).await;
    let run = sync(
        &ns.name,
        &[
            path(&second),
            "--applyset",
            "app",
            "--apply-out-of-sync-only",
            "-o",
            "json",
        ],
    )
    .await;
    let trace = rec.stop().await;
    assert_eq!(run.code, 0, "{run:?}");
    let written: Vec<&str> = trace.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(written, ["edited"], "{trace:?}");
    let actions: Vec<(String, String)> = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "applied")
        .map(|e| {
            (
                e["object"]["name"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("same".into(), "unchanged".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("edited".into(), "configured".into())),
        "{actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sync_of_the_same_app_is_refused_while_the_first_holds_its_lease() {
    use k8s_openapi::api::coordination::v1::Lease;
    let ns = cluster().ns("sync-lease").await;
    let dir = app(&[("app.yaml", &config_map("one", 0))]);
    let now = k8s_openapi::jiff::Timestamp::now();
    let lease = |renewed: k8s_openapi::jiff::Timestamp| {
        serde_json::json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "kubectl-waves-app"},
            "spec": {
                "holderIdentity": "kubectl-waves sync 0000000000 on ci-runner-7 (pid 42)",
                "leaseDurationSeconds": 60,
                "renewTime": renewed.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            }
        })
    };
    let leases = ns.api::<Lease>();
    let params = kube::api::PatchParams::apply("waves-test").force();
    leases
        .patch(
            "kubectl-waves-app",
            &params,
            &kube::api::Patch::Apply(&lease(now)),
        )
        .await
        .unwrap();
    let run = sync(&ns.name, &[path(&dir), "--applyset", "app"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("another sync of this app is running")
            && run.stderr.contains("ci-runner-7"),
        "{run:?}"
    );
    assert!(
        ns.api::<ConfigMap>()
            .get_opt("one")
            .await
            .unwrap()
            .is_none()
    );

    // A holder that stopped renewing (killed) loses the lease once it expires.
    let stale = now - k8s_openapi::jiff::SignedDuration::from_secs(300);
    leases
        .patch(
            "kubectl-waves-app",
            &params,
            &kube::api::Patch::Apply(&lease(stale)),
        )
        .await
        .unwrap();
    let run = sync(&ns.name, &[path(&dir), "--applyset", "app"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        leases.get_opt("kubectl-waves-app").await.unwrap().is_none(),
        "released at the end"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_health_checks_from_a_file_and_from_the_clusters_argocd_cm() {
    let ns = cluster().ns("sync-lua").await;
    let group = format!("{}.waves.test", ns.name);
    let crd = namespaced_crd(&group, "gadgets", "gadget", "Gadget");
    let gadget = format!(
        "apiVersion: {group}/v1
kind: Gadget
metadata:
  name: g
spec:
  ok: false
"
    );
    let script = "hs = {}\nif obj.spec.ok then\n  hs.status = \"Healthy\"\nelse\n  hs.status = \"Degraded\"\n  hs.message = \"gadget says no\"\nend\nreturn hs\n";
    let key = format!("resource.customizations.health.{group}_Gadget");
    let cm = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": "argocd"},
        "data": { key.clone(): script }
    });
    let dir = app(&[("crd.yaml", &crd), ("gadget.yaml", &gadget)]);

    // From a file.
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), serde_json::to_string(&cm).unwrap()).unwrap();
    let run = sync(
        &ns.name,
        &[
            path(&dir),
            "--health-config",
            config.path().to_str().unwrap(),
            "--timeout",
            "30s",
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("gadget says no"), "{run:?}");

    // From the cluster's argocd/argocd-cm, said so in the output.
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(ns.client.clone());
    let params = kube::api::PatchParams::apply("waves-test").force();
    namespaces
        .patch(
            "argocd",
            &params,
            &kube::api::Patch::Apply(serde_json::json!({
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}})),
        )
        .await
        .unwrap();
    let maps: kube::Api<ConfigMap> = kube::Api::namespaced(ns.client.clone(), "argocd");
    maps.patch("argocd-cm", &params, &kube::api::Patch::Apply(&cm))
        .await
        .unwrap();
    let run = sync(&ns.name, &[path(&dir), "--timeout", "30s"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("gadget says no"), "{run:?}");
    assert!(
        run.stderr.contains("from the cluster's argocd/argocd-cm"),
        "{run:?}"
    );
    let run = sync(
        &ns.name,
        &[path(&dir), "--timeout", "30s", "--no-cluster-health-config"],
    )
    .await;
    assert_eq!(
        run.code, 0,
        "without the check the Gadget passes at once: {run:?}"
    );
    let _ = cluster()
        .kubectl()
        .args(["delete", "crd", &format!("gadgets.{group}"), "--wait=false"])
        .output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chapter_app_syncs_in_order_and_a_second_sync_is_a_no_op() {
    let client = cluster().client().await;
    // The chapter's app lives in `agents` but does not create it.
    crate::support::operators::ensure_namespace(&client, "agents").await;
    sync_fixture_twice("fixtures/chapter", "agents").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_enterprise_app_syncs_in_order_with_its_lua_check_and_a_second_sync_is_a_no_op() {
    let client = cluster().client().await;
    crate::support::operators::install_operator_crds(&client).await;
    let operator = crate::support::operators::run_database_operator(&client, "production");
    sync_fixture_twice_with(
        "fixtures/enterprise/app",
        "production",
        &["--health-config", "fixtures/enterprise/argocd-cm.yaml"],
    )
    .await;
    // The database held its wave until the operator said Running (the guide's Lua check):
    // no Deployment of a later wave existed then.
    assert_eq!(
        operator.deployments_when_running(),
        [("product-db".to_string(), 0)]
    );
    let db: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        client.clone(),
        "production",
        &kube::api::ApiResource {
            group: "databases.example.com".into(),
            version: "v1alpha1".into(),
            api_version: "databases.example.com/v1alpha1".into(),
            kind: "MyDatabaseInstance".into(),
            plural: "mydatabaseinstances".into(),
        },
    );
    let product_db = db.get("product-db").await.expect("product-db");
    assert_eq!(product_db.data["status"]["phase"], "Running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_app_syncs_in_order_and_a_second_sync_is_a_no_op() {
    let client = cluster().client().await;
    crate::support::operators::install_operator_crds(&client).await;
    // The platform's: the RabbitMQ namespace the credential generator writes to.
    crate::support::operators::ensure_namespace(&client, "rabbitmq-system").await;
    sync_fixture_twice("fixtures/tenant", "vecton-admin").await;
}

/// A copy of a fixture app whose namespace `from` is renamed `to` (object namespaces, the
/// Namespace object and in-cluster DNS names), so it can be synced beside the original.
fn renamed_fixture(fixture: &str, from: &str, to: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    rename_namespace(&crate::common::root().join(fixture), dir.path(), from, to);
    dir
}

/// Writes the files of `source` into `dest` with namespace `from` renamed `to`.
fn rename_namespace(source: &std::path::Path, dest: &std::path::Path, from: &str, to: &str) {
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut text = text
            .replace(
                &format!("namespace: {from}\n"),
                &format!("namespace: {to}\n"),
            )
            .replace(
                &format!("\"namespace\": \"{from}\""),
                &format!("\"namespace\": \"{to}\""),
            )
            .replace(&format!(".{from}.svc"), &format!(".{to}.svc"));
        if text.contains("kind: Namespace") {
            text = text.replace(&format!("name: {from}\n"), &format!("name: {to}\n"));
        }
        std::fs::write(dest.join(path.file_name().unwrap()), text).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_fixture_syncs_in_graph_order_never_before_its_dependencies() {
    let ns = crate::support::cluster::unique_name("shop-graph");
    sync_fixture_in_graph_order("fixtures/shop", "shop", &ns, false, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chapter_app_syncs_in_graph_order_never_before_its_dependencies() {
    let ns = crate::support::cluster::unique_name("agents-graph");
    sync_fixture_in_graph_order("fixtures/chapter", "agents", &ns, true, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_a_fixture_syncs_in_graph_order_never_before_its_dependencies() {
    let client = cluster().client().await;
    crate::support::operators::install_operator_crds(&client).await;
    crate::support::operators::install_fixture_storage_classes(&client).await;
    let ns = crate::support::cluster::unique_name("tenant-a-graph");
    sync_fixture_in_graph_order("fixtures/tenant-a", "tenant-a", &ns, false, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_app_syncs_in_graph_order_never_before_its_dependencies() {
    let client = cluster().client().await;
    crate::support::operators::install_operator_crds(&client).await;
    // The platform's RabbitMQ namespace, renamed too (its Secret is the app's).
    let rabbitmq = crate::support::cluster::unique_name("rabbitmq-graph");
    crate::support::operators::ensure_namespace(&client, &rabbitmq).await;
    let tenant = tempfile::tempdir().unwrap();
    rename_namespace(
        &crate::common::root().join("fixtures/tenant"),
        tenant.path(),
        "rabbitmq-system",
        &rabbitmq,
    );
    let ns = crate::support::cluster::unique_name("vecton-graph");
    sync_fixture_in_graph_order(path(&tenant), "vecton-admin", &ns, false, &[]).await;
    let _ = cluster()
        .kubectl()
        .args(["delete", "namespace", &rabbitmq, "--wait=false"])
        .output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_fixture_syncs_in_graph_order_never_before_its_dependencies() {
    let client = cluster().client().await;
    crate::support::operators::install_fixture_storage_classes(&client).await;
    let ns = crate::support::cluster::unique_name("ledger-graph");
    let _operator = play_cnpg_operator(&client, &ns);
    sync_fixture_in_graph_order("fixtures/ledger", "enterprise", &ns, false, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_enterprise_app_syncs_in_graph_order_never_before_its_dependencies() {
    let client = cluster().client().await;
    crate::support::operators::install_operator_crds(&client).await;
    let ns = crate::support::cluster::unique_name("production-graph");
    let _operator = crate::support::operators::run_database_operator(&client, &ns);
    let config = crate::common::root().join("fixtures/enterprise/argocd-cm.yaml");
    sync_fixture_in_graph_order(
        "fixtures/enterprise/app",
        "production",
        &ns,
        false,
        &["--health-config", config.to_str().unwrap()],
    )
    .await;
}

/// `sync --order graph` of a fixture app renamed into the namespace `namespace`: it
/// succeeds, and no object is created before any object it waits for (as `plan --order
/// graph -o json` lists them), seen from the watches. `create_namespace`: the app does not
/// create its own.
async fn sync_fixture_in_graph_order(
    fixture: &str,
    from: &str,
    namespace: &str,
    create_namespace: bool,
    extra: &[&str],
) {
    let namespace = namespace.to_string();
    let app = renamed_fixture(fixture, from, &namespace);
    let dir = path(&app);
    if create_namespace {
        crate::support::operators::ensure_namespace(&cluster().client().await, &namespace).await;
    }
    let (code, stdout, stderr) =
        crate::common::run(&["plan", dir, "--order", "graph", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut edges = Vec::new();
    for step in plan["steps"].as_array().unwrap() {
        for r in step["resources"].as_array().unwrap() {
            for wait in r["waitsFor"].as_array().into_iter().flatten() {
                // "Kind/namespace/name (healthy)"
                let target = wait.as_str().unwrap().split(' ').next().unwrap();
                let parts: Vec<&str> = target.split('/').collect();
                edges.push((
                    (
                        r["kind"].as_str().unwrap().to_string(),
                        r["name"].as_str().unwrap().to_string(),
                    ),
                    (parts[0].to_string(), parts[parts.len() - 1].to_string()),
                ));
            }
        }
    }
    assert!(edges.len() >= 3, "{fixture} has dependencies: {edges:?}");

    let client = cluster().client().await;
    let _logs = cluster().failure_logs();
    let rec = Recorder::start(&client, &namespace, KINDS).await;
    let mut args = vec![dir, "--order", "graph", "--timeout", "3m"];
    args.extend(extra);
    let run = sync(&namespace, &args).await;
    let trace = rec.stop().await;
    assert_eq!(run.code, 0, "{run:?}");
    let watched: Vec<&str> = KINDS.iter().map(|(_, k, _)| *k).collect();
    let mut checked = 0;
    for ((kind, name), (dep_kind, dep_name)) in &edges {
        if !watched.contains(&kind.as_str()) || !watched.contains(&dep_kind.as_str()) {
            continue;
        }
        let created = trace.first_event("ADDED", kind, name);
        let dependency = trace.first_event("ADDED", dep_kind, dep_name);
        let (Some(created), Some(dependency)) = (created, dependency) else {
            panic!("{kind}/{name} or {dep_kind}/{dep_name} was never created: {trace:?}");
        };
        assert!(
            dependency < created,
            "{kind}/{name} was created before {dep_kind}/{dep_name}, which it waits for"
        );
        checked += 1;
    }
    assert!(checked >= 2, "{checked} edges checked: {edges:?}");
    let _ = cluster()
        .kubectl()
        .args(["delete", "namespace", &namespace, "--wait=false"])
        .output();
}
