//! `kubectl waves health`: assessments of recorded objects, offline.

use crate::common::{run, waves};

#[test]
fn table_names_the_missing_secret() {
    let (code, out, _) = run(&["health", "fixtures/health/pod.yaml"]);
    assert_eq!(code, 0);
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("KIND")
            && first.contains("NAMESPACE/NAME")
            && first.contains("HEALTH")
            && first.contains("MESSAGE"),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.contains("backend-6f9d8c7b5-x2x9q"))
        .expect("backend pod row");
    assert!(line.starts_with("Pod"), "{line}");
    assert!(line.contains("tenant-a/backend-6f9d8c7b5-x2x9q"), "{line}");
    assert!(line.contains("Degraded"), "{line}");
    assert!(
        line.contains(r#"CreateContainerConfigError: secret "backend-credentials" not found"#),
        "{line}"
    );
}

#[test]
fn json_from_stdin() {
    let output = waves()
        .args(["health", "-", "-o", "json"])
        .write_stdin("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  namespace: shop\nstatus:\n  conditions:\n  - type: Failed\n    status: \"True\"\n    reason: BackoffLimitExceeded\n    message: Job has reached the specified backoff limit\n")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(v[0]["kind"], "Job");
    assert_eq!(v[0]["namespace"], "shop");
    assert_eq!(v[0]["name"], "migrate");
    assert_eq!(v[0]["source"], "<stdin>:1");
    assert_eq!(v[0]["rule"], "built-in");
    assert_eq!(v[0]["health"]["status"], "Degraded");
    assert_eq!(
        v[0]["health"]["message"],
        "BackoffLimitExceeded: Job has reached the specified backoff limit"
    );
}

#[test]
fn custom_lua_checks_from_an_argocd_cm() {
    let (code, out, err) = run(&[
        "health",
        "fixtures/health/lua/misbehaving.yaml",
        "fixtures/health/lua/widget.yaml",
        "--health-config",
        "fixtures/health/argocd-cm.yaml",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    // The script that does not compile is reported up front.
    assert!(err.contains("test.waves.io_Syntax: line 2"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let by_name = |name: &str| {
        v.as_array()
            .and_then(|a| a.iter().find(|o| o["name"] == name))
            .cloned()
            .unwrap_or_default()
    };
    let ready = by_name("ready");
    assert_eq!(ready["health"]["status"], "Healthy");
    assert_eq!(
        ready["rule"],
        "custom: resource.customizations.health.example.com_Widget"
    );
    let forever = by_name("forever");
    assert_eq!(forever["health"]["status"], "Unknown");
    assert_eq!(forever["error"]["kind"], "Timeout");
    assert_eq!(
        forever["error"]["key"],
        "resource.customizations.health.test.waves.io_Loop"
    );
}

#[test]
fn unreadable_input_or_config_exits_2() {
    let (code, _, err) = run(&["health", "fixtures/broken/invalid-yaml.yaml"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&[
        "health",
        "fixtures/health/pod.yaml",
        "--health-config",
        "fixtures/health/pod.yaml",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no ConfigMap found"), "{err}");
    let (code, _, err) = run(&[
        "health",
        "fixtures/health/pod.yaml",
        "--health-config",
        "does/not/exist.yaml",
    ]);
    assert_eq!(code, 2, "{err}");
}
