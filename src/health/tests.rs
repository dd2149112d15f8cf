//! Fixture-driven tests: recorded objects under `fixtures/health/`, each annotated with what
//! it must assess to:
//!
//! - `test.waves/expect`: the status (`None` for no health);
//! - `test.waves/message`: a substring of the message, or `test.waves/message-exact`;
//! - `test.waves/error`: instead of a status, a substring of the health error, with
//!   `test.waves/error-kind` (`Syntax`, `Runtime`, `Timeout`, `Memory`, `BadReturn`).
//!
//! `fixtures/health/*.yaml` are assessed with the default configuration,
//! `fixtures/health/lua/*.yaml` with `fixtures/health/argocd-cm.yaml`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/health")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "argocd-cm.yaml"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn argocd_cm() -> HealthConfig {
    let path = fixtures_dir().join("argocd-cm.yaml");
    let text = std::fs::read_to_string(&path).expect("argocd-cm.yaml");
    HealthConfig::from_argocd_cm_yaml(&text).expect("argocd-cm.yaml is valid")
}

/// Checks every document of `path`; returns the statuses seen.
fn check_file(path: &Path, cfg: &HealthConfig, failures: &mut Vec<String>) -> Vec<String> {
    let mut seen = Vec::new();
    let docs = load(path);
    assert!(!docs.is_empty(), "{}: no documents", path.display());
    for (i, obj) in docs.iter().enumerate() {
        let ann = |k: &str| object::annotation(obj, k).map(str::to_string);
        let what = format!(
            "{} doc {} ({}/{})",
            path.display(),
            i + 1,
            object::str_at(obj, &["kind"]),
            object::name(obj)
        );
        let result = assess(obj, cfg);
        match (ann("test.waves/expect"), ann("test.waves/error")) {
            (Some(expect), None) => {
                let expect: HealthStatus = expect.parse().unwrap_or_else(|e| panic!("{what}: {e}"));
                match result {
                    Ok(h) => {
                        seen.push(h.status.to_string());
                        if h.status != expect {
                            failures.push(format!("{what}: expected {expect}, got {h:?}"));
                        }
                        if let Some(m) = ann("test.waves/message")
                            && !h.message.contains(&m)
                        {
                            failures.push(format!(
                                "{what}: message {:?} does not contain {m:?}",
                                h.message
                            ));
                        }
                        if let Some(m) = ann("test.waves/message-exact")
                            && h.message != m
                        {
                            failures.push(format!("{what}: message {:?} is not {m:?}", h.message));
                        }
                    }
                    Err(e) => failures.push(format!("{what}: expected {expect}, got error {e}")),
                }
            }
            (None, Some(expect)) => match result {
                Err(e) => {
                    seen.push("error".into());
                    if !e.to_string().contains(&expect) {
                        failures.push(format!("{what}: error {e} does not contain {expect:?}"));
                    }
                    if let Some(kind) = ann("test.waves/error-kind")
                        && format!("{:?}", e.kind) != kind
                    {
                        failures.push(format!("{what}: error kind {:?}, expected {kind}", e.kind));
                    }
                }
                Ok(h) => failures.push(format!("{what}: expected an error, got {h:?}")),
            },
            _ => failures.push(format!(
                "{what}: needs exactly one of test.waves/expect or test.waves/error"
            )),
        }
    }
    seen
}

