//! `kubectl waves sync --order graph` and the Application health rule against the real
//! control plane of `testenv/`, judged from a trace of watch events ordered by
//! resourceVersion (what the cluster saw), never from timings or our own log.

use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};

use crate::support::cluster::cluster;
use crate::support::operators::install_operator_crds;
use crate::support::recorder::{KINDS, Recorder, Trace, Write};
use crate::sync::{app, path, sync};

fn available(o: &serde_json::Value) -> bool {
    o.pointer("/status/availableReplicas")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0)
        >= 1
}

/// A Deployment in `wave`, its pod ready after `ready_after`, reading Secret `shared` and
/// depending (annotation) on `depends_on`.
fn workload(name: &str, wave: i64, ready_after: &str, depends_on: &str) -> String {
    let depends = if depends_on.is_empty() {
        String::new()
    } else {
        format!("\n    kubectl-waves.io/depends-on: {depends_on}")
    };
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  annotations:
    argocd.argoproj.io/sync-wave: \"{wave}\"{depends}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations: {{test.waves/ready-after: \"{ready_after}\"}}
    spec:
      containers:
      - name: main
        image: registry.invalid/{name}:1
        envFrom:
        - secretRef: {{name: shared}}
---
"
    )
}

const SHARED: &str = "apiVersion: v1
kind: Secret
metadata:
  name: shared
stringData: {password: x}
---
";

/// A fan-out app: Secret `shared` (wave 0); `slow` (wave 0, ready after 4 s); `fast` (wave 1,
/// independent of `slow`); `api` (wave 1, depends on `slow`).
fn fan_out() -> tempfile::TempDir {
    app(&[(
        "app.yaml",
        &[
            SHARED.to_string(),
            workload("slow", 0, "4s", ""),
            workload("fast", 1, "0s", ""),
            workload("api", 1, "0s", "Deployment/slow"),
        ]
        .concat(),
    )])
}

fn rv(trace: &[Write], what: &str, kind: &str, name: &str) -> u64 {
    trace
        .first_event(what, kind, name)
        .unwrap_or_else(|| panic!("{what} {kind}/{name} not in the trace"))
}

