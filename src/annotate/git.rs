//! `--write` and Git: the files about to be edited must be committed as they are, so that the
//! edit can be reviewed with `git diff` and undone with `git checkout` (`--allow-dirty` skips
//! this). Files outside any Git work tree are not checked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why a file counts as dirty.
fn describe(status: git2::Status) -> &'static str {
    if status.contains(git2::Status::WT_NEW) {
        "untracked"
    } else if status.contains(git2::Status::IGNORED) {
        "ignored by Git"
    } else if status.intersects(
        git2::Status::INDEX_NEW
            | git2::Status::INDEX_MODIFIED
            | git2::Status::INDEX_DELETED
            | git2::Status::INDEX_RENAMED
            | git2::Status::INDEX_TYPECHANGE,
    ) {
        "has staged changes"
    } else if status.contains(git2::Status::CONFLICTED) {
        "has conflicts"
    } else {
        "has uncommitted changes"
    }
}

/// The files among `paths` that are in a Git work tree but not committed as they are, with
/// the reason (`untracked`, `has uncommitted changes`, …).
pub fn uncommitted(paths: &[&Path]) -> Vec<(String, &'static str)> {
    let mut repos: Vec<(git2::Repository, PathBuf)> = Vec::new();
    let mut by_dir: HashMap<PathBuf, Option<usize>> = HashMap::new();
    let mut out = Vec::new();
    for path in paths {
        let Ok(absolute) = std::fs::canonicalize(path) else {
            continue; // the edit itself reports a missing file
        };
        let Some(dir) = absolute.parent() else {
            continue;
        };
        let repo = *by_dir.entry(dir.to_path_buf()).or_insert_with(|| {
            let repo = git2::Repository::discover(dir).ok()?;
            let workdir = std::fs::canonicalize(repo.workdir()?).ok()?;
            if let Some(i) = repos.iter().position(|(_, w)| *w == workdir) {
                return Some(i);
            }
            repos.push((repo, workdir));
            Some(repos.len() - 1)
        });
        let Some(repo) = repo else {
            continue;
        };
        let (repo, workdir) = &repos[repo];
        let Ok(relative) = absolute.strip_prefix(workdir) else {
            continue;
        };
        match repo.status_file(relative) {
            Ok(status) if status.is_empty() => {}
            Ok(status) => out.push((path.display().to_string(), describe(status))),
            Err(_) => out.push((path.display().to_string(), "has an unknown Git status")),
        }
    }
    out
}