#[test]
fn builtin_and_bundled_fixtures() {
    let cfg = HealthConfig::default();
    let mut failures = Vec::new();
    let files = yaml_files(&fixtures_dir());
    assert!(files.len() >= 15, "fixtures missing: {files:?}");
    for file in &files {
        check_file(file, &cfg, &mut failures);
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn lua_fixtures() {
    let cfg = argocd_cm();
    let mut failures = Vec::new();
    let files = yaml_files(&fixtures_dir().join("lua"));
    assert!(!files.is_empty());
    let mut seen = Vec::new();
    for file in &files {
        seen.extend(check_file(file, &cfg, &mut failures));
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    for status in [
        "Healthy",
        "Progressing",
        "Degraded",
        "Suspended",
        "Unknown",
        "error",
    ] {
        assert!(
            seen.iter().any(|s| s == status),
            "no Lua fixture ends {status}"
        );
    }
}

/// Every built-in kind, and every status each can produce, has at least one fixture.
#[test]
fn fixtures_cover_every_rule_and_status() {
    let cfg = HealthConfig::default();
    let mut by_kind: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for file in yaml_files(&fixtures_dir()) {
        for obj in load(&file) {
            let kind = object::str_at(&obj, &["kind"]).to_string();
            if let Ok(h) = assess(&obj, &cfg) {
                by_kind.entry(kind).or_default().push(h.status.to_string());
            }
        }
    }
    let want: &[(&str, &[&str])] = &[
        (
            "Deployment",
            &["Healthy", "Progressing", "Degraded", "Suspended", "Unknown"],
        ),
        ("StatefulSet", &["Healthy", "Progressing", "Unknown"]),
        ("DaemonSet", &["Healthy", "Progressing"]),
        ("ReplicaSet", &["Healthy", "Progressing", "Degraded"]),
        ("Job", &["Healthy", "Progressing", "Degraded", "Suspended"]),
        ("Pod", &["Healthy", "Progressing", "Degraded", "Unknown"]),
        (
            "PersistentVolumeClaim",
            &["Healthy", "Progressing", "Degraded", "Unknown"],
        ),
        ("Service", &["Healthy", "Progressing"]),
        ("Ingress", &["Healthy", "Progressing"]),
        (
            "HorizontalPodAutoscaler",
            &["Healthy", "Progressing", "Degraded", "Unknown"],
        ),
        ("APIService", &["Healthy", "Progressing"]),
        (
            "CustomResourceDefinition",
            &["Healthy", "Progressing", "Degraded"],
        ),
        (
            "Workflow",
            &["Healthy", "Progressing", "Degraded", "Unknown"],
        ),
        ("Certificate", &["Healthy", "Progressing", "Degraded"]),
        ("RabbitmqCluster", &["Healthy", "Progressing", "Degraded"]),
        ("Queue", &["Healthy", "Progressing", "Degraded", "Unknown"]),
        ("Redis", &["Healthy", "Progressing", "None"]),
        ("IngressRoute", &["None"]),
        ("CronJob", &["Healthy", "Progressing", "Degraded"]),
        (
            "PodDisruptionBudget",
            &["Healthy", "Progressing", "Degraded"],
        ),
    ];
    let mut missing = Vec::new();
    for (kind, statuses) in want {
        for s in *statuses {
            if !by_kind.get(*kind).is_some_and(|v| v.iter().any(|x| x == s)) {
                missing.push(format!("{kind}: {s}"));
            }
        }
    }
    assert!(missing.is_empty(), "no fixture for: {missing:?}");
}

#[test]
fn status_spelling_and_order() {
    let names: Vec<&str> = HealthStatus::ARGOCD.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "Healthy",
            "Suspended",
            "Progressing",
            "Missing",
            "Degraded",
            "Unknown"
        ]
    );
    assert_eq!(
        serde_json::to_value(Health::new(HealthStatus::Degraded, "x")).unwrap(),
        json!({"status": "Degraded", "message": "x"})
    );
    assert_eq!(
        serde_json::to_value(HealthStatus::None).unwrap(),
        json!("None")
    );
    assert!(HealthStatus::Unknown.is_worse_than(HealthStatus::Degraded));
    assert!(HealthStatus::Degraded.is_worse_than(HealthStatus::Missing));
    assert!(HealthStatus::Progressing.is_worse_than(HealthStatus::Suspended));
    assert!(!HealthStatus::Healthy.is_worse_than(HealthStatus::Suspended));
    assert_eq!(HealthStatus::from_argocd("healthy"), None);
    assert_eq!("None".parse::<HealthStatus>(), Ok(HealthStatus::None));
}

#[test]
fn has_health_rule_per_kind() {
    let cfg = HealthConfig::default();
    for (g, k) in [
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("batch", "Job"),
        ("", "Pod"),
        ("", "PersistentVolumeClaim"),
        ("", "Service"),
        ("networking.k8s.io", "Ingress"),
        ("extensions", "Ingress"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("apiregistration.k8s.io", "APIService"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("argoproj.io", "Workflow"),
        ("cert-manager.io", "Certificate"),
        ("rabbitmq.com", "RabbitmqCluster"),
        ("rabbitmq.com", "Queue"),
        ("batch", "CronJob"),
        ("policy", "PodDisruptionBudget"),
    ] {
        assert!(has_health_rule(g, k, &cfg), "{g}/{k}");
    }
    for (g, k) in [
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "Namespace"),
        ("rbac.authorization.k8s.io", "Role"),
        ("example.com", "Widget"),
        ("traefik.io", "IngressRoute"),
        ("redis.redis.opstreelabs.in", "Redis"),
        ("", "Deployment"),
    ] {
        assert!(!has_health_rule(g, k, &cfg), "{g}/{k}");
    }
    // Ours, not Argo CD's (docs/argocd-differences.md D7); off as in Argo CD on request.
    assert!(has_health_rule("argoproj.io", "Application", &cfg));
    let off = cfg.clone().without_application_health();
    assert!(!has_health_rule("argoproj.io", "Application", &off));
    // A configured script gives a kind a rule, wildcards included.
    let cfg = argocd_cm();
    assert!(has_health_rule("example.com", "Widget", &cfg));
    assert!(has_health_rule("argoproj.io", "Application", &cfg));
    assert!(has_health_rule("ec2.aws.crossplane.io", "Instance", &cfg));
    assert!(!has_health_rule("example.org", "Widget", &cfg));
    assert_eq!(
        health_rule("cert-manager.io", "Certificate", &cfg),
        HealthRule::Custom("resource.customizations.health.cert-manager.io_Certificate".into())
    );
    assert_eq!(
        health_rule("cert-manager.io", "Certificate", &HealthConfig::default()),
        HealthRule::Bundled {
            always_assesses: true
        }
    );
    assert!(!has_health_rule(
        "cert-manager.io",
        "Certificate",
        &HealthConfig::default().without_bundled_checks()
    ));
}

#[test]
fn config_split_keys_nested_and_precedence() {
    let data = [
        (
            "resource.customizations",
            "example.com/Widget:\n  health.lua: |\n    return {status = \"Degraded\", message = \"nested\"}\n\"*.example.com/*\":\n  health.lua: |\n    return {status = \"Suspended\", message = \"wildcard\"}\n  health.lua.useOpenLibs: true\nother.io/Thing:\n  ignoreDifferences: |\n    jsonPointers: [/spec]\n",
        ),
        (
            "resource.customizations.health.example.com_Widget",
            "return {status = \"Healthy\", message = \"split\"}",
        ),
        (
            "resource.customizations.useOpenLibs.example.com_Widget",
            "true",
        ),
        (
            "resource.customizations.health.ConfigMap",
            "return {status = \"Healthy\", message = \"core\"}",
        ),
        (
            "resource.customizations.ignoreDifferences.apps_Deployment",
            "jsonPointers: [/spec/replicas]",
        ),
        (
            "resource.customizations.actions.apps_Deployment",
            "discovery.lua: return {}",
        ),
        ("url", "https://argocd.example.com"),
    ];
    let cfg = HealthConfig::from_data(data).expect("valid");
    let keys: Vec<&str> = cfg.checks().iter().map(|c| c.group_kind.as_str()).collect();
    assert_eq!(keys, ["*.example.com/*", "ConfigMap", "example.com/Widget"]);
    let widget = cfg.lookup("example.com", "Widget").expect("widget");
    assert_eq!(
        widget.key,
        "resource.customizations.health.example.com_Widget"
    );
    assert!(widget.use_open_libs);
    let run = |api: &str, kind: &str| {
        assess(
            &json!({"apiVersion": api, "kind": kind, "metadata": {"name": "x"}}),
            &cfg,
        )
        .expect("runs")
    };
    assert_eq!(run("example.com/v1", "Widget").message, "split");
    assert_eq!(run("sub.example.com/v1", "Gadget").message, "wildcard");
    assert_eq!(run("v1", "ConfigMap").message, "core");
    assert_eq!(run("example.org/v1", "Widget").status, HealthStatus::None);
    assert!(cfg.lookup("", "Pod").is_none());
    assert!(cfg.check_scripts().is_empty());
}

#[test]
fn config_errors_as_argo_cd() {
    let err = HealthConfig::from_data([("resource.customizations.health.a_b_c", "return {}")])
        .expect_err("three parts");
    assert!(
        err.to_string().contains("group kind should be in format"),
        "{err}"
    );
    let err = HealthConfig::from_data([("resource.customizations.healthz.apps_Deployment", "x")])
        .expect_err("unknown type");
    assert!(
        err.to_string()
            .contains("resource customization type healthz not supported")
    );
    let err =
        HealthConfig::from_data([("resource.customizations.useOpenLibs.apps_Deployment", "yes")])
            .expect_err("bad bool");
    assert!(err.to_string().contains("invalid boolean"));
    let err = HealthConfig::from_data([("resource.customizations", "[1, 2]")]).expect_err("list");
    assert!(err.to_string().contains("resource.customizations"));
    // "all" is */*; a key too short to name a group/kind is skipped, as in Argo CD.
    let cfg = HealthConfig::from_data([
        (
            "resource.customizations.health.all",
            "return {status = \"Healthy\"}",
        ),
        ("resource.customizations.health", "ignored"),
    ])
    .expect("valid");
    assert_eq!(cfg.checks()[0].group_kind, "*/*");
    assert!(cfg.lookup("apps", "Deployment").is_some());
    assert!(cfg.lookup("", "Pod").is_none());
}

#[test]
fn config_from_yaml() {
    assert!(matches!(
        HealthConfig::from_argocd_cm_yaml("apiVersion: v1\nkind: Secret\n"),
        Err(HealthConfigError::NotAConfigMap(_))
    ));
    assert!(matches!(
        HealthConfig::from_argocd_cm_yaml("kind: [unclosed"),
        Err(HealthConfigError::Yaml(_))
    ));
    let two = "kind: ConfigMap\nmetadata: {name: other}\ndata: {}\n---\nkind: ConfigMap\nmetadata: {name: argocd-cm}\ndata:\n  resource.customizations.health.x.io_Y: return {status = \"Healthy\"}\n  resource.customizations.useOpenLibs.x.io_Y: true\n";
    let cfg = HealthConfig::from_argocd_cm_yaml(two).expect("valid");
    assert!(cfg.lookup("x.io", "Y").is_some_and(|c| c.use_open_libs));
    let empty = HealthConfig::from_argocd_cm_yaml("kind: ConfigMap\nmetadata: {name: argocd-cm}\n")
        .expect("no data is fine");
    assert!(empty.checks().is_empty());
}

fn widget(status: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "status": status})
}

