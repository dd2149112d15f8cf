//! The command-line tools `testenv/build` builds (kubectl, helm) for tests that run
//! `kubectl-waves` on a Kustomize or Helm app: a folder holding only those tools goes on PATH,
//! so a `helm` or `kustomize` of the machine is never picked up. A tool that is missing is
//! built (`testenv/build --only MODULE`, a no-op when current); one that cannot be built fails
//! the test, in CI and elsewhere (never a skip).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use super::cluster::{bin_dir, repo_root};

/// The testenv module that builds `tool`.
fn module_of(tool: &str) -> &'static str {
    match tool {
        "helm" => "helm",
        "argocd-sync" => "argocd",
        "kwok" => "kwok",
        "etcd" => "etcd",
        _ => "k8s",
    }
}

/// Builds the modules of `tools` that are missing, once per process.
fn ensure_built(tools: &[&str]) {
    static BUILT: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(Vec::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    for tool in tools {
        let module = module_of(tool);
        if bin_dir().join(tool).is_file() || built.iter().any(|m| m == module) {
            continue;
        }
        let status = Command::new(repo_root().join("testenv/build"))
            .args(["--only", module])
            .stdin(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run testenv/build for {tool}: {e}"));
        assert!(
            status.success(),
            "testenv/build --only {module} failed ({status}): {tool} is needed by this test"
        );
        built.push(module.to_string());
    }
    for tool in tools {
        assert!(
            bin_dir().join(tool).is_file(),
            "{}/{tool} is missing after testenv/build",
            bin_dir().display()
        );
    }
}

/// A new folder holding (symlinks to) exactly `tools`, built by testenv/build: for PATH.
pub fn path_with(tools: &[&str]) -> PathBuf {
    ensure_built(tools);
    let dir = tempfile::tempdir().expect("temp dir").keep();
    for tool in tools {
        std::os::unix::fs::symlink(bin_dir().join(tool), dir.join(tool)).expect("symlink tool");
    }
    dir
}
