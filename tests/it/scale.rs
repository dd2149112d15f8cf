//! Scale: one sync of 2,000 objects in 20 waves against the real control plane, with its API
//! request count (O(objects)) and its peak memory (read from /proc while it runs) bounded.

use std::process::Stdio;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ListParams;

use crate::support::cluster::cluster;
use crate::sync::{Run, path, sync_command};

const OBJECTS: usize = 2000;
const WAVES: usize = 20;
/// Peak resident memory allowed for the sync process.
const MEMORY_BUDGET_KIB: u64 = 200 * 1024;

/// The highest VmHWM seen of `pid` (KiB), read until the process is gone.
fn peak_rss_kib(pid: u32) -> u64 {
    let mut peak = 0;
    let status = format!("/proc/{pid}/status");
    while let Ok(text) = std::fs::read_to_string(&status) {
        if let Some(kib) = text
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        if text
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    peak
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_objects_in_twenty_waves_sync_within_request_and_memory_budgets() {
    let ns = cluster().ns("scale").await;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..OBJECTS {
        let wave = i % WAVES;
        text.push_str(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:04}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"{wave}\"\ndata:\n  index: \"{i}\"\n---\n"
        ));
    }
    std::fs::write(dir.path().join("all.yaml"), text).unwrap();

    let mut cmd = sync_command(&ns.name, &[path(&dir), "--applyset", "big"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let child = cmd.spawn().expect("start sync");
    let pid = child.id();
    let watcher = std::thread::spawn(move || peak_rss_kib(pid));
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .unwrap();
    let took = started.elapsed();
    let peak = watcher.join().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(run.code, 0, "{run:?}");
    eprintln!("2,000 objects: {took:.1?}, peak RSS {} MiB", peak / 1024);

    let live = ns
        .api::<ConfigMap>()
        .list(&ListParams::default().labels("applyset.kubernetes.io/part-of"))
        .await
        .unwrap();
    assert_eq!(live.items.len(), OBJECTS);
    assert!(live.items.iter().all(|cm| {
        let name = cm.metadata.name.as_deref().unwrap_or("");
        let index = cm.data.as_ref().and_then(|d| d.get("index"));
        index.is_some_and(|i| name == format!("cm-{:04}", i.parse::<usize>().unwrap()))
    }));
    // "(… total, N API requests)": a dry run and an apply per object, plus a few per step.
    let requests: usize = run
        .stdout
        .split(" API requests")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no request count: {run:?}"));
    assert!(
        requests <= 2 * OBJECTS + 20 * WAVES,
        "{requests} requests for {OBJECTS} objects"
    );
    assert!(
        peak > 0 && peak <= MEMORY_BUDGET_KIB,
        "peak RSS {peak} KiB over the {MEMORY_BUDGET_KIB} KiB budget"
    );
}
