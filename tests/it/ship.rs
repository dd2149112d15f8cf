//! How the plugin is installed and used around its subcommands: completion through the real
//! kubectl of `testenv/`, `--version`, the man pages against `--help`, and the `--help`
//! examples against the README.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{bin, root, run};
use crate::support::cluster::cluster;

/// A directory holding the plugin as a user installs it: `kubectl-waves` and its completion
/// executable `kubectl_complete-waves` (the same binary under that name).
pub fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["kubectl-waves", "kubectl_complete-waves"] {
        std::os::unix::fs::symlink(bin(), dir.path().join(name)).expect("symlink the binary");
    }
    dir
}

/// The Go-built kubectl of `testenv/`.
pub fn kubectl() -> PathBuf {
    let path = crate::support::cluster::bin_dir().join("kubectl");
    assert!(
        path.exists(),
        "{} is missing: run testenv/build",
        path.display()
    );
    path
}

/// `PATH` with `dir` first, then the system's (for `sh`, `git`…), without another kubectl-waves.
pub fn path_with(dir: &Path) -> std::ffi::OsString {
    let system = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(std::env::split_paths(&system).filter(|d| !d.join("kubectl-waves").exists()));
    std::env::join_paths(dirs).expect("PATH")
}

/// `kubectl __complete waves WORDS…`: what a shell gets for `kubectl waves WORDS<TAB>`.
fn kubectl_complete(dir: &Path, words: &[&str]) -> (Vec<String>, String) {
    let out = Command::new(kubectl())
        .arg("__complete")
        .arg("waves")
        .args(words)
        .env("PATH", path_with(dir))
        .env_remove("KUBECONFIG")
        .env("HOME", dir)
        .output()
        .expect("run kubectl __complete");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kubectl __complete failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = stdout.lines().map(str::to_string).collect();
    let directive = lines.pop().unwrap_or_default();
    let values = lines
        .into_iter()
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .collect();
    (values, directive)
}

#[test]
fn kubectl_completes_subcommands_flags_and_values_through_the_plugin() {
    let dir = plugin_dir();
    let (subcommands, directive) = kubectl_complete(dir.path(), &["s"]);
    assert_eq!(subcommands, ["sync", "status"]);
    assert_eq!(directive, ":4", "no file names among subcommands");

    let (flags, _) = kubectl_complete(dir.path(), &["sync", "--prune-"]);
    assert_eq!(flags, ["--prune-last", "--prune-propagation"]);

    let (formats, _) = kubectl_complete(dir.path(), &["plan", "-o", ""]);
    assert_eq!(formats, ["text", "json", "yaml"]);

    let (none, directive) = kubectl_complete(dir.path(), &["plan", "fixtures/"]);
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(directive, ":0", "paths are completed by the shell");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_completes_contexts_from_the_kubeconfig_and_namespaces_from_the_cluster() {
    let ns = cluster().ns("complete").await;
    let kubeconfig = cluster().kubeconfig.to_string_lossy().into_owned();
    let dir = plugin_dir();
    let contexts = kubectl_complete(
        dir.path(),
        &["--kubeconfig", &kubeconfig, "gc", "--context", ""],
    )
    .0;
    let expected = Command::new(kubectl())
        .args([
            "config",
            "get-contexts",
            "-o",
            "name",
            "--kubeconfig",
            &kubeconfig,
        ])
        .output()
        .expect("kubectl config get-contexts");
    let expected: Vec<String> = String::from_utf8_lossy(&expected.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(contexts, expected);

    let prefix = &ns.name[..ns.name.len() - 2];
    let namespaces = kubectl_complete(
        dir.path(),
        &["--kubeconfig", &kubeconfig, "gc", "-n", prefix],
    )
    .0;
    assert!(
        namespaces.contains(&ns.name),
        "{} not in {namespaces:?}",
        ns.name
    );
    assert!(
        namespaces.iter().all(|n| n.starts_with(prefix)),
        "{namespaces:?}"
    );
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let (code, stdout, _) = run(&["--version"]);
    assert_eq!(code, 0);
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root())
        .output()
        .expect("git rev-parse");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert_eq!(head.len(), 12, "the tests run in a Git checkout");
    let line = stdout.trim();
    assert!(
        line.starts_with(&format!(
            "kubectl-waves {} (commit {head}, built 20",
            env!("CARGO_PKG_VERSION")
        )),
        "{line}"
    );
}

/// Roff to plain text, enough to find flags and example lines in it.
fn roff_text(roff: &str) -> String {
    let mut text = roff
        .replace("\\-", "-")
        .replace("\\*(Aq", "'")
        .replace("\\(aq", "'")
        .replace("\\(rs", "\\");
    for font in ["\\fB", "\\fR", "\\fI", "\\fP", "\\&", "\\e"] {
        text = text.replace(font, if font == "\\e" { "\\" } else { "" });
    }
    text.lines()
        .filter(|l| !l.starts_with('.'))
        .collect::<Vec<_>>()
        .join("\n")
}

fn help_of(subcommand: Option<&str>) -> String {
    let mut args: Vec<&str> = subcommand.into_iter().collect();
    args.push("--help");
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "{stderr}");
    stdout
}

