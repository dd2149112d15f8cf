//! Stamps `--version` with the commit and the build date (`build/version_info.rs` says where
//! they come from); works from a clean clone, a crate tarball and a `git archive` tarball.

use std::path::{Path, PathBuf};

include!("build/version_info.rs");

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let epoch = std::env::var("SOURCE_DATE_EPOCH").ok();
    println!("cargo:rustc-env=WAVES_GIT_COMMIT={}", source_commit(&root));
    println!(
        "cargo:rustc-env=WAVES_BUILD_DATE={}",
        build_date(epoch.as_deref(), now)
    );
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=build/version_info.rs");
    println!("cargo:rerun-if-changed=build/git-sha.txt");
    // Run again when HEAD moves (a commit, a checkout), not on every build: a new date alone
    // would rebuild the whole crate each time.
    for file in git_files_to_watch(&root) {
        println!("cargo:rerun-if-changed={}", file.display());
    }
}

/// HEAD, the branch ref it points at (when loose) and packed-refs, where they exist.
fn git_files_to_watch(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut path_of = |name: &str| {
        if let Some(p) = git(root, &["rev-parse", "--git-path", name]) {
            let p = root.join(p.trim());
            if p.exists() {
                files.push(p);
            }
        }
    };
    path_of("HEAD");
    path_of("packed-refs");
    if let Some(branch) = git(root, &["symbolic-ref", "-q", "HEAD"]) {
        path_of(branch.trim());
    }
    files
}
