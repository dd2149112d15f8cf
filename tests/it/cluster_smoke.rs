//! Smoke tests of the local control plane (testenv/): the controllers and kwok stages
//! that `sync`, `diff` and `gc` rely on behave like a real cluster.

use std::{path::Path, process::Stdio, time::Duration};

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    batch::v1::Job,
    core::v1::{ConfigMap, ContainerStatus, Pod},
};
use kube::{
    Resource, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
    runtime::wait::conditions,
};
use serde_json::json;

use crate::support::cluster::{TestNs, cluster, wait_for};

const TIMEOUT: Duration = Duration::from_secs(60);

fn apply_params() -> PatchParams {
    PatchParams::apply("waves-smoke").force()
}

/// Server-side applies `manifest` (which names its own kind) in the test namespace.
async fn apply<K>(ns: &TestNs, manifest: serde_json::Value) -> K
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + serde::Serialize,
    <K as Resource>::DynamicType: Default,
{
    let name = manifest["metadata"]["name"]
        .as_str()
        .expect("manifest has a name")
        .to_string();
    ns.api::<K>()
        .patch(&name, &apply_params(), &Patch::Apply(&manifest))
        .await
        .unwrap_or_else(|e| panic!("applying {name}: {e}"))
}

fn pod_manifest(
    name: &str,
    labels: serde_json::Value,
    annotations: serde_json::Value,
) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "labels": labels, "annotations": annotations },
        "spec": {
            "restartPolicy": "Never",
            "containers": [{ "name": "main", "image": "registry.invalid/app:1" }]
        }
    })
}

fn container_status(pod: &Pod) -> Option<&ContainerStatus> {
    pod.status.as_ref()?.container_statuses.as_ref()?.first()
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[tokio::test]
async fn deployment_applied_server_side_becomes_available() {
    let ns = cluster().ns("smoke-deploy").await;
    apply::<Deployment>(
        &ns,
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": "web" },
            "spec": {
                "replicas": 2,
                "selector": { "matchLabels": { "app": "web" } },
                "template": {
                    "metadata": { "labels": { "app": "web" } },
                    "spec": { "containers": [{ "name": "web", "image": "registry.invalid/web:1" }] }
                }
            }
        }),
    )
    .await;
    let deploy = wait_for(
        &ns.api::<Deployment>(),
        "web",
        "Available with 2 ready replicas",
        TIMEOUT,
        |d: Option<&Deployment>| {
            let Some(d) = d else { return false };
            let Some(st) = &d.status else { return false };
            st.observed_generation >= d.metadata.generation
                && st.ready_replicas == Some(2)
                && st.updated_replicas == Some(2)
                && st.conditions.iter().flatten().any(|c| {
                    c.type_.as_deref() == Some("Available") && c.status.as_deref() == Some("True")
                })
        },
    )
    .await
    .expect("deployment exists");
    assert_eq!(deploy.status.and_then(|s| s.available_replicas), Some(2));

    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("listing pods");
    assert_eq!(
        pods.items.len(),
        2,
        "pods: {:?}",
        pods.items.iter().map(|p| p.name_any()).collect::<Vec<_>>()
    );
    for pod in &pods.items {
        assert_eq!(phase(pod), "Running", "{}", pod.name_any());
        assert!(pod_ready(pod), "{} is not Ready", pod.name_any());
        assert!(
            pod.spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_some_and(|n| n.starts_with("kwok-node-"))
        );
    }
}

#[tokio::test]
async fn ready_after_annotation_delays_readiness() {
    let ns = cluster().ns("smoke-ready-after").await;
    let start = std::time::Instant::now();
    apply::<Pod>(
        &ns,
        pod_manifest("slow", json!({}), json!({ "test.waves/ready-after": "3s" })),
    )
    .await;
    wait_for(
        &ns.api::<Pod>(),
        "slow",
        "Ready",
        TIMEOUT,
        |p: Option<&Pod>| p.is_some_and(pod_ready),
    )
    .await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(2900),
        "Ready after {took:?}, expected >= 3s"
    );
}

