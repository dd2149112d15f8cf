//! Every file under fixtures/broken/: the exit code, the code and the `path:line` and object
//! named in the message.

use crate::common::run;

/// (file, exit code of `plan`, diagnostic code, line, object, words the message must contain)
const CASES: &[(&str, i32, &str, usize, &str, &str)] = &[
    (
        "deployment-without-selector.yaml",
        2,
        "WAVES208",
        10,
        "Deployment/demo/agent-api",
        "needs spec.selector",
    ),
    (
        "service-port-not-a-number.yaml",
        2,
        "WAVES207",
        15,
        "Service/demo/api",
        "spec.ports[1].port: invalid type: string \"grpc\", expected i32",
    ),
    (
        "syncfail-hook-reads-sync-secret.yaml",
        0,
        "WAVES009",
        31,
        "Job/demo/sync-failed-alert",
        "mounts Secret/alert-webhook",
    ),
    (
        "syncfail-hook-wave.yaml",
        0,
        "WAVES125",
        3,
        "Job/demo/sync-failed-alert",
        "start every SyncFail hook together",
    ),
    (
        "pdb-and-apiservice-same-wave.yaml",
        0,
        "WAVES008",
        38,
        "PodDisruptionBudget/demo/metrics-server",
        "warning[WAVES008]",
    ),
    ("invalid-yaml.yaml", 2, "WAVES201", 13, "", "invalid YAML"),
    (
        "non-integer-wave.yaml",
        2,
        "WAVES101",
        9,
        "ConfigMap/demo/feature-flags",
        "not an integer",
    ),
    (
        "misspelled-hook.yaml",
        2,
        "WAVES102",
        9,
        "Job/demo/db-migrate",
        "did you mean `PreSync`?",
    ),
    (
        "unknown-delete-policy.yaml",
        2,
        "WAVES103",
        10,
        "Job/demo/db-migrate",
        "did you mean `HookSucceeded`?",
    ),
    (
        "hook-deletion-policy-typo.yaml",
        2,
        "WAVES106",
        13,
        "Job/demo/db-migrate",
        "did you mean `argocd.argoproj.io/hook-delete-policy`?",
    ),
    (
        "hook-succeeded-with-space.yaml",
        2,
        "WAVES103",
        10,
        "Job/demo/db-migrate",
        "did you mean `HookSucceeded`?",
    ),
    (
        "unknown-sync-option.yaml",
        2,
        "WAVES104",
        9,
        "ConfigMap/demo/dashboards",
        "SkipDryRun=true",
    ),
    (
        "unknown-waves-annotation.yaml",
        2,
        "WAVES106",
        9,
        "ConfigMap/demo/web-config",
        "did you mean `kubectl-waves.io/depends-on`?",
    ),
    (
        "duplicate-object.yaml",
        2,
        "WAVES204",
        13,
        "ConfigMap/demo/app-settings",
        "duplicate-object.yaml:4",
    ),
    (
        "not-a-kubernetes-object.yaml",
        2,
        "WAVES202",
        3,
        "",
        "not a Kubernetes object",
    ),
    (
        "missing-name.yaml",
        2,
        "WAVES203",
        3,
        "ConfigMap/demo/?",
        "metadata.name",
    ),
    (
        "hook-reads-later-secret.yaml",
        0,
        "WAVES001",
        14,
        "Job/demo/db-migrate",
        "Secret/db-credentials",
    ),
    (
        "hook-without-delete-policy.yaml",
        0,
        "WAVES002",
        4,
        "Job/demo/cache-warmup",
        "hook-delete-policy",
    ),
    (
        "hook-backoff-limit.yaml",
        0,
        "WAVES003",
        4,
        "Job/demo/db-migrate",
        "backoffLimit is 6",
    ),
    (
        "fixed-name-hook-succeeded-only.yaml",
        0,
        "WAVES004",
        5,
        "Job/demo/db-migrate",
        "BeforeHookCreation",
    ),
    (
        "custom-resource-without-health.yaml",
        0,
        "WAVES005",
        4,
        "Widget/demo/homepage-banner",
        "no health check",
    ),
    (
        "hook-rbac-later-wave.yaml",
        0,
        "WAVES007",
        42,
        "Job/demo/db-migrate",
        "RoleBinding/demo/migrator",
    ),
    (
        "app-level-option-on-resource.yaml",
        0,
        "WAVES120",
        10,
        "ConfigMap/demo/app-settings",
        "CreateNamespace=true",
    ),
    (
        "helm-test-hook.yaml",
        0,
        "WAVES121",
        15,
        "Pod/demo/demo-test-connection",
        "ignores Helm `test` hooks",
    ),
    (
        "pre-delete-hook.yaml",
        0,
        "WAVES122",
        10,
        "Job/demo/deregister",
        "not by `kubectl waves sync`",
    ),
];

