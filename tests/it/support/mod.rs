//! Shared support for the integration tests in `tests/it`.
//!
//! `cluster` starts (once per test binary) the local control plane of `testenv/`, or
//! uses the one `WAVES_TEST_KUBECONFIG` points at, and hands out fresh namespaces;
//! `operators` installs the CRDs of the operators the fixture apps use and the StorageClasses
//! they name.
#![allow(dead_code)]

pub mod cluster;
pub mod differential;
pub mod faults;
pub mod operators;
pub mod recorder;
pub mod tools;
