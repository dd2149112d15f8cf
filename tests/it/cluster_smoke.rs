//! Smoke tests of the local control plane (testenv/): the controllers, kwok stages and
//! fake-controllers (volumes, Ingress/HPA/operator status) that `sync`, `diff` and `gc` rely
//! on behave like a real cluster.

use std::{path::Path, process::Stdio, time::Duration};

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet, StatefulSet},
    autoscaling::v2::HorizontalPodAutoscaler,
    batch::v1::Job,
    core::v1::{ConfigMap, ContainerStatus, PersistentVolume, PersistentVolumeClaim, Pod, Service},
    networking::v1::Ingress,
    storage::v1::StorageClass,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{
        ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
        PostParams,
    },
    runtime::wait::conditions,
};
use kubectl_waves::health::{self, Health, HealthConfig, HealthStatus};
use serde_json::json;

use crate::support::{
    cluster::{TestNs, cluster, wait_for},
    operators::{fake_controllers_log, install_operator_crds, storage_class},
};

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

// ---------------------------------------------------------------------------------------
// Storage, and the controllers testenv's fake-controllers plays (testenv/README.md).

/// The health kubectl-waves gives `obj` (default configuration).
fn health_of<K: serde::Serialize>(obj: &K) -> Health {
    let value = serde_json::to_value(obj).expect("object to JSON");
    health::assess(&value, &HealthConfig::default()).expect("health assessment")
}

/// A `wait_for` condition: the object's health is `status`.
fn health_is<K: serde::Serialize>(status: HealthStatus) -> impl Fn(Option<&K>) -> bool {
    move |obj: Option<&K>| obj.is_some_and(|o| health_of(o).status == status)
}

fn claim_phase(pvc: &PersistentVolumeClaim) -> &str {
    pvc.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn claim_manifest(
    name: &str,
    class: Option<&str>,
    size: &str,
    modes: &[&str],
) -> serde_json::Value {
    let mut spec = json!({
        "accessModes": modes,
        "resources": { "requests": { "storage": size } }
    });
    if let Some(class) = class {
        spec["storageClassName"] = json!(class);
    }
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": { "name": name },
        "spec": spec
    })
}

