//! Shared support for the integration tests in `tests/it`.
//!
//! `cluster` starts (once per test binary) the local control plane of `testenv/`, or
//! uses the one `WAVES_TEST_KUBECONFIG` points at, and hands out fresh namespaces.
#![allow(dead_code)]

pub mod cluster;
pub mod recorder;