#[test]
fn every_broken_file_is_covered() {
    let mut files: Vec<String> = std::fs::read_dir(crate::common::root().join("fixtures/broken"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    files.sort();
    let mut covered: Vec<String> = CASES.iter().map(|c| c.0.to_string()).collect();
    covered.sort();
    assert_eq!(files, covered);
}

#[test]
fn broken_files_give_clear_errors() {
    for &(file, exit, code, line, object, words) in CASES {
        let path = format!("fixtures/broken/{file}");
        let (got, stdout, stderr) = run(&["plan", &path]);
        assert_eq!(got, exit, "{file}: exit code\n{stderr}");
        let expected = format!("{path}:{line}: ");
        let line_of_code = stderr
            .lines()
            .find(|l| l.contains(&format!("[{code}]")))
            .unwrap_or_else(|| panic!("{file}: no {code} in\n{stderr}"));
        assert!(
            line_of_code.starts_with(&expected),
            "{file}: wanted {expected}…, got {line_of_code}"
        );
        assert!(
            line_of_code.contains(object),
            "{file}: object {object} missing in {line_of_code}"
        );
        assert!(
            line_of_code.contains(words),
            "{file}: `{words}` missing in {line_of_code}"
        );
        let mut codes: Vec<&str> = stderr
            .lines()
            .filter_map(|l| l.split('[').nth(1)?.split(']').next())
            .collect();
        // One problem may be reported at several places (a binding and its role), but
        // no other kind of finding may show up.
        codes.dedup();
        assert_eq!(
            codes,
            [code],
            "{file}: only its own kind of finding expected\n{stderr}"
        );
        if exit == 2 {
            assert!(stdout.is_empty(), "{file}: nothing is planned on bad input");
        }
    }
}

#[test]
fn strict_makes_lint_errors_exit_3_and_leaves_warnings_alone() {
    assert_eq!(
        run(&[
            "plan",
            "--strict",
            "fixtures/broken/hook-reads-later-secret.yaml"
        ])
        .0,
        3
    );
    assert_eq!(
        run(&[
            "plan",
            "--strict",
            "fixtures/broken/hook-rbac-later-wave.yaml"
        ])
        .0,
        3
    );
    assert_eq!(
        run(&[
            "plan",
            "--strict",
            "fixtures/broken/hook-backoff-limit.yaml"
        ])
        .0,
        0
    );
    assert_eq!(run(&["plan", "--strict", "fixtures/shop"]).0, 0);
    assert_eq!(
        run(&[
            "plan",
            "--strict",
            "fixtures/broken/syncfail-hook-reads-sync-secret.yaml"
        ])
        .0,
        3
    );
    // Warnings only: references nothing in a sync waits on.
    for file in [
        "syncfail-hook-wave.yaml",
        "pdb-and-apiservice-same-wave.yaml",
    ] {
        let (code, _, stderr) = run(&["plan", "--strict", &format!("fixtures/broken/{file}")]);
        assert_eq!(code, 0, "{file}: {stderr}");
        assert!(!stderr.contains("error["), "{file}: {stderr}");
    }
}

#[test]
fn lenient_warns_and_behaves_like_argo_cd() {
    let (code, stdout, stderr) = run(&[
        "plan",
        "--lenient",
        "-o",
        "json",
        "fixtures/broken/misspelled-hook.yaml",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // Argo CD drops an object whose only hook type is unknown.
    assert_eq!(plan["skipped"][0]["name"], "db-migrate");
    assert!(plan["steps"].as_array().unwrap().iter().all(|s| {
        s["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"] != "db-migrate")
    }));
    assert_eq!(plan["diagnostics"][0]["severity"], "warning");
    assert_eq!(plan["diagnostics"][0]["code"], "WAVES102");

    let (code, stdout, _) = run(&[
        "plan",
        "--lenient",
        "-o",
        "json",
        "fixtures/broken/non-integer-wave.yaml",
    ]);
    assert_eq!(code, 0);
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        plan["steps"][0]["wave"], 0,
        "a bad wave falls back to 0, as Argo CD"
    );

    // Duplicates: Argo CD keeps the last copy and warns.
    let (code, stdout, _) = run(&[
        "plan",
        "--lenient",
        "-o",
        "json",
        "fixtures/broken/duplicate-object.yaml",
    ]);
    assert_eq!(code, 0);
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let sources: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["resources"].as_array().unwrap())
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["fixtures/broken/duplicate-object.yaml:13"]);
    assert_eq!(plan["diagnostics"][0]["code"], "WAVES204");
    assert_eq!(plan["diagnostics"][0]["severity"], "warning");

    // Input kubectl itself rejects stays an error.
    assert_eq!(
        run(&["plan", "--lenient", "fixtures/broken/invalid-yaml.yaml"]).0,
        2
    );
}