#[tokio::test]
async fn claims_of_the_default_and_of_a_custom_class_get_bound() {
    let ns = cluster().ns("smoke-pvc").await;
    let _logs = fake_controllers_log();
    let default_class = Api::<StorageClass>::all(ns.client.clone())
        .get("standard")
        .await
        .expect("testenv/up makes the StorageClass standard");
    assert_eq!(
        default_class
            .annotations()
            .get("storageclass.kubernetes.io/is-default-class")
            .map(String::as_str),
        Some("true")
    );
    storage_class(
        &ns.client,
        "waves-smoke-custom",
        "example.com/custom",
        "Immediate",
    )
    .await;

    let claims = ns.api::<PersistentVolumeClaim>();
    apply::<PersistentVolumeClaim>(
        &ns,
        claim_manifest("plain", None, "2Gi", &["ReadWriteOnce"]),
    )
    .await;
    apply::<PersistentVolumeClaim>(
        &ns,
        claim_manifest(
            "shared",
            Some("waves-smoke-custom"),
            "5Gi",
            &["ReadWriteMany"],
        ),
    )
    .await;
    let mut stuck = claim_manifest("stuck", None, "1Gi", &["ReadWriteOnce"]);
    stuck["metadata"]["labels"] = json!({ "test.waves/fail": "stuck" });
    apply::<PersistentVolumeClaim>(&ns, stuck).await;

    let bound = |p: Option<&PersistentVolumeClaim>| p.is_some_and(|p| claim_phase(p) == "Bound");
    let plain = wait_for(&claims, "plain", "Bound", TIMEOUT, bound)
        .await
        .unwrap();
    let shared = wait_for(&claims, "shared", "Bound", TIMEOUT, bound)
        .await
        .unwrap();
    assert_eq!(
        plain.spec.as_ref().unwrap().storage_class_name.as_deref(),
        Some("standard"),
        "a claim without a class gets the default one"
    );
    assert_eq!(health_of(&plain).status, HealthStatus::Healthy);
    assert_eq!(health_of(&shared).status, HealthStatus::Healthy);

    let volumes = Api::<PersistentVolume>::all(ns.client.clone());
    for (claim, class, size, mode) in [
        (&plain, "standard", "2Gi", "ReadWriteOnce"),
        (&shared, "waves-smoke-custom", "5Gi", "ReadWriteMany"),
    ] {
        let pv_name = claim.spec.as_ref().unwrap().volume_name.clone().unwrap();
        let pv = volumes.get(&pv_name).await.expect("the bound volume");
        let spec = pv.spec.as_ref().unwrap();
        let claim_ref = spec.claim_ref.as_ref().unwrap();
        assert_eq!(claim_ref.name.as_deref(), Some(claim.name_any().as_str()));
        assert_eq!(claim_ref.namespace.as_deref(), Some(ns.name.as_str()));
        assert_eq!(claim_ref.uid, claim.uid());
        assert_eq!(spec.storage_class_name.as_deref(), Some(class));
        assert_eq!(spec.capacity.as_ref().unwrap()["storage"].0, size);
        assert_eq!(spec.access_modes.as_deref(), Some(&[mode.to_string()][..]));
        assert!(spec.host_path.is_some(), "{pv_name} is a hostPath volume");
        assert_eq!(
            pv.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Bound")
        );
    }

    // The claim labelled `test.waves/fail: stuck` is left alone.
    let stuck = claims.get("stuck").await.unwrap();
    assert_eq!(claim_phase(&stuck), "Pending");
    assert_eq!(health_of(&stuck).status, HealthStatus::Progressing);

    // Deleting a claim deletes its volume (reclaim policy Delete); the pvc-protection
    // controller lifts the claim's finalizer.
    let pv_name = shared.spec.as_ref().unwrap().volume_name.clone().unwrap();
    let pv_uid = volumes.get(&pv_name).await.unwrap().uid().unwrap();
    claims
        .delete("shared", &DeleteParams::default())
        .await
        .expect("deleting the claim");
    wait_for(
        &claims,
        "shared",
        "deleted",
        TIMEOUT,
        conditions::is_deleted(&shared.uid().unwrap()),
    )
    .await;
    wait_for(
        &volumes,
        &pv_name,
        "deleted once released",
        TIMEOUT,
        conditions::is_deleted(&pv_uid),
    )
    .await;
}

