//! `sync` while the control plane itself goes away: on a control plane of this test's own
//! (`OwnControlPlane`, `testenv/restart`), never the shared one. An apiserver restart in the
//! middle of a wave is waited out (the watches resume and the wave's completion is seen); an
//! etcd that stops makes the sync fail saying the cluster is unavailable, in bounded time.
//!
//! Both cases share one control plane (one start instead of two in CI): the restart first,
//! then etcd is stopped for good.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;

use crate::common::bin;
use crate::support::cluster::{Cluster, OwnControlPlane, TestNs, wait_for};
use crate::sync::{Run, app, config_map, deployment, path};

/// `kubectl-waves sync` of `dir` into `ns` of `cluster`, started (not awaited).
fn start_sync(cluster: &Cluster, ns: &str, dir: &tempfile::TempDir, timeout: &str) -> Child {
    Command::new(bin())
        .current_dir(crate::common::root())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .args([
            "sync",
            path(dir),
            "--timeout",
            timeout,
            "-n",
            ns,
            "--kubeconfig",
        ])
        .arg(&cluster.kubeconfig)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sync")
}

async fn finish(child: Child) -> Run {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("wait task");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A Deployment ready `ready_after` after its pod starts (wave 0), then a ConfigMap (wave 1).
fn slow_then_after(ready_after: &str) -> tempfile::TempDir {
    app(&[
        (
            "web.yaml",
            &deployment(
                "web",
                0,
                "",
                &format!("test.waves/ready-after: {ready_after}"),
            ),
        ),
        ("after.yaml", &config_map("after", 1)),
    ])
}

async fn wait_created(ns: &TestNs) {
    wait_for(
        &ns.api::<Deployment>(),
        "web",
        "created",
        Duration::from_secs(60),
        kube::runtime::wait::conditions::is_created(),
    )
    .await;
}

/// `testenv/restart ARGS` off the async workers.
async fn restart(own: &Arc<OwnControlPlane>, args: &'static [&'static str]) {
    let own = own.clone();
    tokio::task::spawn_blocking(move || own.restart(args))
        .await
        .expect("restart task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apiserver_restart_mid_wave_is_waited_out_and_a_stopped_etcd_fails_the_sync_clearly() {
    let own = Arc::new(
        tokio::task::spawn_blocking(OwnControlPlane::start)
            .await
            .expect("start task"),
    );
    let cluster = &own.cluster;

    // 1. The apiserver restarts while wave 0 waits on a Deployment that becomes ready 20 s
    //    after its pod starts: the sync carries on and ends Succeeded, wave 1 applied.
    let ns = cluster.ns("restart").await;
    let dir = slow_then_after("20s");
    let mut child = start_sync(cluster, &ns.name, &dir, "3m");
    wait_created(&ns).await;
    let started = Instant::now();
    restart(&own, &["--grace", "3", "kube-apiserver"]).await;
    let down_for = started.elapsed();
    assert!(
        child.try_wait().unwrap().is_none(),
        "the sync ended during the restart ({down_for:?}), so the restart was not mid-wave"
    );
    let run = finish(child).await;
    assert_eq!(run.code, 0, "restart took {down_for:?}; {run:?}");
    let web = ns.api::<Deployment>().get("web").await.unwrap();
    assert_eq!(web.status.and_then(|s| s.available_replicas), Some(1));
    assert!(
        ns.api::<ConfigMap>()
            .get_opt("after")
            .await
            .unwrap()
            .is_some(),
        "wave 1 ran after the restart"
    );
    assert!(
        run.stderr
            .contains(&format!("Deployment/{}/web Healthy", ns.name)),
        "{run:?}"
    );
    drop(ns);

    // 2. etcd stops while wave 0 waits (the Deployment would take an hour): the apiserver
    //    answers /readyz with "etcd failed"; the sync fails (exit 1) naming the cluster as
    //    unavailable after UNAVAILABLE_FOR (30 s), long before its --timeout of 10 minutes.
    let ns = cluster.ns("etcd-stop").await;
    let dir = slow_then_after("1h");
    let child = start_sync(cluster, &ns.name, &dir, "10m");
    wait_created(&ns).await;
    restart(&own, &["--stop", "etcd"]).await;
    let stopped = Instant::now();
    let run = finish(child).await;
    let took = stopped.elapsed();
    assert_eq!(run.code, 1, "{run:?}");
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains(&format!(
            "Deployment/{}/web: the cluster is unavailable",
            ns.name
        )),
        "{run:?}"
    );
    assert!(said.contains("etcd"), "names what failed: {run:?}");
    assert!(took >= Duration::from_secs(30), "not before 30 s: {took:?}");
    assert!(took < Duration::from_secs(120), "took {took:?}: {run:?}");
    // Its namespace is not deleted through an apiserver without etcd: the whole control plane
    // is stopped and removed when `own` is dropped.
    std::mem::forget(ns);
}
