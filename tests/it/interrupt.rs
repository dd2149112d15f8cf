//! Interrupted and concurrent syncs against the real control plane: SIGTERM mid-wave stops
//! cleanly (exit 130, reported) and a re-run finishes the job; two syncs of one app at once,
//! the second refused naming the first; a holder killed with SIGKILL leaves nothing a re-run
//! cannot finish, and does not block the app.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use crate::support::cluster::{TestNs, cluster, wait_for};
use crate::sync::{Run, app, config_map, deployment, path, sync, sync_command};

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
    let mut cmd = sync_command(ns, args);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_wave_stops_reports_exits_130_and_a_rerun_completes() {
    let ns = cluster().ns("int-term").await;
    let dir = app(&[]);
    write_app(&dir, &web_and_after("1h"));
    let child = start(&ns.name, &[path(&dir), "--applyset", "app"]);
    wait_created(&ns, "web").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&child, "TERM");
    let run = finish(child).await;
    assert_eq!(run.code, 130, "{run:?}");
    assert!(run.stdout.contains("interrupted"), "{run:?}");
    assert!(
        ns.api::<ConfigMap>()
            .get_opt("after")
            .await
            .unwrap()
            .is_none(),
        "no step started after the signal"
    );
    assert!(
        ns.api::<Lease>()
            .get_opt("kubectl-waves-app")
            .await
            .unwrap()
            .is_none(),
        "the lease was given back"
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
    assert!(
        ns.api::<ConfigMap>()
            .get_opt("after")
            .await
            .unwrap()
            .is_some()
    );
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