#[tokio::test]
async fn job_completes() {
    let ns = cluster().ns("smoke-job").await;
    apply::<Job>(
        &ns,
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": { "name": "migrate" },
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{ "name": "migrate", "image": "registry.invalid/migrate:1" }]
                    }
                }
            }
        }),
    )
    .await;
    wait_for(
        &ns.api::<Job>(),
        "migrate",
        "Complete",
        TIMEOUT,
        conditions::is_job_completed(),
    )
    .await;

    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels("job-name=migrate"))
        .await
        .expect("listing pods");
    assert_eq!(pods.items.len(), 1);
    let pod = &pods.items[0];
    assert_eq!(phase(pod), "Succeeded");
    let state = container_status(pod)
        .and_then(|c| c.state.clone())
        .expect("container state");
    assert_eq!(state.terminated.map(|t| t.exit_code), Some(0));
    assert!(
        state.running.is_none(),
        "a finished container is not also running"
    );
}

#[tokio::test]
async fn deleting_an_owner_garbage_collects_its_dependents() {
    let ns = cluster().ns("smoke-gc").await;
    let cms = ns.api::<ConfigMap>();
    let owner = apply::<ConfigMap>(
        &ns,
        json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "owner" }, "data": { "a": "1" } }),
    )
    .await;
    let dependent = apply::<ConfigMap>(
        &ns,
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "dependent",
                "ownerReferences": [{
                    "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.uid().unwrap()
                }]
            }
        }),
    )
    .await;
    cms.delete("owner", &DeleteParams::background())
        .await
        .expect("deleting owner");
    let uid = dependent.uid().unwrap();
    wait_for(
        &cms,
        "dependent",
        "garbage-collected",
        TIMEOUT,
        conditions::is_deleted(&uid),
    )
    .await;

    // The same through Deployment -> ReplicaSet -> Pods; pods go through kwok's delete stage.
    apply::<Deployment>(
        &ns,
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": "api" },
            "spec": {
                "replicas": 1,
                "selector": { "matchLabels": { "app": "api" } },
                "template": {
                    "metadata": {
                        "labels": { "app": "api" },
                        "annotations": { "test.waves/ready-after": "0s" }
                    },
                    "spec": { "containers": [{ "name": "api", "image": "registry.invalid/api:1" }] }
                }
            }
        }),
    )
    .await;
    let pods = ns.api::<Pod>();
    let deadline = std::time::Instant::now() + TIMEOUT;
    let pod = loop {
        let list = pods
            .list(&ListParams::default().labels("app=api"))
            .await
            .expect("listing pods");
        if let Some(p) = list.items.into_iter().next() {
            break p;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Deployment made no pod"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let rs_list = ns
        .api::<ReplicaSet>()
        .list(&ListParams::default().labels("app=api"))
        .await
        .expect("listing replicasets");
    assert_eq!(rs_list.items.len(), 1);
    let rs = &rs_list.items[0];

    ns.api::<Deployment>()
        .delete("api", &DeleteParams::background())
        .await
        .expect("deleting deployment");
    wait_for(
        &ns.api::<ReplicaSet>(),
        &rs.name_any(),
        "garbage-collected",
        TIMEOUT,
        conditions::is_deleted(&rs.uid().unwrap()),
    )
    .await;
    wait_for(
        &pods,
        &pod.name_any(),
        "garbage-collected",
        TIMEOUT,
        conditions::is_deleted(&pod.uid().unwrap()),
    )
    .await;
}

#[tokio::test]
async fn finished_job_with_ttl_zero_disappears() {
    let ns = cluster().ns("smoke-ttl").await;
    let job = apply::<Job>(
        &ns,
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": { "name": "once" },
            "spec": {
                "ttlSecondsAfterFinished": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{ "name": "once", "image": "registry.invalid/once:1" }]
                    }
                }
            }
        }),
    )
    .await;
    let uid = job.uid().unwrap();
    wait_for(
        &ns.api::<Job>(),
        "once",
        "deleted by the TTL controller",
        TIMEOUT,
        conditions::is_deleted(&uid),
    )
    .await;
}

