//! Reading manifests from a Git tree through git2, without touching any work tree.

use std::path::Path;

use super::{InputFile, is_manifest_name, looks_like_json};

/// Appends every manifest file under `subdir` of `revision`'s tree. Paths are shown as
/// `REV:path`, which `git show` understands.
pub fn read_tree(
    repo: &Path,
    revision: &str,
    subdir: Option<&str>,
    files: &mut Vec<InputFile>,
) -> Result<(), String> {
    let repo = git2::Repository::discover(repo).map_err(|e| {
        format!(
            "{} is not a Git repository: {}",
            repo.display(),
            e.message()
        )
    })?;
    let object = repo
        .revparse_single(revision)
        .map_err(|e| format!("unknown revision `{revision}`: {}", e.message()))?;
    let mut tree = object
        .peel_to_tree()
        .map_err(|e| format!("revision `{revision}` has no tree: {}", e.message()))?;
    let prefix = subdir
        .map(|s| s.trim_matches('/'))
        .filter(|s| !s.is_empty());
    if let Some(sub) = prefix {
        let entry = tree
            .get_path(Path::new(sub))
            .map_err(|_| format!("path `{sub}` does not exist at revision `{revision}`"))?;
        tree = entry
            .to_object(&repo)
            .and_then(|o| o.peel_to_tree())
            .map_err(|_| format!("path `{sub}` at revision `{revision}` is not a directory"))?;
    }
    let mut blobs = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        let name = entry.name().unwrap_or("");
        if name.starts_with('.') && entry.kind() == Some(git2::ObjectType::Tree) {
            return git2::TreeWalkResult::Skip;
        }
        if entry.kind() == Some(git2::ObjectType::Blob) && is_manifest_name(name) {
            blobs.push((format!("{root}{name}"), entry.id()));
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(|e| e.message().to_string())?;
    blobs.sort();
    for (path, id) in blobs {
        let full = match prefix {
            Some(sub) => format!("{sub}/{path}"),
            None => path,
        };
        let blob = repo
            .find_blob(id)
            .map_err(|e| format!("{revision}:{full}: {}", e.message()))?;
        let text = String::from_utf8(blob.content().to_vec())
            .map_err(|_| format!("{revision}:{full} is not UTF-8 text"))?;
        let json = full.ends_with(".json")
            || (!full.ends_with(".yaml") && !full.ends_with(".yml") && looks_like_json(&text));
        files.push(InputFile {
            display: format!("{revision}:{full}").into(),
            text,
            json,
        });
    }
    Ok(())
}

/// The commit `git diff A...B` compares B with: the merge base of the two revisions.
pub fn merge_base(repo: &Path, a: &str, b: &str) -> Result<String, String> {
    let repo = git2::Repository::discover(repo).map_err(|e| {
        format!(
            "{} is not a Git repository: {}",
            repo.display(),
            e.message()
        )
    })?;
    let commit = |rev: &str| {
        repo.revparse_single(rev)
            .and_then(|o| o.peel_to_commit())
            .map(|c| c.id())
            .map_err(|e| format!("unknown revision `{rev}`: {}", e.message()))
    };
    let (a_id, b_id) = (commit(a)?, commit(b)?);
    repo.merge_base(a_id, b_id)
        .map(|id| id.to_string())
        .map_err(|e| format!("`{a}` and `{b}` have no common ancestor: {}", e.message()))
}