fn ready(trace: &[Write], name: &str) -> u64 {
    trace
        .first_where("Deployment", name, &available)
        .unwrap_or_else(|| panic!("Deployment/{name} never available"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_order_starts_the_independent_branch_without_waiting_for_the_slow_wave() {
    let dir = fan_out();
    let graph_ns = cluster().ns("graph-fanout").await;
    let rec = Recorder::start(&graph_ns.client, &graph_ns.name, KINDS).await;
    let run = sync(&graph_ns.name, &[path(&dir), "--order", "graph"]).await;
    let graph = rec.stop().await;
    assert_eq!(run.code, 0, "{run:?}");

    // Never before its dependencies: every workload after the Secret it reads.
    let secret = rv(&graph, "ADDED", "Secret", "shared");
    for name in ["slow", "fast", "api"] {
        assert!(secret < rv(&graph, "ADDED", "Deployment", name), "{name}");
    }
    // The wave-1 branch that does not need `slow` is created, and finishes, while `slow` is
    // still starting: wave order cannot do that (it applies wave 1 after wave 0 is healthy).
    let slow_ready = ready(&graph, "slow");
    assert!(rv(&graph, "ADDED", "Deployment", "fast") < slow_ready);
    assert!(
        ready(&graph, "fast") < slow_ready,
        "fast finished before the slow wave-0 Deployment became available"
    );

    // The same app in wave order, for contrast, observed the same way.
    let waves_ns = cluster().ns("graph-fanout-waves").await;
    let rec = Recorder::start(&waves_ns.client, &waves_ns.name, KINDS).await;
    let run = sync(&waves_ns.name, &[path(&dir)]).await;
    let waves = rec.stop().await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(ready(&waves, "slow") < rv(&waves, "ADDED", "Deployment", "fast"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_dependency_delays_only_its_dependants() {
    let dir = fan_out();
    let ns = cluster().ns("graph-slow-dep").await;
    let rec = Recorder::start(&ns.client, &ns.name, KINDS).await;
    let run = sync(&ns.name, &[path(&dir), "--order", "graph", "-o", "json"]).await;
    let trace = rec.stop().await;
    assert_eq!(run.code, 0, "{run:?}");
    let slow_ready = ready(&trace, "slow");
    // `api` depends on `slow`: created only once `slow` is available.
    assert!(slow_ready < rv(&trace, "ADDED", "Deployment", "api"));
    // `fast` does not: created before.
    assert!(rv(&trace, "ADDED", "Deployment", "fast") < slow_ready);
    // The frontier was reported: api waited for slow to be healthy.
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains("\"event\":\"waiting\"")
                && l.contains("\"name\":\"api\"")
                && l.contains("Deployment/")
                && l.contains("/slow (healthy)")),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_branch_stops_new_starts_everywhere_and_runs_syncfail() {
    let ns = cluster().ns("graph-fail").await;
    let bad = "apiVersion: batch/v1
kind: Job
metadata:
  name: bad
spec:
  backoffLimit: 0
  template:
    metadata:
      labels: {test.waves/fail: exit-1}
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: registry.invalid/bad:1
---
";
    // `bad` fails after 1 s; `slow` is available after 4 s; the SyncFail hook takes 8 s to
    // complete, so the sync is still running when `slow` becomes available: `after-slow` would start then if new starts were not stopped.
    let alert = "apiVersion: batch/v1
kind: Job
metadata:
  generateName: alert-
  annotations:
    argocd.argoproj.io/hook: SyncFail
    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {test.waves/complete-after: 8s}
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: registry.invalid/alert:1
---
";
    let after = |name: &str, on: &str| {
        format!(
            "apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  annotations:
    kubectl-waves.io/depends-on: {on}
data: {{k: v}}
---
"
        )
    };
    let dir = app(&[(
        "app.yaml",
        &[
            SHARED.to_string(),
            bad.to_string(),
            alert.to_string(),
            workload("slow", 0, "4s", ""),
            after("after-slow", "Deployment/slow"),
            after("after-bad", "Job/bad"),
        ]
        .concat(),
    )]);
    let rec = Recorder::start(&ns.client, &ns.name, KINDS).await;
    let run = sync(&ns.name, &[path(&dir), "--order", "graph"]).await;
    let trace = rec.stop().await;
    assert_eq!(run.code, 1, "{run:?}");
    let jobs = trace.added("Job");
    assert!(
        jobs.iter()
            .any(|j| j.starts_with("alert-") && j.ends_with("-syncfail")),
        "SyncFail ran: {jobs:?}"
    );
    // `slow` became available while the sync still ran (during SyncFail), yet nothing new
    // started after the failure.
    ready(&trace, "slow");
    assert!(
        trace
            .first_event("ADDED", "ConfigMap", "after-slow")
            .is_none()
    );
    assert!(
        trace
            .first_event("ADDED", "ConfigMap", "after-bad")
            .is_none()
    );
    assert!(run.stderr.contains("/bad"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_is_refused_before_anything_is_applied() {
    let ns = cluster().ns("graph-cycle").await;
    let cm = |name: &str, on: &str| {
        format!(
            "apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  annotations:
    kubectl-waves.io/depends-on: ConfigMap/{on}
---
"
        )
    };
    let dir = app(&[(
        "app.yaml",
        &[cm("a", "b"), cm("b", "a"), SHARED.into()].concat(),
    )]);
    let rec = Recorder::start(&ns.client, &ns.name, KINDS).await;
    let run = sync(&ns.name, &[path(&dir), "--order", "graph"]).await;
    let trace = rec.stop().await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("dependency cycle"), "{run:?}");
    assert!(run.stderr.contains("app.yaml:1"), "{run:?}");
    assert!(
        trace.iter().all(|w| w.kind_of_event != "ADDED"),
        "nothing applied: {:?}",
        trace.iter().map(|w| (&w.kind, &w.name)).collect::<Vec<_>>()
    );
}

fn application_resource() -> ApiResource {
    ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "Application".into(),
        plural: "applications".into(),
    }
}

/// A parent app: a child Application in wave 0, a ConfigMap in wave 1.
fn app_of_apps() -> tempfile::TempDir {
    app(&[(
        "apps.yaml",
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: child
  annotations:
    argocd.argoproj.io/sync-wave: \"0\"
spec:
  project: default
  source: {repoURL: 'https://example.invalid/child.git', path: child, targetRevision: HEAD}
  destination: {server: 'https://kubernetes.default.svc', namespace: child}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: after-child
  annotations:
    argocd.argoproj.io/sync-wave: \"1\"
data: {k: v}
",
    )])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_rule_blocks_a_wave_until_the_child_is_synced_and_healthy() {
    let client = cluster().client().await;
    install_operator_crds(&client).await;
    let ns = cluster().ns("graph-app-of-apps").await;
    let mut kinds = KINDS.to_vec();
    kinds.push(("argoproj.io/v1alpha1", "Application", "applications"));
    let dir = app_of_apps();
    let rec = Recorder::start(&ns.client, &ns.name, &kinds).await;
    let name = ns.name.clone();
    let dir_path = path(&dir).to_string();
    let running = tokio::spawn(async move { sync(&name, &[&dir_path]).await });

    // Play Argo CD: once the child exists, report it synced but progressing, then healthy.
    let apps: Api<DynamicObject> =
        Api::namespaced_with(ns.client.clone(), &ns.name, &application_resource());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while apps.get_opt("child").await.unwrap().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "child never created"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = |sync: &str, health: &str| {
        serde_json::json!({"status": {
            "sync": {"status": sync, "revision": "abc"},
            "health": {"status": health},
            "operationState": {"phase": "Succeeded", "syncResult": {"revision": "abc"}}}})
    };
    let patch = PatchParams::default();
    apps.patch(
        "child",
        &patch,
        &Patch::Merge(status("OutOfSync", "Missing")),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    apps.patch(
        "child",
        &patch,
        &Patch::Merge(status("Synced", "Progressing")),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    apps.patch("child", &patch, &Patch::Merge(status("Synced", "Healthy")))
        .await
        .unwrap();
    let run = running.await.unwrap();
    let trace = rec.stop().await;
    assert_eq!(run.code, 0, "{run:?}");
    let healthy = trace
        .first_where("Application", "child", &|o| {
            o.pointer("/status/health/status").and_then(|s| s.as_str()) == Some("Healthy")
                && o.pointer("/status/sync/status").and_then(|s| s.as_str()) == Some("Synced")
        })
        .expect("the child reported Synced and Healthy");
    let after = rv(&trace, "ADDED", "ConfigMap", "after-child");
    assert!(
        healthy < after,
        "wave 1 started only after the child Application was Synced and Healthy ({healthy} < {after})"
    );

    // --no-application-health: Argo CD's behaviour, the wave does not wait for a status.
    let ns = cluster().ns("graph-app-of-apps-off").await;
    let rec = Recorder::start(&ns.client, &ns.name, &kinds).await;
    let run = sync(&ns.name, &[path(&dir), "--no-application-health"]).await;
    let trace = rec.stop().await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        trace
            .first_event("ADDED", "ConfigMap", "after-child")
            .is_some()
    );
    assert!(
        trace
            .first_where("Application", "child", &|o| o.get("status").is_some())
            .is_none(),
        "nobody wrote a status"
    );
}
