//! What `--version` prints: the crate version, the commit and the build date, stamped by
//! `build.rs`.

/// The commit the binary was built from (12 hex digits), or `unknown`.
pub const GIT_COMMIT: &str = env!("WAVES_GIT_COMMIT");

/// The build date, `YYYY-MM-DD` (UTC; `SOURCE_DATE_EPOCH` when set).
pub const BUILD_DATE: &str = env!("WAVES_BUILD_DATE");

/// `0.1.0 (commit 1a2b3c4d5e6f, built 2026-11-30)`.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("WAVES_GIT_COMMIT"),
    ", built ",
    env!("WAVES_BUILD_DATE"),
    ")"
);

#[cfg(test)]
mod tests {
    // The build script's own code, so its fallbacks are tested on trees it never sees here.
    #![allow(dead_code)]
    include!("../build/version_info.rs");

    use std::path::Path;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("build")).unwrap();
        dir
    }

    #[test]
    fn a_tree_without_git_or_stamps_is_unknown() {
        let dir = tree();
        std::fs::write(dir.path().join("build/git-sha.txt"), "$Format:%H$\n").unwrap();
        assert_eq!(source_commit(dir.path()), "unknown");
    }

    #[test]
    fn a_crate_tarball_names_its_commit_from_cargo_vcs_info() {
        let dir = tree();
        std::fs::write(
            dir.path().join(".cargo_vcs_info.json"),
            "{\n  \"git\": {\n    \"sha1\": \"0123456789abcdef0123456789abcdef01234567\"\n  },\n  \"path_in_vcs\": \"\"\n}",
        )
        .unwrap();
        assert_eq!(source_commit(dir.path()), "0123456789ab");
    }

    #[test]
    fn a_git_archive_names_its_commit_from_the_substituted_file() {
        let dir = tree();
        std::fs::write(
            dir.path().join("build/git-sha.txt"),
            "FEDCBA9876543210FEDCBA9876543210FEDCBA98\n",
        )
        .unwrap();
        assert_eq!(source_commit(dir.path()), "fedcba987654");
    }

    #[test]
    fn a_tree_inside_another_checkout_does_not_take_its_commit() {
        let outer = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("git")
            .args(["init", "-q"])
            .arg(outer.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "git init");
        let inner = outer.path().join("unpacked");
        std::fs::create_dir_all(inner.join("build")).unwrap();
        assert_eq!(source_commit(&inner), "unknown");
    }

    #[test]
    fn this_checkout_names_its_head() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let head = git(root, &["rev-parse", "HEAD"]).expect("the tests run in a Git checkout");
        assert_eq!(source_commit(root), head.trim()[..12]);
    }

    #[test]
    fn dates_are_civil_utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_798_761_599), "2026-12-31");
        assert_eq!(utc_date(4_107_542_400), "2100-03-01");
        assert_eq!(build_date(Some("86400"), 0), "1970-01-02");
        assert_eq!(build_date(None, 86_400 * 365), "1971-01-01");
        assert_eq!(build_date(Some("garbage"), 0), "1970-01-01");
    }
}
