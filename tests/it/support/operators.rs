//! What the fixture apps expect of a cluster besides themselves: the CustomResourceDefinitions
//! of the operators they use (an app does not ship its operator's CRDs) and the
//! StorageClasses they name. testenv's `fake-controllers` plays the operators and the
//! provisioner (see `testenv/README.md`).
//!
//! ```ignore
//! let client = cluster().client().await;
//! install_operator_crds(&client).await;       // cert-manager, RabbitMQ, redis-operator, Traefik
//! install_fixture_storage_classes(&client).await; // efs-sc, gp3
//! ```

use std::{path::PathBuf, time::Duration};

use k8s_openapi::{
    api::storage::v1::StorageClass,
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::json;

use super::cluster::{repo_root, wait_for};

const FIELD_MANAGER: &str = "waves-test-support";

/// The folder of the operators' minimal CRDs.
pub fn operator_crds_dir() -> PathBuf {
    repo_root().join("testenv").join("operators")
}

/// Every CRD in `testenv/operators/*.yaml`, in file order.
pub fn operator_crds() -> Vec<CustomResourceDefinition> {
    let dir = operator_crds_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut crds = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let docs: Vec<CustomResourceDefinition> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("parsing {}: {e}", file.display()));
        crds.extend(docs);
    }
    crds
}

/// Installs (server-side apply, idempotent) the CRDs of the operators the fixture apps use,
/// and waits until each is Established. Safe to call from concurrent tests.
pub async fn install_operator_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let crds = operator_crds();
    for crd in &crds {
        let name = crd.name_any();
        let mut manifest = serde_json::to_value(crd).expect("CRD to JSON");
        manifest["apiVersion"] = json!("apiextensions.k8s.io/v1");
        manifest["kind"] = json!("CustomResourceDefinition");
        api.patch(&name, &params, &Patch::Apply(&manifest))
            .await
            .unwrap_or_else(|e| panic!("applying CRD {name}: {e}"));
    }
    for crd in &crds {
        wait_for(
            &api,
            &crd.name_any(),
            "Established",
            Duration::from_secs(30),
            kube::runtime::wait::conditions::is_crd_established(),
        )
        .await;
    }
}

/// Applies (idempotent) a StorageClass named `name` with that provisioner and
/// `volumeBindingMode` ("Immediate" or "WaitForFirstConsumer"). testenv's provisioner serves
/// every class, whatever its provisioner.
pub async fn storage_class(client: &Client, name: &str, provisioner: &str, binding_mode: &str) {
    let api: Api<StorageClass> = Api::all(client.clone());
    let manifest = json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": { "name": name },
        "provisioner": provisioner,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": binding_mode,
    });
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&manifest),
    )
    .await
    .unwrap_or_else(|e| panic!("applying StorageClass {name}: {e}"));
}

/// The StorageClasses the fixture apps name: `efs-sc` (fixtures/ledger's claim; Immediate,
/// as its comment requires) and `gp3` (fixtures/tenant-a's RabbitmqCluster, fixtures/ledger's
/// CNPG Cluster; WaitForFirstConsumer, as on EKS).
pub async fn install_fixture_storage_classes(client: &Client) {
    storage_class(client, "efs-sc", "efs.csi.aws.com", "Immediate").await;
    storage_class(client, "gp3", "ebs.csi.aws.com", "WaitForFirstConsumer").await;
}

/// A guard that prints the last lines of `fake-controllers.log` (the provisioner's and the
/// status writers' log) if the test panics; `cluster::log_tails` covers the other processes.
pub fn fake_controllers_log() -> FakeControllersLog {
    FakeControllersLog {
        path: super::cluster::cluster()
            .data_dir
            .as_ref()
            .map(|d| d.join("logs").join("fake-controllers.log")),
    }
}

/// See [`fake_controllers_log`].
pub struct FakeControllersLog {
    path: Option<PathBuf>,
}

impl Drop for FakeControllersLog {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let Some(path) = &self.path else { return };
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(40)..];
        eprintln!(
            "----- last {} lines of {} -----\n{}",
            tail.len(),
            path.display(),
            tail.join("\n")
        );
    }
}

/// Plays the enterprise guide's database operator (fixtures/enterprise/app) until dropped:
/// every `MyDatabaseInstance` in `namespace` gets `status.phase: Running` one second after it
/// appears, which its Lua check (fixtures/enterprise/argocd-cm.yaml) reads as Healthy. Each
/// time, it notes how many Deployments the namespace had then ([`DatabaseOperator::deployments_when_running`]),
/// so a test can tell that later waves waited for it. Needs the CRD from
/// `install_operator_crds`.
pub fn run_database_operator(client: &Client, namespace: &str) -> DatabaseOperator {
    let resource = kube::api::ApiResource {
        group: "databases.example.com".into(),
        version: "v1alpha1".into(),
        api_version: "databases.example.com/v1alpha1".into(),
        kind: "MyDatabaseInstance".into(),
        plural: "mydatabaseinstances".into(),
    };
    run_status_writer(
        client,
        namespace,
        resource,
        json!({"status": {"phase": "Running"}}),
    )
}

/// Plays an operator until dropped: every object of `resource` in `namespace` gets `status`
/// (a merge patch of the status subresource) one second after it appears, unless its status
/// already holds it. Notes the Deployments of the namespace each time, as
/// [`run_database_operator`] does. The CRD may appear later (the app may create it).
pub fn run_status_writer(
    client: &Client,
    namespace: &str,
    resource: kube::api::ApiResource,
    status: serde_json::Value,
) -> DatabaseOperator {
    use kube::api::{DynamicObject, ListParams};
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), namespace);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let noted = seen.clone();
    let task = tokio::spawn(async move {
        let mut first_seen: std::collections::HashMap<String, std::time::Instant> =
            std::collections::HashMap::new();
        loop {
            if let Ok(list) = api.list(&ListParams::default()).await {
                for obj in list.items {
                    let name = obj.name_any();
                    let since = *first_seen
                        .entry(name.clone())
                        .or_insert_with(std::time::Instant::now);
                    let done = obj.data.get("status") == status.get("status");
                    if done || since.elapsed() < Duration::from_secs(1) {
                        continue;
                    }
                    let count = deployments
                        .list(&ListParams::default())
                        .await
                        .map_or(usize::MAX, |l| l.items.len());
                    // A failed write is tried again on the next round.
                    if api
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                        .await
                        .is_ok()
                    {
                        noted.lock().unwrap().push((name, count));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    DatabaseOperator { task, seen }
}

/// See [`run_database_operator`].
pub struct DatabaseOperator {
    task: tokio::task::JoinHandle<()>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(String, usize)>>>,
}

impl DatabaseOperator {
    /// (instance, Deployments in the namespace) each time an instance was made Running.
    pub fn deployments_when_running(&self) -> Vec<(String, usize)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for DatabaseOperator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Creates (idempotent) the namespace `name`, for apps that expect it to exist.
pub async fn ensure_namespace(client: &Client, name: &str) {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let manifest = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&manifest),
    )
    .await
    .unwrap_or_else(|e| panic!("applying Namespace {name}: {e}"));
}