fn script(body: &str) -> HealthConfig {
    HealthConfig::new().with_script(
        "example.com/Widget",
        "resource.customizations.health.example.com_Widget",
        body,
    )
}

#[test]
fn lua_infinite_loop_is_stopped() {
    let cfg = script("while true do end");
    let start = Instant::now();
    let err = assess(&widget(json!({})), &cfg).expect_err("timeout");
    assert_eq!(err.kind, HealthErrorKind::Timeout, "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(err.to_string().contains("example.com_Widget"));
    // pcall cannot swallow the timeout.
    let cfg = script("while true do pcall(function() while true do end end) end");
    let err = assess(&widget(json!({})), &cfg).expect_err("timeout");
    assert_eq!(err.kind, HealthErrorKind::Timeout, "{err}");
    let cfg = script(
        "local ok = xpcall(function() while true do end end, function(e) return e end) return {status = 'Healthy'}",
    );
    let err = assess(&widget(json!({})), &cfg).expect_err("timeout");
    assert_eq!(err.kind, HealthErrorKind::Timeout, "{err}");
}

#[test]
fn lua_memory_is_bounded() {
    for body in [
        "local t = {} local i = 0 while true do i = i + 1 t[i] = string.rep('x', 1048576) .. i end",
        "return {status = string.rep('x', 1024 * 1024 * 1024)}",
        "local s = 'x' while true do s = s .. s end",
    ] {
        let err = assess(&widget(json!({})), &script(body)).expect_err(body);
        assert_eq!(err.kind, HealthErrorKind::Memory, "{body}: {err}");
    }
}

#[test]
fn lua_sandbox_has_no_escape_hatches() {
    for global in [
        "io",
        "require",
        "dofile",
        "loadfile",
        "load",
        "loadstring",
        "module",
        "package",
        "debug",
        "getfenv",
        "setfenv",
        "collectgarbage",
        "coroutine",
        "newproxy",
        "print",
    ] {
        let body = format!("return {{status = {global} == nil and 'Healthy' or 'Degraded'}}");
        let h = assess(&widget(json!({})), &script(&body)).expect("runs");
        assert_eq!(h.status, HealthStatus::Healthy, "{global} is reachable");
    }
    for call in [
        "os.execute('true')",
        "os.exit(1)",
        "os.getenv('HOME')",
        "os.remove('/tmp/x')",
        "string.dump(print)",
    ] {
        let body = format!("{call} return {{status = 'Healthy'}}");
        let err = assess(&widget(json!({})), &script(&body)).expect_err(call);
        assert_eq!(err.kind, HealthErrorKind::Runtime, "{call}: {err}");
    }
    // What Argo CD's scripts use is there.
    let body = r#"
        local parts = {}
        for _, c in ipairs(obj.status.conditions) do table.insert(parts, string.lower(c.type)) end
        table.sort(parts)
        local n = tonumber("3") + math.floor(2.5) + select('#', 1, 2)
        local ok = pcall(error, "x")
        local t = os.time({year = 2025, month = 1, day = 1, hour = 0})
        return {status = "Healthy", message = table.concat(parts, ",") .. " " .. tostring(n) ..
          " " .. tostring(ok) .. " " .. type(t) .. " " .. tostring(next({}) == nil) ..
          " " .. ("abc"):upper() .. " " .. tostring(#{unpack({1, 2})}) .. " " .. tostring(table.getn(parts))}
    "#;
    let h = assess(
        &widget(json!({"conditions": [{"type": "Ready"}, {"type": "Available"}]})),
        &script(body),
    )
    .expect("runs");
    assert_eq!(h.message, "available,ready 7 false number true ABC 2 2");
}

#[test]
fn lua_runaway_recursion_is_an_error() {
    for body in [
        "local function f() return 1 + f() end return {status = f()}",
        "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return {status = t.x}",
        "return {status = string.rep('(', 1000000):find(string.rep('(', 100000))}",
    ] {
        let err = assess(&widget(json!({})), &script(body)).expect_err(body);
        assert!(
            matches!(
                err.kind,
                HealthErrorKind::Runtime | HealthErrorKind::Memory | HealthErrorKind::Timeout
            ),
            "{body}: {err}"
        );
    }
}

#[test]
fn health_config_can_be_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<HealthConfig>();
    let cfg = std::sync::Arc::new(script(
        "return {status = 'Healthy', message = obj.metadata.name}",
    ));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                let mut obj = widget(json!({}));
                obj["metadata"]["name"] = json!(format!("w{i}"));
                assess(&obj, &cfg).map(|h| h.message)
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().expect("no panic"), Ok(format!("w{i}")));
    }
}

