// Where `--version` finds the commit and the build date. Included by `build.rs` and by a unit
// test in `src/version.rs`, so the fallbacks for a source tree without `.git` are tested.

/// The commit a source tree was built from, best source first: the Git checkout itself,
/// `.cargo_vcs_info.json` (written by `cargo package` into crate tarballs), and
/// `build/git-sha.txt` (filled in by `git archive` through `export-subst`, so GitHub's source
/// tarballs carry it). `"unknown"` when none of them knows.
pub fn source_commit(root: &std::path::Path) -> String {
    git_head(root)
        .or_else(|| cargo_vcs_info(root))
        .or_else(|| archive_subst(root))
        .unwrap_or_else(|| "unknown".to_string())
}

fn short(sha: &str) -> Option<String> {
    let sha = sha.trim();
    (sha.len() >= 12 && sha.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| sha[..12].to_ascii_lowercase())
}

fn git_head(root: &std::path::Path) -> Option<String> {
    // Only the repository this crate is the top of: a tarball unpacked inside some other Git
    // checkout must not report that checkout's commit.
    let top = git(root, &["rev-parse", "--show-toplevel"])?;
    let same = std::fs::canonicalize(top.trim()).ok()? == std::fs::canonicalize(root).ok()?;
    if !same {
        return None;
    }
    short(&git(root, &["rev-parse", "HEAD"])?)
}

/// Runs `git` in `root`; its stdout when it succeeds.
pub fn git(root: &std::path::Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn cargo_vcs_info(root: &std::path::Path) -> Option<String> {
    // {"git": {"sha1": "<40 hex>"}, "path_in_vcs": ""}: read the one field without a JSON crate.
    let text = std::fs::read_to_string(root.join(".cargo_vcs_info.json")).ok()?;
    let after = &text[text.find("\"sha1\"")? + 6..];
    let start = after.find('"')? + 1;
    let end = start + after[start..].find('"')?;
    short(&after[start..end])
}

fn archive_subst(root: &std::path::Path) -> Option<String> {
    // Unsubstituted (a plain checkout or copy) it still reads `$Format:%H$`, which `short` rejects.
    short(&std::fs::read_to_string(root.join("build").join("git-sha.txt")).ok()?)
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
pub fn utc_date(unix_seconds: u64) -> String {
    // Civil date from days since 1970-01-01 (the proleptic Gregorian calendar).
    let days = (unix_seconds / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The build date: `SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
pub fn build_date(source_date_epoch: Option<&str>, now_unix_seconds: u64) -> String {
    let seconds = source_date_epoch
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(now_unix_seconds);
    utc_date(seconds)
}