#[tokio::test]
async fn wait_for_first_consumer_claim_binds_on_its_pods_node() {
    let ns = cluster().ns("smoke-wffc").await;
    let _logs = fake_controllers_log();
    storage_class(
        &ns.client,
        "waves-smoke-wffc",
        "example.com/local",
        "WaitForFirstConsumer",
    )
    .await;
    let claims = ns.api::<PersistentVolumeClaim>();
    apply::<PersistentVolumeClaim>(
        &ns,
        claim_manifest("late", Some("waves-smoke-wffc"), "1Gi", &["ReadWriteOnce"]),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let late = claims.get("late").await.unwrap();
    assert_eq!(claim_phase(&late), "Pending", "no consumer yet");
    assert!(late.spec.as_ref().unwrap().volume_name.is_none());

    let mut pod = pod_manifest("consumer", json!({}), json!({}));
    pod["spec"]["volumes"] =
        json!([{ "name": "data", "persistentVolumeClaim": { "claimName": "late" } }]);
    pod["spec"]["containers"][0]["volumeMounts"] =
        json!([{ "name": "data", "mountPath": "/data" }]);
    apply::<Pod>(&ns, pod).await;
    let pod = wait_for(
        &ns.api::<Pod>(),
        "consumer",
        "Ready",
        TIMEOUT,
        |p: Option<&Pod>| p.is_some_and(pod_ready),
    )
    .await
    .unwrap();
    let node = pod.spec.as_ref().unwrap().node_name.clone().unwrap();
    let late = wait_for(
        &claims,
        "late",
        "Bound",
        TIMEOUT,
        |p: Option<&PersistentVolumeClaim>| p.is_some_and(|p| claim_phase(p) == "Bound"),
    )
    .await
    .unwrap();
    let pv = Api::<PersistentVolume>::all(ns.client.clone())
        .get(late.spec.as_ref().unwrap().volume_name.as_deref().unwrap())
        .await
        .unwrap();
    let affinity = serde_json::to_value(pv.spec.as_ref().unwrap().node_affinity.as_ref()).unwrap();
    assert_eq!(
        affinity["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"],
        json!([node]),
        "the volume is pinned to the node the scheduler picked"
    );
}

#[tokio::test]
async fn statefulset_with_volume_claim_templates_becomes_ready() {
    let ns = cluster().ns("smoke-sts").await;
    let _logs = fake_controllers_log();
    apply::<StatefulSet>(
        &ns,
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": { "name": "db" },
            "spec": {
                "serviceName": "db",
                "replicas": 2,
                "selector": { "matchLabels": { "app": "db" } },
                "template": {
                    "metadata": { "labels": { "app": "db" } },
                    "spec": {
                        "containers": [{
                            "name": "db",
                            "image": "registry.invalid/postgres:16",
                            "volumeMounts": [{ "name": "data", "mountPath": "/var/lib/data" }]
                        }]
                    }
                },
                "volumeClaimTemplates": [{
                    "metadata": { "name": "data" },
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": { "requests": { "storage": "20Gi" } }
                    }
                }]
            }
        }),
    )
    .await;
    let sts = wait_for(
        &ns.api::<StatefulSet>(),
        "db",
        "Healthy",
        TIMEOUT,
        health_is::<StatefulSet>(HealthStatus::Healthy),
    )
    .await
    .unwrap();
    assert_eq!(sts.status.as_ref().unwrap().ready_replicas, Some(2));

    let claims = ns.api::<PersistentVolumeClaim>();
    let pods = ns.api::<Pod>();
    for i in 0..2 {
        let claim = claims.get(&format!("data-db-{i}")).await.unwrap();
        assert_eq!(claim_phase(&claim), "Bound", "data-db-{i}");
        let pod = pods.get(&format!("db-{i}")).await.unwrap();
        assert!(pod_ready(&pod), "db-{i} is not Ready");
    }
}

#[tokio::test]
async fn ingress_and_load_balancer_service_get_an_address() {
    let ns = cluster().ns("smoke-ingress").await;
    let _logs = fake_controllers_log();
    let ingress = |name: &str, labels: serde_json::Value| {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": { "name": name, "labels": labels },
            "spec": {
                "ingressClassName": "nginx",
                "rules": [{
                    "host": "shop.example.com",
                    "http": { "paths": [{
                        "path": "/", "pathType": "Prefix",
                        "backend": { "service": { "name": "web", "port": { "number": 80 } } }
                    }] }
                }]
            }
        })
    };
    apply::<Ingress>(&ns, ingress("web", json!({}))).await;
    apply::<Ingress>(
        &ns,
        ingress("broken", json!({ "test.waves/fail": "degraded" })),
    )
    .await;
    apply::<Service>(
        &ns,
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": "lb" },
            "spec": {
                "type": "LoadBalancer",
                "selector": { "app": "web" },
                "ports": [{ "port": 80 }]
            }
        }),
    )
    .await;

    let web = wait_for(
        &ns.api::<Ingress>(),
        "web",
        "Healthy",
        TIMEOUT,
        health_is::<Ingress>(HealthStatus::Healthy),
    )
    .await
    .unwrap();
    let address = web
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .and_then(|i| i.first())
        .and_then(|i| i.ip.clone());
    assert_eq!(address.as_deref(), Some("127.0.0.1"));

    let lb = wait_for(
        &ns.api::<Service>(),
        "lb",
        "Healthy",
        TIMEOUT,
        health_is::<Service>(HealthStatus::Healthy),
    )
    .await
    .unwrap();
    let address = lb
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .and_then(|i| i.first())
        .and_then(|i| i.ip.clone());
    assert_eq!(address.as_deref(), Some("127.0.0.1"));

    // A failing Ingress gets no address (Argo CD has no Degraded for an Ingress).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let broken = ns.api::<Ingress>().get("broken").await.unwrap();
    assert!(
        broken
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .is_none_or(|i| i.is_empty()),
        "{:?}",
        broken.status
    );
    assert_eq!(health_of(&broken).status, HealthStatus::Progressing);
}

