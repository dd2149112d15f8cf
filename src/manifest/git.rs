//! Reading manifests from a Git tree through git2, without touching any work tree.

use std::path::Path;

use super::read::{self, escape_control, is_manifest_name};
use super::{InputFile, looks_like_json};

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
    let mut bad_name: Option<String> = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        let Ok(name) = entry.name() else {
            bad_name
                .get_or_insert_with(|| format!("{root}{}", read::escape_bytes(entry.name_bytes())));
            return git2::TreeWalkResult::Skip;
        };
        if name.starts_with('.') && entry.kind() == Some(git2::ObjectType::Tree) {
            return git2::TreeWalkResult::Skip;
        }
        if entry.kind() == Some(git2::ObjectType::Blob) && is_manifest_name(name) {
            blobs.push((format!("{root}{name}"), entry.id()));
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(|e| e.message().to_string())?;
    if let Some(name) = bad_name {
        return Err(format!(
            "{revision}:{} has a name that is not UTF-8; rename it to read it",
            name
        ));
    }
    blobs.sort();
    for (path, id) in blobs {
        let full = match prefix {
            Some(sub) => format!("{sub}/{path}"),
            None => path,
        };
        let display = escape_control(&format!("{revision}:{full}")).into_owned();
        let blob = repo
            .find_blob(id)
            .map_err(|e| format!("{display}: {}", e.message()))?;
        let limit = read::max_input_bytes();
        if blob.size() as u64 > limit {
            return Err(read::too_large(&display, limit));
        }
        let text = read::utf8_text(blob.content().to_vec(), &display)?;
        let json = full.ends_with(".json")
            || (!full.ends_with(".yaml") && !full.ends_with(".yml") && looks_like_json(&text));
        files.push(InputFile {
            display: display.into(),
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
