//! Interrupted and concurrent syncs against the real control plane: SIGINT/SIGTERM in each
//! phase (dry run, a Sync wave, PreSync, PostSync, prune, SyncFail) stops cleanly (exit 130,
//! reported, running hooks handled per --keep-running-hooks, the lease given back), `gc` finds
//! the hooks left behind, and a re-run finishes the job; two syncs of one app at once,
//! the second refused naming the first; a holder killed with SIGKILL leaves nothing a re-run
//! cannot finish, and does not block the app.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use k8s_openapi::api::batch::v1::Job;

use crate::common::bin;
use crate::support::cluster::{TestNs, cluster, wait_for};
use crate::support::faults::{Fault, Match, Proxy, Rule};
use crate::sync::{
    Run, app, cluster_command, config_map, deployment, job, path, run_to_end, sync, sync_command,
};

fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
}

async fn finish(child: Child) -> Run {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn start(ns: &str, args: &[&str]) -> Child {
    spawn(sync_command(ns, args))
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().expect("start sync")
}

async fn wait_created(ns: &TestNs, name: &str) {
    wait_for(
        &ns.api::<Deployment>(),
        name,
        "created",
        Duration::from_secs(60),
        kube::runtime::wait::conditions::is_created(),
    )
    .await;
}

async fn wait_job_created(ns: &TestNs, name: &str) {
    wait_for(
        &ns.api::<Job>(),
        name,
        "created",
        Duration::from_secs(60),
        kube::runtime::wait::conditions::is_created(),
    )
    .await;
}

/// The sync `cmd` (of app `app`, `--applyset app`), interrupted with `sig` once `under_way`
/// has returned (the phase under test has started) and a moment more (it is waiting). What
/// every phase must give: exit 130, the report saying it was interrupted and listing the
/// steps that ran, within seconds of the signal, and the app's lease given back.
async fn interrupted<F>(ns: &TestNs, cmd: Command, under_way: F, sig: &str) -> Run
where
    F: std::future::Future<Output = ()>,
{
    let child = spawn(cmd);
    under_way.await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&child, sig);
    let signalled = Instant::now();
    let run = finish(child).await;
    assert_eq!(run.code, 130, "{run:?}");
    assert!(run.stdout.contains("interrupted"), "{run:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(20),
        "stopped {:?} after the signal",
        signalled.elapsed()
    );
    assert!(
        ns.api::<Lease>()
            .get_opt("kubectl-waves-app")
            .await
            .unwrap()
            .is_none(),
        "the lease was given back: {run:?}"
    );
    run
}

