//! `kubectl waves health`: assessments of recorded objects, offline.

use crate::common::{run, waves};
use std::path::Path;

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

/// Writes `files` (path, text) under a fresh folder.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

const WIDGET_LUA: &str = "local hs = {status = \"Progressing\", message = \"Waiting for widget\"}
if obj.status ~= nil and obj.status.ready == true then
  hs.status = \"Healthy\"
  hs.message = \"widget \" .. obj.metadata.name .. \" ready\"
end
return hs
";

const GADGET_LUA: &str = "return {status = \"Degraded\", message = \"every gadget is broken\"}\n";

/// A small tree laid out as Argo CD's: an exact folder with its tests, a wildcard folder
/// (`_.gadgets.io/_`), and a folder without tests.
fn small_tree() -> tempfile::TempDir {
    tree(&[
        ("example.com/Widget/health.lua", WIDGET_LUA),
        (
            "example.com/Widget/health_test.yaml",
            "tests:
- healthStatus:
    status: Progressing
    message: Waiting for widget
  inputPath: testdata/new.yaml
- healthStatus:
    status: Healthy
    message: widget w1 ready
  inputpath: testdata/ready.yaml
",
        ),
        (
            "example.com/Widget/testdata/new.yaml",
            "apiVersion: example.com/v1\nkind: Widget\nspec: {}\n",
        ),
        (
            "example.com/Widget/testdata/ready.yaml",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nstatus: {ready: true}\n",
        ),
        ("_.gadgets.io/_/health.lua", GADGET_LUA),
        (
            "_.gadgets.io/_/health_test.yaml",
            "tests:\n- healthStatus: {status: Degraded, message: every gadget is broken}\n  inputPath: testdata/g.yaml\n",
        ),
        (
            "_.gadgets.io/_/testdata/g.yaml",
            "apiVersion: eu.gadgets.io/v1\nkind: Gizmo\nmetadata: {name: g}\n",
        ),
        (
            "other.io/Thing/health.lua",
            "return {status = \"Healthy\"}\n",
        ),
    ])
}