#[test]
fn diff_of_bad_input_exits_2_before_contacting_the_cluster() {
    let (code, stdout, stderr) = run(&[
        "diff",
        "fixtures/broken/non-integer-wave.yaml",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("non-integer-wave.yaml:"), "{stderr}");
    assert!(!stderr.contains("kubeconfig"), "{stderr}");
    let (code, stdout, stderr) = run(&[
        "diff",
        "fixtures/shop",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("kubeconfig"), "{stderr}");
}

#[test]
fn status_of_bad_input_exits_2_before_contacting_the_cluster() {
    let (code, stdout, stderr) = run(&[
        "status",
        "fixtures/broken/non-integer-wave.yaml",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("non-integer-wave.yaml:"), "{stderr}");
    assert!(!stderr.contains("kubeconfig"), "{stderr}");
    let (code, stdout, stderr) = run(&[
        "status",
        "fixtures/shop",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
    ]);
    assert_eq!(code, 2, "an unreachable cluster: {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("cannot load the kubeconfig"), "{stderr}");
}

#[test]
fn sync_of_bad_input_exits_2_before_contacting_the_cluster() {
    let (code, stdout, stderr) = run(&[
        "sync",
        "fixtures/broken/non-integer-wave.yaml",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("fixtures/broken/non-integer-wave.yaml:"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("kubeconfig"),
        "the cluster is not contacted: {stderr}"
    );
}

#[test]
fn sync_without_a_reachable_cluster_exits_2_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
",
    )
    .unwrap();
    let (code, stdout, stderr) = run(&[
        "sync",
        "fixtures/shop",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("cannot reach the cluster"), "{stderr}");
    assert!(stderr.contains("nothing was changed"), "{stderr}");
}

#[test]
fn missing_path_is_bad_input() {
    let (code, _, stderr) = run(&["plan", "fixtures/does-not-exist"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("fixtures/does-not-exist"), "{stderr}");
}

/// `(code, object)` of every finding `plan --lenient` reports on `path`.
fn findings(path: &str) -> Vec<(String, String)> {
    let (_, _, stderr) = run(&["plan", "--lenient", path]);
    stderr
        .lines()
        .filter_map(|l| {
            let code = l.split('[').nth(1)?.split(']').next()?;
            let object = l.split("]: ").nth(1)?.split(':').next()?;
            Some((code.to_string(), object.to_string()))
        })
        .collect()
}

fn has(found: &[(String, String)], code: &str, object: &str) -> bool {
    found.iter().any(|(c, o)| c == code && o == object)
}

/// The book chapter as printed: each mistake its corrected copy's README lists is reported.
#[test]
fn the_chapter_as_printed_reports_each_documented_mistake() {
    let found = findings("fixtures/broken/chapter");
    for (code, object) in [
        ("WAVES106", "Job/agents/db-migration"),
        ("WAVES106", "Job/agents/notify-deployment"),
        ("WAVES106", "Job/agents/smoke-tests"),
        ("WAVES106", "Job/agents/sync-failed-alert"),
        ("WAVES007", "Job/agents/db-migration"),
        ("WAVES001", "Job/agents/db-migration"),
        ("WAVES009", "Job/agents/sync-failed-alert"),
        ("WAVES125", "Job/agents/sync-failed-alert"),
        ("WAVES003", "Job/agents/smoke-tests"),
    ] {
        assert!(has(&found, code, object), "{code} {object}: {found:?}");
    }
    // Without --lenient the misspelt key is bad input.
    assert_eq!(run(&["plan", "fixtures/broken/chapter"]).0, 2);
    // Once the key is spelt right, the fixed-name hooks without BeforeHookCreation show.
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(crate::common::root().join("fixtures/broken/chapter")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            dir.path().join(path.file_name().unwrap()),
            text.replace("hook-deletion-policy", "hook-delete-policy"),
        )
        .unwrap();
    }
    let found = findings(dir.path().to_str().unwrap());
    for hook in [
        "db-migration",
        "notify-deployment",
        "smoke-tests",
        "sync-failed-alert",
    ] {
        assert!(
            has(&found, "WAVES004", &format!("Job/agents/{hook}")),
            "{hook}: {found:?}"
        );
    }
}

/// The enterprise guide as printed: RBAC at Sync wave -20 comes after the PreSync hooks and
/// the SyncFail hook that run as it; its Lua check fails on a Failed instance without reason.
#[test]
fn the_enterprise_guide_as_printed_reports_each_documented_mistake() {
    let found = findings("fixtures/broken/enterprise/app");
    for (code, object) in [
        ("WAVES007", "Job/production/silence-alerts"),
        ("WAVES007", "Job/production/prod-db-backup"),
        ("WAVES007", "Job/production/prod-db-migration"),
        ("WAVES009", "Job/production/prod-sync-failure-handler"),
        ("WAVES006", "Deployment/production/product-api"),
        ("WAVES008", "Job/production/prod-db-migration"),
    ] {
        assert!(has(&found, code, object), "{code} {object}: {found:?}");
    }
    assert_eq!(
        run(&["plan", "--strict", "fixtures/broken/enterprise/app"]).0,
        3
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.yaml");
    std::fs::write(
        &db,
        "apiVersion: databases.example.com/v1alpha1\nkind: MyDatabaseInstance\nmetadata:\n  name: product-db\n  namespace: production\nstatus:\n  phase: Failed\n",
    )
    .unwrap();
    let db = db.to_str().unwrap();
    let (code, stdout, stderr) = run(&[
        "health",
        "--health-config",
        "fixtures/broken/enterprise/argocd-cm.yaml",
        db,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Unknown"), "{stdout}");
    assert!(
        stdout
            .contains("databases.example.com_MyDatabaseInstance: line 10: attempt to concatenate"),
        "the Lua error names the whole key and the line of the script: {stdout}"
    );
    let (_, stdout, _) = run(&[
        "health",
        "--health-config",
        "fixtures/enterprise/argocd-cm.yaml",
        db,
    ]);
    assert!(
        stdout.contains("Degraded") && stdout.contains("no reason given"),
        "{stdout}"
    );
}

/// The multi-tenant app as documented: its S3 sync hook has no delete policy.
#[test]
fn the_tenant_app_as_documented_reports_each_documented_mistake() {
    let found = findings("fixtures/broken/tenant");
    assert!(
        has(
            &found,
            "WAVES002",
            "Job/vecton-admin/vecton-admin-s3-credentials-sync"
        ),
        "{found:?}"
    );
    // The frontend reaching the backend by DNS name in the same wave is deliberate: a warning.
    assert!(
        has(&found, "WAVES008", "Deployment/vecton-admin/frontend"),
        "{found:?}"
    );
    let (code, _, stderr) = run(&["plan", "--strict", "fixtures/broken/tenant"]);
    assert_eq!(code, 0, "{stderr}");
}
