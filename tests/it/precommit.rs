//! `.pre-commit-hooks.yaml` run by the real `pre-commit` (from PyPI, installed into
//! `target/pre-commit-venv` on first use) on a temporary Git repository. The test config
//! overrides `language: system` so the hooks run the binary already built instead of pre-commit
//! compiling the crate again (`language: rust`, what users get).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::root;
use crate::ship::{path_with, plugin_dir};

/// The version the test installs; any 3.x or 4.x reads the hooks file the same way.
const PRE_COMMIT: &str = "pre-commit==4.7.0";

/// `pre-commit` from a virtualenv under `target/`, created (python3 -m venv, pip) if missing.
fn pre_commit() -> PathBuf {
    let venv = root().join("target").join("pre-commit-venv");
    let exe = venv.join("bin").join("pre-commit");
    if exe.exists() {
        return exe;
    }
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 is needed to install pre-commit (python3 -m venv)");
    assert!(
        status.success(),
        "python3 -m venv {} failed",
        venv.display()
    );
    let out = Command::new(venv.join("bin").join("pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            PRE_COMMIT,
        ])
        .output()
        .expect("run pip");
    assert!(
        out.status.success(),
        "pip install {PRE_COMMIT} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn manifests(secret_wave: i64) -> String {
    format!(
        "apiVersion: v1
kind: Secret
metadata:
  name: db
  annotations:
    argocd.argoproj.io/sync-wave: \"{secret_wave}\"
stringData:
  password: x
"
    )
}

const JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: seed
  annotations:
    argocd.argoproj.io/sync-wave: \"0\"
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        envFrom:
        - secretRef:
            name: db
";

fn run_hooks(repo: &Path, bin_dir: &Path, home: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(pre_commit())
        .current_dir(repo)
        .arg("run")
        .args(args)
        .env("PATH", path_with(bin_dir))
        .env("PRE_COMMIT_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .output()
        .expect("run pre-commit");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn pre_commit_runs_both_hooks_on_the_whole_tree() {
    let work = tempfile::tempdir().unwrap();
    // The hooks repository: this repository's .pre-commit-hooks.yaml, as pre-commit clones it.
    let hooks = work.path().join("hooks");
    std::fs::create_dir(&hooks).unwrap();
    std::fs::copy(
        root().join(".pre-commit-hooks.yaml"),
        hooks.join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    git(&hooks, &["init", "-q"]);
    git(&hooks, &["add", "."]);
    git(&hooks, &["commit", "-qm", "hooks"]);
    let rev = git(&hooks, &["rev-parse", "HEAD"]);

    // A GitOps repository whose Job reads a Secret of an earlier wave.
    let repo = work.path().join("gitops");
    std::fs::create_dir_all(repo.join("deploy")).unwrap();
    std::fs::write(repo.join("deploy/secret.yaml"), manifests(-1)).unwrap();
    std::fs::write(repo.join("deploy/job.yaml"), JOB).unwrap();
    std::fs::write(
        repo.join(".pre-commit-config.yaml"),
        format!(
            "repos:
- repo: {}
  rev: {rev}
  hooks:
  - id: kubectl-waves-plan
    language: system
    args: [deploy]
  - id: kubectl-waves-annotate
    language: system
    args: [deploy]
",
            hooks.display()
        ),
    )
    .unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "app"]);

    let bin_dir = plugin_dir();
    let home = work.path().join("pre-commit-home");
    let (code, out) = run_hooks(&repo, bin_dir.path(), &home, &["--all-files"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("kubectl waves plan --strict") && out.contains("Passed"),
        "{out}"
    );
    assert!(out.contains("kubectl waves annotate --check"), "{out}");
    assert!(!out.contains("Failed"), "{out}");

    // The Secret moves to a later wave than its reader, and only secret.yaml is staged: both
    // hooks still read job.yaml (pass_filenames: false) and fail naming it.
    std::fs::write(repo.join("deploy/secret.yaml"), manifests(1)).unwrap();
    git(&repo, &["add", "deploy/secret.yaml"]);
    let (code, out) = run_hooks(&repo, bin_dir.path(), &home, &[]);
    assert_eq!(code, 1, "{out}");
    let failed = out.matches("Failed").count();
    assert_eq!(failed, 2, "both hooks fail:\n{out}");
    assert!(out.contains("deploy/job.yaml:"), "{out}");
    assert!(out.contains("WAVES008"), "{out}");
    assert!(
        out.contains("exit code: 3"),
        "plan --strict exits 3 on lint errors:\n{out}"
    );
}