#[test]
fn lua_globals_do_not_leak_between_runs() {
    let cfg =
        script("count = (count or 0) + 1 return {status = 'Healthy', message = tostring(count)}");
    for _ in 0..3 {
        assert_eq!(assess(&widget(json!({})), &cfg).expect("runs").message, "1");
    }
    let cfg = script(
        "local mt = getmetatable(_G) if mt then mt.__index = {} end return {status = 'Healthy', message = tostring(mt) .. ' ' .. type(string)}",
    );
    for _ in 0..2 {
        assert_eq!(
            assess(&widget(json!({})), &cfg).expect("runs").message,
            "false table"
        );
    }
}

#[test]
fn lua_state_is_reused_and_fast() {
    let cfg = script(
        "local hs = {} if obj.status ~= nil and obj.status.ready then hs.status = 'Healthy' else hs.status = 'Progressing' end return hs",
    );
    let obj = widget(json!({"ready": true}));
    assert_eq!(
        assess(&obj, &cfg).expect("runs").status,
        HealthStatus::Healthy
    );
    let start = Instant::now();
    for _ in 0..200 {
        assess(&obj, &cfg).expect("runs");
    }
    let per_call = start.elapsed() / 200;
    // The target is well under 1 ms in release builds; leave room for debug builds.
    assert!(per_call < Duration::from_millis(5), "{per_call:?} per call");
}

