//! `sync --metrics-file` against the real control plane: the file is read back with a
//! Prometheus text-format parser, as a textfile collector would read it.

use std::collections::BTreeMap;

use prometheus_parse::{Scrape, Value};

use crate::support::cluster::cluster;
use crate::sync::{app, config_map, deployment, job, path, sync};

/// Samples as `name{label=value,…}` (labels sorted) → value; every one must be a gauge.
fn read_metrics(file: &std::path::Path) -> BTreeMap<String, f64> {
    let text = std::fs::read_to_string(file).expect("the metrics file");
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    let mut samples = BTreeMap::new();
    for s in scrape.samples {
        let Value::Gauge(v) = s.value else {
            panic!("{} is not a gauge: {:?}", s.metric, s.value);
        };
        let mut labels: Vec<(String, String)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.sort();
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        samples.insert(format!("{}{{{}}}", s.metric, labels.join(",")), v);
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_file_describes_the_last_sync_and_is_replaced_by_the_next() {
    let ns = cluster().ns("metrics").await;
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("waves.prom");
    let file_arg = file.to_str().unwrap();
    let good = app(&[
        (
            "hooks.yaml",
            &job(
                "name: migrate",
                "    argocd.argoproj.io/hook: PreSync\n    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation",
                "",
                "",
            ),
        ),
        (
            "app.yaml",
            &[config_map("settings", 0), deployment("web", 1, "", "")].concat(),
        ),
    ]);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let run = sync(
        &ns.name,
        &[
            path(&good),
            "--applyset",
            "shop",
            "--metrics-file",
            file_arg,
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let m = read_metrics(&file);
    assert_eq!(m["waves_last_sync_success{app=shop}"], 1.0, "{m:#?}");
    assert_eq!(m["waves_last_objects_applied{app=shop}"], 3.0, "{m:#?}");
    assert_eq!(
        m["waves_last_hook_result{app=shop,hook=Job/migrate,phase=PreSync,result=Succeeded}"],
        1.0
    );
    let steps: Vec<&String> = m
        .keys()
        .filter(|k| k.starts_with("waves_last_step_duration_seconds"))
        .collect();
    assert_eq!(
        steps,
        [
            "waves_last_step_duration_seconds{app=shop,phase=PreSync,wave=0}",
            "waves_last_step_duration_seconds{app=shop,phase=Sync,wave=0}",
            "waves_last_step_duration_seconds{app=shop,phase=Sync,wave=1}",
        ]
    );
    let total = m["waves_last_sync_duration_seconds{app=shop}"];
    let step_sum: f64 = steps.iter().map(|k| m[*k]).sum();
    assert!(total > 0.0 && step_sum <= total + 0.01, "{m:#?}");
    let at = m["waves_last_sync_timestamp_seconds{app=shop}"];
    assert!(at >= before && at < before + 120.0, "{at} vs {before}");

    // A failing PreSync hook: the file now describes that sync only.
    let bad = app(&[
        (
            "hooks.yaml",
            &[
                job(
                    "name: migrate",
                    "    argocd.argoproj.io/hook: PreSync\n    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation",
                    "test.waves/fail: exit-1",
                    "",
                ),
                "---\n".into(),
                job("name: alert", "    argocd.argoproj.io/hook: SyncFail", "", ""),
            ]
            .concat(),
        ),
        ("app.yaml", &config_map("settings", 0)),
    ]);
    let run = sync(
        &ns.name,
        &[path(&bad), "--applyset", "shop", "--metrics-file", file_arg],
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    let m = read_metrics(&file);
    assert_eq!(m["waves_last_sync_success{app=shop}"], 0.0, "{m:#?}");
    assert_eq!(
        m["waves_last_hook_result{app=shop,hook=Job/migrate,phase=PreSync,result=Failed}"], 1.0,
        "{m:#?}"
    );
    assert_eq!(
        m["waves_last_hook_result{app=shop,hook=Job/alert,phase=SyncFail,result=Succeeded}"], 1.0,
        "{m:#?}"
    );
    assert!(
        !m.keys().any(|k| k.contains("wave=1")),
        "the previous sync's steps are gone: {m:#?}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left");

    // A metrics file in a directory that does not exist: bad input before any change.
    let missing = out.path().join("nope/waves.prom");
    let run = sync(
        &ns.name,
        &[path(&good), "--metrics-file", missing.to_str().unwrap()],
    )
    .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("does not exist"), "{run:?}");
}
