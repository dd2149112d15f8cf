//! `kubectl waves gc` against the real control plane of `testenv/`. Each test makes leftovers
//! in a fresh namespace — by running our sync, or by playing Argo CD / Helm (writing their
//! annotations, labels and finalizer directly) — and asserts on what is left in the cluster.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use serde_json::{Value, json};

use crate::common::bin;
use crate::support::cluster::{TestNs, cluster, wait_for};
use crate::sync::{Run, app, sync};

/// `kubectl-waves gc -n ns ARGS` with the test cluster's kubeconfig.
async fn gc(ns: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.current_dir(crate::common::root())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .arg("gc")
        .args(args)
        .args(["-n", ns, "--kubeconfig"])
        .arg(&cluster().kubeconfig)
        .stdin(Stdio::null());
    crate::sync::run_to_end(cmd).await
}

/// `gc -o json`: the items by name → (state, action, reason).
async fn gc_json(ns: &str, args: &[&str]) -> (Run, Vec<Value>) {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let run = gc(ns, &all).await;
    let doc: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("gc -o json is not JSON ({e}): {run:?}"));
    let items = doc["items"].as_array().cloned().unwrap_or_default();
    (run, items)
}

fn item<'a>(items: &'a [Value], name: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {items:#?}"))
}

fn listed(items: &[Value], name: &str) -> bool {
    items.iter().any(|i| i["name"] == name)
}

/// `kubectl apply -n ns -f -` of JSON documents.
async fn apply(ns: &TestNs, objects: &[Value]) {
    let text: String = objects
        .iter()
        .map(|o| serde_json::to_string(o).unwrap() + "\n")
        .collect();
    let mut cmd = cluster().kubectl();
    cmd.args(["apply", "-n", &ns.name, "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("kubectl apply");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        child.wait_with_output().expect("kubectl apply")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Job with the given metadata; `pod` is the pod template's metadata (`test.waves/fail`,
/// `test.waves/ready-after`).
fn job(name: &str, labels: Value, annotations: Value, finalizers: Value, pod: Value) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": labels, "annotations": annotations,
                     "finalizers": finalizers},
        "spec": {"backoffLimit": 0, "template": {
            "metadata": pod,
            "spec": {"restartPolicy": "Never",
                     "containers": [{"name": "main", "image": "registry.invalid/job:1"}]}}}
    })
}

fn argocd_hook(phase: &str) -> Value {
    json!({"argocd.argoproj.io/hook": phase})
}

fn ours(hook_name: &str, sync_id: &str, policy: &str) -> (Value, Value) {
    (
        json!({"kubectl-waves.io/hook": "true", "kubectl-waves.io/sync-id": sync_id,
               "kubectl-waves.io/phase": "PreSync", "kubectl-waves.io/hook-name": hook_name}),
        json!({"argocd.argoproj.io/hook": "PreSync",
               "argocd.argoproj.io/hook-delete-policy": policy}),
    )
}

fn finished(j: Option<&Job>) -> bool {
    j.and_then(|j| j.status.as_ref())
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| {
            c.iter()
                .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        })
}

async fn wait_finished(jobs: &Api<Job>, name: &str) {
    wait_for(jobs, name, "finished", Duration::from_secs(60), finished).await;
}

async fn wait_active(jobs: &Api<Job>, name: &str) {
    wait_for(
        jobs,
        name,
        "running",
        Duration::from_secs(60),
        |j: Option<&Job>| {
            j.and_then(|j| j.status.as_ref())
                .and_then(|s| s.active)
                .is_some_and(|a| a > 0)
        },
    )
    .await;
}

