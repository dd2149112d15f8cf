//! `kubectl waves plan` on the bundled fixtures: text and JSON snapshots, and the order rules
//! the fixtures exist to show.

use crate::common::run;
use serde_json::Value;

fn plan_json(app: &str) -> Value {
    let (code, stdout, stderr) = run(&["plan", &format!("fixtures/{app}"), "-o", "json"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    serde_json::from_str(&stdout).expect("plan -o json is JSON")
}

/// `Phase wave Kind/ns/name` per resource, in execution order.
fn order(plan: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for step in plan["steps"].as_array().unwrap() {
        for r in step["resources"].as_array().unwrap() {
            out.push(format!(
                "{} {} {}/{}",
                step["phase"].as_str().unwrap(),
                step["wave"],
                r["kind"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            ));
        }
    }
    out
}

#[test]
fn snapshots_of_every_fixture() {
    for app in [
        "shop",
        "ledger",
        "tenant-a",
        "chapter",
        "enterprise/app",
        "tenant",
    ] {
        let (code, stdout, stderr) = run(&["plan", &format!("fixtures/{app}")]);
        assert_eq!(code, 0, "{stderr}");
        let name = app.replace('/', "_");
        insta::assert_snapshot!(
            format!("plan_text_{name}"),
            format!("{stdout}--- stderr ---\n{stderr}")
        );
        insta::assert_json_snapshot!(format!("plan_json_{name}"), plan_json(app));
    }
}

#[test]
fn json_has_the_spec_shape() {
    let plan = plan_json("shop");
    let keys: Vec<&str> = plan
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["steps", "syncFail", "skipped", "diagnostics"]);
    let r = &plan["steps"][0]["resources"][0];
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "apiVersion",
            "kind",
            "namespace",
            "name",
            "hook",
            "deletePolicies",
            "source"
        ]
    );
    assert!(r["source"].as_str().unwrap().starts_with("fixtures/shop/"));
    let fail = &plan["syncFail"][0];
    assert_eq!(fail["hook"], true);
    assert_eq!(
        fail["name"], "sync-failed-alert-",
        "generateName hooks show the prefix"
    );
}

#[test]
fn shop_runs_in_argo_cd_order() {
    let order = order(&plan_json("shop"));
    let pos = |s: &str| {
        order
            .iter()
            .position(|o| o == s)
            .unwrap_or_else(|| panic!("{s} not in {order:#?}"))
    };
    // The Namespace moves to the step of its first user, the PreSync Secret.
    assert!(pos("PreSync -1 Namespace/shop") < pos("PreSync -1 Secret/shop-db-migrate"));
    assert!(pos("PreSync 0 Job/db-migrate") < pos("Sync -1 Secret/shop-db"));
    assert!(pos("Sync 0 StatefulSet/postgres") < pos("Sync 1 Deployment/api"));
    // Kind order inside a step: Service before Deployment, Ingress last.
    assert!(pos("Sync 2 Service/frontend") < pos("Sync 2 Deployment/frontend"));
    assert!(pos("Sync 2 Deployment/frontend") < pos("Sync 2 Ingress/shop"));
    assert!(pos("Sync 2 Ingress/shop") < pos("PostSync 0 Job/smoke-test-"));
}

#[test]
fn ledger_moves_the_crd_before_its_first_custom_resource() {
    let plan = plan_json("ledger");
    let order = order(&plan);
    let crd = order
        .iter()
        .position(|o| o.contains("CustomResourceDefinition/"))
        .unwrap();
    let cr = order.iter().position(|o| o.contains(" Cluster/")).unwrap();
    assert!(crd < cr, "{order:#?}");
    // Helm hook annotations map to PostSync at the hook weight.
    assert!(
        order.iter().any(|o| o.starts_with("PostSync 3 Job/")),
        "{order:#?}"
    );
}

