//! kubectl-waves: Argo CD sync waves and hooks, run from kubectl.
//!
//! Data flows one way: [`manifest`] (bytes) → [`model`] (objects with sources and parsed
//! annotations) → [`check`] ([`plan`]: validated, ordered steps; [`infer`]: the dependency
//! graph; [`lint`]) → an operation → [`ui`] (rendering).

pub mod annotate;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod diagnostics;
pub mod diff;
pub mod edit;
pub mod fuzz;
pub mod gc;
pub mod health;
pub mod infer;
pub mod lint;
pub mod manifest;
pub mod model;
mod par;
pub mod plan;
pub mod source;
pub mod status;
pub mod sync;
pub mod ui;
pub mod version;
