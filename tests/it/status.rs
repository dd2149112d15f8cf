//! `kubectl waves status` against the real control plane of `testenv/`: each test syncs a
//! small app into a fresh namespace (with `--timeout` or `--wait=false` when it must stay
//! blocked), then asserts on what `status` reads back from the cluster.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cluster::cluster;
use crate::sync::{Run, app, config_map, deployment, job, path, sync};

/// `kubectl-waves status` with the test cluster's kubeconfig, in namespace `ns`.
fn status_command(ns: &str, args: &[&str]) -> Command {
    crate::sync::cluster_command("status", ns, args)
}

async fn status(ns: &str, args: &[&str]) -> Run {
    crate::sync::run_to_end(status_command(ns, args)).await
}

/// Waits for a child to exit (at most `timeout`, then kills it) and returns what it printed.
async fn finish(mut child: Child, timeout: Duration) -> Run {
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + timeout;
        let code = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s.code().unwrap_or(-1);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break -9;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let Some(mut out) = child.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        Run {
            code,
            stdout,
            stderr,
        }
    })
    .await
    .expect("child task")
}

/// The `STEP n/N  Phase wave W  verdict` lines of a text report.
fn step_lines(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("STEP ")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_app_after_a_sync_is_done_in_every_step() {
    let ns = cluster().ns("status-healthy").await;
    let smoke = job(
        "generateName: smoke-",
        "    argocd.argoproj.io/hook: PostSync\n    argocd.argoproj.io/hook-delete-policy: HookSucceeded",
        "",
        "",
    );
    let dir = app(&[
        (
            "app.yaml",
            &[
                config_map("settings", -1),
                deployment("web", 0, "", ""),
                config_map("last", 1),
            ]
            .concat(),
        ),
        ("smoke.yaml", &smoke),
    ]);
    let synced = sync(&ns.name, &[path(&dir)]).await;
    assert_eq!(synced.code, 0, "{synced:?}");
    let run = status(&ns.name, &[path(&dir)]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        step_lines(&run.stdout),
        [
            "STEP 1/4  Sync wave -1  done",
            "STEP 2/4  Sync wave 0  done",
            "STEP 3/4  Sync wave 1  done",
            "STEP 4/4  PostSync wave 0  done",
        ],
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains(&format!("Deployment/{}/web   present   Healthy", ns.name)),
        "{run:?}"
    );
    // The hook's HookSucceeded policy deleted it: "ran, deleted", never "missing".
    assert!(
        run.stdout
            .contains(&format!("Job/{}/smoke-   hook ran, deleted", ns.name)),
        "{run:?}"
    );
    assert!(!run.stdout.contains("missing"), "{run:?}");
    assert!(
        run.stdout.ends_with("Healthy: all 4 steps done\n"),
        "{run:?}"
    );
    assert!(run.stderr.is_empty(), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_that_never_gets_ready_blocks_wave_1_and_names_it() {
    let ns = cluster().ns("status-blocked").await;
    let dir = app(&[(
        "app.yaml",
        &[
            config_map("settings", 0),
            deployment("slow", 1, "", "test.waves/ready-after: 1h"),
            config_map("later", 2),
        ]
        .concat(),
    )]);
    let synced = sync(&ns.name, &[path(&dir), "--timeout", "3s"]).await;
    assert_eq!(synced.code, 1, "the sync stops at its deadline: {synced:?}");

    let run = status(&ns.name, &[path(&dir)]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        step_lines(&run.stdout),
        [
            "STEP 1/3  Sync wave 0  done",
            "STEP 2/3  Sync wave 1  blocking",
            "STEP 3/3  Sync wave 2  not started",
        ],
        "{run:?}"
    );
    let blocker = format!("> Deployment/{}/slow   present   Progressing", ns.name);
    assert!(run.stdout.contains(&blocker), "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("ConfigMap/{}/later   missing", ns.name)),
        "{run:?}"
    );
    let blocking = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Blocking: "))
        .unwrap_or_else(|| panic!("a Blocking line: {run:?}"));
    assert!(
        blocking.starts_with(&format!(
            "Blocking: step 2/3 (Sync wave 1): Deployment/{}/slow (",
            ns.name
        )),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("; pod slow-") && run.stdout.contains(", not ready"),
        "names the pod that is not ready: {run:?}"
    );
    assert!(
        run.stdout.contains(&format!(
            "Not healthy: blocked at step 2/3 (Sync wave 1): Deployment/{}/slow: Progressing: ",
            ns.name
        )),
        "{run:?}"
    );

    // --watch on a blocker that stays blocked: drawn once, then Ctrl-C ends it with 130.
    let mut cmd = status_command(&ns.name, &[path(&dir), "--watch"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("start status --watch");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(interrupted.success());
    let watched = finish(child, Duration::from_secs(30)).await;
    assert_eq!(watched.code, 130, "{watched:?}");
    assert!(
        watched.stdout.contains("STEP 2/3  Sync wave 1  blocking"),
        "{watched:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_is_named_with_the_pod_and_the_json_shape_holds() {
    let ns = cluster().ns("status-secret").await;
    let dir = app(&[(
        "app.yaml",
        &[
            config_map("settings", 0),
            deployment(
                "api",
                1,
                ", test.waves/fail: create-config",
                "test.waves/message: 'secret \"api-credentials\" not found'",
            ),
        ]
        .concat(),
    )]);
    let synced = sync(&ns.name, &[path(&dir), "--timeout", "2m"]).await;
    assert_eq!(synced.code, 1, "fails fast: {synced:?}");

    let run = status(&ns.name, &[path(&dir)]).await;
    assert_eq!(run.code, 1, "{run:?}");
    let reason_part =
        "container \"main\": CreateContainerConfigError: secret \"api-credentials\" not found";
    let blocking = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Blocking: "))
        .nth(1)
        .unwrap_or_else(|| panic!("a reason under the Blocking line: {run:?}"));
    assert!(blocking.contains("; pod api-"), "{run:?}");
    assert!(blocking.contains(reason_part), "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("> Deployment/{}/api", ns.name)),
        "{run:?}"
    );

    let json = status(&ns.name, &[path(&dir), "-o", "json", "--details"]).await;
    assert_eq!(json.code, 1, "{json:?}");
    let doc: Value = serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}: {json:?}"));
    assert_eq!(doc["healthy"], false);
    assert!(
        doc["summary"].as_str().unwrap().starts_with(&format!(
            "blocked at step 2/2 (Sync wave 1): Deployment/{}/api: ",
            ns.name
        )),
        "{doc:#}"
    );
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["step"], 1);
    assert_eq!(steps[0]["phase"], "Sync");
    assert_eq!(steps[0]["wave"], 0);
    assert_eq!(steps[0]["verdict"], "done");
    assert_eq!(steps[1]["verdict"], "blocking");
    let settings = &steps[0]["objects"][0];
    for (field, want) in [
        ("apiVersion", "v1"),
        ("kind", "ConfigMap"),
        ("namespace", ns.name.as_str()),
        ("name", "settings"),
        ("live", "present"),
        ("health", "None"),
        ("state", "done"),
    ] {
        assert_eq!(settings[field], want, "{field}: {settings:#}");
    }
    assert_eq!(settings["hook"], false);
    assert!(settings["source"].as_str().unwrap().ends_with("app.yaml:1"));
    let api = &steps[1]["objects"][0];
    assert_eq!(api["kind"], "Deployment");
    assert_eq!(api["state"], "failed");
    assert_eq!(api["health"], "Degraded");
    assert!(
        api["pod"].as_str().unwrap().contains(reason_part),
        "{api:#}"
    );
    let blocker = &doc["blocking"];
    assert_eq!(blocker["step"], 2);
    assert_eq!(blocker["phase"], "Sync");
    assert_eq!(blocker["wave"], 1);
    assert_eq!(blocker["object"]["name"], "api");
    assert!(
        blocker["reason"].as_str().unwrap().contains(reason_part),
        "{blocker:#}"
    );
    assert!(
        blocker["evidencePod"].as_str().unwrap().starts_with("api-"),
        "--details names the pod it read: {blocker:#}"
    );
    assert!(doc["syncFail"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_ends_when_the_blocker_turns_healthy() {
    let ns = cluster().ns("status-watch").await;
    let dir = app(&[(
        "app.yaml",
        &[
            config_map("settings", 0),
            deployment("slow", 1, "", "test.waves/ready-after: \"8s\""),
        ]
        .concat(),
    )]);
    let synced = sync(&ns.name, &[path(&dir), "--wait=false"]).await;
    assert_eq!(synced.code, 0, "{synced:?}");
    let started = Instant::now();
    let mut cmd = status_command(&ns.name, &[path(&dir), "--watch"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("start status --watch");
    let run = finish(child, Duration::from_secs(90)).await;
    assert_eq!(run.code, 0, "{run:?}");
    let first = run
        .stdout
        .find("STEP 2/2  Sync wave 1  blocking")
        .unwrap_or_else(|| panic!("drawn while blocked first: {run:?}"));
    let last = run
        .stdout
        .rfind("STEP 2/2  Sync wave 1  done")
        .unwrap_or_else(|| panic!("drawn again once healthy: {run:?}"));
    assert!(first < last, "{run:?}");
    assert!(
        run.stdout.ends_with("Healthy: all 2 steps done\n"),
        "{run:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "ended soon after the pod became ready ({:?})",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_waiting_for_a_secret_of_a_later_wave_names_it() {
    let ns = cluster().ns("status-deadlock").await;
    let dir = crate::sync::hook_reading_a_later_secret();
    let synced = sync(&ns.name, &[path(&dir), "--timeout", "3s"]).await;
    assert_eq!(synced.code, 1, "{synced:?}");

    let run = status(&ns.name, &[path(&dir)]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        step_lines(&run.stdout),
        [
            "STEP 1/2  PreSync wave 0  blocking",
            "STEP 2/2  Sync wave 0  not started",
        ],
        "{run:?}"
    );
    assert!(
        run.stdout.contains(&format!(
            "> Job/{}/migrate   hook running   Progressing",
            ns.name
        )),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(&format!(
            "; it reads Secret/{}/db-credentials, which does not exist (this app creates it in step 2 Sync wave 0)",
            ns.name
        )),
        "{run:?}"
    );
}
