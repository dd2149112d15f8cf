//! Differential tests: every case of `tests/differential/` is synced by Argo CD's own engine
//! (`argocd-sync`, built by `testenv/build` from `testenv/argocd`) and by `kubectl waves sync`,
//! each into a fresh namespace of the same cluster with a recorder around it, and the two
//! traces are compared (`support::differential`). A difference fails the test unless the case
//! names, with `#% differs: D<n>`, an entry of `docs/argocd-differences.md`.
//!
//! A case is one YAML file. Lines starting `#% ` are directives:
//! - `#% fixture: NAME` — the manifests are `fixtures/NAME` (Namespaces and cluster-scoped
//!   objects left out, `metadata.namespace` removed: each engine syncs into its own
//!   namespace);
//! - `#% chart: NAME [HELM ARGS]` — `fixtures/charts/NAME` rendered by `helm template demo
//!   fixtures/charts/NAME [HELM ARGS]` (the `helm` testenv/build builds), added to the sync the
//!   line is in;
//! - `#% fixture as is: NAME` — `fixtures/NAME` with its Namespaces and namespaces;
//! - `#% waves args: ARGS` — more arguments of `kubectl waves sync` (run from the repository
//!   root);
//! - `#% operator: database|cnpg` — the test plays an operator in the case's namespaces: the
//!   enterprise guide's database operator (`MyDatabaseInstance` Running after 1 s) or
//!   CloudNativePG (`Cluster` ready after 1 s);
//! - `#% second sync` — what follows is synced by a second run of both engines, with prune;
//! - `#% operators` — the case uses the operators' custom resources: their CRDs
//!   (`testenv/operators/`) and the fixtures' StorageClasses are installed first;
//! - `#% differs: D<n>` — the documented difference this case shows, and exactly that one
//!   (`support::differential::shows_exactly`).
//!
//! What a case writes outside the engine's own namespace (Namespaces and the objects in them,
//! CRDs and their custom resources, other cluster-scoped objects) is renamed per engine
//! (`support::differential::Renaming`) and recorded by watches across the cluster; a
//! namespace a case names but does not create is created by the test for each engine.
//!
//! Besides the files, seeded random apps of 20 to 200 objects are compared.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use futures_util::StreamExt;
use kube::Client;
use kube::core::GroupVersionKind;
use kube::discovery::{Scope, pinned_kind};

use crate::common::{bin, root};
use crate::support::cluster::{TestNs, cluster};
use crate::support::differential::{
    Identities, Renaming, Side, compare, documented_differences, groups, managers, shows_exactly,
};
use crate::support::recorder::{Recorder, Watch};

/// A case: its name, the manifests of each sync, the documented differences it may show.
#[derive(Debug)]
struct Case {
    name: String,
    syncs: Vec<Vec<serde_json::Value>>,
    differs: Vec<String>,
    operators: bool,
    /// Extra arguments of `kubectl waves sync` (`#% waves args:`).
    waves_args: Vec<String>,
    /// An operator the test plays in the case's namespaces (`#% operator:`).
    operator: Option<String>,
}

fn corpus_dir() -> PathBuf {
    root().join("tests").join("differential")
}

/// Parses the YAML documents of `text`, expanding `v1/List`s; empty documents are skipped.
fn documents(text: &str, origin: &str) -> Vec<serde_json::Value> {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(text).unwrap_or_else(|e| panic!("{origin}: not YAML: {e}"));
    let mut out = Vec::new();
    for doc in docs {
        if doc.is_null() {
            continue;
        }
        if doc["kind"] == "List" {
            out.extend(doc["items"].as_array().cloned().unwrap_or_default());
        } else {
            out.push(doc);
        }
    }
    out
}

/// The manifests of `fixtures/NAME`, files in name order; `namespaced`: without their
/// Namespace objects and namespaces (else as they are, renamed per engine when run).
fn fixture(name: &str, namespaced: bool) -> Vec<serde_json::Value> {
    let dir = root().join("fixtures").join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).expect("read fixture");
            documents(&text, &f.display().to_string())
        })
        .filter(|d| !namespaced || d["kind"] != "Namespace")
        .map(|mut d| {
            if let Some(meta) = d["metadata"].as_object_mut().filter(|_| namespaced) {
                meta.remove("namespace");
            }
            d
        })
        .collect()
}