#[tokio::test]
async fn fail_labels_produce_the_expected_container_states() {
    let ns = cluster().ns("smoke-fail").await;
    let pods = ns.api::<Pod>();
    for (name, fail, annotations) in [
        ("image-pull", "image-pull", json!({})),
        ("crash-loop", "crash-loop", json!({})),
        (
            "create-config",
            "create-config",
            json!({ "test.waves/message": "secret \"db-creds\" not found" }),
        ),
        ("exit-1", "exit-1", json!({})),
    ] {
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(pod_manifest(
                name,
                json!({ "test.waves/fail": fail }),
                annotations,
            ))
            .unwrap(),
        )
        .await
        .unwrap_or_else(|e| panic!("creating {name}: {e}"));
    }

    let waiting = |reason: &'static str| {
        move |p: Option<&Pod>| {
            p.and_then(container_status)
                .and_then(|c| c.state.as_ref()?.waiting.as_ref()?.reason.as_deref())
                == Some(reason)
        }
    };

    let pod = wait_for(
        &pods,
        "image-pull",
        "ImagePullBackOff",
        TIMEOUT,
        waiting("ImagePullBackOff"),
    )
    .await
    .unwrap();
    assert_eq!(phase(&pod), "Pending");
    assert!(!pod_ready(&pod));
    let msg = container_status(&pod)
        .unwrap()
        .state
        .as_ref()
        .unwrap()
        .waiting
        .as_ref()
        .unwrap()
        .message
        .clone();
    assert!(msg.is_some_and(|m| m.contains("registry.invalid/app:1")));

    let pod = wait_for(
        &pods,
        "crash-loop",
        "CrashLoopBackOff",
        TIMEOUT,
        waiting("CrashLoopBackOff"),
    )
    .await
    .unwrap();
    assert_eq!(phase(&pod), "Running");
    let cs = container_status(&pod).unwrap();
    assert!(cs.restart_count > 0);
    assert_eq!(
        cs.last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| t.exit_code),
        Some(1)
    );

    let pod = wait_for(
        &pods,
        "create-config",
        "CreateContainerConfigError",
        TIMEOUT,
        waiting("CreateContainerConfigError"),
    )
    .await
    .unwrap();
    assert_eq!(phase(&pod), "Pending");
    let waiting_state = container_status(&pod)
        .unwrap()
        .state
        .clone()
        .unwrap()
        .waiting
        .unwrap();
    assert_eq!(
        waiting_state.message.as_deref(),
        Some("secret \"db-creds\" not found")
    );

    let pod = wait_for(&pods, "exit-1", "Failed", TIMEOUT, |p: Option<&Pod>| {
        p.is_some_and(|p| phase(p) == "Failed")
    })
    .await
    .unwrap();
    let state = container_status(&pod).unwrap().state.clone().unwrap();
    assert_eq!(state.terminated.map(|t| t.exit_code), Some(1));
    assert!(state.running.is_none() && state.waiting.is_none());

    // The outcome is deterministic: a moment later nothing has moved on.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (name, expected_phase) in [
        ("image-pull", "Pending"),
        ("crash-loop", "Running"),
        ("create-config", "Pending"),
        ("exit-1", "Failed"),
    ] {
        let pod = pods.get(name).await.unwrap();
        assert_eq!(phase(&pod), expected_phase, "{name}");
        assert!(!pod_ready(&pod), "{name} became Ready");
    }
}

#[test]
fn kubectl_finds_the_waves_plugin() {
    let cluster = cluster();
    let built = Path::new(env!("CARGO_BIN_EXE_kubectl-waves"));
    // PATH holds only a dir with a link to the built binary: its own dir (target/debug)
    // also has cargo's `kubectl-waves.d` dep-info file, which `kubectl plugin list` takes
    // for a plugin that is not executable (a warning, exit 1); other kubectl-* binaries on
    // this machine's PATH would warn about things that are not ours.
    let tmp = tempfile::tempdir().expect("temp dir");
    let plugin_dir = tmp.path();
    let plugin = plugin_dir.join("kubectl-waves");
    std::os::unix::fs::symlink(built, &plugin).expect("linking kubectl-waves");
    let run = |args: &[&str]| {
        let out = cluster
            .kubectl()
            .args(args)
            .env("PATH", plugin_dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running kubectl {args:?}: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}\n{stdout}\n{stderr}",
            out.status
        );
        stdout + &stderr
    };
    let list = run(&["plugin", "list"]);
    assert!(
        list.contains(&plugin.display().to_string()),
        "plugin list:\n{list}"
    );
    let help = run(&["waves", "--help"]);
    assert!(
        help.contains("waves") || help.contains("plan"),
        "kubectl waves --help:\n{help}"
    );
}
