//! The one integration test binary: `cargo test --test it`.

mod annotate;
mod app;
mod broken;
mod cluster_smoke;
mod common;
mod diff;
mod differential;
mod docs;
mod faults;
mod fuzz_corpus;
mod gc;
mod graph_order;
mod health;
mod helm;
mod hostile;
mod interrupt;
mod krew;
mod metrics;
mod plan;
mod precommit;
mod scale;
mod ship;
mod sources;
mod status;
mod support;
mod sync;