/// The visible subcommands, from the root help.
fn subcommands() -> Vec<String> {
    let help = help_of(None);
    let section = help
        .split("Commands:")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .expect("a Commands section");
    section
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// `--help`'s example commands: the lines under `Examples:` up to the first blank line, without
/// their comments.
fn examples(help: &str) -> Vec<String> {
    let Some(section) = help.split("Examples:\n").nth(1) else {
        return Vec::new();
    };
    section
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.split("  #").next().unwrap_or("").trim().to_string())
        .collect()
}

#[test]
fn man_pages_carry_every_flag_and_example_of_help() {
    let out = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(&["man", "--out-dir", out.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let names = subcommands();
    assert!(names.contains(&"sync".to_string()) && names.contains(&"gc".to_string()));
    for sub in std::iter::once(None).chain(names.iter().map(|s| Some(s.as_str()))) {
        let file = match sub {
            Some(s) => format!("kubectl-waves-{s}.1"),
            None => "kubectl-waves.1".to_string(),
        };
        let roff = std::fs::read_to_string(out.path().join(&file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let page = roff_text(&roff);
        let help = help_of(sub);
        let flags: Vec<&str> = help
            .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']' || c == '=')
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .filter(|w| {
                w.chars()
                    .skip(2)
                    .all(|c| c.is_ascii_lowercase() || c == '-')
            })
            .collect();
        assert!(!flags.is_empty(), "{file}: no flags in help");
        for flag in flags {
            assert!(page.contains(flag), "{file} lacks {flag}");
        }
        for example in examples(&help) {
            assert!(
                page.contains(&example),
                "{file} lacks the example {example:?}"
            );
        }
    }
}

#[test]
fn every_subcommand_has_help_examples_and_the_readme_shows_them() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for sub in subcommands() {
        let help = help_of(Some(&sub));
        if help.contains("not built yet") {
            continue;
        }
        let examples = examples(&help);
        assert!(examples.len() >= 2, "`{sub} --help` has no examples");
        assert!(
            examples
                .iter()
                .all(|e| e.contains("kubectl waves") || e.contains("kubectl-waves")),
            "{sub}: {examples:?}"
        );
        // The README's block for the subcommand runs the same commands as --help.
        let heading = format!("### `{sub}`");
        let block = readme
            .split(&heading)
            .nth(1)
            .and_then(|s| s.split("```").nth(1))
            .unwrap_or_else(|| panic!("README has no example block under {heading}"));
        let readme_examples: Vec<String> = block
            .lines()
            .skip(1)
            .map(|l| l.split("  #").next().unwrap_or("").trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(
            readme_examples, examples,
            "README {heading} vs `{sub} --help`"
        );
    }
}