/// `helm template demo fixtures/charts/NAME ARGS...` of `spec` (`NAME ARGS...`), as documents.
fn chart(spec: &str) -> Vec<serde_json::Value> {
    let mut words = spec.split_whitespace();
    let name = words.next().expect("#% chart: NAME");
    let helm = crate::support::tools::path_with(&["helm"]).join("helm");
    let out = Command::new(helm)
        .current_dir(root())
        .args(["template", "demo", &format!("fixtures/charts/{name}")])
        .args(words)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run helm template");
    assert!(
        out.status.success(),
        "helm template {spec}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    documents(
        &String::from_utf8_lossy(&out.stdout),
        &format!("chart {name}"),
    )
}

fn load_case(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).expect("read case");
    let origin = path.display().to_string();
    let mut syncs = vec![String::new()];
    let mut differs = Vec::new();
    let mut fixture_docs = Vec::new();
    let mut chart_docs = Vec::new();
    let mut operators = false;
    let mut waves_args = Vec::new();
    let mut operator = None;
    for line in text.lines() {
        match line.strip_prefix("#% ") {
            Some("second sync") => syncs.push(String::new()),
            Some("operators") => operators = true,
            Some(d) if d.starts_with("differs: ") => {
                differs.push(d["differs: ".len()..].trim().to_string())
            }
            Some(d) if d.starts_with("fixture: ") => {
                fixture_docs = fixture(d["fixture: ".len()..].trim(), true)
            }
            Some(d) if d.starts_with("fixture as is: ") => {
                fixture_docs = fixture(d["fixture as is: ".len()..].trim(), false)
            }
            Some(d) if d.starts_with("waves args: ") => waves_args.extend(
                d["waves args: ".len()..]
                    .split_whitespace()
                    .map(str::to_string),
            ),
            Some(d) if d.starts_with("operator: ") => {
                operator = Some(d["operator: ".len()..].trim().to_string())
            }
            Some(d) if d.starts_with("chart: ") => {
                chart_docs.push((syncs.len() - 1, chart(d["chart: ".len()..].trim())))
            }
            Some(d) => panic!("{origin}: unknown directive `#% {d}`"),
            None => {
                let text = syncs.last_mut().expect("one sync");
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    let mut syncs: Vec<Vec<serde_json::Value>> =
        syncs.iter().map(|t| documents(t, &origin)).collect();
    syncs[0].splice(0..0, fixture_docs);
    for (index, docs) in chart_docs {
        syncs[index].extend(docs);
    }
    assert!(!syncs[0].is_empty(), "{origin}: no manifests");
    Case {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        syncs,
        differs,
        operators,
        waves_args,
        operator,
    }
}

/// A seeded random app of `n` objects: ConfigMaps, Secrets, ServiceAccounts, Services and
/// Jobs over waves -3..3, some of them hooks of each phase with each delete policy.
fn random_case(seed: u64, n: usize) -> Case {
    // SplitMix64: deterministic, no dependency.
    let mut state = seed;
    let mut next = move |bound: u64| {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound
    };
    let mut docs = Vec::new();
    for i in 0..n {
        let wave = next(7) as i64 - 3;
        let name = format!("r{i:03}-{}", next(1000));
        let hook = match next(10) {
            0 => Some("PreSync"),
            1 => Some("PostSync"),
            _ => None,
        };
        let mut annotations = serde_json::Map::new();
        annotations.insert(
            "argocd.argoproj.io/sync-wave".into(),
            wave.to_string().into(),
        );
        if let Some(h) = hook {
            annotations.insert("argocd.argoproj.io/hook".into(), h.into());
            let policy = ["HookSucceeded", "BeforeHookCreation", "HookFailed"][next(3) as usize];
            annotations.insert(
                "argocd.argoproj.io/hook-delete-policy".into(),
                policy.into(),
            );
        }
        let meta = serde_json::json!({"name": name, "annotations": annotations});
        let kind = if hook.is_some() && next(2) == 0 {
            4
        } else {
            next(4)
        };
        let doc = match kind {
            0 => {
                serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}})
            }
            1 => {
                serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": {"k": "v"}})
            }
            2 => {
                serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
            }
            3 => serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": meta,
                "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}),
            _ => job(meta),
        };
        docs.push(doc);
    }
    Case {
        name: format!("random-{seed}-{n}"),
        syncs: vec![docs],
        differs: Vec::new(),
        operators: false,
        waves_args: Vec::new(),
        operator: None,
    }
}

fn job(meta: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "main", "image": "registry.invalid/job:1"}]}}}
    })
}