/// `gc -o json` in `ns`: the leftover hooks it lists, by name.
async fn gc_lists(ns: &TestNs) -> Vec<String> {
    let run = run_to_end(cluster_command("gc", &ns.name, &["-o", "json"])).await;
    assert_eq!(run.code, 0, "{run:?}");
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("gc -o json");
    doc["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i["name"].as_str().map(String::from))
        .collect()
}

fn web_and_after(ready_after: &str) -> [(&'static str, String); 2] {
    [
        (
            "web.yaml",
            deployment(
                "web",
                0,
                "",
                &format!("test.waves/ready-after: {ready_after}"),
            ),
        ),
        ("after.yaml", config_map("after", 1)),
    ]
}

fn write_app(dir: &tempfile::TempDir, files: &[(&str, String)]) {
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
}

async fn exists<K>(ns: &TestNs, name: &str) -> bool
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
    <K as kube::Resource>::DynamicType: Default,
{
    ns.api::<K>().get_opt(name).await.unwrap().is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_wave_stops_reports_exits_130_and_a_rerun_completes() {
    let ns = cluster().ns("int-term").await;
    let dir = app(&[]);
    write_app(&dir, &web_and_after("1h"));
    let cmd = sync_command(&ns.name, &[path(&dir), "--applyset", "app"]);
    interrupted(&ns, cmd, wait_created(&ns, "web"), "TERM").await;
    assert!(
        !exists::<ConfigMap>(&ns, "after").await,
        "no step started after the signal"
    );
    // The inventory already records the Deployment: a later sync (or gc) finds it.
    let parent = ns
        .api::<Secret>()
        .get("app")
        .await
        .expect("inventory parent");
    let kinds = parent
        .metadata
        .annotations
        .unwrap_or_default()
        .get("applyset.kubernetes.io/contains-group-kinds")
        .cloned()
        .unwrap_or_default();
    assert!(kinds.contains("Deployment.apps"), "{kinds}");

    // The user fixes the app and syncs again: it completes.
    write_app(&dir, &web_and_after("1s"));
    let run = sync(&ns.name, &[path(&dir), "--applyset", "app"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(exists::<ConfigMap>(&ns, "after").await);
}

/// SIGINT while the server-side dry run is under way (its requests slowed by the fault
/// proxy): nothing is written, and the run says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_in_the_dry_run_changes_nothing() {
    let ns = cluster().ns("int-dry").await;
    let proxy = Proxy::start(
        cluster().client().await,
        vec![Rule::new(
            Match::method("PATCH").containing("dryRun"),
            Fault::Delay(Duration::from_secs(2)),
            usize::MAX,
        )],
    );
    let dir = app(&[]);
    write_app(&dir, &web_and_after("1s"));
    let mut cmd = Command::new(bin());
    cmd.current_dir(crate::common::root())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .args(["sync", path(&dir), "--applyset", "app", "-n", &ns.name])
        .arg("--kubeconfig")
        .arg(proxy.kubeconfig())
        .stdin(Stdio::null());
    let dry_run_sent = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while proxy.fired(0) == 0 {
            assert!(Instant::now() < deadline, "no dry run was sent");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let run = interrupted(&ns, cmd, dry_run_sent, "INT").await;
    assert!(
        run.stdout
            .contains("interrupted during the server-side dry run; nothing was changed"),
        "{run:?}"
    );
    assert!(!exists::<Deployment>(&ns, "web").await, "nothing written");
    assert!(!exists::<ConfigMap>(&ns, "after").await, "nothing written");
    assert!(!exists::<Secret>(&ns, "app").await, "no inventory written");

    let run = sync(&ns.name, &[path(&dir), "--applyset", "app"]).await;
    assert_eq!(run.code, 0, "{run:?}");
}

/// A hook Job of `phase` whose pod completes after `ready_after`.
fn hook(name: &str, phase: &str, policy: &str, ready_after: &str) -> String {
    format!(
        "{}---\n",
        job(
            &format!("name: {name}"),
            &format!(
                "    argocd.argoproj.io/hook: {phase}\n    argocd.argoproj.io/hook-delete-policy: {policy}"
            ),
            "",
            &format!("test.waves/ready-after: {ready_after}"),
        )
    )
}

/// SIGINT with --keep-running-hooks while a PreSync hook runs: the hook is left running and
/// reported so; `gc` lists it; the re-run (hook fixed) replaces it and completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_in_presync_keeps_the_running_hook_with_keep_running_hooks() {
    let ns = cluster().ns("int-pre").await;
    let dir = app(&[]);
    let files = |ready_after: &str| {
        [
            (
                "pre.yaml",
                hook("pre", "PreSync", "BeforeHookCreation", ready_after),
            ),
            ("app.yaml", config_map("app-config", 0)),
        ]
    };
    write_app(&dir, &files("1h"));
    let cmd = sync_command(
        &ns.name,
        &[path(&dir), "--applyset", "app", "--keep-running-hooks"],
    );
    let run = interrupted(&ns, cmd, wait_job_created(&ns, "pre"), "INT").await;
    assert!(
        run.stdout.contains(&format!(
            "Job/{}/pre left running (--keep-running-hooks)",
            ns.name
        )) || run.stderr.contains(&format!(
            "Job/{}/pre left running (--keep-running-hooks)",
            ns.name
        )),
        "{run:?}"
    );
    let pre = ns.api::<Job>().get("pre").await.expect("the hook is kept");
    assert!(pre.metadata.deletion_timestamp.is_none());
    assert!(
        !exists::<ConfigMap>(&ns, "app-config").await,
        "no step after"
    );
    assert!(gc_lists(&ns).await.contains(&"pre".to_string()));

    write_app(&dir, &files("1s"));
    let run = sync(&ns.name, &[path(&dir), "--applyset", "app"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(exists::<ConfigMap>(&ns, "app-config").await);
}

/// SIGTERM while a PostSync hook runs: the hook is deleted; the PreSync hook that succeeded
/// keeps its HookSucceeded policy undone (the sync did not succeed), and `gc` finds it; the
/// re-run completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_postsync_deletes_the_running_hook_and_gc_finds_the_finished_one() {
    let ns = cluster().ns("int-post").await;
    let dir = app(&[]);
    let files = |ready_after: &str| {
        [
            ("pre.yaml", hook("pre", "PreSync", "HookSucceeded", "1s")),
            ("app.yaml", config_map("app-config", 0)),
            (
                "post.yaml",
                hook("post", "PostSync", "BeforeHookCreation", ready_after),
            ),
        ]
    };
    write_app(&dir, &files("1h"));
    let cmd = sync_command(&ns.name, &[path(&dir), "--applyset", "app"]);
    let run = interrupted(&ns, cmd, wait_job_created(&ns, "post"), "TERM").await;
    assert!(
        run.stdout.contains("Succeeded"),
        "the report lists the steps that ran: {run:?}"
    );
    wait_for(
        &ns.api::<Job>(),
        "post",
        "deleted",
        Duration::from_secs(30),
        |j: Option<&Job>| j.is_none_or(|j| j.metadata.deletion_timestamp.is_some()),
    )
    .await;
    assert!(exists::<ConfigMap>(&ns, "app-config").await);
    assert!(exists::<Job>(&ns, "pre").await, "HookSucceeded not applied");
    assert!(gc_lists(&ns).await.contains(&"pre".to_string()));

    write_app(&dir, &files("1s"));
    let run = sync(&ns.name, &[path(&dir), "--applyset", "app"]).await;
    assert_eq!(run.code, 0, "{run:?}");
}

/// SIGINT while a prune waits for an object a finalizer holds: the wait stops at once; once
/// the finalizer is gone the re-run prunes it and completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_in_prune_stops_waiting_for_a_held_object() {
    let ns = cluster().ns("int-prune").await;
    let held = "apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  finalizers: [test.waves/hold]
data: {key: value}
---
";
    let dir = app(&[("stays.yaml", &config_map("stays", 0)), ("held.yaml", held)]);
    let run = sync(&ns.name, &[path(&dir), "--applyset", "app"]).await;
    assert_eq!(run.code, 0, "{run:?}");

    std::fs::remove_file(dir.path().join("held.yaml")).unwrap();
    let cmd = sync_command(&ns.name, &[path(&dir), "--applyset", "app", "--prune"]);
    let config_maps = ns.api::<ConfigMap>();
    let deleting = wait_for(
        &config_maps,
        "held",
        "being deleted",
        Duration::from_secs(60),
        |c: Option<&ConfigMap>| c.is_some_and(|c| c.metadata.deletion_timestamp.is_some()),
    );
    let run = interrupted(
        &ns,
        cmd,
        async {
            deleting.await;
        },
        "INT",
    )
    .await;
    assert!(run.stdout.contains("Terminated"), "{run:?}");

    // The user lets it go; the re-run prunes nothing more and completes.
    ns.api::<ConfigMap>()
        .patch(
            "held",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    let run = sync(&ns.name, &[path(&dir), "--applyset", "app", "--prune"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!exists::<ConfigMap>(&ns, "held").await);
}

/// SIGTERM while a SyncFail hook runs (a Sync-wave Job failed): the SyncFail hook is deleted,
/// exit 130, the report says so; the re-run (the Job fixed) completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_syncfail_deletes_the_running_syncfail_hook() {
    let ns = cluster().ns("int-fail").await;
    let dir = app(&[]);
    let files = |work_label: &str| {
        [
            (
                "work.yaml",
                format!(
                    "{}---\n",
                    job(
                        "name: work",
                        "    argocd.argoproj.io/sync-wave: \"0\"",
                        work_label,
                        "test.waves/ready-after: 1s",
                    )
                ),
            ),
            (
                "on-fail.yaml",
                hook("on-fail", "SyncFail", "BeforeHookCreation", "1h"),
            ),
        ]
    };
    write_app(&dir, &files("test.waves/fail: exit-1"));
    let cmd = sync_command(&ns.name, &[path(&dir), "--applyset", "app"]);
    let run = interrupted(&ns, cmd, wait_job_created(&ns, "on-fail"), "TERM").await;
    assert!(
        run.stdout
            .contains("interrupted while its SyncFail hooks ran"),
        "{run:?}"
    );
    wait_for(
        &ns.api::<Job>(),
        "on-fail",
        "deleted",
        Duration::from_secs(30),
        |j: Option<&Job>| j.is_none_or(|j| j.metadata.deletion_timestamp.is_some()),
    )
    .await;

    // The failed Job is replaced by the fixed one (its pod template changed: delete it first).
    ns.api::<Job>()
        .delete("work", &kube::api::DeleteParams::foreground())
        .await
        .unwrap();
    wait_for(
        &ns.api::<Job>(),
        "work",
        "gone",
        Duration::from_secs(60),
        |j: Option<&Job>| j.is_none(),
    )
    .await;
    write_app(&dir, &files(""));
    let run = sync(&ns.name, &[path(&dir), "--applyset", "app"]).await;
    assert_eq!(run.code, 0, "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sync_is_refused_and_a_sigkilled_holder_neither_blocks_nor_breaks_the_app() {
    let ns = cluster().ns("int-kill").await;
    let dir = app(&[]);
    write_app(&dir, &web_and_after("1h"));
    let first = start(&ns.name, &[path(&dir), "--applyset", "app"]);
    let leases = ns.api::<Lease>();
    let deadline = Instant::now() + Duration::from_secs(60);
    while leases.get_opt("kubectl-waves-app").await.unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the first sync never took its lease"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_created(&ns, "web").await;

    let second = sync(&ns.name, &[path(&dir), "--applyset", "app"]).await;
    assert_eq!(second.code, 2, "{second:?}");
    assert!(
        second
            .stderr
            .contains("another sync of this app is running")
            && second.stderr.contains(&format!("(pid {})", first.id())),
        "{second:?}"
    );

    signal(&first, "KILL");
    let killed = finish(first).await;
    assert_eq!(killed.code, -1, "killed by a signal: {killed:?}");
    assert!(
        leases.get_opt("kubectl-waves-app").await.unwrap().is_some(),
        "SIGKILL cannot give the lease back"
    );

    // The next sync (app fixed) does not wait the lease out: its holder is gone.
    write_app(&dir, &web_and_after("1s"));
    let started = Instant::now();
    let run = sync(&ns.name, &[path(&dir), "--applyset", "app"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("took over the sync lease") && run.stderr.contains("no longer runs"),
        "{run:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(55),
        "waited the lease out"
    );
    let web = ns.api::<Deployment>().get("web").await.unwrap();
    assert_eq!(web.status.and_then(|s| s.available_replicas), Some(1));
    assert!(
        ns.api::<ConfigMap>()
            .get_opt("after")
            .await
            .unwrap()
            .is_some()
    );
    assert!(leases.get_opt("kubectl-waves-app").await.unwrap().is_none());
}
