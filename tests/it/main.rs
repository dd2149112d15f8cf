//! The one integration test binary: `cargo test --test it`.

mod annotate;
mod broken;
mod cluster_smoke;
mod common;
mod diff;
mod fuzz_corpus;
mod gc;
mod health;
mod hostile;
mod plan;
mod sources;
mod status;
mod support;
mod sync;