/// Writes one sync's manifests as a YAML stream (JSON documents) into `dir/<index>/app.yaml`.
fn write_sync(dir: &Path, index: usize, docs: &[serde_json::Value]) -> PathBuf {
    let sub = dir.join(format!("sync{index}"));
    std::fs::create_dir_all(&sub).expect("case dir");
    let text: String = docs
        .iter()
        .map(|d| format!("---\n{}\n", serde_json::to_string(d).expect("json")))
        .collect();
    std::fs::write(sub.join("app.yaml"), text).expect("write case");
    sub
}

/// A kind a case writes, for the recorder.
#[derive(Debug, Clone)]
struct CaseKind {
    api_version: String,
    kind: String,
    plural: String,
    namespaced: bool,
    /// The case's CRD that defines the kind (its original name), if the case has it.
    crd: Option<String>,
}

/// The kinds of a case, from the cluster's discovery, or from the case's own CRDs for their
/// custom resources (not served before the sync creates them).
async fn kinds(client: &Client, case: &Case) -> Vec<CaseKind> {
    let docs = case.syncs.concat();
    let mut out: Vec<CaseKind> = Vec::new();
    for doc in &docs {
        let api_version = doc["apiVersion"].as_str().unwrap_or_default();
        let kind = doc["kind"].as_str().unwrap_or_default();
        if out
            .iter()
            .any(|k| k.api_version == api_version && k.kind == kind)
        {
            continue;
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let crd = docs.iter().find(|d| {
            d["kind"] == "CustomResourceDefinition"
                && d["spec"]["group"] == group
                && d["spec"]["names"]["kind"] == kind
        });
        let found = match crd {
            Some(crd) => CaseKind {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
                plural: crd["spec"]["names"]["plural"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                namespaced: crd["spec"]["scope"] != "Cluster",
                crd: crd["metadata"]["name"].as_str().map(str::to_string),
            },
            None => {
                let (resource, caps) =
                    pinned_kind(client, &GroupVersionKind::gvk(group, version, kind))
                        .await
                        .unwrap_or_else(|e| {
                            panic!("case {}: kind {api_version}/{kind}: {e}", case.name)
                        });
                CaseKind {
                    api_version: api_version.to_string(),
                    kind: kind.to_string(),
                    plural: resource.plural,
                    namespaced: matches!(caps.scope, Scope::Namespaced),
                    crd: None,
                }
            }
        };
        out.push(found);
    }
    out
}

/// The cluster-scoped kinds among `kinds` other than Namespace and CRD (renamed by name).
fn cluster_scoped(kinds: &[CaseKind]) -> BTreeSet<String> {
    kinds
        .iter()
        .filter(|k| !k.namespaced && k.kind != "Namespace" && k.kind != "CustomResourceDefinition")
        .map(|k| k.kind.clone())
        .collect()
}

/// The recorder's watches for one engine: namespaced kinds in the engine's namespace and in
/// every (renamed) namespace the case names, cluster-scoped kinds across the cluster filtered
/// to the engine's renamed objects, custom resources of the case's CRDs from the moment
/// their (renamed) CRD is Established.
fn watches(kinds: &[CaseKind], ns: &str, renaming: &Renaming) -> Vec<Watch> {
    let mut namespaces: Vec<String> = vec![ns.to_string()];
    namespaces.extend(renaming.namespaces.values().cloned());
    let mut out = Vec::new();
    for k in kinds {
        let crd_name = k.crd.as_ref().map(|original| {
            renaming
                .cluster_names("CustomResourceDefinition")
                .into_iter()
                .find(|n| renaming.original("CustomResourceDefinition", n) == *original)
                .unwrap_or_else(|| original.clone())
        });
        let base = Watch {
            api_version: renaming.api_version(&k.api_version),
            kind: k.kind.clone(),
            plural: k.plural.clone(),
            namespace: None,
            names: None,
            after_crd: crd_name,
        };
        if k.namespaced {
            for n in &namespaces {
                out.push(Watch {
                    namespace: Some(n.clone()),
                    ..base.clone()
                });
            }
        } else {
            let names = renaming.cluster_names(&k.kind);
            out.push(Watch {
                names: Some(names),
                ..base
            });
        }
    }
    out
}

/// One engine's run of every sync of a case, recorded.
async fn run_engine(
    case: &Case,
    ns: &TestNs,
    watches: &[Watch],
    renaming: &Renaming,
    dirs: &[PathBuf],
    argocd: bool,
) -> (Side, String) {
    let recorder = Recorder::start_watches(&ns.client, watches).await;
    let mut outcome = String::new();
    let mut log = String::new();
    for dir in dirs {
        let mut cmd = if argocd {
            let mut c = Command::new(cluster().bin_dir.join("argocd-sync"));
            c.arg("--kubeconfig")
                .arg(&cluster().kubeconfig)
                .args(["--namespace", &ns.name, "--timeout", "10m"])
                .arg(dir);
            c
        } else {
            let mut c = Command::new(bin());
            c.env("NO_COLOR", "1")
                .env_remove("KUBECONFIG")
                .current_dir(root())
                .arg("sync")
                .arg(dir)
                .args(["-n", &ns.name, "--applyset", "differential", "--prune"])
                .args(["--timeout", "10m", "-o", "json", "--kubeconfig"])
                .arg(&cluster().kubeconfig)
                .args(&case.waves_args);
            c
        };
        cmd.stdin(std::process::Stdio::null());
        // Off the async workers, so the recorder keeps receiving.
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("run an engine"))
            .await
            .expect("engine task");
        outcome = match out.status.code() {
            Some(0) => "Succeeded".to_string(),
            Some(1) => "Failed".to_string(),
            code => format!("exit {code:?}"),
        };
        log.push_str(&String::from_utf8_lossy(&out.stdout));
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        if argocd && out.status.code() == Some(3) {
            outcome = "Timeout".to_string();
        }
        if outcome != "Succeeded" {
            // A failed first sync ends the case, as it would end a pipeline.
            break;
        }
    }
    // Let the last deletions' events arrive.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut trace = recorder.stop().await;
    for w in &mut trace {
        w.name = renaming.original(&w.kind, &w.name);
    }
    let ids = Identities::of(&case.syncs.concat());
    let side = Side {
        outcome,
        groups: groups(&trace, &ids),
        managers: managers(&trace, &ids),
    };
    (side, log)
}

/// What a renaming put outside the engine's namespace (its namespaces, CRDs and
/// cluster-scoped objects), as `kubectl delete` arguments.
fn cleanup_targets(renaming: &Renaming, kinds: &[CaseKind]) -> Vec<String> {
    let mut targets: Vec<String> = Vec::new();
    for k in kinds.iter().filter(|k| !k.namespaced) {
        let resource = if k.api_version.contains('/') {
            format!(
                "{}.{}",
                k.plural,
                group_of(&renaming.api_version(&k.api_version))
            )
        } else {
            k.plural.clone()
        };
        for name in renaming.cluster_names(&k.kind) {
            targets.push(format!("{resource}/{name}"));
        }
    }
    // Namespaces named but not created by the case were created by the test.
    for ns in renaming.namespaces.values() {
        let target = format!("namespaces/{ns}");
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    targets
}

/// Deletes `targets` in the background. Once all cases ran: a CRD being deleted is still
/// named by discovery for a moment after its kind stopped being served, which a cluster-wide
/// cache starting then (argocd-sync's) trips over.
fn clean_up(targets: &[String]) {
    if targets.is_empty() {
        return;
    }
    let _ = cluster()
        .kubectl()
        .args(["delete", "--wait=false", "--ignore-not-found"])
        .args(targets)
        .stdin(std::process::Stdio::null())
        .output();
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

/// Plays the operator `name` for one engine's run, in the engine's namespace and the case's
/// (renamed) ones: `database` makes every `MyDatabaseInstance` Running, as the enterprise
/// guide's operator would; `cnpg` makes every CloudNativePG `Cluster` (of the renamed group,
/// when the case ships the CRD) ready, as tests/it/sync.rs plays it for the ledger app.
fn play_operator(
    name: &str,
    client: &Client,
    ns: &TestNs,
    renaming: &Renaming,
) -> Vec<crate::support::operators::DatabaseOperator> {
    let namespaces = std::iter::once(ns.name.clone()).chain(renaming.namespaces.values().cloned());
    match name {
        "database" => namespaces
            .map(|n| crate::support::operators::run_database_operator(client, &n))
            .collect(),
        "cnpg" => {
            let api_version = renaming.api_version("postgresql.cnpg.io/v1");
            let resource = kube::api::ApiResource {
                group: group_of(&api_version).to_string(),
                version: "v1".into(),
                api_version: api_version.clone(),
                kind: "Cluster".into(),
                plural: "clusters".into(),
            };
            let status = serde_json::json!({"status": {
                "phase": "Cluster in healthy state",
                "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterIsReady"}],
            }});
            namespaces
                .map(|n| {
                    crate::support::operators::run_status_writer(
                        client,
                        &n,
                        resource.clone(),
                        status.clone(),
                    )
                })
                .collect()
        }
        other => panic!("`#% operator: {other}`: unknown operator (database, cnpg)"),
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs a case; `Err` holds the report of an undocumented difference.
async fn run_case(
    case: Case,
    documented: &std::collections::BTreeMap<String, String>,
    cleanup: &std::sync::Mutex<Vec<String>>,
    crd_cases: &tokio::sync::Mutex<()>,
) -> Result<String, String> {
    for d in &case.differs {
        assert!(
            documented.contains_key(d),
            "case {}: `#% differs: {d}` is not a heading of docs/argocd-differences.md",
            case.name
        );
    }
    // One case creating CRDs at a time: the apiserver rebuilds its OpenAPI document after
    // every CRD change, and many at once slow it past the engines' client timeouts.
    let creates_crds = case
        .syncs
        .iter()
        .flatten()
        .any(|d| d["kind"] == "CustomResourceDefinition");
    let _crd_turn = if creates_crds {
        Some(crd_cases.lock().await)
    } else {
        None
    };
    let c = cluster();
    let client = c.client().await;
    if case.operators {
        crate::support::operators::install_operator_crds(&client).await;
        crate::support::operators::install_fixture_storage_classes(&client).await;
    }
    let kinds = kinds(&client, &case).await;
    let docs = case.syncs.concat();
    let cluster_kinds = cluster_scoped(&kinds);
    let tmp = tempfile::tempdir().expect("temp dir");
    let (argo_ns, ours_ns) = tokio::join!(c.ns("diff-argocd"), c.ns("diff-waves"));
    let mut sides = Vec::new();
    for (label, ns) in [("argocd", &argo_ns), ("waves", &ours_ns)] {
        // The engine's namespace name ends in a unique part: reuse it as the suffix.
        let suffix = ns.name.trim_start_matches("diff-").to_string();
        let renaming = Renaming::of(&docs, &suffix, &cluster_kinds);
        // A namespace the case names but does not create is the platform's: the test makes it.
        for (original, renamed) in &renaming.namespaces {
            let created = docs
                .iter()
                .any(|d| d["kind"] == "Namespace" && d["metadata"]["name"] == original.as_str());
            if !created {
                crate::support::operators::ensure_namespace(&client, renamed).await;
            }
        }
        let dirs: Vec<PathBuf> = case
            .syncs
            .iter()
            .enumerate()
            .map(|(i, docs)| {
                let renamed: Vec<serde_json::Value> =
                    docs.iter().map(|d| renaming.apply(d)).collect();
                write_sync(&tmp.path().join(label), i, &renamed)
            })
            .collect();
        let watches = watches(&kinds, &ns.name, &renaming);
        sides.push((renaming, dirs, watches));
    }
    let operators: Vec<_> = case
        .operator
        .iter()
        .flat_map(|op| {
            [(&argo_ns, &sides[0].0), (&ours_ns, &sides[1].0)]
                .map(|(ns, renaming)| play_operator(op, &client, ns, renaming))
        })
        .collect();
    let ((argo, argo_log), (ours, ours_log)) = tokio::join!(
        run_engine(&case, &argo_ns, &sides[0].2, &sides[0].0, &sides[0].1, true),
        run_engine(
            &case,
            &ours_ns,
            &sides[1].2,
            &sides[1].0,
            &sides[1].1,
            false
        )
    );
    drop(operators);
    for (renaming, _, _) in &sides {
        cleanup
            .lock()
            .unwrap()
            .extend(cleanup_targets(renaming, &kinds));
    }
    let failure = |what: String| {
        Err(format!(
            "{}: {what}\n--- argocd-sync (last lines)\n{}\n--- kubectl-waves (last lines)\n{}\n",
            case.name,
            tail(&argo_log, 15),
            tail(&ours_log, 15)
        ))
    };
    if !case.differs.is_empty() {
        // The case must show exactly the difference it names, not any difference.
        let table = compare(&argo, &ours).unwrap_or_else(|| "(the same writes)".to_string());
        for d in &case.differs {
            if let Err(why) = shows_exactly(d, &argo, &ours) {
                return failure(format!(
                    "{why} (namespaces {} and {}):\n{table}",
                    argo_ns.name, ours_ns.name
                ));
            }
        }
        return Ok(format!(
            "{}: differs exactly as documented ({}):\n{table}",
            case.name,
            case.differs.join(", ")
        ));
    }
    match compare(&argo, &ours) {
        None => Ok(format!(
            "{}: same ({} groups, {})",
            case.name,
            argo.groups.len(),
            argo.outcome
        )),
        Some(table) => failure(format!(
            "Argo CD's engine and kubectl-waves differ (namespaces {} and {}):\n{table}",
            argo_ns.name, ours_ns.name
        )),
    }
}

fn corpus() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/differential")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut cases: Vec<Case> = files.iter().map(|f| load_case(f)).collect();
    cases.extend([random_case(1, 20), random_case(2, 60), random_case(3, 200)]);
    cases
}

#[test]
fn the_corpus_loads_and_every_documented_difference_exists() {
    let documented = documented_differences(
        &std::fs::read_to_string(root().join("docs/argocd-differences.md")).expect("read docs"),
    );
    let cases = corpus();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for case in &cases {
        for d in &case.differs {
            assert!(
                documented.contains_key(d),
                "case {}: unknown difference {d}",
                case.name
            );
        }
    }
    // The README's count is the corpus's.
    let readme = std::fs::read_to_string(root().join("README.md")).expect("read README");
    let claim = format!("on {} cases", cases.len());
    assert!(
        readme.contains(&claim),
        "README.md must say \"{claim}\" (order verified against Argo CD's sync engine)"
    );
    // Every documented difference has a case showing it, or (for what the engine cannot
    // show: an Application CRD, an opt-in order) names the test that proves it.
    let markdown =
        std::fs::read_to_string(root().join("docs/argocd-differences.md")).expect("read docs");
    for d in documented.keys() {
        if cases.iter().any(|c| c.differs.contains(d)) {
            continue;
        }
        let section = markdown
            .split("\n### ")
            .find(|s| s.starts_with(&format!("{d}: ")))
            .unwrap_or_default()
            .replace('\n', " ");
        let proof = section
            .split("not shown by the differential engine; proved by `")
            .nth(1)
            .and_then(|rest| rest.split('`').next());
        match proof {
            Some(file) => assert!(
                root().join(file).is_file(),
                "{d} is proved by {file}, which does not exist"
            ),
            None => panic!(
                "no case of tests/differential/ shows {d} (or say \"not shown by the differential engine; proved by `tests/it/FILE.rs`\")"
            ),
        }
    }
    // Deterministic: the same seed gives the same app.
    assert_eq!(
        serde_json::to_string(&random_case(7, 30).syncs).unwrap(),
        serde_json::to_string(&random_case(7, 30).syncs).unwrap()
    );
}

/// All cases, a few at a time. Set `WAVES_DIFFERENTIAL=name,name` to run only those.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn argocd_engine_and_ours_write_in_the_same_order() {
    let documented = documented_differences(
        &std::fs::read_to_string(root().join("docs/argocd-differences.md")).expect("read docs"),
    );
    let only: Option<Vec<String>> = std::env::var("WAVES_DIFFERENTIAL")
        .ok()
        .map(|v| v.split(',').map(str::to_string).collect());
    let mut cases: Vec<Case> = corpus()
        .into_iter()
        .filter(|c| only.as_ref().is_none_or(|o| o.contains(&c.name)))
        .collect();
    // The largest first (the 200-object random app takes minutes): the others run beside
    // them, not after them.
    cases.sort_by_key(|c| std::cmp::Reverse(c.syncs.iter().map(Vec::len).sum::<usize>()));
    let total = cases.len();
    let documented = &documented;
    let cleanup = std::sync::Mutex::new(Vec::new());
    let cleanup_ref = &cleanup;
    let crd_cases = tokio::sync::Mutex::new(());
    let crd_cases = &crd_cases;
    let results: Vec<Result<String, String>> = futures_util::stream::iter(cases)
        .map(|case| run_case(case, documented, cleanup_ref, crd_cases))
        .buffer_unordered(8)
        .inspect(|r| match r {
            Ok(line) => eprintln!("{line}"),
            Err(report) => eprintln!("{report}"),
        })
        .collect()
        .await;
    clean_up(&cleanup.into_inner().unwrap());
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(
        failures.is_empty(),
        "{} of {total} cases differ without a documented reason:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}
