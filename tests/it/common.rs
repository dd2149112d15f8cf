//! Shared helpers for CLI tests: the built binary, run from the repository root so that paths
//! in output are the stable relative `fixtures/...` paths.

use std::path::{Path, PathBuf};
use std::process::Output;

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `kubectl-waves` with no colour, run from the repository root.
pub fn waves() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin());
    cmd.current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG");
    cmd
}

/// Path of the built binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubectl-waves"))
}

/// Runs `kubectl-waves` with `args` and returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = waves().args(args).output().expect("run kubectl-waves");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}
