//! Helm charts, with the `helm` that `testenv/build` builds from its Go module (v3.22.0):
//! `fixtures/charts/hooks-demo` read through `helm template` as Argo CD reads it (SPEC §2's
//! Helm mapping), the render flags, and `kubectl waves sync` of the chart compared with
//! `helm install` of it in the test cluster, for the hooks where Helm and Argo CD agree.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{root, waves};
use crate::support::cluster::{TestNs, cluster};
use crate::support::differential::{Group, Identities, groups};
use crate::support::recorder::Recorder;
use crate::support::tools::path_with;

const CHART: &str = "fixtures/charts/hooks-demo";

fn run_in(path: &Path, args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    let mut cmd = waves();
    cmd.env("PATH", path).args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input.to_vec());
    }
    let out = cmd.output().expect("run kubectl-waves");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn helm(path: &Path, args: &[&str]) -> std::process::Output {
    Command::new(path.join("helm"))
        .current_dir(root())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run helm")
}

/// `PHASE WAVE Kind/name [policies]` per object of a plan's steps, then `skipped Kind/name`.
fn plan_rows(plan: &Value) -> Vec<String> {
    let mut rows = Vec::new();
    for step in plan["steps"].as_array().expect("steps") {
        for r in step["resources"].as_array().expect("resources") {
            let policies: Vec<&str> = r["deletePolicies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            rows.push(format!(
                "{} {} {}/{} [{}]",
                step["phase"].as_str().unwrap(),
                step["wave"],
                r["kind"].as_str().unwrap(),
                r["name"].as_str().unwrap(),
                policies.join(",")
            ));
        }
    }
    for r in plan["skipped"].as_array().expect("skipped") {
        rows.push(format!(
            "skipped {}/{}",
            r["kind"].as_str().unwrap(),
            r["name"].as_str().unwrap()
        ));
    }
    rows
}

fn sources(plan: &Value) -> Vec<String> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["resources"].as_array().unwrap())
        .chain(plan["skipped"].as_array().unwrap())
        .map(|r| r["source"].as_str().unwrap().to_string())
        .collect()
}

/// Argo CD's reading of the chart (SPEC §2): pre-install/pre-upgrade → PreSync,
/// post-install/post-upgrade → PostSync, hook-weight → wave, Helm delete policies mapped (none
/// = BeforeHookCreation), CRDs from crds/ rendered as Sync objects, `test` hooks ignored.
const EXPECTED: &[&str] = &[
    "PreSync -5 ServiceAccount/demo-migrator [BeforeHookCreation]",
    "PreSync -1 ConfigMap/demo-upgrade-notice [BeforeHookCreation]",
    "PreSync 0 Job/demo-migrate [BeforeHookCreation,HookSucceeded]",
    "Sync 0 ConfigMap/demo-config []",
    "Sync 0 CustomResourceDefinition/widgets.hooks-demo.waves.test []",
    "Sync 0 Service/demo-web []",
    "Sync 0 Deployment/demo-web []",
    "Sync 0 Widget/demo-widget []",
    "PostSync 5 Job/demo-smoke [BeforeHookCreation,HookSucceeded]",
    "PostSync 10 ConfigMap/demo-release-note [BeforeHookCreation]",
    "skipped Pod/demo-test-connection",
];

