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
//! - `#% second sync` — what follows is synced by a second run of both engines, with prune;
//! - `#% operators` — the case uses the operators' custom resources: their CRDs
//!   (`testenv/operators/`) are installed first;
//! - `#% differs: D<n>` — the documented difference this case shows, and exactly that one
//!   (`support::differential::shows_exactly`).
//!
//! Besides the files, seeded random apps of 20 to 200 objects are compared.

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
    Identities, Side, compare, documented_differences, groups, managers, shows_exactly,
};
use crate::support::recorder::Recorder;

/// A case: its name, the manifests of each sync, the documented differences it may show.
#[derive(Debug)]
struct Case {
    name: String,
    syncs: Vec<Vec<serde_json::Value>>,
    differs: Vec<String>,
    operators: bool,
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

/// The manifests of `fixtures/NAME`, files in name order, without their Namespace objects and
/// namespaces.
fn fixture(name: &str) -> Vec<serde_json::Value> {
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
        .filter(|d| d["kind"] != "Namespace")
        .map(|mut d| {
            if let Some(meta) = d["metadata"].as_object_mut() {
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
    for line in text.lines() {
        match line.strip_prefix("#% ") {
            Some("second sync") => syncs.push(String::new()),
            Some("operators") => operators = true,
            Some(d) if d.starts_with("differs: ") => {
                differs.push(d["differs: ".len()..].trim().to_string())
            }
            Some(d) if d.starts_with("fixture: ") => {
                fixture_docs = fixture(d["fixture: ".len()..].trim())
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

/// The namespaced kinds of a case, for the recorder; cluster-scoped kinds are refused (both
/// engines would write the same cluster-wide object).
async fn kinds(client: &Client, case: &Case) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for doc in case.syncs.iter().flatten() {
        let api_version = doc["apiVersion"].as_str().unwrap_or_default();
        let kind = doc["kind"].as_str().unwrap_or_default();
        if out.iter().any(|(a, k, _)| a == api_version && k == kind) {
            continue;
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let (resource, caps) = pinned_kind(client, &GroupVersionKind::gvk(group, version, kind))
            .await
            .unwrap_or_else(|e| panic!("case {}: kind {api_version}/{kind}: {e}", case.name));
        assert!(
            matches!(caps.scope, Scope::Namespaced),
            "case {}: {kind} is cluster-scoped; the corpus is namespaced only",
            case.name
        );
        out.push((api_version.to_string(), kind.to_string(), resource.plural));
    }
    out
}

/// One engine's run of every sync of a case, recorded.
async fn run_engine(
    case: &Case,
    ns: &TestNs,
    kinds: &[(String, String, String)],
    dirs: &[PathBuf],
    argocd: bool,
) -> (Side, String) {
    let kinds: Vec<(&str, &str, &str)> = kinds
        .iter()
        .map(|(a, k, p)| (a.as_str(), k.as_str(), p.as_str()))
        .collect();
    let recorder = Recorder::start(&ns.client, &ns.name, &kinds).await;
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
                .arg("sync")
                .arg(dir)
                .args(["-n", &ns.name, "--applyset", "differential", "--prune"])
                .args(["--timeout", "10m", "-o", "json", "--kubeconfig"])
                .arg(&cluster().kubeconfig);
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
    let trace = recorder.stop().await;
    let ids = Identities::of(&case.syncs.concat());
    let side = Side {
        outcome,
        groups: groups(&trace, &ids),
        managers: managers(&trace, &ids),
    };
    (side, log)
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
) -> Result<String, String> {
    for d in &case.differs {
        assert!(
            documented.contains_key(d),
            "case {}: `#% differs: {d}` is not a heading of docs/argocd-differences.md",
            case.name
        );
    }
    let c = cluster();
    let client = c.client().await;
    if case.operators {
        crate::support::operators::install_operator_crds(&client).await;
    }
    let kinds = kinds(&client, &case).await;
    let tmp = tempfile::tempdir().expect("temp dir");
    let dirs: Vec<PathBuf> = case
        .syncs
        .iter()
        .enumerate()
        .map(|(i, docs)| write_sync(tmp.path(), i, docs))
        .collect();
    let (argo_ns, ours_ns) = tokio::join!(c.ns("diff-argocd"), c.ns("diff-waves"));
    let ((argo, argo_log), (ours, ours_log)) = tokio::join!(
        run_engine(&case, &argo_ns, &kinds, &dirs, true),
        run_engine(&case, &ours_ns, &kinds, &dirs, false)
    );
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
    let cases: Vec<Case> = corpus()
        .into_iter()
        .filter(|c| only.as_ref().is_none_or(|o| o.contains(&c.name)))
        .collect();
    let total = cases.len();
    let documented = &documented;
    let results: Vec<Result<String, String>> = futures_util::stream::iter(cases)
        .map(|case| run_case(case, documented))
        .buffer_unordered(8)
        .inspect(|r| match r {
            Ok(line) => eprintln!("{line}"),
            Err(report) => eprintln!("{report}"),
        })
        .collect()
        .await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(
        failures.is_empty(),
        "{} of {total} cases differ without a documented reason:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}