#[test]
fn lua_after_a_failure_the_next_run_works() {
    let cfg = script("if obj.status.loop then while true do end end return {status = 'Healthy'}");
    assert!(assess(&widget(json!({"loop": true})), &cfg).is_err());
    assert_eq!(
        assess(&widget(json!({"loop": false})), &cfg)
            .expect("runs")
            .status,
        HealthStatus::Healthy
    );
}

#[test]
fn lua_stale_generation_wins() {
    let cfg = script("return {status = 'Healthy'}");
    let mut obj = widget(json!({"observedGeneration": 1}));
    obj["metadata"]["generation"] = json!(2);
    let h = assess(&obj, &cfg).expect("runs");
    assert_eq!(h.status, HealthStatus::Progressing);
    assert!(h.message.contains("generation 2"), "{}", h.message);
}

#[test]
fn assess_or_unknown_reports_the_error() {
    let h = assess_or_unknown(&widget(json!({})), &script("error('boom')"));
    assert_eq!(h.status, HealthStatus::Unknown);
    assert!(
        h.message.contains("boom") && h.message.contains("example.com_Widget"),
        "{}",
        h.message
    );
}

#[test]
fn container_problems_name_the_cause() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"restartPolicy": "Never"},
        "status": {"phase": "Pending",
            "initContainerStatuses": [{"name": "init", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"x\""}}}],
            "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}}]}
    });
    let problems = container_problems(&pod);
    assert_eq!(problems.len(), 1);
    assert!(problems[0].init);
    assert_eq!(
        problems[0].to_string(),
        "init container \"init\": ImagePullBackOff: Back-off pulling image \"x\""
    );
}

/// Any JSON at all: no panic, and the answer is stable.
#[test]
fn never_panics_on_odd_input() {
    let cfg = argocd_cm();
    let odd = [
        json!(null),
        json!([]),
        json!("Deployment"),
        json!({}),
        json!({"kind": 3, "apiVersion": ["x"]}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 9223372036854775807_i64}, "status": {"readyReplicas": -9223372036854775807_i64, "replicas": "x"}}),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"generation": 1}, "spec": {"replicas": -9223372036854775807_i64, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 9223372036854775807_i64}}}, "status": {"observedGeneration": 1, "readyReplicas": 9223372036854775807_i64}}),
        json!({"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Running", "containerStatuses": [null, 1, {"state": {"waiting": {"reason": 5}}}]}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": null, "finalizers": "x", "deletionTimestamp": null}, "status": {"conditions": {"type": "Ready"}}}),
        json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"annotations": {"autoscaling.alpha.kubernetes.io/conditions": "{not json"}}}),
        json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"annotations": {"autoscaling.alpha.kubernetes.io/conditions": "[{\"Type\":\"AbleToScale\",\"STATUS\":\"True\",\"message\":\"ok\"}]"}}}),
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "status": {"conditions": [1, "x", null]}}),
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "status": {"health": {"status": ["x"]}}}),
    ];
    for obj in &odd {
        let a = assess_or_unknown(obj, &cfg);
        let b = assess_or_unknown(obj, &cfg);
        assert_eq!(a, b, "{obj}");
    }
    // A Lua state survives deeply nested objects.
    let mut deep = json!("leaf");
    for _ in 0..300 {
        deep = json!({"a": deep});
    }
    let obj = widget(deep);
    let _ = assess(&obj, &script("return {status = 'Healthy'}"));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            prop::sample::select(vec![
                "True",
                "False",
                "Unknown",
                "Ready",
                "Available",
                "Running",
                "Pending",
                "Failed",
                "Succeeded",
                "Always",
                "Never",
                "RollingUpdate",
                "OnDelete",
                "Complete",
                "CrashLoopBackOff",
                "LoadBalancer",
                "Bound",
                "Lost",
                "",
            ])
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "status",
                        "spec",
                        "metadata",
                        "conditions",
                        "type",
                        "reason",
                        "message",
                        "phase",
                        "replicas",
                        "observedGeneration",
                        "generation",
                        "containerStatuses",
                        "state",
                        "waiting",
                        "terminated",
                        "lastState",
                        "restartPolicy",
                        "paused",
                        "updateStrategy",
                        "loadBalancer",
                        "ingress",
                        "annotations",
                        "exitCode",
                    ])
                    .prop_map(str::to_string),
                    inner,
                    0..5,
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]
        #[test]
        fn any_object_of_any_kind_is_assessed(
            body in arb_json(),
            kind in prop::sample::select(vec![
                ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
                ("apps/v1", "ReplicaSet"), ("batch/v1", "Job"), ("v1", "Pod"),
                ("v1", "PersistentVolumeClaim"), ("v1", "Service"),
                ("networking.k8s.io/v1", "Ingress"), ("autoscaling/v2", "HorizontalPodAutoscaler"),
                ("apiregistration.k8s.io/v1", "APIService"),
                ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
                ("argoproj.io/v1alpha1", "Workflow"), ("cert-manager.io/v1", "Certificate"),
                ("rabbitmq.com/v1beta1", "RabbitmqCluster"), ("rabbitmq.com/v1beta1", "Queue"),
                ("batch/v1", "CronJob"), ("policy/v1", "PodDisruptionBudget"),
                ("redis.redis.opstreelabs.in/v1beta2", "Redis"), ("example.com/v1", "Widget"),
            ]),
        ) {
            let mut obj = match body {
                Value::Object(m) => Value::Object(m),
                other => json!({"status": other}),
            };
            obj["apiVersion"] = json!(kind.0);
            obj["kind"] = json!(kind.1);
            let h = assess(&obj, &HealthConfig::default()).expect("built-in rules never error");
            let _ = h.status.as_str();
        }
    }
}