/// Gone, or being deleted with nothing but other controllers' cleanup left.
async fn wait_deleted<K>(api: &Api<K>, name: &str)
where
    K: Clone
        + std::fmt::Debug
        + Send
        + serde::Serialize
        + serde::de::DeserializeOwned
        + kube::Resource
        + 'static,
{
    // Up to 120 s: pods owned by a custom resource go only once the controller-manager's
    // garbage collector has rediscovered the new CRD's kind (its resync is 30 s) and a loaded
    // CI machine can take a while beyond that. Returns as soon as the object is gone.
    wait_for(
        api,
        name,
        "deleted",
        Duration::from_secs(120),
        |o: Option<&K>| o.is_none_or(|o| o.meta().deletion_timestamp.is_some()),
    )
    .await;
}

async fn exists<K>(api: &Api<K>, name: &str) -> bool
where
    K: Clone + std::fmt::Debug + serde::de::DeserializeOwned + kube::Resource,
{
    api.get_opt(name)
        .await
        .unwrap()
        .is_some_and(|o| o.meta().deletion_timestamp.is_none())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_hook_with_hook_succeeded_only_is_kept_by_default_then_cleaned_with_logs() {
    let ns = cluster().ns("gc-failed-hook").await;
    // Our sync: the PreSync hook fails, HookSucceeded does not cover it, so it stays.
    let hook = job(
        "migrate",
        json!({}),
        json!({"argocd.argoproj.io/hook": "PreSync",
               "argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}),
        json!([]),
        json!({"labels": {"test.waves/fail": "exit-1"}}),
    );
    let dir = app(&[("hook.json", &serde_json::to_string(&hook).unwrap())]);
    let run = sync(&ns.name, &[dir.path().to_str().unwrap()]).await;
    assert_eq!(run.code, 1, "{run:?}");
    // A non-hook Job with the same name pattern, finished.
    apply(
        &ns,
        &[job(
            "migrate-2",
            json!({"app": "migrate"}),
            json!({}),
            json!([]),
            json!({}),
        )],
    )
    .await;
    let jobs = ns.api::<Job>();
    wait_finished(&jobs, "migrate").await;
    wait_finished(&jobs, "migrate-2").await;

    // Default: listed, kept as the newest failed run; nothing deleted without --yes.
    let (run, items) = gc_json(&ns.name, &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let migrate = item(&items, "migrate");
    assert_eq!(migrate["state"], "failed", "{migrate:#}");
    assert_eq!(migrate["origin"], "kubectl-waves");
    assert_eq!(
        migrate["whyLeft"],
        "policy did not cover the outcome (HookSucceeded only)"
    );
    assert_eq!(migrate["action"], "keep", "{migrate:#}");
    assert!(
        migrate["owner"]["syncId"].is_string(),
        "owner is our sync id: {migrate:#}"
    );
    assert!(
        !listed(&items, "migrate-2"),
        "a non-hook Job is never listed"
    );
    assert!(
        items.iter().all(|i| i["kind"] == "Job"),
        "the hook's pods go with it, never listed: {items:#?}"
    );
    let run = gc(&ns.name, &["--keep-last", "0"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("WHY LEFT"), "{run:?}");
    assert!(
        exists(&jobs, "migrate").await,
        "nothing deleted without --yes"
    );

    // --keep-last 0 --yes --logs: logs and events saved, then deleted; the non-hook stays.
    let logs = tempfile::tempdir().unwrap();
    let run = gc(
        &ns.name,
        &[
            "--keep-last",
            "0",
            "--yes",
            "--logs",
            logs.path().to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    wait_deleted(&jobs, "migrate").await;
    assert!(
        exists(&jobs, "migrate-2").await,
        "a non-hook Job is never touched"
    );
    let saved = logs.path().join(&ns.name).join("job-migrate");
    let events = std::fs::read_to_string(saved.join("events.txt"))
        .unwrap_or_else(|e| panic!("{}: {e}; {run:?}", saved.display()));
    assert!(events.contains("# Job/migrate"), "{events}");
    assert!(events.contains("# Pod/migrate-"), "{events}");
    let pod_logs: Vec<_> = std::fs::read_dir(&saved)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".main.log"))
        .collect();
    assert_eq!(pod_logs.len(), 1, "one log file per container");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_hooks_are_kept_unless_asked_and_interrupted_leftovers_go() {
    let ns = cluster().ns("gc-running").await;
    let (running_labels, running_annotations) = ours("long", "aaaa000001", "HookSucceeded");
    let (done_labels, done_annotations) = ours("smoke", "aaaa000001", "HookSucceeded");
    apply(
        &ns,
        &[
            // Left running by an interrupted sync (`--keep-running-hooks`).
            job(
                "long",
                running_labels,
                running_annotations,
                json!([]),
                json!({"annotations": {"test.waves/ready-after": "1h"}}),
            ),
            // Succeeded with HookSucceeded: the sync stopped before deleting it.
            job(
                "smoke-aaaa000001-presync",
                done_labels,
                done_annotations,
                json!([]),
                json!({}),
            ),
            // A bare hook Pod that Argo CD would run, still running.
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "hook-pod", "annotations": {
                       "argocd.argoproj.io/hook": "PostSync",
                       "test.waves/ready-after": "1h"}},
                   "spec": {"containers": [{"name": "main", "image": "registry.invalid/p:1"}]}}),
        ],
    )
    .await;
    let jobs = ns.api::<Job>();
    wait_active(&jobs, "long").await;
    wait_finished(&jobs, "smoke-aaaa000001-presync").await;

    let (run, items) = gc_json(&ns.name, &["--yes"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(item(&items, "long")["state"], "running");
    assert_eq!(item(&items, "hook-pod")["state"], "running");
    assert!(
        item(&items, "smoke-aaaa000001-presync")["whyLeft"]
            .as_str()
            .unwrap()
            .starts_with("sync interrupted"),
        "{items:#?}"
    );
    wait_deleted(&jobs, "smoke-aaaa000001-presync").await;
    assert!(exists(&jobs, "long").await, "a running hook is kept");
    assert!(exists(&ns.api::<Pod>(), "hook-pod").await);

    let run = gc(&ns.name, &["--state", "running", "--yes"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    wait_deleted(&jobs, "long").await;
    wait_deleted(&ns.api::<Pod>(), "hook-pod").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_last_and_older_than() {
    let ns = cluster().ns("gc-keep-last").await;
    let mut runs = Vec::new();
    for id in ["bbbb000001", "bbbb000002", "bbbb000003"] {
        let (mut labels, annotations) = ours("report", id, "HookFailed");
        labels["test.waves/gc"] = json!(ns.name);
        let name = format!("report-{id}-presync");
        apply(
            &ns,
            &[job(&name, labels, annotations, json!([]), json!({}))],
        )
        .await;
        runs.push(name);
        // Distinct creation times (seconds) order the runs.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let jobs = ns.api::<Job>();
    for name in &runs {
        wait_finished(&jobs, name).await;
    }
    // -A with -l: every namespace, only what the selector matches.
    let selector = format!("test.waves/gc={}", ns.name);
    let (run, items) = gc_json(&ns.name, &["-A", "-l", &selector]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(items.len(), 3, "{items:#?}");
    assert!(items.iter().all(|i| i["namespace"] == ns.name.as_str()));
    let run = gc(&ns.name, &["-A", "-l", &selector]).await;
    assert!(run.stdout.starts_with("NAMESPACE "), "{run:?}");
    // Not old enough: nothing goes.
    let run = gc(&ns.name, &["--older-than", "1h", "--yes"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    for name in &runs {
        assert!(exists(&jobs, name).await, "{name} is younger than 1h");
    }
    // The newest two runs of `report` stay.
    let run = gc(&ns.name, &["--keep-last", "2", "--yes"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    wait_deleted(&jobs, &runs[0]).await;
    assert!(exists(&jobs, &runs[1]).await);
    assert!(exists(&jobs, &runs[2]).await);
    // Old enough now.
    let run = gc(
        &ns.name,
        &["--older-than", "1s", "--keep-last", "0", "--yes"],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    wait_deleted(&jobs, &runs[1]).await;
    wait_deleted(&jobs, &runs[2]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_only_with_kind_and_skip_or_keep_never() {
    let ns = cluster().ns("gc-protected").await;
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db-credentials", "annotations": argocd_hook("PreSync")},
        "stringData": {"password": "x"}});
    apply(
        &ns,
        &[
            secret,
            job(
                "skipped",
                json!({}),
                argocd_hook("Skip"),
                json!([]),
                json!({}),
            ),
            job(
                "kept-by-helm",
                json!({}),
                json!({"helm.sh/hook": "pre-install", "helm.sh/resource-policy": "keep"}),
                json!([]),
                json!({}),
            ),
            job(
                "helm-hook",
                json!({}),
                json!({"helm.sh/hook": "pre-install,pre-upgrade",
                       "helm.sh/hook-delete-policy": "before-hook-creation"}),
                json!([]),
                json!({}),
            ),
        ],
    )
    .await;
    let jobs = ns.api::<Job>();
    for name in ["skipped", "kept-by-helm", "helm-hook"] {
        wait_finished(&jobs, name).await;
    }
    let everything = [
        "--state",
        "all",
        "--keep-last",
        "0",
        "--remove-finalizers",
        "--yes",
    ];
    let (run, items) = gc_json(&ns.name, &everything).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(item(&items, "helm-hook")["origin"], "helm");
    assert!(!listed(&items, "skipped") && !listed(&items, "kept-by-helm"));
    assert!(
        !listed(&items, "db-credentials"),
        "Secrets only with --kind"
    );
    wait_deleted(&jobs, "helm-hook").await;
    assert!(exists(&jobs, "skipped").await, "Skip is never touched");
    assert!(
        exists(&jobs, "kept-by-helm").await,
        "resource-policy keep is never touched"
    );
    let secrets = ns.api::<Secret>();
    assert!(exists(&secrets, "db-credentials").await);

    let mut with_secret = everything.to_vec();
    with_secret.extend(["--kind", "Secret,jobs"]);
    let (run, items) = gc_json(&ns.name, &with_secret).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(item(&items, "db-credentials")["state"], "succeeded");
    wait_deleted(&secrets, "db-credentials").await;
    assert!(exists(&jobs, "skipped").await);
    assert!(exists(&jobs, "kept-by-helm").await);

    let run = gc(&ns.name, &["--kind", "NoSuchKind"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("NoSuchKind"), "{run:?}");
}

const APPLICATION_CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "applications.argoproj.io"},
  "spec": {"group": "argoproj.io", "scope": "Namespaced",
    "names": {"kind": "Application", "listKind": "ApplicationList", "plural": "applications",
              "singular": "application", "shortNames": ["app", "apps"]},
    "versions": [{"name": "v1alpha1", "served": true, "storage": true,
      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argocd_hook_finalizer_is_removed_only_when_argocd_is_done_with_it() {
    let ns = cluster().ns("gc-argocd").await;
    // Play Argo CD: its Application CRD, one Application running an operation, one idle.
    apply(&ns, &[serde_json::from_str(APPLICATION_CRD).unwrap()]).await;
    let busy = format!("{}-busy", ns.name);
    let idle = format!("{}-idle", ns.name);
    let application = |name: &str, operation: bool| {
        let mut app = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                             "metadata": {"name": name}, "spec": {"project": "default"}});
        if operation {
            app["operation"] = json!({"sync": {"revision": "HEAD"}});
        }
        app
    };
    served(&ns, "applications.argoproj.io").await;
    apply(&ns, &[application(&busy, true), application(&idle, false)]).await;
    let hook_finalizer = "argocd.argoproj.io/hook-finalizer";
    let tracking = |app: &str, name: &str| {
        json!({"argocd.argoproj.io/hook": "PreSync",
               "argocd.argoproj.io/hook-delete-policy": "HookSucceeded",
               "argocd.argoproj.io/tracking-id": format!("{app}:batch/Job:{}/{name}", ns.name)})
    };
    apply(
        &ns,
        &[
            job(
                "busy-hook",
                json!({}),
                tracking(&busy, "busy-hook"),
                json!([hook_finalizer]),
                json!({}),
            ),
            job(
                "idle-hook",
                json!({"argocd.argoproj.io/instance": idle}),
                argocd_hook("PreSync"),
                json!([hook_finalizer]),
                json!({}),
            ),
            // Deleted by hand while Argo CD no longer processes it: stuck Terminating.
            job(
                "stuck-hook",
                json!({"argocd.argoproj.io/instance": idle}),
                argocd_hook("PostSync"),
                json!([hook_finalizer]),
                json!({}),
            ),
            // No Application named: only with --remove-finalizers; its other finalizer stays.
            job(
                "orphan-hook",
                json!({}),
                argocd_hook("PreSync"),
                json!(["test.waves/other", hook_finalizer]),
                json!({}),
            ),
        ],
    )
    .await;
    let jobs = ns.api::<Job>();
    for name in ["busy-hook", "idle-hook", "orphan-hook", "stuck-hook"] {
        wait_finished(&jobs, name).await;
    }
    kubectl(&ns, &["delete", "job", "stuck-hook", "--wait=false"]).await;
    assert!(
        jobs.get("stuck-hook")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some(),
        "held Terminating by the hook finalizer"
    );

    let (run, items) = gc_json(&ns.name, &["--yes"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let busy_item = item(&items, "busy-hook");
    assert_eq!(busy_item["owner"]["application"], busy.as_str());
    assert!(
        busy_item["reason"]
            .as_str()
            .unwrap()
            .contains("operation running"),
        "{busy_item:#}"
    );
    assert!(
        item(&items, "orphan-hook")["reason"]
            .as_str()
            .unwrap()
            .contains("--remove-finalizers"),
        "{items:#?}"
    );
    assert_eq!(
        item(&items, "stuck-hook")["result"],
        "finalizer removed (was being deleted)",
        "{items:#?}"
    );
    // The idle app's hooks: finalizer removed, deleted, gone.
    wait_for(
        &jobs,
        "stuck-hook",
        "gone",
        Duration::from_secs(30),
        |j: Option<&Job>| j.is_none(),
    )
    .await;
    wait_for(
        &jobs,
        "idle-hook",
        "gone",
        Duration::from_secs(30),
        |j: Option<&Job>| j.is_none(),
    )
    .await;
    let busy_job = jobs.get("busy-hook").await.unwrap();
    assert!(busy_job.metadata.deletion_timestamp.is_none());
    assert_eq!(
        busy_job.metadata.finalizers.unwrap_or_default(),
        [hook_finalizer]
    );
    assert!(exists(&jobs, "orphan-hook").await);

    // With --remove-finalizers: only the hook finalizer goes; the other one holds the Job.
    let run = gc(&ns.name, &["--remove-finalizers", "--yes"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let orphan = jobs.get("orphan-hook").await.unwrap();
    assert!(orphan.metadata.deletion_timestamp.is_some(), "deleted");
    assert_eq!(
        orphan.metadata.finalizers.clone().unwrap_or_default(),
        ["test.waves/other"],
        "never another finalizer"
    );
    let busy_job = jobs.get("busy-hook").await.unwrap();
    assert_eq!(
        busy_job.metadata.finalizers.unwrap_or_default(),
        [hook_finalizer],
        "never while its Application runs an operation"
    );

    // Clean up as the other controller would, so the namespace can go.
    for name in ["orphan-hook", "busy-hook"] {
        let mut cmd = cluster().kubectl();
        cmd.args([
            "patch",
            "job",
            name,
            "-n",
            &ns.name,
            "--type",
            "merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ]);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
    }
    let mut cmd = cluster().kubectl();
    cmd.args([
        "delete",
        "applications.argoproj.io",
        "--all",
        "-n",
        &ns.name,
    ]);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
}

/// Waits until the apiserver serves `resource` (a CRD just applied).
async fn served(ns: &TestNs, resource: &str) {
    for _ in 0..150 {
        let mut cmd = cluster().kubectl();
        cmd.args(["get", resource, "-n", &ns.name]);
        if tokio::task::spawn_blocking(move || cmd.output().unwrap().status.success())
            .await
            .unwrap()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{resource} is not served");
}

const WORKFLOW_CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "workflows.argoproj.io"},
  "spec": {"group": "argoproj.io", "scope": "Namespaced",
    "names": {"kind": "Workflow", "listKind": "WorkflowList", "plural": "workflows",
              "singular": "workflow", "shortNames": ["wf"]},
    "versions": [{"name": "v1alpha1", "served": true, "storage": true,
      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
}"#;

/// `kubectl ARGS -n ns`: its stdout.
async fn kubectl(ns: &TestNs, args: &[&str]) -> String {
    let mut cmd = cluster().kubectl();
    cmd.args(args).args(["-n", &ns.name]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "kubectl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_workflow_hooks_are_found_when_the_crd_exists_and_their_pods_go_with_them() {
    let ns = cluster().ns("gc-workflow").await;
    apply(&ns, &[serde_json::from_str(WORKFLOW_CRD).unwrap()]).await;
    served(&ns, "workflows.argoproj.io").await;
    let workflow = |name: &str, phase: &str| {
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
               "metadata": {"name": name, "annotations": argocd_hook("PostSync")},
               "spec": {"entrypoint": "main"}, "status": {"phase": phase}})
    };
    apply(
        &ns,
        &[
            workflow("wf-done", "Succeeded"),
            workflow("wf-running", "Running"),
        ],
    )
    .await;
    // A pod of the finished Workflow (it carries the hook annotation too): it goes with it.
    let uid = kubectl(
        &ns,
        &[
            "get",
            "workflows.argoproj.io",
            "wf-done",
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    )
    .await;
    assert!(!uid.is_empty());
    apply(
        &ns,
        &[json!({"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": "wf-done-main", "annotations": argocd_hook("PostSync"),
                              "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1",
                                  "kind": "Workflow", "name": "wf-done", "uid": uid,
                                  "controller": true}]},
                 "spec": {"containers": [{"name": "main", "image": "registry.invalid/w:1"}]}})],
    )
    .await;

    let (run, items) = gc_json(&ns.name, &["--yes"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(item(&items, "wf-done")["state"], "succeeded", "{items:#?}");
    assert_eq!(item(&items, "wf-running")["state"], "running");
    assert!(
        !listed(&items, "wf-done-main"),
        "a Workflow's pod is not listed"
    );
    let left = kubectl(&ns, &["get", "workflows.argoproj.io", "-o", "name"]).await;
    assert_eq!(left.trim(), "workflow.argoproj.io/wf-running", "{left}");
    // Background propagation: the garbage collector deletes the pod of the deleted Workflow.
    wait_deleted(&ns.api::<Pod>(), "wf-done-main").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_the_apiserver_refuses_is_reported_and_exits_1() {
    let ns = cluster().ns("gc-refused").await;
    let (mut refused_labels, annotations) = ours("refused", "cccc000001", "HookFailed");
    refused_labels["test.waves/undeletable"] = json!("true");
    let (labels, _) = ours("fine", "cccc000001", "HookFailed");
    apply(
        &ns,
        &[
            job(
                "refused",
                refused_labels,
                annotations.clone(),
                json!([]),
                json!({}),
            ),
            job("fine", labels, annotations, json!([]), json!({})),
        ],
    )
    .await;
    let jobs = ns.api::<Job>();
    wait_finished(&jobs, "refused").await;
    wait_finished(&jobs, "fine").await;
    // An admission policy that refuses to delete Jobs labelled test.waves/undeletable here.
    let policy = format!("{}-no-delete", ns.name);
    apply(
        &ns,
        &[
            json!({"apiVersion": "admissionregistration.k8s.io/v1",
                   "kind": "ValidatingAdmissionPolicy", "metadata": {"name": policy},
                   "spec": {"failurePolicy": "Fail",
                            "matchConstraints": {"resourceRules": [{"apiGroups": ["batch"],
                                "apiVersions": ["v1"], "operations": ["DELETE"],
                                "resources": ["jobs"]}]},
                            "validations": [{"expression":
                                "!has(oldObject.metadata.labels) || !('test.waves/undeletable' in oldObject.metadata.labels)",
                                "message": "this Job may not be deleted (test.waves/undeletable)"}]}}),
            json!({"apiVersion": "admissionregistration.k8s.io/v1",
                   "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": policy},
                   "spec": {"policyName": policy, "validationActions": ["Deny"],
                            "matchResources": {"namespaceSelector": {"matchLabels":
                                {"kubernetes.io/metadata.name": ns.name}}}}}),
        ],
    )
    .await;
    // The policy takes a moment to be enforced: probe with a server-side dry run.
    let mut enforced = false;
    for _ in 0..150 {
        let mut cmd = cluster().kubectl();
        cmd.args([
            "delete",
            "job",
            "refused",
            "-n",
            &ns.name,
            "--dry-run=server",
        ]);
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        if !out.status.success() {
            enforced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(enforced, "the admission policy is never enforced");

    let run = gc(&ns.name, &["--yes"]).await;
    let remove_policy = async {
        let mut cmd = cluster().kubectl();
        cmd.args([
            "delete",
            &format!("validatingadmissionpolicybinding/{policy}"),
            &format!("validatingadmissionpolicy/{policy}"),
        ]);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    };
    remove_policy.await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("error: Job/{}/refused: ", ns.name))
            && run.stderr.contains("test.waves/undeletable"),
        "{run:?}"
    );
    assert!(run.stdout.contains("failed: "), "{run:?}");
    wait_deleted(&jobs, "fine").await;
    assert!(exists(&jobs, "refused").await);
}

#[test]
fn bad_input_exits_2_and_prints_nothing_on_stdout() {
    for args in [
        &["gc", "--older-than", "soon"][..],
        &["gc", "--logs", "hook-logs"],
        &["gc", "--state", "done"],
        &["gc", "--keep-last", "-1"],
        &["gc", "--kubeconfig", "/nonexistent/kubeconfig"],
    ] {
        let (code, stdout, stderr) = crate::common::run(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.contains("error"), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_hook_of_an_interrupted_sync_is_kept_then_deleted_when_asked() {
    let ns = cluster().ns("gc-interrupted").await;
    let hook = job(
        "long",
        json!({}),
        json!({"argocd.argoproj.io/hook": "PreSync",
               "argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}),
        json!([]),
        json!({"annotations": {"test.waves/ready-after": "1h"}}),
    );
    let dir = app(&[("hook.json", &serde_json::to_string(&hook).unwrap())]);
    let mut cmd = crate::sync::sync_command(
        &ns.name,
        &[dir.path().to_str().unwrap(), "--keep-running-hooks"],
    );
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("start sync");
    let jobs = ns.api::<Job>();
    wait_active(&jobs, "long").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(interrupted.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");

    let (run, items) = gc_json(&ns.name, &["--yes"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let long = item(&items, "long");
    assert_eq!(long["state"], "running", "{long:#}");
    assert!(long["owner"]["syncId"].is_string(), "{long:#}");
    assert_eq!(long["action"], "keep");
    assert!(exists(&jobs, "long").await, "a running hook is kept");

    let run = gc(&ns.name, &["--state", "all", "--yes"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    wait_deleted(&jobs, "long").await;
}