#[test]
fn resource_customizations_folder_as_argo_cd_s() {
    let dir = small_tree();
    let objects = tree(&[(
        "objects.yaml",
        "apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: shop}
status: {ready: true}
---
apiVersion: eu.gadgets.io/v1
kind: Gizmo
metadata: {name: g1}
---
apiVersion: v1
kind: Pod
metadata: {namespace: shop}
status: {phase: Succeeded}
",
    )]);
    let (code, out, err) = run(&[
        "health",
        objects.path().join("objects.yaml").to_str().unwrap(),
        "--resource-customizations",
        dir.path().to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v[0]["health"]["status"], "Healthy", "{v}");
    assert_eq!(v[0]["health"]["message"], "widget w1 ready");
    assert!(
        v[0]["rule"]
            .as_str()
            .unwrap()
            .ends_with("example.com/Widget/health.lua"),
        "{v}"
    );
    // The wildcard folder covers every kind of a sub-group of gadgets.io.
    assert_eq!(v[1]["health"]["status"], "Degraded", "{v}");
    assert!(
        v[1]["rule"]
            .as_str()
            .unwrap()
            .ends_with("_.gadgets.io/_/health.lua")
    );
    // An object without metadata.name is judged too, not dropped.
    assert_eq!(v.as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v[2]["kind"], "Pod");
    assert_eq!(v[2]["name"], "");
    assert_eq!(v[2]["health"]["status"], "Healthy");
    let (_, out, _) = run(&[
        "health",
        objects.path().join("objects.yaml").to_str().unwrap(),
    ]);
    assert!(out.contains("shop/<no name>"), "{out}");

    // plan: kinds the folder covers draw no WAVES005; others still do.
    let app = tree(&[(
        "app.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: shop}\n---\napiVersion: example.net/v1\nkind: Doohickey\nmetadata: {name: d, namespace: shop}\n",
    )]);
    let (code, _, err) = run(&[
        "plan",
        app.path().to_str().unwrap(),
        "--resource-customizations",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("WAVES005]: Widget"), "{err}");
    assert!(err.contains("WAVES005]: Doohickey"), "{err}");
    // A folder that is not there is bad input.
    let (code, _, err) = run(&[
        "plan",
        app.path().to_str().unwrap(),
        "--resource-customizations",
        "does/not/exist",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does/not/exist"), "{err}");
}

#[test]
fn health_test_runs_every_case_of_a_tree() {
    let dir = small_tree();
    let (code, out, err) = run(&["health", "--test", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "3 of 3 cases pass; 0 fail", "{out}");
    // The folder without a health_test.yaml is named, not skipped silently.
    assert!(
        err.contains("other.io/Thing") && err.contains("not tested"),
        "{err}"
    );

    // A wrong expectation fails its case: exit 1, the case named with what it got.
    std::fs::write(
        dir.path().join("_.gadgets.io/_/health_test.yaml"),
        "tests:\n- healthStatus: {status: Healthy}\n  inputPath: testdata/g.yaml\n",
    )
    .unwrap();
    let (code, out, _) = run(&["health", "--test", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("_.gadgets.io/_/testdata/g.yaml"))
        .expect("the failed case");
    assert!(
        line.contains("Healthy") && line.contains("Degraded \"every gadget is broken\""),
        "{line}"
    );
    assert!(out.ends_with("2 of 3 cases pass; 1 fail\n"), "{out}");
    let (code, out, _) = run(&[
        "health",
        "--test",
        dir.path().to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["cases"].as_array().unwrap().len(), 3);
    // Folders in sorted order, as Argo CD walks them: `_.gadgets.io` first.
    assert_eq!(v["cases"][0]["folder"], "_.gadgets.io/_");
    assert_eq!(v["cases"][0]["passed"], false);
    assert_eq!(v["cases"][1]["passed"], true);
    assert_eq!(v["withoutTests"][0], "other.io/Thing");

    // A script with goto (Lua 5.2 syntax, which gopher-lua accepts) runs; a script that does
    // not compile is a failed case naming the script and the line.
    std::fs::write(
        dir.path().join("other.io/Thing/health.lua"),
        "for _, c in ipairs({}) do\n  if c then goto continue end\n  ::continue::\nend\nreturn {status = \"Healthy\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("other.io/Thing/health_test.yaml"),
        "tests:\n- healthStatus: {status: Healthy}\n  inputPath: t.yaml\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("other.io/Thing/t.yaml"),
        "apiVersion: other.io/v1\nkind: Thing\n",
    )
    .unwrap();
    let (code, out, _) = run(&[
        "health",
        "--test",
        dir.path().to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["cases"][3]["passed"], true, "{out}");
    std::fs::write(
        dir.path().join("other.io/Thing/health.lua"),
        "local hs = {}\nhs.status = = 'Healthy'\nreturn hs\n",
    )
    .unwrap();
    let (code, out, _) = run(&[
        "health",
        "--test",
        dir.path().to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let error = v["cases"][3]["error"].as_str().unwrap_or_default();
    assert!(error.contains("other.io/Thing/health.lua"), "{error}");
    assert!(error.contains("line 2"), "{error}");

    // A test file that is not one is bad input.
    std::fs::write(
        dir.path().join("other.io/Thing/health_test.yaml"),
        "tests: 5\n",
    )
    .unwrap();
    let (code, _, err) = run(&["health", "--test", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("other.io/Thing/health_test.yaml"), "{err}");
}

/// sync and diff tell lint about `--health-config` (WAVES005 goes for the kinds it covers);
/// lint runs before the cluster is contacted, so an unreachable cluster shows it.
#[test]
fn sync_and_diff_lint_with_the_health_config() {
    for command in ["sync", "diff"] {
        let base = [
            command,
            "fixtures/enterprise/app",
            "--kubeconfig",
            "/nonexistent/kubeconfig",
        ];
        let (_, _, err) = run(&base);
        assert!(err.contains("WAVES005"), "{command}: {err}");
        let with: Vec<&str> = base
            .iter()
            .copied()
            .chain(["--health-config", "fixtures/enterprise/argocd-cm.yaml"])
            .collect();
        let (code, _, err) = run(&with);
        assert_eq!(code, 2, "{command}: {err}");
        assert!(!err.contains("WAVES005"), "{command}: {err}");
    }
}

/// An Application without a status waits under our rule (D7) and has no check with
/// `--no-application-health`, Argo CD's behaviour since 1.8.
#[test]
fn no_application_health_turns_the_application_rule_off() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.yaml");
    std::fs::write(
        &file,
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: child, namespace: argocd}\nspec: {}\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let status = |extra: &[&str]| {
        let mut args = vec!["health", "-f", file, "-o", "json"];
        args.extend(extra);
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v[0]["health"]["status"].as_str().unwrap().to_string()
    };
    assert_eq!(status(&[]), "Progressing");
    assert_eq!(status(&["--no-application-health"]), "None");
}

/// What Argo CD's tree needs of our Lua, without the tree: `goto`, numbers that print as
/// gopher-lua prints them, and a date pattern with six `%d+` that the costly-pattern guard
/// must let through (tests/resource-customizations/README.md).
#[test]
fn health_test_passes_on_an_argo_cd_layout_that_needs_goto_and_digit_patterns() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/resource-customizations");
    let (code, out, err) = run(&["health", "--test", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "9 of 9 cases pass; 0 fail", "{out}");
}