#[test]
fn lua_errors_name_the_line_of_the_script_even_for_long_keys() {
    let key = "resource.customizations.health.databases.example.com_MyDatabaseInstance";
    let body = "hs = {}\nif obj.status ~= nil then\n  hs.message = 'failed: ' .. obj.status.reason\nend\nreturn hs";
    let cfg =
        HealthConfig::new().with_script("databases.example.com/MyDatabaseInstance", key, body);
    let obj = json!({"apiVersion": "databases.example.com/v1alpha1", "kind": "MyDatabaseInstance",
        "metadata": {"name": "db"}, "status": {"phase": "Failed"}});
    let err = assess(&obj, &cfg).expect_err("concatenates nil");
    assert_eq!(err.kind, HealthErrorKind::Runtime, "{err}");
    let text = err.to_string();
    assert!(text.contains(key), "the whole key: {text}");
    assert!(text.contains("line 3: attempt to concatenate"), "{text}");
    let err = assess(
        &obj,
        &HealthConfig::new().with_script(
            "databases.example.com/MyDatabaseInstance",
            key,
            "return {\n  status = \n",
        ),
    )
    .expect_err("syntax");
    assert_eq!(err.kind, HealthErrorKind::Syntax, "{err}");
    assert!(err.to_string().contains("line 3:"), "{err}");
}

#[test]
fn lua_bytecode_is_refused() {
    // The signature of a precompiled chunk, then anything.
    let err = assess(&widget(json!({})), &script("\x1bLuaQ\x00\x01\x04")).expect_err("bytecode");
    assert_eq!(err.kind, HealthErrorKind::Syntax, "{err}");
    assert!(err.to_string().contains("bytecode"), "{err}");
}

#[test]
fn lua_library_tables_keep_no_state_between_runs() {
    for body in [
        "string.n = (string.n or 0) + 1 return {status = 'Healthy', message = tostring(string.n)}",
        "rawset(string, 'n', (rawget(string, 'n') or 0) + 1) return {status = 'Healthy', message = tostring(string.n)}",
        "table.n = (table.n or 0) + 1 return {status = 'Healthy', message = tostring(table.n)}",
        "local mt = getmetatable('') if mt then mt.__index.n = (mt.__index.n or 0) + 1 end return {status = 'Healthy', message = tostring(('').n)}",
        "return {status = 'Healthy', message = tostring(math.random(1000))}",
        "os.n = (os.n or 0) + 1 return {status = 'Healthy', message = tostring(os.n)}",
    ] {
        let cfg = script(body);
        let first = assess(&widget(json!({})), &cfg);
        for _ in 0..3 {
            assert_eq!(assess(&widget(json!({})), &cfg), first, "{body}");
        }
    }
}

#[test]
fn lua_costly_patterns_are_refused_within_the_time_limit() {
    for body in [
        "return {status = 'Healthy', message = tostring(string.find(string.rep('a', 40), string.rep('a*', 40) .. 'b'))}",
        "return {status = 'Healthy', message = tostring((string.rep('a', 5000)):match('.-.-.-b'))}",
        "for w in string.gmatch(string.rep('a', 3000), 'a*a*a*b') do end return {status = 'Healthy'}",
    ] {
        let start = Instant::now();
        let err = assess(&widget(json!({})), &script(body)).expect_err(body);
        assert!(start.elapsed() < Duration::from_secs(2), "{body}");
        assert_eq!(err.kind, HealthErrorKind::Runtime, "{body}: {err}");
        assert!(
            err.message.contains("for longer than the time limit"),
            "{err}"
        );
    }
    // The estimate is sound near the budget: the worst case of a call just under it (every
    // start expands a run of 2,200 digits and tries `x` after each) ends within the limit.
    let body = "local s = string.rep('1', 2200) return {status = 'Healthy', message = tostring(string.find(s, '%d+x'))}";
    let start = Instant::now();
    let h = assess(&widget(json!({})), &script(body)).expect("just under the budget");
    assert_eq!(h.message, "nil");
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    let body = "local s = string.rep('1', 2300) return {status = 'Healthy', message = tostring(string.find(s, '%d+x'))}";
    assert!(
        assess(&widget(json!({})), &script(body)).is_err(),
        "just over the budget"
    );
    // Repetitions ended by a character they cannot match add up instead of multiplying
    // (Argo CD's AdvancedCronJob reads a date with six `%d+`).
    let body = "local y, mo, d, h, mi, s = string.match(obj.status.t, '(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)Z') return {status = 'Healthy', message = y .. mo .. d .. h .. mi .. s}";
    let h = assess(&widget(json!({"t": "2024-05-06T07:08:09Z"})), &script(body)).expect("runs");
    assert_eq!(h.message, "202405060708".to_string() + "09");
    // Ordinary use is untouched.
    let body = "local m = ('Ready: 3/3 pods'):match('(%d+)/(%d+)') local s = string.gsub('a-b', '-', '+') return {status = 'Healthy', message = m .. s .. tostring(string.find('x.y', '.', 1, true))}";
    let h = assess(&widget(json!({})), &script(body)).expect("runs");
    assert_eq!(h.message, "3a+b2");
}