#[test]
fn yaml_output_is_the_same_data() {
    let (code, stdout, _) = run(&["plan", "fixtures/shop", "-o", "yaml"]);
    assert_eq!(code, 0);
    let yaml: Value = serde_saphyr::from_str(&stdout).expect("YAML output parses");
    assert_eq!(yaml, plan_json("shop"));
}

#[test]
fn stdin_and_git_revision_give_the_same_plan() {
    let text: String = [
        "fixtures/shop/00-namespace.yaml",
        "fixtures/shop/10-config.yaml",
    ]
    .iter()
    .map(|p| std::fs::read_to_string(crate::common::root().join(p)).unwrap() + "\n---\n")
    .collect();
    let out = crate::common::waves()
        .args(["plan", "-f", "-", "-o", "json"])
        .write_stdin(text)
        .output()
        .unwrap();
    assert!(out.status.success());
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["steps"][0]["resources"][0]["source"], "<stdin>:4");

    // A throwaway repository with the shop fixture committed, read at HEAD.
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    let app = dir.path().join("deploy/shop");
    std::fs::create_dir_all(&app).unwrap();
    for entry in std::fs::read_dir(crate::common::root().join("fixtures/shop")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), app.join(entry.file_name())).unwrap();
    }
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("t", "t@example.com").unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "shop", &tree, &[])
        .unwrap();
    // The work tree changes after the commit; the plan must come from the commit.
    std::fs::remove_dir_all(&app).unwrap();
    let (code, stdout, stderr) = run(&[
        "plan",
        "--revision",
        "HEAD",
        "--repo",
        dir.path().to_str().unwrap(),
        "--path",
        "deploy/shop",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let from_git: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(order(&from_git), order(&plan_json("shop")));
    assert!(
        from_git["steps"][0]["resources"][0]["source"]
            .as_str()
            .unwrap()
            .starts_with("HEAD:deploy/shop/")
    );

    // The same commit in a bare clone (what a CI mirror or a Git server holds).
    let bare = tempfile::tempdir().unwrap();
    git2::build::RepoBuilder::new()
        .bare(true)
        .clone(dir.path().to_str().unwrap(), bare.path())
        .unwrap();
    let (code, stdout, stderr) = run(&[
        "plan",
        "--revision",
        "HEAD",
        "--repo",
        bare.path().to_str().unwrap(),
        "--path",
        "deploy/shop",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let from_bare: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(order(&from_bare), order(&plan_json("shop")));
}

#[test]
fn unknown_revision_is_bad_input() {
    let (code, stdout, stderr) = run(&["plan", "--revision", "no-such-rev", "--repo", "."]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("no-such-rev"), "{stderr}");
}

#[test]
fn empty_input_says_so_like_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("only-comments.yaml"),
        "# nothing here\n---\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["plan", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.trim(), "No resources found.");
    let (code, stdout, _) = run(&["plan", "-o", "json", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(plan["steps"], serde_json::json!([]));
}

/// The source documents' apps, corrected, pass strict mode: no lint error, whatever warnings.
#[test]
fn the_documented_apps_plan_cleanly_in_strict_mode() {
    for app in [
        "chapter",
        "enterprise/app",
        "enterprise/scenario-a-zero-downtime-migration",
        "enterprise/scenario-b-rollouts-syncfail",
        "enterprise/scenario-c-cdn-invalidation",
        "tenant",
    ] {
        let (code, _, stderr) = run(&["plan", "--strict", &format!("fixtures/{app}")]);
        assert_eq!(code, 0, "{app}: {stderr}");
        assert!(!stderr.contains("error["), "{app}: {stderr}");
    }
}

/// The documented order of each app: (phase, wave) of named objects.
#[test]
fn the_documented_apps_run_in_their_documented_order() {
    let step_of = |app: &str, kind: &str, name: &str| -> (String, i64) {
        let plan = plan_json(app);
        for step in plan["steps"].as_array().unwrap() {
            for r in step["resources"].as_array().unwrap() {
                if r["kind"] == kind && r["name"] == name {
                    return (
                        step["phase"].as_str().unwrap().to_string(),
                        step["wave"].as_i64().unwrap(),
                    );
                }
            }
        }
        panic!("{kind}/{name} not in the plan of {app}");
    };
    let at = |phase: &str, wave: i64| (phase.to_string(), wave);
    // The enterprise guide's execution matrix, row by row.
    for (kind, name, phase, wave) in [
        ("Job", "silence-alerts", "PreSync", -5),
        ("Job", "prod-db-backup", "PreSync", -2),
        ("Job", "prod-db-migration", "PreSync", 0),
        ("ConfigMap", "product-config", "Sync", -10),
        ("MyDatabaseInstance", "product-db", "Sync", -5),
        ("Deployment", "product-api", "Sync", 0),
        ("Deployment", "product-frontend", "Sync", 5),
        ("Job", "prod-smoke-test", "PostSync", 1),
        ("Job", "reenable-alerts", "PostSync", 10),
    ] {
        assert_eq!(
            step_of("enterprise/app", kind, name),
            at(phase, wave),
            "{kind}/{name}"
        );
    }
    let plan = plan_json("enterprise/app");
    assert_eq!(plan["syncFail"][0]["name"], "prod-sync-failure-handler");
    // The multi-tenant app's wave table.
    for (kind, name, wave) in [
        ("Namespace", "vecton-admin", -2),
        ("Job", "vecton-admin-credential-generator", -1),
        ("ConfigMap", "image-versions", -1),
        ("Job", "vecton-admin-postgres-init", 0),
        ("Job", "vecton-admin-s3-credentials-sync", 0),
        ("Deployment", "frontend", 1),
        ("IngressRoute", "vecton-admin", 2),
        ("User", "vecton-admin", 2),
        ("Redis", "vecton-admin-redis", 3),
    ] {
        assert_eq!(
            step_of("tenant", kind, name),
            at("Sync", wave),
            "{kind}/{name}"
        );
    }
    // The chapter: migration before config, API after, notification and smoke test last.
    assert_eq!(step_of("chapter", "Job", "db-migration"), at("PreSync", -1));
    assert_eq!(
        step_of("chapter", "Secret", "db-secrets"),
        at("PreSync", -2)
    );
    assert_eq!(
        step_of("chapter", "ConfigMap", "agent-config"),
        at("Sync", 0)
    );
    assert_eq!(step_of("chapter", "Deployment", "agent-api"), at("Sync", 1));
    assert_eq!(step_of("chapter", "Job", "smoke-tests"), at("PostSync", 2));
    let plan = plan_json("chapter");
    assert_eq!(plan["syncFail"][0]["name"], "sync-failed-alert");
}

/// `--health-config` tells lint which custom resources have a check: no WAVES005 for them.
#[test]
fn a_configured_health_check_silences_waves005_and_argo_cd_s_own_checks_are_named() {
    let (code, _, stderr) = run(&["plan", "--strict", "fixtures/enterprise/app"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning[WAVES005]: MyDatabaseInstance/production/product-db"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&[
        "plan",
        "--strict",
        "fixtures/enterprise/app",
        "--health-config",
        "fixtures/enterprise/argocd-cm.yaml",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("WAVES005"), "{stderr}");
    // A bad file is bad input.
    assert_eq!(
        run(&[
            "plan",
            "fixtures/shop",
            "--health-config",
            "fixtures/nope.yaml"
        ])
        .0,
        2
    );
    // Rollouts have a built-in check now: no WAVES005 for them.
    let (_, _, stderr) = run(&["plan", "fixtures/enterprise/scenario-b-rollouts-syncfail"]);
    assert!(!stderr.contains("[WAVES005]: Rollout"), "{stderr}");
    // Argo CD ships a check for KafkaTopic, we do not: the warning does not claim Argo CD
    // passes it at once, and names the way to get Argo CD's script.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("topic.yaml"),
        "apiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaTopic\nmetadata: {name: orders, namespace: streaming}\nspec: {partitions: 3}\n",
    )
    .unwrap();
    let (_, _, stderr) = run(&["plan", dir.path().to_str().unwrap()]);
    let line = stderr
        .lines()
        .find(|l| l.contains("[WAVES005]"))
        .expect("WAVES005 for the KafkaTopic");
    assert!(line.contains("Argo CD ships one"), "{line}");
    assert!(line.contains("--resource-customizations"), "{line}");
    assert!(!line.contains("treats it as healthy"), "{line}");
}

/// The corpus of public app manifests (tests/corpus/README.md): `plan --strict` passes on
/// every one; lint errors are for what makes a sync fail or hang.
#[test]
fn plan_strict_passes_on_the_corpus_of_public_apps() {
    let corpus = crate::common::root().join("tests/corpus");
    let mut apps: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    apps.sort();
    assert!(apps.len() >= 4, "{apps:?}");
    for app in &apps {
        let (code, out, err) = run(&["plan", "--strict", app.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {err}", app.display());
        assert!(!err.contains("error["), "{}: {err}", app.display());
        assert!(out.contains("0 errors"), "{}: {out}", app.display());
    }
}

#[test]
fn graph_order_snapshots_and_critical_path() {
    let estimate = "Deployment=30s,StatefulSet=60s,Job=10s";
    for app in ["shop", "tenant-a"] {
        let name = app.replace('/', "_");
        let dir = format!("fixtures/{app}");
        let (code, stdout, stderr) =
            run(&["plan", &dir, "--order", "graph", "--estimate", estimate]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("CRITICAL PATH"), "{stdout}");
        insta::assert_snapshot!(format!("plan_graph_text_{name}"), stdout);
        for format in ["mermaid", "dot"] {
            let (code, stdout, stderr) = run(&["plan", &dir, "--graph", format]);
            assert_eq!(code, 0, "{stderr}");
            insta::assert_snapshot!(format!("plan_graph_{format}_{name}"), stdout);
        }
    }
    // shop is a chain: its critical path runs through every health gate, as its waves do.
    let (code, stdout, stderr) = run(&[
        "plan",
        "fixtures/shop",
        "--order",
        "graph",
        "--estimate",
        estimate,
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["order"], "graph");
    assert_eq!(doc["criticalPath"]["seconds"], 150.0);
    let path: Vec<&str> = doc["criticalPath"]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert!(
        path.windows(2)
            .any(|w| w == ["StatefulSet/shop/postgres", "Deployment/shop/api"]),
        "{path:?}"
    );
    let bad = run(&[
        "plan",
        "fixtures/shop",
        "--order",
        "graph",
        "--estimate",
        "Deployment",
    ]);
    assert_eq!(bad.0, 2, "{}", bad.2);
}

#[test]
fn graph_order_refuses_a_cycle_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {kubectl-waves.io/depends-on: ConfigMap/b}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, annotations: {kubectl-waves.io/depends-on: ConfigMap/a}}\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&["plan", dir.path().to_str().unwrap(), "--order", "graph"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("ConfigMap/a needs ConfigMap/b"), "{stderr}");
}

/// `sync --dry-run=client --order graph` is offline and prints the order that sync would use,
/// exactly as `plan --order graph`.
#[test]
fn sync_dry_run_client_prints_the_graph_order_too() {
    let (code, planned, err) = run(&["plan", "fixtures/shop", "--order", "graph"]);
    assert_eq!(code, 0, "{err}");
    let (code, dry, err) = run(&[
        "sync",
        "fixtures/shop",
        "--dry-run=client",
        "--order",
        "graph",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(dry, planned);
    assert!(dry.contains("Sync graph order"), "{dry}");
}
