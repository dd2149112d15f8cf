//! Reading manifests from a Git tree through git2, without touching any work tree.

use std::path::Path;

use super::InputFile;
use super::read::{self, escape_control, is_manifest_name};

/// Opens the repository that holds `path` (it may be any folder inside the work tree).
pub fn open_repository(path: &Path) -> Result<git2::Repository, String> {
    git2::Repository::discover(path).map_err(|e| {
        format!(
            "{} is not a Git repository: {}",
            path.display(),
            e.message()
        )
    })
}

/// A folder of a repository at a revision, and the revision's whole tree.
pub struct RevisionTree<'r> {
    pub repo: &'r git2::Repository,
    pub revision: String,
    /// The revision's whole tree (bases and value files may live anywhere in it).
    root: git2::Oid,
    /// The folder's tree (`root` when no folder was named).
    folder: git2::Oid,
    /// The folder, without leading or trailing `/` ("" for the root).
    pub path: String,
}

impl<'r> RevisionTree<'r> {
    /// The folder `path` at `revision` (anything `git rev-parse` takes).
    pub fn new(
        repo: &'r git2::Repository,
        revision: &str,
        path: Option<&str>,
    ) -> Result<Self, String> {
        let root = repo
            .revparse_single(revision)
            .map_err(|e| format!("unknown revision `{revision}`: {}", e.message()))?
            .peel_to_tree()
            .map_err(|e| format!("revision `{revision}` has no tree: {}", e.message()))?;
        RevisionTree::at(repo, root.id(), revision, path.unwrap_or(""))
    }

    /// The folder `path` of the tree `root`, found for `revision`.
    pub fn at(
        repo: &'r git2::Repository,
        root: git2::Oid,
        revision: &str,
        path: &str,
    ) -> Result<Self, String> {
        let path = path.trim_matches('/').to_string();
        let folder = if path.is_empty() {
            root
        } else {
            let tree = repo.find_tree(root).map_err(|e| e.message().to_string())?;
            let entry = tree
                .get_path(Path::new(&path))
                .map_err(|_| format!("path `{path}` does not exist at revision `{revision}`"))?;
            if entry.kind() != Some(git2::ObjectType::Tree) {
                return Err(format!(
                    "path `{path}` at revision `{revision}` is not a directory"
                ));
            }
            entry.id()
        };
        Ok(RevisionTree {
            repo,
            revision: revision.to_string(),
            root,
            folder,
            path,
        })
    }

    pub fn root(&self) -> Result<git2::Tree<'r>, String> {
        self.repo
            .find_tree(self.root)
            .map_err(|e| e.message().to_string())
    }

    pub fn folder(&self) -> Result<git2::Tree<'r>, String> {
        self.repo
            .find_tree(self.folder)
            .map_err(|e| e.message().to_string())
    }

    /// A path under the folder as messages show it: `REV:path`, which `git show` understands.
    pub fn shown(&self, rel: &str) -> String {
        let full = match (self.path.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_string(),
            (false, true) => self.path.clone(),
            (false, false) => format!("{}/{rel}", self.path),
        };
        escape_control(&format!("{}:{full}", self.revision)).into_owned()
    }

    /// The manifest files of the folder that `filter` selects, sorted by path.
    pub fn manifests(&self, filter: &TreeFilter) -> Result<Vec<InputFile>, String> {
        let tree = self.folder()?;
        let mut blobs = Vec::new();
        let mut bad_name: Option<String> = None;
        let mut jsonnet: Option<String> = None;
        tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
            let Ok(name) = entry.name() else {
                bad_name.get_or_insert_with(|| {
                    format!("{root}{}", read::escape_bytes(entry.name_bytes()))
                });
                return git2::TreeWalkResult::Skip;
            };
            if entry.kind() == Some(git2::ObjectType::Tree) {
                return if filter.recurse && !name.starts_with('.') {
                    git2::TreeWalkResult::Ok
                } else {
                    git2::TreeWalkResult::Skip
                };
            }
            let rel = format!("{root}{name}");
            if !filter.selects(&rel) {
                return git2::TreeWalkResult::Ok;
            }
            if filter.refuse_jsonnet && name.ends_with(".jsonnet") {
                jsonnet.get_or_insert(rel.clone());
            }
            if entry.kind() == Some(git2::ObjectType::Blob) && is_manifest_name(name) {
                blobs.push((rel, entry.id()));
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(|e| e.message().to_string())?;
        if let Some(name) = bad_name {
            return Err(format!(
                "{} has a name that is not UTF-8; rename it to read it",
                self.shown(&name)
            ));
        }
        if let Some(file) = jsonnet {
            return Err(format!(
                "{} is Jsonnet, which Argo CD evaluates in directory sources; that is not supported yet (exclude it with directory.exclude, or render it yourself and pipe it)",
                self.shown(&file)
            ));
        }
        blobs.sort();
        let limit = read::max_input_bytes();
        let mut files = Vec::with_capacity(blobs.len());
        for (rel, id) in blobs {
            let display = self.shown(&rel);
            let blob = self
                .repo
                .find_blob(id)
                .map_err(|e| format!("{display}: {}", e.message()))?;
            if blob.size() as u64 > limit {
                return Err(read::too_large(&display, limit));
            }
            let text = read::utf8_text(blob.content().to_vec(), &display)?;
            files.push(InputFile {
                display: display.into(),
                text,
                json: rel.ends_with(".json"),
            });
        }
        Ok(files)
    }
}

/// Which files of a Git folder are read as manifests.
#[derive(Debug, Default, Clone, Copy)]
pub struct TreeFilter<'a> {
    /// Also the sub-folders (never hidden ones), as `kubectl -R`.
    pub recurse: bool,
    /// Argo CD's `directory.include` / `exclude` globs, matched against the path under the
    /// folder (see `app::glob_match`).
    pub include: Option<&'a str>,
    pub exclude: Option<&'a str>,
    /// A selected `.jsonnet` file is an error: Argo CD would evaluate it.
    pub refuse_jsonnet: bool,
}

impl TreeFilter<'_> {
    fn selects(&self, rel: &str) -> bool {
        let matches = |glob: Option<&str>| {
            glob.filter(|g| !g.is_empty())
                .map(|g| super::app::glob_match(g, rel))
        };
        matches(self.exclude) != Some(true) && matches(self.include) != Some(false)
    }
}

/// Appends every manifest file under `subdir` of `revision`'s tree, sub-folders too. Paths
/// are shown as `REV:path`.
pub fn read_tree(
    repo: &Path,
    revision: &str,
    subdir: Option<&str>,
    files: &mut Vec<InputFile>,
) -> Result<(), String> {
    let repo = open_repository(repo)?;
    let tree = RevisionTree::new(&repo, revision, subdir)?;
    files.append(&mut tree.manifests(&TreeFilter {
        recurse: true,
        ..TreeFilter::default()
    })?);
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
