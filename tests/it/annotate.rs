//! `kubectl waves annotate`: the graph's edges per reference kind (fixtures/annotate), the
//! layering of the three example apps with their waves stripped, byte-exact writes, cycles,
//! explain and graph snapshots, `--stdout`, `--check`, Git, the KRM function and the Argo CD
//! plugin command line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::{bin, root, run, waves};
use kubectl_waves::edit::{self, AnnotationChange, Format, ObjectEdit};
use kubectl_waves::manifest::{InputFile, parse_file};

const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";

/// Runs the binary in `dir` with `args`: (exit code, stdout, stderr).
fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = waves()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run kubectl-waves");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary with `stdin`.
fn run_stdin(args: &[&str], stdin: &str) -> (i32, String, String) {
    let out = waves()
        .args(args)
        .write_stdin(stdin.to_string())
        .output()
        .expect("run kubectl-waves");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn annotate_json(args: &[&str]) -> Value {
    let mut all = vec!["annotate", "-o", "json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run(&all);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).expect("annotate -o json is JSON")
}

/// (from, to, kind, strength) of every edge.
fn edges(doc: &Value) -> Vec<(String, String, String, String)> {
    doc["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap_or_default().to_string(),
                e["to"].as_str().unwrap_or_default().to_string(),
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["strength"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn has_edge(doc: &Value, from: &str, to: &str, kind: &str, strength: &str) -> bool {
    edges(doc)
        .iter()
        .any(|e| e.0 == from && e.1 == to && e.2 == kind && e.3 == strength)
}

fn field_of(doc: &Value, from: &str, to: &str) -> Vec<String> {
    doc["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter(|e| e["from"] == from && e["to"] == to)
        .map(|e| e["field"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Suggested wave per object.
fn suggested(doc: &Value) -> HashMap<String, i64> {
    doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            (
                o["object"].as_str().unwrap_or_default().to_string(),
                o["suggestedWave"].as_i64().unwrap_or(i64::MIN),
            )
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Removes every `argocd.argoproj.io/sync-wave` annotation in the manifests of `dir`,
/// format-preserving (through the same editor `--write` uses).
fn strip_waves(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        let name = path.to_string_lossy().to_string();
        if !(name.ends_with(".yaml") || name.ends_with(".json")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let json = name.ends_with(".json");
        let (objects, _) = parse_file(&InputFile {
            display: name.clone().into(),
            text: text.clone(),
            json,
        });
        let edits: Vec<ObjectEdit> = objects
            .iter()
            .map(|o| ObjectEdit {
                path: o.path,
                changes: vec![AnnotationChange::remove(SYNC_WAVE)],
            })
            .collect();
        let format = if json { Format::Json } else { Format::Yaml };
        let new = edit::edit_text(&text, format, &edits).expect("strip waves");
        std::fs::write(&path, new).expect("write");
    }
}

/// A temp copy of `fixtures/<app>` without sync waves.
fn stripped(app: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_dir(&root().join("fixtures").join(app), tmp.path());
    strip_waves(tmp.path());
    tmp
}

fn read_dir_texts(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| {
            let p = e.expect("entry").path();
            (
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                std::fs::read_to_string(&p).unwrap_or_default(),
            )
        })
        .collect();
    files.sort();
    files
}

/// A flow-style line with its `sync-wave` entry taken out again.
fn without_wave_entry(line: &str) -> String {
    let Some(mut start) = line.find(SYNC_WAVE) else {
        return line.to_string();
    };
    if line[..start].ends_with(['"', '\'']) {
        start -= 1;
    }
    let rest = &line[start..];
    let Some(colon) = rest.find(':') else {
        return line.to_string();
    };
    let value = rest[colon + 1..].trim_start();
    let skipped = rest.len() - value.len();
    let Some(quote) = value.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return line.to_string();
    };
    let Some(close) = value[1..].find(quote) else {
        return line.to_string();
    };
    let end = start + skipped + close + 2;
    let (before, after) = (&line[..start], &line[end..]);
    match (before.strip_suffix(", "), after.strip_prefix(", ")) {
        (Some(b), _) => format!("{b}{after}"),
        (None, Some(a)) => format!("{before}{a}"),
        (None, None) => format!("{before}{after}"),
    }
}

/// Every line that differs between `before` and `after` is about annotations.
fn only_annotation_lines_changed(file: &str, before: &str, after: &str) {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut deleted = Vec::new();
    let mut inserted = Vec::new();
    for change in diff.iter_all_changes() {
        let line = change.value().trim_end_matches('\n').to_string();
        match change.tag() {
            similar::ChangeTag::Delete => deleted.push(line),
            similar::ChangeTag::Insert => inserted.push(line),
            similar::ChangeTag::Equal => {}
        }
    }
    for line in &inserted {
        let t = line.trim();
        let ok = t.contains(SYNC_WAVE)
            || t == "annotations:"
            || deleted.iter().any(|d| format!("{d},") == *line);
        assert!(ok, "{file}: unexpected new line {line:?}");
    }
    for line in &deleted {
        let ok = line.contains(SYNC_WAVE)
            || inserted
                .iter()
                .any(|i| *i == format!("{line},") || without_wave_entry(i) == *line);
        assert!(ok, "{file}: unexpected removed line {line:?}");
    }
}

/// The plan of `dir` as (phase, wave, Kind/ns/name) in execution order.
fn plan_order(dir: &Path) -> Vec<(String, i64, String)> {
    let (code, stdout, stderr) = run_in(dir, &["plan", "--strict", "-o", "json", "."]);
    assert_eq!(code, 0, "plan --strict after annotate --write: {stderr}");
    let plan: Value = serde_json::from_str(&stdout).expect("plan json");
    let mut out = Vec::new();
    for step in plan["steps"].as_array().expect("steps") {
        for r in step["resources"].as_array().expect("resources") {
            let (kind, ns, name) = (
                r["kind"].as_str().unwrap_or_default(),
                r["namespace"].as_str().unwrap_or_default(),
                r["name"].as_str().unwrap_or_default(),
            );
            let display = if ns.is_empty() {
                format!("{kind}/{name}")
            } else {
                format!("{kind}/{ns}/{name}")
            };
            out.push((
                step["phase"].as_str().unwrap_or_default().to_string(),
                step["wave"].as_i64().unwrap_or_default(),
                display,
            ));
        }
    }
    out
}

// ----------------------------------------------------------------------------------------
// Edges, one fixture per reference kind.

#[test]
fn pod_template_references() {
    let doc = annotate_json(&["fixtures/annotate/pod-references.yaml"]);
    let app = "Deployment/demo/app";
    for (to, kind) in [
        ("ServiceAccount/demo/app", "serviceAccount"),
        ("Secret/demo/registry", "imagePullSecret"),
        ("Secret/demo/db", "secret"),
        ("ConfigMap/demo/flags", "configMap"),
        ("ConfigMap/demo/settings", "configMap"),
        ("Secret/demo/tls", "secret"),
        ("PersistentVolumeClaim/demo/data", "volume"),
        ("ConfigMap/demo/ca", "configMap"),
    ] {
        assert!(
            has_edge(&doc, app, to, kind, "Exists"),
            "{to}: {:#?}",
            edges(&doc)
        );
    }
    assert_eq!(
        field_of(&doc, app, "ConfigMap/demo/settings"),
        ["spec.template.spec.containers[0].envFrom[0].configMapRef.name"]
    );
    assert_eq!(
        field_of(&doc, app, "ConfigMap/demo/ca"),
        ["spec.template.spec.volumes[2].projected.sources[0].configMap.name"]
    );
    let external = doc["external"].to_string();
    assert!(
        !external.contains("maybe"),
        "optional references are no dependency: {external}"
    );
    // Argo CD's kind order applies all of these before the Deployment: one wave.
    assert!(doc["changes"].as_array().unwrap().is_empty());
}

#[test]
fn storage_class_of_a_pvc_and_a_claim_template() {
    let doc = annotate_json(&["fixtures/annotate/storage-class.yaml"]);
    assert!(has_edge(
        &doc,
        "PersistentVolumeClaim/demo/cache",
        "StorageClass/fast",
        "storageClass",
        "Exists"
    ));
    assert!(has_edge(
        &doc,
        "StatefulSet/demo/db",
        "StorageClass/fast",
        "storageClass",
        "Exists"
    ));
    assert_eq!(
        field_of(&doc, "StatefulSet/demo/db", "StorageClass/fast"),
        ["spec.volumeClaimTemplates[0].spec.storageClassName"]
    );
}

#[test]
fn ingress_class_backends_and_the_workloads_behind_them() {
    let doc = annotate_json(&["fixtures/annotate/ingress.yaml"]);
    let ing = "Ingress/demo/web";
    assert!(has_edge(
        &doc,
        ing,
        "IngressClass/public",
        "ingressClass",
        "Exists"
    ));
    assert!(has_edge(&doc, ing, "Service/demo/web", "backend", "Exists"));
    assert!(has_edge(
        &doc,
        ing,
        "Deployment/demo/web",
        "backend",
        "Exists"
    ));
    assert_eq!(
        field_of(&doc, ing, "Service/demo/web"),
        ["spec.rules[0].http.paths[0].backend.service.name"]
    );
    // Same wave: a Deployment is applied before an Ingress.
    let waves = suggested(&doc);
    assert_eq!(waves[ing], waves["Deployment/demo/web"]);
}

#[test]
fn gateway_and_traefik_routes() {
    let doc = annotate_json(&["fixtures/annotate/routes.yaml"]);
    for route in ["HTTPRoute/demo/api", "IngressRoute/demo/api"] {
        assert!(
            has_edge(&doc, route, "Service/demo/api", "backend", "Exists"),
            "{route}"
        );
        assert!(
            has_edge(&doc, route, "Deployment/demo/api", "backend", "Exists"),
            "{route}"
        );
    }
}

#[test]
fn service_dns_names_reach_the_workloads_behind_the_service() {
    let doc = annotate_json(&["fixtures/annotate/service-dns.yaml"]);
    let client = "Deployment/demo/client";
    assert!(has_edge(&doc, client, "Service/demo/api", "dns", "Exists"));
    assert!(has_edge(
        &doc,
        client,
        "Deployment/demo/api",
        "dns",
        "Ready"
    ));
    assert_eq!(
        field_of(&doc, client, "Deployment/demo/api"),
        [
            "spec.template.spec.containers[0].env[0].value",
            "spec.template.spec.containers[0].args[1]"
        ],
        "the qualified name in env and `api:8080` in args, not the subcommand `worker`"
    );
    // Through a ConfigMap the pod imports.
    let reports = "Deployment/demo/reports";
    assert!(has_edge(
        &doc,
        reports,
        "Deployment/demo/api",
        "dns",
        "Ready"
    ));
    assert_eq!(
        field_of(&doc, reports, "Deployment/demo/api"),
        [
            "spec.template.spec.containers[0].envFrom[0].configMapRef.name → ConfigMap/demo/reports data.API"
        ]
    );
    // A workload reaching its own Service talks to its peers.
    assert!(
        !edges(&doc)
            .iter()
            .any(|e| e.0 == "Deployment/demo/api" && e.3 == "Ready")
    );
    assert!(doc["external"].to_string().contains("Service/vault/vault"));
    let waves = suggested(&doc);
    assert_eq!(
        (waves["Deployment/demo/api"], waves[client], waves[reports]),
        (0, 1, 1)
    );
}

#[test]
fn webhooks_and_api_services_wait_for_their_backend() {
    let doc = annotate_json(&["fixtures/annotate/webhook.yaml"]);
    let hook = "ValidatingWebhookConfiguration/policy";
    assert!(has_edge(
        &doc,
        hook,
        "Service/demo/policy",
        "webhook",
        "Ready"
    ));
    assert!(has_edge(
        &doc,
        hook,
        "Deployment/demo/policy",
        "webhook",
        "Ready"
    ));
    let api = "APIService/v1beta1.metrics.k8s.io";
    assert!(has_edge(
        &doc,
        api,
        "Service/demo/metrics",
        "apiService",
        "Ready"
    ));
    assert!(has_edge(
        &doc,
        api,
        "Deployment/demo/metrics",
        "apiService",
        "Ready"
    ));
    let waves = suggested(&doc);
    assert_eq!(
        (waves[hook], waves[api], waves["Deployment/demo/policy"]),
        (1, 1, 0)
    );
}

#[test]
fn hpa_and_pdb_need_their_target() {
    let doc = annotate_json(&["fixtures/annotate/autoscaling.yaml"]);
    assert!(has_edge(
        &doc,
        "HorizontalPodAutoscaler/demo/web",
        "Deployment/demo/web",
        "scaleTarget",
        "Exists"
    ));
    assert!(has_edge(
        &doc,
        "PodDisruptionBudget/demo/web",
        "Deployment/demo/web",
        "disruptionBudget",
        "Exists"
    ));
    let waves = suggested(&doc);
    // A PDB ranks before a Deployment inside a wave, so it needs the next one; an HPA does not.
    assert_eq!(waves["HorizontalPodAutoscaler/demo/web"], 0);
    assert_eq!(waves["PodDisruptionBudget/demo/web"], 1);
}

#[test]
fn rbac_bindings_roles_subjects_and_permissions() {
    let doc = annotate_json(&["fixtures/annotate/rbac.yaml"]);
    assert!(has_edge(
        &doc,
        "RoleBinding/demo/deployer",
        "Role/demo/deployer",
        "roleRef",
        "Exists"
    ));
    assert!(has_edge(
        &doc,
        "RoleBinding/demo/deployer",
        "ServiceAccount/demo/deployer",
        "subject",
        "Exists"
    ));
    assert!(has_edge(
        &doc,
        "CronJob/demo/restart",
        "ServiceAccount/demo/deployer",
        "serviceAccount",
        "Exists"
    ));
    assert!(has_edge(
        &doc,
        "CronJob/demo/restart",
        "RoleBinding/demo/deployer",
        "permissions",
        "Exists"
    ));
}

#[test]
fn custom_resources_their_crd_their_secrets_and_producers() {
    let doc = annotate_json(&["fixtures/annotate/custom-resources.yaml"]);
    let cache = "Cache/demo/sessions";
    assert!(has_edge(
        &doc,
        cache,
        "CustomResourceDefinition/caches.example.com",
        "crd",
        "Exists"
    ));
    assert!(has_edge(
        &doc,
        cache,
        "ConfigMap/demo/cache-tuning",
        "reference",
        "Exists"
    ));
    assert!(has_edge(
        &doc,
        cache,
        "Job/demo/make-password",
        "produces",
        "Ready"
    ));
    assert!(has_edge(
        &doc,
        "Deployment/demo/app",
        "Job/demo/make-password",
        "produces",
        "Ready"
    ));
    assert_eq!(
        field_of(&doc, cache, "Job/demo/make-password"),
        ["spec.passwordSecret.name"]
    );
    let waves = suggested(&doc);
    assert_eq!(
        (
            waves["Job/demo/make-password"],
            waves[cache],
            waves["Deployment/demo/app"]
        ),
        (0, 1, 1)
    );
}

#[test]
fn explicit_depends_on_in_both_spellings() {
    let doc = annotate_json(&["fixtures/annotate/depends-on.yaml"]);
    assert!(has_edge(
        &doc,
        "Deployment/demo/api",
        "ConfigMap/demo/schema",
        "dependsOn",
        "Ready"
    ));
    assert!(has_edge(
        &doc,
        "Deployment/demo/worker",
        "Deployment/demo/api",
        "dependsOn",
        "Ready"
    ));
    let waves = suggested(&doc);
    assert_eq!(
        (
            waves["Deployment/demo/api"],
            waves["Deployment/demo/worker"]
        ),
        (1, 2)
    );
}

#[test]
fn json_has_the_documented_shape() {
    let doc = annotate_json(&["fixtures/annotate/depends-on.yaml"]);
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["objects", "edges", "external", "changes", "diagnostics"]
    );
    let change = &doc["changes"][0];
    assert_eq!(
        change,
        &json!({
            "object": "Deployment/demo/api",
            "source": "fixtures/annotate/depends-on.yaml:8",
            "from": null,
            "to": 1,
            "reason": "depends on ConfigMap/demo/schema (annotation) at wave 0"
        })
    );
    let edge = &doc["edges"][0];
    let keys: Vec<&str> = edge
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["from", "to", "kind", "strength", "reason", "field"]);
}

// ----------------------------------------------------------------------------------------
// Layering of the example apps, waves stripped.

/// Annotates a stripped copy, checks the proposal against every edge and the plan, writes
/// it, and returns the directory and the suggested waves.
fn layer(app: &str) -> (tempfile::TempDir, HashMap<String, i64>) {
    let dir = stripped(app);
    let (code, stdout, stderr) = run_in(dir.path(), &["annotate", "-o", "json", "."]);
    assert_eq!(code, 0, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("json");
    let before = read_dir_texts(dir.path());
    let (code, _, stderr) = run_in(dir.path(), &["annotate", "--write", "."]);
    assert_eq!(code, 0, "{stderr}");
    for ((file, old), (_, new)) in before.iter().zip(read_dir_texts(dir.path())) {
        only_annotation_lines_changed(file, old, &new);
    }
    // The written waves are what was proposed, and nothing more would change.
    let (code, _, stderr) = run_in(dir.path(), &["annotate", "--check", "."]);
    assert_eq!(code, 0, "{app}: annotate is idempotent: {stderr}");
    // Every edge holds in the order Argo CD will follow.
    let order = plan_order(dir.path());
    let position = |name: &str| order.iter().position(|(_, _, n)| n == name);
    let step = |name: &str| {
        order
            .iter()
            .find(|(_, _, n)| n == name)
            .map(|(p, w, _)| (p.clone(), *w))
    };
    for (from, to, _, strength) in edges(&doc) {
        let (Some(f), Some(t)) = (position(&from), position(&to)) else {
            continue; // a SyncFail hook or a skipped object
        };
        assert!(t < f, "{app}: {from} needs {to} first: {order:#?}");
        if strength == "Ready" {
            assert_ne!(
                step(&from),
                step(&to),
                "{app}: {from} needs {to} healthy first"
            );
        }
    }
    // The Namespace comes before everything else.
    let namespace = order
        .iter()
        .position(|(_, _, n)| n.starts_with("Namespace/"))
        .expect("a Namespace");
    assert_eq!(namespace, 0, "{app}: {order:#?}");
    (dir, suggested(&doc))
}

fn before(order: &[(String, i64, String)], a: &str, b: &str, strictly_earlier_step: bool) {
    let pos = |n: &str| {
        order
            .iter()
            .position(|(_, _, x)| x == n)
            .unwrap_or_else(|| panic!("{n} not in {order:#?}"))
    };
    let (i, j) = (pos(a), pos(b));
    assert!(i < j, "{a} before {b}: {order:#?}");
    if strictly_earlier_step {
        assert!(
            (&order[i].0, order[i].1) != (&order[j].0, order[j].1),
            "{a} in an earlier step than {b}: {order:#?}"
        );
    }
}

#[test]
fn shop_stripped_gets_a_correct_order() {
    let (dir, waves) = layer("shop");
    assert_eq!(waves["StatefulSet/shop/postgres"], 0);
    assert_eq!(waves["Deployment/shop/api"], 1);
    assert_eq!(waves["Deployment/shop/frontend"], 2);
    assert_eq!(waves["Ingress/shop/shop"], 2);
    let order = plan_order(dir.path());
    before(
        &order,
        "StatefulSet/shop/postgres",
        "Deployment/shop/api",
        true,
    );
    before(
        &order,
        "Deployment/shop/api",
        "Deployment/shop/frontend",
        true,
    );
    before(&order, "Deployment/shop/api", "Ingress/shop/shop", false);
    before(
        &order,
        "Deployment/shop/frontend",
        "Ingress/shop/shop",
        false,
    );
}

#[test]
fn enterprise_stripped_gets_a_correct_order() {
    let (dir, waves) = layer("ledger");
    assert_eq!(waves["Cluster/enterprise/ledger-db"], 0);
    assert_eq!(
        waves["Deployment/enterprise/ledger-api"], 1,
        "depends-on the database"
    );
    assert_eq!(waves["HorizontalPodAutoscaler/enterprise/ledger-api"], 1);
    assert_eq!(waves["PodDisruptionBudget/enterprise/ledger-api"], 2);
    assert_eq!(waves["Ingress/enterprise/ledger"], 1);
    let order = plan_order(dir.path());
    // Hook RBAC before the hooks that run as it.
    for rbac in [
        "ServiceAccount/enterprise/hook-executor",
        "Role/enterprise/hook-executor",
        "RoleBinding/enterprise/hook-executor",
    ] {
        before(&order, rbac, "Job/enterprise/schema-check", false);
        before(&order, rbac, "Job/enterprise/ledger-migrate", false);
    }
    before(
        &order,
        "CustomResourceDefinition/clusters.postgresql.cnpg.io",
        "Cluster/enterprise/ledger-db",
        false,
    );
    before(
        &order,
        "Cluster/enterprise/ledger-db",
        "Deployment/enterprise/ledger-api",
        true,
    );
    before(
        &order,
        "Deployment/enterprise/ledger-api",
        "Ingress/enterprise/ledger",
        false,
    );
    // The Helm hook weight is a written wave: kept.
    assert_eq!(waves["Job/enterprise/ledger-catalog-registration"], 3);
}

#[test]
fn tenant_stripped_gets_a_correct_order() {
    let (dir, waves) = layer("tenant-a");
    assert_eq!(waves["Job/tenant-a/credential-generator"], 0);
    assert_eq!(waves["Deployment/tenant-a/backend"], 1);
    assert_eq!(waves["Deployment/tenant-a/worker"], 1);
    assert_eq!(
        waves["Deployment/tenant-a/frontend"], 2,
        "reaches the backend by DNS name"
    );
    assert_eq!(waves["IngressRoute/tenant-a/tenant-a"], 2);
    assert_eq!(waves["Redis/tenant-a/tenant-a-redis"], 1);
    let order = plan_order(dir.path());
    for rbac in [
        "ServiceAccount/tenant-a/secret-writer",
        "Role/tenant-a/secret-writer",
        "RoleBinding/tenant-a/secret-writer",
    ] {
        before(&order, rbac, "Job/tenant-a/credential-generator", false);
        before(&order, rbac, "Job/tenant-a/s3-credentials-sync", false);
    }
    for workload in ["backend", "worker"] {
        before(
            &order,
            "Job/tenant-a/credential-generator",
            &format!("Deployment/tenant-a/{workload}"),
            true,
        );
    }
    before(
        &order,
        "Job/tenant-a/s3-credentials-sync",
        "Deployment/tenant-a/worker",
        true,
    );
    before(
        &order,
        "Deployment/tenant-a/backend",
        "Deployment/tenant-a/frontend",
        true,
    );
    for workload in ["backend", "frontend"] {
        before(
            &order,
            &format!("Deployment/tenant-a/{workload}"),
            "IngressRoute/tenant-a/tenant-a",
            false,
        );
    }
}

// ----------------------------------------------------------------------------------------
// Existing waves, --rewrite, --check.

#[test]
fn written_waves_are_kept_and_a_broken_edge_is_an_error() {
    // A DNS name in the same wave: nothing waits on it (clients retry), so a warning only.
    let (code, stdout, stderr) = run(&["annotate", "fixtures/tenant-a"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("no changes"), "{stdout}");
    let line = stderr
        .lines()
        .find(|l| l.contains("[WAVES008]"))
        .unwrap_or_else(|| panic!("WAVES008 expected: {stderr}"));
    assert!(
        line.starts_with(
            "fixtures/tenant-a/31-frontend.yaml:4: warning[WAVES008]: Deployment/tenant-a/frontend"
        ),
        "{line}"
    );
    assert!(line.contains("Deployment/tenant-a/backend"), "{line}");
    assert_eq!(run(&["annotate", "--check", "fixtures/tenant-a"]).0, 0);
    // A Secret read at a later wave makes the pods wait forever: an error, and --check fails.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("app.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: demo\n  annotations:\n    argocd.argoproj.io/sync-wave: \"0\"\nspec:\n  selector:\n    matchLabels: {app: api}\n  template:\n    metadata:\n      labels: {app: api}\n    spec:\n      containers:\n        - name: api\n          image: api:1\n          envFrom:\n            - secretRef: {name: api}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: api\n  namespace: demo\n  annotations:\n    argocd.argoproj.io/sync-wave: \"1\"\n",
    )
    .unwrap();
    let (code, _, stderr) = run_in(dir.path(), &["annotate", "--check", "."]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("error[WAVES008]: Deployment/demo/api"),
        "{stderr}"
    );
    for app in ["shop", "ledger"] {
        let (code, _, stderr) = run(&["annotate", "--check", &format!("fixtures/{app}")]);
        assert_eq!(code, 0, "{app}: {stderr}");
        assert!(!stderr.contains("error["), "{app}: {stderr}");
    }
}

#[test]
fn rewrite_recomputes_every_wave() {
    let doc = annotate_json(&["--rewrite", "fixtures/tenant-a"]);
    let waves = suggested(&doc);
    assert_eq!(waves["Deployment/tenant-a/frontend"], 2);
    assert_eq!(waves["Namespace/tenant-a"], 0);
    assert!(
        doc["diagnostics"].to_string().find("WAVES008").is_none(),
        "the proposal fixes it"
    );
    assert_eq!(
        run(&["annotate", "--rewrite", "--check", "fixtures/tenant-a"]).0,
        1
    );
}

#[test]
fn text_table_lists_changes_with_reasons() {
    let dir = stripped("tenant-a");
    let (code, stdout, _) = run_in(dir.path(), &["annotate", "."]);
    assert_eq!(code, 0);
    let header = stdout.lines().next().unwrap_or_default();
    for column in ["OBJECT", "CURRENT", "SUGGESTED", "REASON"] {
        assert!(header.contains(column), "{header}");
    }
    let backend = stdout
        .lines()
        .find(|l| l.starts_with("Deployment/tenant-a/backend "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        backend.contains("reads Secret/backend-credentials (envFrom) which is created by Job/tenant-a/credential-generator at wave 0"),
        "{backend}"
    );
    assert!(
        stdout.contains("external (not in the input, assumed to exist): Service/vault/vault"),
        "{stdout}"
    );
    assert!(stdout.contains("7 changes in 7 files"), "{stdout}");
    // --check fails until written.
    assert_eq!(run_in(dir.path(), &["annotate", "--check", "."]).0, 1);
}

// ----------------------------------------------------------------------------------------
// Snapshots: --explain, --graph, and byte-exact writes.

#[test]
fn explain_snapshots() {
    let dir = stripped("tenant-a");
    let (code, stdout, stderr) = run_in(
        dir.path(),
        &[
            "annotate",
            ".",
            "--explain",
            "IngressRoute/tenant-a/tenant-a",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("explain_tenant_stripped_ingressroute", stdout);
    let (code, stdout, _) = run(&[
        "annotate",
        "fixtures/tenant-a",
        "--explain",
        "Deployment/tenant-a/frontend",
    ]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("explain_tenant_frontend_kept", stdout);
    let (code, stdout, _) = run(&[
        "annotate",
        "fixtures/shop",
        "--explain",
        "deployment/api",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("explain_shop_api_json", stdout);
    // The issue's own example, word for word.
    let (_, stdout, _) = run_in(
        dir.path(),
        &["annotate", ".", "--explain", "Deployment/tenant-a/backend"],
    );
    assert!(
        stdout.contains("wave 1 because Deployment/tenant-a/backend reads Secret/backend-credentials (envFrom) which is created by Job/tenant-a/credential-generator at wave 0"),
        "{stdout}"
    );
    // Ambiguous and unknown names.
    let (code, _, stderr) = run(&["annotate", "fixtures/tenant-a", "--explain", "frontend"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("Deployment/tenant-a/frontend")
            && stderr.contains("Service/tenant-a/frontend"),
        "{stderr}"
    );
    assert_eq!(
        run(&["annotate", "fixtures/tenant-a", "--explain", "Secret/nope"]).0,
        2
    );
}

#[test]
fn graph_snapshots() {
    for format in ["dot", "mermaid"] {
        let (code, stdout, stderr) = run(&["annotate", "fixtures/shop", "--graph", format]);
        assert_eq!(code, 0, "{stderr}");
        insta::assert_snapshot!(format!("graph_shop_{format}"), stdout);
    }
}

#[test]
fn write_is_byte_exact_outside_annotation_lines() {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_dir(&root().join("fixtures/annotate/write"), tmp.path());
    let before = read_dir_texts(tmp.path());
    let (code, stdout, stderr) = run_in(tmp.path(), &["annotate", "--write", "."]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("3 changes in 3 files"), "{stdout}");
    assert!(stderr.contains("wrote 3 files"), "{stderr}");
    let after = read_dir_texts(tmp.path());
    for ((file, old), (_, new)) in before.iter().zip(&after) {
        only_annotation_lines_changed(file, old, new);
        insta::assert_snapshot!(format!("write_{file}"), new);
    }
    // No temp files left behind.
    assert_eq!(after.len(), before.len());
    // A second run has nothing to do.
    let (code, _, stderr) = run_in(tmp.path(), &["annotate", "--write", "."]);
    assert_eq!(code, 0);
    assert!(stderr.contains("wrote 0 files"), "{stderr}");
}

#[test]
fn a_file_that_cannot_be_edited_safely_is_left_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The metadata is shared through an anchor: editing it would change the other document.
    let shared = "apiVersion: apps/v1\nkind: Deployment\nmetadata: &meta\n  name: web\n  namespace: demo\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    spec:\n      containers:\n        - name: web\n          image: web:1\n          env: [{name: API, value: \"http://api.demo.svc\"}]\n";
    let ok = "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: demo}\nspec: {selector: {app: api}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: demo}\nspec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: api, image: api:1}]}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: demo, annotations: {kubectl-waves.io/depends-on: Deployment/api}}\n";
    std::fs::write(tmp.path().join("a.yaml"), shared).unwrap();
    std::fs::write(tmp.path().join("b.yaml"), ok).unwrap();
    let (code, _, stderr) = run_in(tmp.path(), &["annotate", "--write", "."]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("a.yaml: not edited:"), "{stderr}");
    assert!(
        stderr.contains("wrote 1 file; 1 left untouched"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("a.yaml")).unwrap(),
        shared
    );
    assert!(
        std::fs::read_to_string(tmp.path().join("b.yaml"))
            .unwrap()
            .contains("sync-wave: \"1\"")
    );
}

// ----------------------------------------------------------------------------------------
// Cycles.

#[test]
fn a_cycle_is_an_error_naming_it_with_reasons() {
    let (code, stdout, stderr) = run(&["annotate", "fixtures/annotate/cycle.yaml"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    let cycle: Vec<&str> = stderr
        .lines()
        .skip_while(|l| !l.starts_with("error: dependency cycle"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert_eq!(
        cycle,
        [
            "  Deployment/demo/orders reaches Service/demo/billing by DNS name (billing.demo.svc), served by Deployment/demo/billing (Ready, spec.template.spec.containers[0].env[0].value)",
            "  Deployment/demo/billing reaches Service/demo/orders by DNS name (orders.demo.svc), served by Deployment/demo/orders (Ready, spec.template.spec.containers[0].env[0].value)",
        ],
        "{stderr}"
    );
    // Nothing is written either.
    assert_eq!(
        run(&["annotate", "--check", "fixtures/annotate/cycle.yaml"]).0,
        2
    );
}

// ----------------------------------------------------------------------------------------
// Streams: stdin, --stdout.

/// All manifests of a directory as one stream, as `helm template` prints it.
fn stream_of(dir: &Path) -> String {
    let mut out = String::new();
    for (_, text) in read_dir_texts(dir) {
        out.push_str("---\n");
        out.push_str(&text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[test]
fn stdout_prints_the_annotated_stream() {
    let dir = stripped("shop");
    let stream = stream_of(dir.path());
    let (code, stdout, stderr) = run_stdin(&["annotate", "-f", "-", "--stdout"], &stream);
    assert_eq!(code, 0, "{stderr}");
    only_annotation_lines_changed("<stdin>", &stream, &stdout);
    let docs: Vec<Value> = serde_saphyr::from_multiple(&stdout).expect("a YAML stream");
    let wave_of = |name: &str| {
        docs.iter()
            .flat_map(|d| match d["kind"].as_str() {
                Some("List") => d["items"].as_array().cloned().unwrap_or_default(),
                _ => vec![d.clone()],
            })
            .find(|d| d["metadata"]["name"] == name && d["kind"] == "Deployment")
            .and_then(|d| {
                d["metadata"]["annotations"][SYNC_WAVE]
                    .as_str()
                    .map(String::from)
            })
    };
    assert_eq!(wave_of("api").as_deref(), Some("1"));
    assert_eq!(wave_of("frontend").as_deref(), Some("2"));
    // What comes out plans cleanly.
    let (code, _, stderr) = run_stdin(&["plan", "--strict", "-f", "-"], &stdout);
    assert_eq!(code, 0, "{stderr}");
    // Files as well as stdin; a JSON file joins the stream.
    let (code, stdout, _) = run_in(dir.path(), &["annotate", "--stdout", "."]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("\"argocd.argoproj.io/sync-wave\": \"2\""),
        "{stdout}"
    );
    assert!(serde_saphyr::from_multiple::<Value>(&stdout).is_ok());
    // --write needs files.
    let (code, _, stderr) = run_stdin(&["annotate", "-f", "-", "--write"], &stream);
    assert_eq!(code, 2);
    assert!(stderr.contains("--write edits files in place"), "{stderr}");
}

#[test]
fn bad_input_is_exit_2_with_path_and_line() {
    let (code, stdout, stderr) = run(&["annotate", "fixtures/broken/non-integer-wave.yaml"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("fixtures/broken/non-integer-wave.yaml:9: error[WAVES101]"),
        "{stderr}"
    );
    assert_eq!(
        run(&["annotate", "--write", "--check", "fixtures/shop"]).0,
        2,
        "one mode at a time"
    );
}

// ----------------------------------------------------------------------------------------
// Git.

fn git_repo_with(app: &str) -> (tempfile::TempDir, git2::Repository) {
    let dir = stripped(app);
    let repo = git2::Repository::init(dir.path()).expect("git init");
    {
        let mut index = repo.index().expect("index");
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .expect("add");
        index.write().expect("write index");
        let tree = repo
            .find_tree(index.write_tree().expect("tree"))
            .expect("tree");
        let sig = git2::Signature::now("test", "test@example.com").expect("signature");
        repo.commit(Some("HEAD"), &sig, &sig, "manifests", &tree, &[])
            .expect("commit");
    }
    (dir, repo)
}

#[test]
fn revision_reads_from_git_and_write_refuses_a_dirty_tree() {
    let (dir, _repo) = git_repo_with("shop");
    let path = |f: &str| dir.path().join(f);
    // The work tree differs from HEAD; --revision reads HEAD.
    std::fs::remove_file(path("40-api.yaml")).unwrap();
    let repo_arg = dir.path().to_string_lossy().into_owned();
    let doc = annotate_json(&["--revision", "HEAD", "--repo", &repo_arg]);
    let changed: Vec<&str> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["object"].as_str().unwrap())
        .collect();
    assert_eq!(
        changed,
        [
            "Deployment/shop/api",
            "Deployment/shop/frontend",
            "Ingress/shop/shop"
        ]
    );
    assert!(
        doc["changes"][0]["source"]
            .as_str()
            .unwrap()
            .starts_with("HEAD:40-api.yaml:")
    );
    let (code, _, stderr) = run(&[
        "annotate",
        "--revision",
        "HEAD",
        "--repo",
        &repo_arg,
        "--write",
    ]);
    assert_eq!(code, 2, "{stderr}");

    // Restore the file, then make one the write would touch dirty.
    let (code, _, _) = run_in(dir.path(), &["annotate", "--revision", "HEAD", "--stdout"]);
    assert_eq!(code, 0);
    let head = git2::Repository::open(dir.path()).unwrap();
    head.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .unwrap();
    let dirty = format!(
        "{}# local change\n",
        std::fs::read_to_string(path("40-api.yaml")).unwrap()
    );
    std::fs::write(path("40-api.yaml"), &dirty).unwrap();
    let untouched = read_dir_texts(dir.path());
    let (code, _, stderr) = run_in(dir.path(), &["annotate", "--write", "."]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("40-api.yaml has uncommitted changes"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-dirty"), "{stderr}");
    assert_eq!(read_dir_texts(dir.path()), untouched, "nothing written");
    // An untracked file counts too.
    std::fs::write(path("90-extra.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: shop, annotations: {kubectl-waves.io/depends-on: Deployment/frontend}}\n").unwrap();
    let (code, _, stderr) = run_in(dir.path(), &["annotate", "--write", "."]);
    assert_eq!(code, 2);
    assert!(stderr.contains("90-extra.yaml untracked"), "{stderr}");
    let (code, _, stderr) = run_in(dir.path(), &["annotate", "--write", "--allow-dirty", "."]);
    assert_eq!(code, 0, "{stderr}");
    let written = std::fs::read_to_string(path("40-api.yaml")).unwrap();
    assert!(written.contains("sync-wave: \"1\"") && written.ends_with("# local change\n"));
}

// ----------------------------------------------------------------------------------------
// KRM function.

/// A ResourceList of the objects in `dir`, each with its path and index annotations.
fn resource_list(dir: &Path, legacy: bool) -> Value {
    let mut items = Vec::new();
    for (file, text) in read_dir_texts(dir) {
        let (objects, _) = parse_file(&InputFile {
            display: file.clone().into(),
            text,
            json: file.ends_with(".json"),
        });
        for (index, o) in objects.into_iter().enumerate() {
            let mut v = o.value();
            let annotations = v["metadata"]
                .as_object_mut()
                .unwrap()
                .entry("annotations")
                .or_insert_with(|| json!({}));
            if annotations.is_null() {
                *annotations = json!({});
            }
            let (path_key, index_key) = if legacy {
                ("config.kubernetes.io/path", "config.kubernetes.io/index")
            } else {
                (
                    "internal.config.kubernetes.io/path",
                    "internal.config.kubernetes.io/index",
                )
            };
            annotations[path_key] = json!(file);
            annotations[index_key] = json!(index.to_string());
            items.push(v);
        }
    }
    json!({"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items})
}

fn without_wave(mut item: Value) -> Value {
    if let Some(a) = item["metadata"]["annotations"].as_object_mut() {
        a.shift_remove(SYNC_WAVE);
    }
    item
}

fn item_wave(list: &Value, kind: &str, name: &str) -> Option<String> {
    list["items"]
        .as_array()?
        .iter()
        .find(|i| i["kind"] == kind && i["metadata"]["name"] == name)
        .and_then(|i| {
            i["metadata"]["annotations"][SYNC_WAVE]
                .as_str()
                .map(String::from)
        })
}

#[test]
fn krm_function_round_trip() {
    let dir = stripped("tenant-a");
    for (legacy, as_json) in [(false, false), (true, true)] {
        let list = resource_list(dir.path(), legacy);
        let input = if as_json {
            serde_json::to_string_pretty(&list).unwrap()
        } else {
            serde_saphyr::to_string(&list).unwrap()
        };
        let (code, stdout, stderr) = run_stdin(&["annotate", "--krm"], &input);
        assert_eq!(code, 0, "{stderr}");
        let out: Value = if as_json {
            serde_json::from_str(&stdout).expect("JSON ResourceList")
        } else {
            serde_saphyr::from_str(&stdout).expect("YAML ResourceList")
        };
        assert_eq!(out["kind"], "ResourceList");
        assert_eq!(
            item_wave(&out, "Deployment", "backend").as_deref(),
            Some("1")
        );
        assert_eq!(
            item_wave(&out, "Deployment", "frontend").as_deref(),
            Some("2")
        );
        assert_eq!(
            item_wave(&out, "IngressRoute", "tenant-a").as_deref(),
            Some("2")
        );
        // Items are what came in, but for the wave.
        let (ins, outs) = (
            list["items"].as_array().unwrap(),
            out["items"].as_array().unwrap(),
        );
        assert_eq!(ins.len(), outs.len());
        for (a, b) in ins.iter().zip(outs) {
            assert_eq!(without_wave(a.clone()), without_wave(b.clone()));
        }
        // Results name the file and index the orchestrator gave.
        let results = out["results"].as_array().expect("results");
        let backend = results
            .iter()
            .find(|r| r["resourceRef"]["name"] == "backend" && r["severity"] == "info")
            .expect("a result for the backend");
        assert_eq!(
            backend["file"],
            json!({"path": "30-backend.yaml", "index": 0})
        );
        assert_eq!(backend["field"]["proposedValue"], "1");
        assert!(
            results
                .iter()
                .any(|r| r["severity"] == "warning" && r["tags"]["code"] == "WAVES005")
        );
    }
}

#[test]
fn krm_function_config_rewrite_and_failures() {
    let mut list = resource_list(&root().join("fixtures/tenant-a"), false);
    list["functionConfig"] = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "waves"}, "data": {"rewrite": "true"}});
    let (code, stdout, stderr) = run_stdin(
        &["annotate", "--krm"],
        &serde_saphyr::to_string(&list).unwrap(),
    );
    assert_eq!(code, 0, "{stderr}");
    let out: Value = serde_saphyr::from_str(&stdout).unwrap();
    assert_eq!(
        item_wave(&out, "Deployment", "frontend").as_deref(),
        Some("2")
    );
    assert_eq!(
        item_wave(&out, "Namespace", "tenant-a").as_deref(),
        Some("0")
    );

    // A cycle: the list comes back unchanged with an error result, exit 1.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("fixtures/annotate/cycle.yaml"),
        tmp.path().join("cycle.yaml"),
    )
    .unwrap();
    let list = resource_list(tmp.path(), false);
    let (code, stdout, _) = run_stdin(
        &["annotate", "--krm"],
        &serde_saphyr::to_string(&list).unwrap(),
    );
    assert_eq!(code, 1);
    let out: Value = serde_saphyr::from_str(&stdout).unwrap();
    assert_eq!(out["items"], list["items"]);
    let error = &out["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["severity"] == "error")
        .cloned()
        .unwrap();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("dependency cycle"),
        "{error}"
    );
    assert_eq!(error["file"]["path"], "cycle.yaml");

    // Not a ResourceList at all.
    let (code, stdout, stderr) = run_stdin(
        &["annotate", "--krm"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    );
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(stderr.contains("not a ResourceList"), "{stderr}");
    assert_eq!(
        run(&["annotate", "--krm", "fixtures/shop"]).0,
        2,
        "--krm takes no paths"
    );
    // The exit codes docs/annotate.md gives, case by case.
    let empty = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n";
    assert_eq!(run_stdin(&["annotate", "--krm"], empty).0, 0);
    let (code, stdout, stderr) = run_stdin(&["annotate", "--krm", "--max-input-size", "16"], empty);
    assert_eq!(code, 1, "a too large input is bad input, exit 1: {stderr}");
    assert!(
        stdout.is_empty() && stderr.contains("input limit"),
        "{stderr}"
    );
    let (code, _, stderr) = run_stdin(&["annotate", "--krm", "-o", "json"], empty);
    assert_eq!(code, 2, "-o with --krm is a wrong command line");
    assert!(stderr.contains("leave out -o"), "{stderr}");
    assert_eq!(run_stdin(&["annotate", "--krm", "--check"], empty).0, 2);
    let bad_item = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a, annotations: {argocd.argoproj.io/sync-wave: x}}\n";
    let (code, stdout, _) = run_stdin(&["annotate", "--krm"], bad_item);
    assert_eq!(code, 1, "a bad item: exit 1 with the reason in results");
    assert!(stdout.contains("severity: error"), "{stdout}");
}

#[test]
fn krm_keeps_the_formatting_of_a_yaml_list() {
    let input = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n  # the database\n  - apiVersion: v1\n    kind: Service\n    metadata: {name: db, namespace: app}\n    spec:\n      selector: {app: db}\n  - apiVersion: apps/v1\n    kind: StatefulSet\n    metadata: {name: db, namespace: app}\n    spec:\n      selector: {matchLabels: {app: db}}\n      template:\n        metadata: {labels: {app: db}}\n        spec: {containers: [{name: db, image: postgres}]}\n  - apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: web\n      namespace: app\n      annotations:\n        internal.config.kubernetes.io/path: 'web.yaml'\n    spec:\n      selector: {matchLabels: {app: web}}\n      template:\n        spec:\n          containers:\n            - {name: web, image: web, env: [{name: DB, value: \"db:5432\"}]}\n";
    let (code, stdout, stderr) = run_stdin(&["annotate", "--krm"], input);
    assert_eq!(code, 0, "{stderr}");
    let (head, results) = stdout.split_once("results:\n").expect("results appended");
    only_annotation_lines_changed("ResourceList", input, head);
    assert!(head.contains("argocd.argoproj.io/sync-wave: '1'"), "{head}");
    assert!(results.contains("path: web.yaml"), "{results}");
}

// ----------------------------------------------------------------------------------------
// The Argo CD Config Management Plugin, run as its manifest writes it.

#[test]
fn argo_cd_plugin_generate_command_runs_as_written() {
    let manifest = std::fs::read_to_string(root().join("plugin-manifest/argocd-cmp-plugin.yaml"))
        .expect("plugin manifest");
    let plugin: Value = serde_saphyr::from_str(&manifest).expect("plugin manifest is YAML");
    assert_eq!(plugin["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(plugin["kind"], "ConfigManagementPlugin");
    let words = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let command = words(&plugin["spec"]["generate"]["command"]);
    let args = words(&plugin["spec"]["generate"]["args"]);
    assert!(!command.is_empty(), "spec.generate.command");

    let app = stripped("tenant-a");
    // discover: the glob matches the app directory.
    let glob = plugin["spec"]["discover"]["fileName"]
        .as_str()
        .expect("discover.fileName");
    let suffix = glob.trim_start_matches("./").trim_start_matches('*');
    assert!(
        read_dir_texts(app.path())
            .iter()
            .any(|(f, _)| f.ends_with(suffix)),
        "{glob} matches a file of the app"
    );
    // Argo CD runs command + args in the app directory; `sh -c LINE` is a shell line.
    let bin_dir: PathBuf = bin().parent().expect("bin dir").to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut all = command.clone();
    all.extend(args);
    let output = std::process::Command::new(&all[0])
        .args(&all[1..])
        .current_dir(app.path())
        .env("PATH", path)
        .env("ARGOCD_APP_NAME", "tenant-a")
        .env("ARGOCD_APP_NAMESPACE", "tenant-a")
        .output()
        .expect("run the plugin's generate command");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let docs: Vec<Value> = serde_saphyr::from_multiple(&stdout).expect("manifests for Argo CD");
    assert_eq!(docs.len(), 21, "every object once");
    let wave = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .map(|d| {
                d["metadata"]["annotations"][SYNC_WAVE]
                    .as_str()
                    .unwrap_or("0")
                    .to_string()
            })
    };
    assert_eq!(wave("Deployment", "backend").as_deref(), Some("1"));
    assert_eq!(wave("Deployment", "frontend").as_deref(), Some("2"));
    assert_eq!(wave("Job", "credential-generator").as_deref(), Some("0"));
}

// ----------------------------------------------------------------------------------------
// WAVES006.

#[test]
fn wave_gap_lint_is_precise() {
    let (code, _, stderr) = run(&["plan", "fixtures/annotate/wave-gap.yaml"]);
    assert_eq!(code, 0);
    let codes: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split('[').nth(1)?.split(']').next())
        .collect();
    assert_eq!(codes, ["WAVES006"], "{stderr}");
    assert!(
        stderr.starts_with(
            "fixtures/annotate/wave-gap.yaml:12: warning[WAVES006]: ConfigMap/demo/settings"
        ),
        "{stderr}"
    );
    // Not on the hand-numbered example apps.
    for app in ["shop", "ledger", "tenant-a"] {
        let (_, _, stderr) = run(&["plan", &format!("fixtures/{app}")]);
        assert!(!stderr.contains("WAVES006"), "{app}: {stderr}");
    }
}

#[test]
fn write_refuses_files_under_a_git_dir_it_cannot_read() {
    for broken in ["dir", "gitdir-file"] {
        let dir = stripped("shop");
        let git = dir.path().join(".git");
        if broken == "dir" {
            std::fs::create_dir(&git).unwrap();
            std::fs::write(git.join("HEAD"), "garbage\n").unwrap();
        } else {
            std::fs::write(&git, "gitdir: /nonexistent/waves-test\n").unwrap();
        }
        let untouched = read_dir_texts(dir.path());
        let (code, _, stderr) = run_in(dir.path(), &["annotate", "--write", "."]);
        assert_eq!(code, 2, "{broken}: {stderr}");
        assert!(
            stderr.contains("which Git cannot read"),
            "{broken}: {stderr}"
        );
        assert!(stderr.contains("--allow-dirty"), "{broken}: {stderr}");
        assert_eq!(read_dir_texts(dir.path()), untouched, "nothing written");
    }
}