#[test]
fn helm_template_piped_to_plan_gives_argo_cds_helm_mapping() {
    let tools = path_with(&["helm"]);
    let rendered = helm(
        &tools,
        &["template", "demo", CHART, "--include-crds", "-n", "shop"],
    );
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let (code, stdout, stderr) = run_in(
        &tools,
        &["plan", "-f", "-", "-o", "json"],
        Some(&rendered.stdout),
    );
    assert_eq!(code, 0, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(plan_rows(&plan), EXPECTED, "{stdout}");
    assert!(
        sources(&plan).iter().all(|s| s.starts_with("<stdin>:")),
        "piped: lines of the stream: {stdout}"
    );
    // The test hook is reported, not silently dropped.
    assert!(
        plan["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "WAVES121" && d["object"] == "Pod/demo-test-connection"),
        "{stdout}"
    );
}

#[test]
fn a_chart_folder_is_rendered_as_argo_cd_renders_it_and_names_its_templates() {
    let tools = path_with(&["helm"]);
    let (code, stdout, stderr) = run_in(
        &tools,
        &["plan", CHART, "--release-name", "demo", "-o", "json"],
        None,
    );
    assert_eq!(code, 0, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        plan_rows(&plan),
        EXPECTED,
        "the same plan as the pipe: {stdout}"
    );
    let sources = sources(&plan);
    assert_eq!(
        sources[0], "fixtures/charts/hooks-demo/templates/hook-serviceaccount.yaml",
        "{sources:?}"
    );
    assert!(
        sources.contains(&"fixtures/charts/hooks-demo/crds/widgets.yaml".to_string()),
        "{sources:?}"
    );
    for s in &sources {
        assert!(
            s.starts_with("fixtures/charts/hooks-demo/") && !s.contains(".yaml:"),
            "a template, without a line of the rendered stream: {s}"
        );
        assert!(root().join(s).is_file(), "{s} is a file of the chart");
    }
    // Text output and warnings name the template too.
    let (code, text, stderr) = run_in(&tools, &["plan", CHART, "--release-name", "demo"], None);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        text.contains("Job    demo-migrate")
            && text.contains("fixtures/charts/hooks-demo/templates/hook-migrate.yaml\n"),
        "{text}"
    );
    assert!(
        stderr.contains(
            "fixtures/charts/hooks-demo/templates/tests/test-connection.yaml: warning[WAVES121]"
        ),
        "{stderr}"
    );

    // Without --release-name the release is named after the folder.
    let (code, stdout, stderr) = run_in(&tools, &["plan", CHART, "-o", "json"], None);
    assert_eq!(code, 0, "{stderr}");
    let rows = plan_rows(&serde_json::from_str(&stdout).unwrap());
    assert_eq!(
        rows[0],
        "PreSync -5 ServiceAccount/hooks-demo-migrator [BeforeHookCreation]"
    );
}

/// The manifests `annotate --stdout` prints for the chart with `args`: the rendered objects.
fn rendered_objects(tools: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["annotate", CHART, "--stdout"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run_in(tools, &all, None);
    assert_eq!(code, 0, "{stderr}");
    serde_saphyr::from_multiple::<Value>(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

#[test]
fn values_files_set_parameters_release_name_and_namespace_reach_helm_template() {
    let tools = path_with(&["helm"]);
    let dir = tempfile::tempdir().unwrap();
    let prod = dir.path().join("prod.yaml");
    std::fs::write(
        &prod,
        "replicas: 3\nmessage: from prod.yaml\nwidget: {enabled: false}\n",
    )
    .unwrap();
    let other = dir.path().join("other.yaml");
    std::fs::write(&other, "message: from other.yaml\n").unwrap();
    let (prod, other) = (prod.to_str().unwrap(), other.to_str().unwrap());

    let defaults = rendered_objects(&tools, &["--release-name", "demo"]);
    let config = find(&defaults, "ConfigMap", "demo-config").expect("demo-config");
    assert_eq!(config["data"]["message"], "hello from values.yaml");
    assert!(find(&defaults, "Widget", "demo-widget").is_some());
    assert!(
        find(
            &defaults,
            "CustomResourceDefinition",
            "widgets.hooks-demo.waves.test"
        )
        .is_some(),
        "--include-crds by default, as Argo CD"
    );

    // Values files in order (the later wins), then --set over them, as helm and Argo CD.
    let objects = rendered_objects(
        &tools,
        &[
            "--release-name",
            "shop",
            "--helm-values",
            prod,
            "--helm-values",
            other,
            "--helm-set",
            "replicas=5",
            "-n",
            "shop-prod",
        ],
    );
    let config = find(&objects, "ConfigMap", "shop-config").expect("shop-config");
    assert_eq!(config["data"]["message"], "from other.yaml");
    let web = find(&objects, "Deployment", "shop-web").expect("shop-web");
    assert_eq!(web["spec"]["replicas"], 5);
    assert!(
        find(&objects, "Widget", "shop-widget").is_none(),
        "widget.enabled=false from prod.yaml"
    );
    let notice = find(&objects, "ConfigMap", "shop-upgrade-notice").expect("notice");
    assert_eq!(notice["data"]["from"], "1.0.0");

    // --helm-skip-crds is Argo CD's skipCrds.
    let objects = rendered_objects(
        &tools,
        &["--helm-skip-crds", "--helm-set", "widget.enabled=false"],
    );
    assert!(
        !objects
            .iter()
            .any(|o| o["kind"] == "CustomResourceDefinition"),
        "{objects:?}"
    );

    // --source-type helm on a folder without Chart.yaml: helm's own error, exit 2.
    let empty = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_in(
        &tools,
        &[
            "plan",
            empty.path().to_str().unwrap(),
            "--source-type",
            "helm",
        ],
        None,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("helm") && stderr.contains("failed"),
        "{stderr}"
    );
    // --source-type directory reads the templates as files: they are not YAML.
    let (code, _, stderr) = run_in(&tools, &["plan", CHART, "--source-type", "directory"], None);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("fixtures/charts/hooks-demo/"), "{stderr}");
    // A bad --set is helm's error, exit 2, nothing printed on stdout.
    let (code, stdout, stderr) = run_in(&tools, &["plan", CHART, "--helm-set", "a[=1"], None);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
}

#[test]
fn a_missing_helm_is_a_clear_error_for_every_subcommand_that_reads_the_chart() {
    let empty = tempfile::tempdir().unwrap();
    // sync and diff ask the cluster for its API versions before they render: a real one.
    let kubeconfig = cluster()
        .kubeconfig
        .to_str()
        .expect("utf-8 path")
        .to_string();
    for args in [
        vec!["plan", CHART],
        vec!["sync", CHART, "-n", "default", "--kubeconfig", &kubeconfig],
        vec!["diff", CHART, "-n", "default", "--kubeconfig", &kubeconfig],
    ] {
        let (code, stdout, stderr) = run_in(empty.path(), &args, None);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(
            stderr.contains("is a Helm chart (it has a Chart.yaml), but `helm` is not on PATH")
                && stderr.contains("https://helm.sh/docs/intro/install/"),
            "{args:?}: {stderr}"
        );
    }
}

/// The kinds the chart writes into its namespace, for the recorder.
const CHART_KINDS: &[(&str, &str, &str)] = &[
    ("v1", "ConfigMap", "configmaps"),
    ("v1", "ServiceAccount", "serviceaccounts"),
    ("v1", "Service", "services"),
    ("v1", "Pod", "pods"),
    ("apps/v1", "Deployment", "deployments"),
    ("batch/v1", "Job", "jobs"),
];

/// The chart's objects as `helm template` renders them for the cluster tests (no Widget: it
/// needs the cluster-scoped CRD).
fn rendered_for_cluster(tools: &Path) -> Vec<Value> {
    let out = helm(
        tools,
        &["template", "demo", CHART, "--set", "widget.enabled=false"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_saphyr::from_multiple::<Value>(&String::from_utf8_lossy(&out.stdout))
        .unwrap()
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// What a run did, as the differential tests see it: creation groups, and the hooks deleted.
struct Observed {
    creations: Vec<Group>,
    deleted_hooks: Vec<String>,
    log: String,
}

async fn observe(ns: &TestNs, ids: &Identities, mut cmd: Command) -> Observed {
    let recorder = Recorder::start(&ns.client, &ns.name, CHART_KINDS).await;
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("task");
    let log = format!(
        "exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let trace = recorder.stop().await;
    let all = groups(&trace, ids);
    let mut deleted_hooks: Vec<String> = all
        .iter()
        .filter(|g| g.label == "delete hook")
        .flat_map(|g| g.members.iter().cloned())
        .collect();
    deleted_hooks.sort();
    Observed {
        creations: all
            .into_iter()
            .filter(|g| g.label.starts_with("create "))
            .collect(),
        deleted_hooks,
        log,
    }
}

/// `helm install` and `kubectl waves sync` of the same chart, each into its own namespace,
/// recorded: the hooks `helm install` runs (pre-install, post-install; not pre-upgrade, not
/// test) are created in the same groups and order around the release's objects, and the same
/// hooks are gone at the end (hook-succeeded) or kept. Where Helm and Argo CD disagree is left
/// out and documented (docs/sources.md): Argo CD also runs the pre-upgrade-only hook on the
/// first sync, and deletes hook-succeeded hooks when the sync ends, where Helm deletes them
/// after their own event's hooks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_of_the_chart_runs_its_hooks_in_helm_installs_order() {
    let c = cluster();
    let tools = path_with(&["helm", "kubectl"]);
    let docs = rendered_for_cluster(&tools);
    // The hooks helm install does not run are not compared.
    let compared: Vec<Value> = docs
        .iter()
        .filter(|d| {
            let hook = d["metadata"]["annotations"]["helm.sh/hook"]
                .as_str()
                .unwrap_or("");
            hook != "pre-upgrade" && hook != "test"
        })
        .cloned()
        .collect();
    assert_eq!(compared.len(), docs.len() - 2, "the chart changed");
    let ids = Identities::of(&compared);
    let (helm_ns, ours_ns) = tokio::join!(c.ns("helm-install"), c.ns("helm-waves"));

    let mut install = Command::new(tools.join("helm"));
    install
        .current_dir(root())
        .env("PATH", &tools)
        .args(["install", "demo", CHART, "--set", "widget.enabled=false"])
        .args(["--skip-crds", "--timeout", "3m", "-n", &helm_ns.name])
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .stdin(Stdio::null());
    let mut sync = Command::new(crate::common::bin());
    sync.current_dir(root())
        .env("PATH", &tools)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .args(["sync", CHART, "--release-name", "demo", "--helm-skip-crds"])
        .args(["--helm-set", "widget.enabled=false", "--timeout", "3m"])
        .args(["-n", &ours_ns.name, "--kubeconfig"])
        .arg(&c.kubeconfig)
        .stdin(Stdio::null());
    let (helm_run, ours) = tokio::join!(
        observe(&helm_ns, &ids, install),
        observe(&ours_ns, &ids, sync)
    );
    let show =
        |groups: &[Group]| -> Vec<String> { groups.iter().map(ToString::to_string).collect() };
    let expected = [
        "create pre-install,pre-upgrade -5 ServiceAccount {ServiceAccount/demo-migrator}",
        "create pre-install,pre-upgrade 0 Job {Job/demo-migrate}",
        "create Sync 0 ConfigMap {ConfigMap/demo-config}",
        "create Sync 0 Service {Service/demo-web}",
        "create Sync 0 Deployment {Deployment/demo-web}",
        "create post-install,post-upgrade 5 Job {Job/demo-smoke}",
        "create post-install,post-upgrade 10 ConfigMap {ConfigMap/demo-release-note}",
    ];
    assert_eq!(show(&helm_run.creations), expected, "{}", helm_run.log);
    assert_eq!(
        show(&helm_run.creations),
        show(&ours.creations),
        "helm install (left) and kubectl waves sync (right) differ\n--- helm\n{}\n--- kubectl-waves\n{}",
        helm_run.log,
        ours.log
    );
    assert_eq!(
        helm_run.deleted_hooks,
        ["Job/demo-migrate", "Job/demo-smoke"],
        "hook-succeeded hooks are deleted, the others kept\n{}",
        helm_run.log
    );
    assert_eq!(helm_run.deleted_hooks, ours.deleted_hooks, "{}", ours.log);
}

/// `helm upgrade` and a second `kubectl waves sync` of the same chart with changed values,
/// after `helm install` and a first sync, each in its own namespace, the upgrade and the
/// second sync recorded: Argo CD maps pre-upgrade to PreSync and post-upgrade to PostSync
/// (SPEC §2), so the hooks are created in the same groups and order (the release's own
/// objects are only updated), the before-hook-creation hooks of the first run are replaced,
/// and the hook-succeeded ones are gone at the end. Where they disagree is left out and
/// documented (docs/argocd-differences.md, "Helm"): the pre-upgrade-only hook exists here
/// from the first sync (Argo CD ran it then), so the second sync deletes it before creating
/// it again, where `helm upgrade` creates it for the first time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sync_runs_its_hooks_in_helm_upgrades_order() {
    let c = cluster();
    let tools = path_with(&["helm", "kubectl"]);
    let docs = rendered_for_cluster(&tools);
    // Every hook helm upgrade runs (all but the test hook), and the release's objects.
    let compared: Vec<Value> = docs
        .iter()
        .filter(|d| d["metadata"]["annotations"]["helm.sh/hook"] != "test")
        .cloned()
        .collect();
    assert_eq!(compared.len(), docs.len() - 1, "the chart changed");
    let ids = Identities::of(&compared);
    let (helm_ns, ours_ns) = tokio::join!(c.ns("helm-upgrade"), c.ns("helm-waves2"));

    let helm_cmd = |verb: &str, values: &[&str]| {
        let mut cmd = Command::new(tools.join("helm"));
        cmd.current_dir(root())
            .env("PATH", &tools)
            .args([verb, "demo", CHART, "--set", "widget.enabled=false"])
            .args(values.iter().flat_map(|v| ["--set", v]))
            .args(["--skip-crds", "--timeout", "3m", "-n", &helm_ns.name])
            .arg("--kubeconfig")
            .arg(&c.kubeconfig)
            .stdin(Stdio::null());
        cmd
    };
    let sync_cmd = |values: &[&str]| {
        let mut cmd = Command::new(crate::common::bin());
        cmd.current_dir(root())
            .env("PATH", &tools)
            .env("NO_COLOR", "1")
            .env_remove("KUBECONFIG")
            .args(["sync", CHART, "--release-name", "demo", "--helm-skip-crds"])
            .args(["--helm-set", "widget.enabled=false", "--timeout", "3m"])
            .args(values.iter().flat_map(|v| ["--helm-set", v]))
            .args(["-n", &ours_ns.name, "--kubeconfig"])
            .arg(&c.kubeconfig)
            .stdin(Stdio::null());
        cmd
    };
    // The first run of each, not compared here (see the test above).
    let (mut install, mut first) = (helm_cmd("install", &[]), sync_cmd(&[]));
    let (install, first) = tokio::join!(
        tokio::task::spawn_blocking(move || install.output().expect("helm install")),
        tokio::task::spawn_blocking(move || first.output().expect("sync"))
    );
    for out in [install.unwrap(), first.unwrap()] {
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let (helm_run, ours) = tokio::join!(
        observe(&helm_ns, &ids, helm_cmd("upgrade", &["replicas=2"])),
        observe(&ours_ns, &ids, sync_cmd(&["replicas=2"]))
    );
    let show =
        |groups: &[Group]| -> Vec<String> { groups.iter().map(ToString::to_string).collect() };
    let expected = [
        "create pre-install,pre-upgrade -5 ServiceAccount {ServiceAccount/demo-migrator}",
        "create pre-upgrade -1 ConfigMap {ConfigMap/demo-upgrade-notice}",
        "create pre-install,pre-upgrade 0 Job {Job/demo-migrate}",
        "create post-install,post-upgrade 5 Job {Job/demo-smoke}",
        "create post-install,post-upgrade 10 ConfigMap {ConfigMap/demo-release-note}",
    ];
    assert_eq!(show(&helm_run.creations), expected, "{}", helm_run.log);
    assert_eq!(
        show(&helm_run.creations),
        show(&ours.creations),
        "helm upgrade (left) and a second kubectl waves sync (right) differ\n--- helm\n{}\n--- kubectl-waves\n{}",
        helm_run.log,
        ours.log
    );
    // Replaced (before-hook-creation, the default too) or done (hook-succeeded).
    let replaced_or_done = [
        "ConfigMap/demo-release-note",
        "Job/demo-migrate",
        "Job/demo-smoke",
        "ServiceAccount/demo-migrator",
    ];
    let mut helm_deleted = helm_run.deleted_hooks.clone();
    helm_deleted.dedup();
    assert_eq!(helm_deleted, replaced_or_done, "{}", helm_run.log);
    // The documented difference, and only it: ours also replaces the pre-upgrade-only hook
    // the first sync ran.
    let mut ours_deleted = ours.deleted_hooks.clone();
    ours_deleted.dedup();
    let notice = "ConfigMap/demo-upgrade-notice".to_string();
    assert!(ours_deleted.contains(&notice), "{}", ours.log);
    ours_deleted.retain(|m| *m != notice);
    assert_eq!(ours_deleted, replaced_or_done, "{}", ours.log);
}