#[tokio::test]
async fn hpa_gets_a_settled_status_or_fails_to_read_metrics() {
    let ns = cluster().ns("smoke-hpa").await;
    let _logs = fake_controllers_log();
    let hpa = |name: &str, labels: serde_json::Value| {
        json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": { "name": name, "labels": labels },
            "spec": {
                "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "api" },
                "minReplicas": 3,
                "maxReplicas": 12,
                "metrics": [{
                    "type": "Resource",
                    "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": 70 } }
                }]
            }
        })
    };
    apply::<HorizontalPodAutoscaler>(&ns, hpa("api", json!({}))).await;
    apply::<HorizontalPodAutoscaler>(&ns, hpa("blind", json!({ "test.waves/fail": "degraded" })))
        .await;
    let hpas = ns.api::<HorizontalPodAutoscaler>();

    let api = wait_for(
        &hpas,
        "api",
        "Healthy",
        TIMEOUT,
        health_is::<HorizontalPodAutoscaler>(HealthStatus::Healthy),
    )
    .await
    .unwrap();
    let status = api.status.unwrap();
    assert_eq!(status.current_replicas, Some(3));
    assert_eq!(status.desired_replicas, 3);
    assert_eq!(status.observed_generation, api.metadata.generation);
    let conds = status.conditions.unwrap_or_default();
    for wanted in ["AbleToScale", "ScalingActive"] {
        assert!(
            conds
                .iter()
                .any(|c| c.type_ == wanted && c.status == "True"),
            "{wanted} True: {conds:?}"
        );
    }

    let blind = wait_for(
        &hpas,
        "blind",
        "Degraded",
        TIMEOUT,
        health_is::<HorizontalPodAutoscaler>(HealthStatus::Degraded),
    )
    .await
    .unwrap();
    let conds = blind.status.unwrap().conditions.unwrap_or_default();
    assert!(
        conds.iter().any(|c| c.type_ == "ScalingActive"
            && c.status == "False"
            && c.reason.as_deref() == Some("FailedGetResourceMetric")),
        "{conds:?}"
    );
}

/// `Api<DynamicObject>` for a namespaced custom resource kind in the test namespace.
fn cr_api(ns: &TestNs, group: &str, version: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    Api::namespaced_with(ns.client.clone(), &ns.name, &resource)
}

async fn apply_cr(api: &Api<DynamicObject>, manifest: serde_json::Value) -> DynamicObject {
    let name = manifest["metadata"]["name"].as_str().unwrap().to_string();
    api.patch(&name, &apply_params(), &Patch::Apply(&manifest))
        .await
        .unwrap_or_else(|e| panic!("applying {name}: {e}"))
}

