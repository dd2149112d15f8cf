//! `sync` through the fault-injecting proxy (`support::faults`) in front of the real apiserver:
//! each fault class is survived (the sync ends with the right result and the cluster holds the
//! right objects), and a permanent failure ends with a clear error and the spec's exit code
//! within `--timeout`, never a hang.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;

use crate::common::bin;
use crate::support::cluster::{TestNs, cluster};
use crate::support::faults::{Fault, Match, Proxy, Rule};
use crate::sync::{Run, app, config_map, deployment, path};

/// `kubectl-waves sync` through `proxy`.
async fn sync_through(proxy: &Proxy, ns: &str, args: &[&str]) -> (Run, Duration) {
    let mut cmd = Command::new(bin());
    cmd.current_dir(crate::common::root())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .arg("sync")
        .args(args)
        .args(["-n", ns, "--kubeconfig"])
        .arg(proxy.kubeconfig())
        .stdin(Stdio::null());
    let started = Instant::now();
    let run = crate::sync::run_to_end(cmd).await;
    (run, started.elapsed())
}

/// A two-wave app: a Deployment that becomes ready after `ready_after`, then a ConfigMap.
fn two_waves(ready_after: &str) -> tempfile::TempDir {
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

/// The app landed: the Deployment is there and available, and the second wave's ConfigMap too.
async fn assert_synced(ns: &TestNs, run: &Run) {
    assert_eq!(run.code, 0, "{run:?}");
    let web = ns.api::<Deployment>().get("web").await.expect("web exists");
    assert_eq!(
        web.status.and_then(|s| s.available_replicas),
        Some(1),
        "{run:?}"
    );
    let after = ns
        .api::<ConfigMap>()
        .get("after")
        .await
        .expect("the second wave ran");
    assert_eq!(
        after
            .data
            .unwrap_or_default()
            .get("key")
            .map(String::as_str),
        Some("value")
    );
}

/// Real applies, not their dry runs.
fn real_applies() -> Match {
    Match::method("PATCH")
        .containing("fieldManager=kubectl-waves")
        .excluding("dryRun")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_survives_429_with_retry_after_and_5xx_on_reads_and_applies() {
    let ns = cluster().ns("faults-status").await;
    let proxy = Proxy::start(
        cluster().client().await,
        vec![
            Rule::new(
                real_applies(),
                Fault::Status {
                    code: 429,
                    retry_after: Some(2),
                },
                1,
            ),
            Rule::new(
                real_applies(),
                Fault::Status {
                    code: 503,
                    retry_after: None,
                },
                2,
            )
            .after(1),
            Rule::new(
                Match::method("GET").excluding("watch="),
                Fault::Status {
                    code: 500,
                    retry_after: None,
                },
                3,
            )
            .after(5),
        ],
    );
    let dir = two_waves("1s");
    let (run, _) = sync_through(&proxy, &ns.name, &[path(&dir)]).await;
    assert_synced(&ns, &run).await;
    assert_eq!(proxy.fired(0), 1, "the 429 was injected");
    assert_eq!(proxy.fired(1), 2, "the 503s were injected");
    assert_eq!(proxy.fired(2), 3, "the 500s on reads were injected");
    // Retry-After: 2 was honoured: the same apply came again no sooner than 2 s later.
    let log = proxy.log();
    let throttled = log.iter().position(|s| s.fault == Some(0)).unwrap();
    let again = log[throttled + 1..]
        .iter()
        .find(|s| s.target == log[throttled].target && s.method == "PATCH")
        .expect("the throttled apply was sent again");
    let waited = again.at - log[throttled].at;
    assert!(
        waited >= Duration::from_secs(2),
        "retried after {waited:?} despite Retry-After: 2"
    );
    assert!(run.stderr.contains("sent again after transient"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_survives_reset_connections_slow_answers_and_lost_responses_of_applies() {
    let ns = cluster().ns("faults-conn").await;
    let proxy = Proxy::start(
        cluster().client().await,
        vec![
            Rule::new(real_applies(), Fault::Reset, 2),
            // The apiserver applies it; the answer is lost; the apply is sent again.
            Rule::new(real_applies(), Fault::DropResponse, 1).after(2),
            Rule::new(
                Match::method("GET").excluding("watch="),
                Fault::Delay(Duration::from_millis(1500)),
                4,
            ),
            Rule::new(Match::method("GET").excluding("watch="), Fault::Reset, 2).after(4),
        ],
    );
    let dir = two_waves("1s");
    let (run, _) = sync_through(&proxy, &ns.name, &[path(&dir)]).await;
    assert_synced(&ns, &run).await;
    for rule in 0..4 {
        assert!(proxy.fired(rule) > 0, "rule {rule} never fired");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_survives_watches_cut_mid_stream_and_answered_with_410_gone() {
    let ns = cluster().ns("faults-watch").await;
    let proxy = Proxy::start(
        cluster().client().await,
        vec![
            Rule::new(Match::watches(), Fault::WatchGone, 2),
            Rule::new(
                Match::watches(),
                Fault::CutWatch(Duration::from_millis(700)),
                usize::MAX,
            )
            .after(2),
        ],
    );
    // Ready after 4 s: the Deployment's readiness arrives over watches cut every 0.7 s.
    let dir = two_waves("4s");
    let (run, _) = sync_through(&proxy, &ns.name, &[path(&dir)]).await;
    assert_synced(&ns, &run).await;
    assert_eq!(proxy.fired(0), 2, "410 Gone was injected");
    assert!(proxy.fired(1) >= 3, "watches were cut: {}", proxy.fired(1));
    // After a 410 the watcher lists again (a GET without watch= of the same collection).
    let log = proxy.log();
    let gone = log.iter().position(|s| s.fault == Some(0)).unwrap();
    assert!(
        log[gone + 1..]
            .iter()
            .any(|s| s.method == "GET" && !s.target.contains("watch=")),
        "no relist after 410 Gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apiserver_that_keeps_failing_applies_fails_the_sync_clearly_and_quickly() {
    let ns = cluster().ns("faults-perm").await;
    let proxy = Proxy::start(
        cluster().client().await,
        vec![Rule::new(
            real_applies().containing("/deployments/"),
            Fault::Status {
                code: 503,
                retry_after: None,
            },
            usize::MAX,
        )],
    );
    let dir = two_waves("1s");
    let (run, took) = sync_through(&proxy, &ns.name, &[path(&dir), "--timeout", "2m"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains(&format!("Deployment/{}/web", ns.name)),
        "{run:?}"
    );
    assert!(said.contains("injected by the test"), "{run:?}");
    assert!(said.contains("503 ServiceUnavailable"), "{run:?}");
    // Not a verdict on the manifest: the apiserver failed, it did not reject the object.
    assert!(
        said.contains("apply failed") && !said.contains("apply rejected"),
        "{run:?}"
    );
    // A bounded number of retries (about 20 s of backoff), not the whole --timeout.
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert!(proxy.fired(0) >= 5, "retried: {}", proxy.fired(0));
    assert!(
        ns.api::<ConfigMap>()
            .get_opt("after")
            .await
            .unwrap()
            .is_none(),
        "no later wave after the failure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_apiserver_cannot_hold_a_sync_past_its_timeout() {
    let ns = cluster().ns("faults-hang").await;
    let proxy = Proxy::start(
        cluster().client().await,
        vec![Rule::new(
            real_applies().containing("/deployments/"),
            Fault::Hang,
            usize::MAX,
        )],
    );
    let dir = two_waves("1s");
    let (run, took) = sync_through(&proxy, &ns.name, &[path(&dir), "--timeout", "12s"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains(&format!("Deployment/{}/web", ns.name)),
        "{run:?}"
    );
    assert!(said.contains("no answer from the apiserver"), "{run:?}");
    assert!(took < Duration::from_secs(40), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_apiserver_is_exit_2_before_any_change() {
    let ns = cluster().ns("faults-down").await;
    let proxy = Proxy::start(
        cluster().client().await,
        vec![Rule::new(Match::any(), Fault::Reset, usize::MAX)],
    );
    let dir = two_waves("1s");
    let (run, took) = sync_through(&proxy, &ns.name, &[path(&dir)]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cannot reach the cluster"), "{run:?}");
    assert!(run.stderr.contains("nothing was changed"), "{run:?}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert!(
        ns.api::<Deployment>()
            .get_opt("web")
            .await
            .unwrap()
            .is_none(),
        "nothing was written"
    );
}
