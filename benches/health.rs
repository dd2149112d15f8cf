//! Health assessment speed: `cargo bench --bench health`.
//!
//! - `builtin/10k`: 10,000 recorded objects (the fixtures under `fixtures/health/`, repeated)
//!   through the built-in, bundled and generic rules. Target: under 50 ms.
//! - `lua/per-object`: one object through a custom Lua check whose state is already made.
//!   Target: under 1 ms.
//! - `lua/first-call`: the same with a new script each time (state creation and compile).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use kubectl_waves::health::{HealthConfig, assess};
use serde_json::Value;

fn fixtures(dir: &Path) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures/health")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "yaml")
                && p.file_name().is_some_and(|n| n != "argocd-cm.yaml")
        })
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).expect("readable fixture");
            serde_saphyr::from_multiple::<Value>(&text).expect("valid fixture")
        })
        .collect()
}

fn bench_builtin(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/health");
    let recorded = fixtures(&dir);
    let objects: Vec<Value> = recorded.iter().cycle().take(10_000).cloned().collect();
    let cfg = HealthConfig::default();
    c.bench_function("builtin/10k", |b| {
        b.iter(|| {
            for obj in &objects {
                black_box(assess(black_box(obj), &cfg).ok());
            }
        })
    });
}

fn bench_lua(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/health");
    let text = std::fs::read_to_string(dir.join("argocd-cm.yaml")).expect("argocd-cm.yaml");
    let cfg = HealthConfig::from_argocd_cm_yaml(&text).expect("valid argocd-cm");
    let objects = fixtures(&dir.join("lua"));
    let widget = objects
        .iter()
        .find(|o| o["kind"] == "Widget" && o["metadata"]["name"] == "ready")
        .expect("Widget/ready")
        .clone();
    let certificate = objects
        .iter()
        .find(|o| o["kind"] == "Certificate")
        .expect("a Certificate")
        .clone();
    c.bench_function("lua/per-object/widget", |b| {
        b.iter(|| black_box(assess(black_box(&widget), &cfg).ok()))
    });
    c.bench_function("lua/per-object/certificate", |b| {
        b.iter(|| black_box(assess(black_box(&certificate), &cfg).ok()))
    });
    let script = cfg
        .lookup("example.com", "Widget")
        .expect("widget script")
        .script
        .to_string();
    let mut n = 0u64;
    c.bench_function("lua/first-call", |b| {
        b.iter(|| {
            n += 1;
            // A different script text each time: no cached state to reuse.
            let fresh = HealthConfig::new().with_script(
                "example.com/Widget",
                "resource.customizations.health.example.com_Widget",
                &format!("{script}\n-- {n}"),
            );
            black_box(assess(black_box(&widget), &fresh).ok())
        })
    });
}

criterion_group!(benches, bench_builtin, bench_lua);
criterion_main!(benches);
