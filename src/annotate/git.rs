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
/// the reason (`untracked`, `has uncommitted changes`, …). A `.git` that exists but cannot be
/// read (broken, or pointing nowhere) makes its files dirty too: the check is never skipped
/// silently.
pub fn uncommitted(paths: &[&Path]) -> Vec<(String, String)> {
    let mut repos: Vec<(git2::Repository, PathBuf)> = Vec::new();
    let mut by_dir: HashMap<PathBuf, Result<Option<usize>, String>> = HashMap::new();
    let mut out = Vec::new();
    for path in paths {
        let Ok(absolute) = std::fs::canonicalize(path) else {
            continue; // the edit itself reports a missing file
        };
        let Some(dir) = absolute.parent() else {
            continue;
        };
        let repo = by_dir
            .entry(dir.to_path_buf())
            .or_insert_with(|| {
                let repo = match git2::Repository::discover(dir) {
                    Ok(repo) => repo,
                    Err(e) => return broken_git(dir, &e).map_or(Ok(None), Err),
                };
                let Some(workdir) = repo.workdir().and_then(|w| std::fs::canonicalize(w).ok())
                else {
                    return Ok(None);
                };
                if let Some(i) = repos.iter().position(|(_, w)| *w == workdir) {
                    return Ok(Some(i));
                }
                repos.push((repo, workdir));
                Ok(Some(repos.len() - 1))
            })
            .clone();
        let repo = match repo {
            Ok(Some(repo)) => repo,
            Ok(None) => continue,
            Err(why) => {
                out.push((path.display().to_string(), why));
                continue;
            }
        };
        let (repo, workdir) = &repos[repo];
        let Ok(relative) = absolute.strip_prefix(workdir) else {
            continue;
        };
        match repo.status_file(relative) {
            Ok(status) if status.is_empty() => {}
            Ok(status) => out.push((path.display().to_string(), describe(status).to_string())),
            Err(_) => out.push((
                path.display().to_string(),
                "has an unknown Git status".to_string(),
            )),
        }
    }
    out
}

/// When discovery failed although a `.git` exists in `dir` or above it: why, for the user.
fn broken_git(dir: &Path, error: &git2::Error) -> Option<String> {
    let dot_git = dir
        .ancestors()
        .map(|d| d.join(".git"))
        .find(|g| g.exists())?;
    Some(format!(
        "is under {} which Git cannot read ({})",
        dot_git.display(),
        error.message()
    ))
}