#[tokio::test]
async fn operator_custom_resources_get_their_operators_status() {
    let ns = cluster().ns("smoke-operators").await;
    let _logs = fake_controllers_log();
    install_operator_crds(&ns.client).await;

    let certs = cr_api(&ns, "cert-manager.io", "v1", "Certificate", "certificates");
    let certificate = |name: &str, labels: serde_json::Value, annotations: serde_json::Value| {
        json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": { "name": name, "labels": labels, "annotations": annotations },
            "spec": {
                "secretName": name,
                "dnsNames": ["shop.example.com"],
                "issuerRef": { "group": "cert-manager.io", "kind": "ClusterIssuer", "name": "letsencrypt-prod" }
            }
        })
    };
    let start = std::time::Instant::now();
    apply_cr(&certs, certificate("tls", json!({}), json!({}))).await;
    apply_cr(
        &certs,
        certificate("slow", json!({}), json!({ "test.waves/ready-after": "3s" })),
    )
    .await;
    apply_cr(
        &certs,
        certificate(
            "rejected",
            json!({ "test.waves/fail": "degraded" }),
            json!({ "test.waves/message": "ACME order rejected: rate limited" }),
        ),
    )
    .await;

    let rabbit = cr_api(
        &ns,
        "rabbitmq.com",
        "v1beta1",
        "RabbitmqCluster",
        "rabbitmqclusters",
    );
    apply_cr(
        &rabbit,
        json!({
            "apiVersion": "rabbitmq.com/v1beta1",
            "kind": "RabbitmqCluster",
            "metadata": { "name": "mq" },
            "spec": { "replicas": 3, "persistence": { "storageClassName": "gp3", "storage": "10Gi" } }
        }),
    )
    .await;
    let queues = cr_api(&ns, "rabbitmq.com", "v1beta1", "Queue", "queues");
    let queue = |name: &str, labels: serde_json::Value| {
        json!({
            "apiVersion": "rabbitmq.com/v1beta1",
            "kind": "Queue",
            "metadata": { "name": name, "labels": labels },
            "spec": { "name": name, "type": "quorum", "rabbitmqClusterReference": { "name": "mq" } }
        })
    };
    apply_cr(&queues, queue("jobs", json!({}))).await;
    apply_cr(
        &queues,
        queue("never", json!({ "test.waves/fail": "stuck" })),
    )
    .await;
    let redis = cr_api(
        &ns,
        "redis.redis.opstreelabs.in",
        "v1beta2",
        "Redis",
        "redis",
    );
    apply_cr(
        &redis,
        json!({
            "apiVersion": "redis.redis.opstreelabs.in/v1beta2",
            "kind": "Redis",
            "metadata": { "name": "cache" },
            "spec": { "kubernetesConfig": { "image": "quay.io/opstree/redis:v7.0.15" } }
        }),
    )
    .await;
    let routes = cr_api(
        &ns,
        "traefik.io",
        "v1alpha1",
        "IngressRoute",
        "ingressroutes",
    );
    apply_cr(
        &routes,
        json!({
            "apiVersion": "traefik.io/v1alpha1",
            "kind": "IngressRoute",
            "metadata": { "name": "web" },
            "spec": { "routes": [{ "match": "Host(`a.example.com`)", "kind": "Rule",
                                   "services": [{ "name": "web", "port": 80 }] }] }
        }),
    )
    .await;

    let tls = wait_for(
        &certs,
        "tls",
        "Healthy",
        TIMEOUT,
        health_is::<DynamicObject>(HealthStatus::Healthy),
    )
    .await
    .unwrap();
    let ready = &tls.data["status"]["conditions"][0];
    assert_eq!(ready["type"], "Ready");
    assert_eq!(ready["status"], "True");
    assert!(tls.data["status"]["notAfter"].is_string());

    let rejected = wait_for(
        &certs,
        "rejected",
        "Degraded",
        TIMEOUT,
        health_is::<DynamicObject>(HealthStatus::Degraded),
    )
    .await
    .unwrap();
    assert_eq!(
        health_of(&rejected).message,
        "ACME order rejected: rate limited"
    );

    let mq = wait_for(
        &rabbit,
        "mq",
        "Healthy",
        TIMEOUT,
        health_is::<DynamicObject>(HealthStatus::Healthy),
    )
    .await
    .unwrap();
    assert_eq!(
        mq.data["status"]["defaultUser"]["secretReference"]["name"],
        "mq-default-user"
    );
    wait_for(
        &queues,
        "jobs",
        "Healthy",
        TIMEOUT,
        health_is::<DynamicObject>(HealthStatus::Healthy),
    )
    .await;
    let cache = wait_for(
        &redis,
        "cache",
        "Healthy",
        TIMEOUT,
        health_is::<DynamicObject>(HealthStatus::Healthy),
    )
    .await
    .unwrap();
    assert_eq!(cache.data["status"]["state"], "Ready");

    wait_for(
        &certs,
        "slow",
        "Healthy",
        TIMEOUT,
        health_is::<DynamicObject>(HealthStatus::Healthy),
    )
    .await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(2900),
        "the Certificate with ready-after 3s was Healthy after {took:?}"
    );

    // No status for `stuck`, nor for the IngressRoute (Traefik writes none).
    let never = queues.get("never").await.unwrap();
    assert!(never.data.get("status").is_none(), "{:?}", never.data);
    assert_eq!(health_of(&never).status, HealthStatus::Progressing);
    let web = routes.get("web").await.unwrap();
    assert!(web.data.get("status").is_none(), "{:?}", web.data);
    assert_eq!(health_of(&web).status, HealthStatus::None);
}