#[test]
fn lua_cached_states_stay_small() {
    // Each script allocates 6 MB per run; what stays cached afterwards is a few KiB each.
    let mut cfg = HealthConfig::new();
    for i in 0..40 {
        cfg = cfg.with_script(
            &format!("example.com/W{i}"),
            &format!("resource.customizations.health.example.com_W{i}"),
            "local t = {} for i = 1, 6 do t[i] = string.rep('x', 1000000) .. i end return {status = 'Healthy'}",
        );
    }
    for i in 0..40 {
        let mut obj = widget(json!({}));
        obj["kind"] = json!(format!("W{i}"));
        assert_eq!(
            assess(&obj, &cfg).expect("runs").status,
            HealthStatus::Healthy
        );
    }
    let cached = super::lua::cached_bytes();
    // Without collection 40 × 6 MB stay cached; with it, a state holds its libraries and script.
    assert!(cached < 40 * 512 * 1024, "{cached} bytes cached");
}

/// The names a script can reach are exactly Lua 5.1's safe subset (what the sandbox exposed
/// on Lua 5.1, and what gopher-lua offers of them), whatever Lua runs underneath.
#[test]
fn lua_sandbox_surface_is_lua_5_1_s_safe_subset() {
    let candidates: &[(&str, &[&str])] = &[
        (
            "_G",
            &[
                "assert",
                "collectgarbage",
                "dofile",
                "error",
                "gcinfo",
                "getfenv",
                "getmetatable",
                "ipairs",
                "load",
                "loadfile",
                "loadstring",
                "module",
                "newproxy",
                "next",
                "pairs",
                "pcall",
                "print",
                "rawequal",
                "rawget",
                "rawlen",
                "rawset",
                "require",
                "select",
                "setfenv",
                "setmetatable",
                "tonumber",
                "tostring",
                "type",
                "unpack",
                "xpcall",
                "_G",
                "_ENV",
                "coroutine",
                "string",
                "table",
                "math",
                "os",
                "io",
                "debug",
                "package",
                "bit32",
                "utf8",
                "warn",
                "jit",
                "bit",
                "ffi",
            ],
        ),
        (
            "string",
            &[
                "byte", "char", "dump", "find", "format", "gfind", "gmatch", "gsub", "len",
                "lower", "match", "rep", "reverse", "sub", "upper", "pack", "packsize", "unpack",
            ],
        ),
        (
            "table",
            &[
                "concat", "foreach", "foreachi", "getn", "insert", "maxn", "remove", "setn",
                "sort", "pack", "unpack", "move",
            ],
        ),
        (
            "math",
            &[
                "abs",
                "acos",
                "asin",
                "atan",
                "atan2",
                "ceil",
                "cos",
                "cosh",
                "deg",
                "exp",
                "floor",
                "fmod",
                "frexp",
                "huge",
                "ldexp",
                "log",
                "log10",
                "max",
                "min",
                "mod",
                "modf",
                "pi",
                "pow",
                "rad",
                "random",
                "randomseed",
                "sin",
                "sinh",
                "sqrt",
                "tan",
                "tanh",
                "maxinteger",
                "mininteger",
                "tointeger",
                "type",
                "ult",
            ],
        ),
        (
            "os",
            &[
                "clock",
                "date",
                "difftime",
                "execute",
                "exit",
                "getenv",
                "remove",
                "rename",
                "setlocale",
                "time",
                "tmpname",
            ],
        ),
    ];
    let mut body = String::from("local found = {}\n");
    for (lib, names) in candidates {
        for name in *names {
            let value = if *lib == "_G" {
                format!("_G[{name:?}]")
            } else {
                format!("(_G[{lib:?}] or {{}})[{name:?}]")
            };
            body.push_str(&format!(
                "if {value} ~= nil then found[#found + 1] = \"{lib}.{name}\" end\n"
            ));
        }
    }
    body.push_str("return {status = 'Healthy', message = table.concat(found, ' ')}");
    let found = assess(&widget(json!({})), &script(&body))
        .expect("runs")
        .message;
    let expected = "_G.assert _G.error _G.getmetatable _G.ipairs _G.next _G.pairs _G.pcall _G.rawequal \
        _G.rawget _G.rawset _G.select _G.setmetatable _G.tonumber _G.tostring _G.type _G.unpack \
        _G.xpcall _G._G _G.string _G.table _G.math _G.os string.byte string.char \
        string.find string.format string.gfind string.gmatch string.gsub string.len string.lower string.match \
        string.rep string.reverse string.sub string.upper table.concat table.foreach table.foreachi table.getn \
        table.insert table.maxn table.remove table.setn table.sort math.abs math.acos math.asin \
        math.atan math.atan2 math.ceil math.cos math.cosh math.deg math.exp math.floor \
        math.fmod math.frexp math.huge math.ldexp math.log math.log10 math.max math.min \
        math.mod math.modf math.pi math.pow math.rad math.random math.randomseed math.sin \
        math.sinh math.sqrt math.tan math.tanh os.clock os.date os.difftime os.time";
    assert_eq!(found, expected);
}

/// Argo CD's Lua (gopher-lua) is Lua 5.1 plus `goto` and labels, numbers all float64.
#[test]
fn lua_runs_argo_cd_s_dialect() {
    let body = r#"
        local names = {}
        for _, c in ipairs(obj.status.conditions) do
          if c.status ~= "True" then goto continue end
          table.insert(names, c.type)
          ::continue::
        end
        local n = obj.status.replicas
        return {status = "Healthy", message = table.concat(names, ",") .. " " .. tostring(n) ..
          " " .. tostring(n / 3) .. " " .. tostring(4 / 2) .. " " .. string.format("%d", n) ..
          " " .. tostring(math.floor(7 / 2)) .. " " .. type(n)}
    "#;
    let obj = widget(json!({"replicas": 6, "conditions": [
        {"type": "Ready", "status": "True"}, {"type": "Stalled", "status": "False"},
        {"type": "Synced", "status": "True"}]}));
    let h = assess(&obj, &script(body)).expect("runs");
    assert_eq!(h.message, "Ready,Synced 6 2 2 6 3 number");
    // A `goto` loop is stopped by the time limit like any other.
    let err = assess(&obj, &script("::top:: goto top")).expect_err("timeout");
    assert_eq!(err.kind, HealthErrorKind::Timeout, "{err}");
}

/// The Lua 5.1 functions Lua 5.2 dropped behave as in 5.1.
#[test]
fn lua_5_1_functions_are_there() {
    let body = r##"
        local t = {10, 20, 30, [7] = 70, x = 1}
        local seen = {}
        table.foreachi({"a", "b"}, function(i, v) seen[#seen + 1] = i .. v end)
        local found = table.foreach({k = "v"}, function(k, v) return k .. "=" .. v end)
        local words = {}
        for w in string.gfind("a b c", "%a") do words[#words + 1] = w end
        local ok, err = pcall(table.setn, t, 3)
        return {status = "Healthy", message = table.getn({1, 2, 3}) .. " " .. table.maxn(t) ..
          " " .. table.concat(seen, ",") .. " " .. found .. " " .. table.concat(words) .. " " ..
          math.log10(1000) .. " " .. math.mod(7, 3) .. " " .. select("#", unpack({1, 2, nil, 4}, 1, 4)) ..
          " " .. tostring(ok) .. ":" .. tostring(err:find("obsolete") ~= nil)}
    "##;
    let h = assess(&widget(json!({})), &script(body)).expect("runs");
    assert_eq!(h.message, "3 7 1a,2b k=v abc 3 1 4 false:true");
    let err = assess(
        &widget(json!({})),
        &script("return {status = table.getn(nil)}"),
    )
    .expect_err("not a table");
    assert!(err.message.contains("table expected, got nil"), "{err}");
}

/// A finalizer would run inside the collector, where the time limit cannot reach: as in
/// gopher-lua, `__gc` is never called, also when it is added to the metatable afterwards.
#[test]
fn lua_finalizers_never_run() {
    for body in [
        "setmetatable({}, {__gc = function() while true do end end}) return {status = 'Healthy'}",
        "local mt = {__gc = false} setmetatable({}, mt) mt.__gc = function() while true do end end return {status = 'Healthy'}",
        "local mt = {} setmetatable({}, mt) mt.__gc = function() while true do end end return {status = 'Healthy'}",
        "local t = setmetatable({}, {__gc = function() error('x') end}) t = nil for i = 1, 100000 do local _ = {i} end return {status = 'Healthy', message = tostring(getmetatable(setmetatable({}, {__gc = 1})).__gc)}",
    ] {
        let cfg = script(body);
        for _ in 0..2 {
            let start = Instant::now();
            let h = assess(&widget(json!({})), &cfg).expect(body);
            assert_eq!(h.status, HealthStatus::Healthy, "{body}");
            assert!(start.elapsed() < Duration::from_secs(1), "{body}");
        }
    }
    let h = assess(
        &widget(json!({})),
        &script("return {status = 'Healthy', message = tostring(getmetatable(setmetatable({}, {__gc = 1})).__gc)}"),
    )
    .expect("runs");
    assert_eq!(h.message, "1", "the metatable keeps its field");
    let err = assess(
        &widget(json!({})),
        &script("setmetatable(1, {__gc = 1}) return {status = 'Healthy'}"),
    )
    .expect_err("not a table");
    assert_eq!(err.kind, HealthErrorKind::Runtime, "{err}");
}
