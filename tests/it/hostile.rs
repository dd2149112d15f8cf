//! Hostile input (docs/reliability.md): nothing hangs, nothing is read without bound, nothing
//! is silently wrong; every refusal is exit 2 with a message naming the input.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{bin, run};

const WIDGET: &str =
    "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: demo\n";
const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: demo\n";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Runs the binary with a deadline, so a regression shows as a failure, not a hung suite.
fn run_within(args: &[&str], stdin: Stdio, limit: Duration) -> (i32, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .env_remove("KUBECTL_WAVES_MAX_INPUT_SIZE")
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`kubectl-waves {}` still running after {limit:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn plan_dir(dir: &Path) -> (i32, String, String) {
    run_within(
        &["plan", dir.to_str().unwrap()],
        Stdio::null(),
        Duration::from_secs(20),
    )
}

#[cfg(unix)]
#[test]
fn symlink_loops_are_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "cm.yaml", CM);
    std::os::unix::fs::symlink(".", tmp.path().join("self")).unwrap();
    std::os::unix::fs::symlink(".", tmp.path().join("again")).unwrap();
    let (code, stdout, stderr) = plan_dir(tmp.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("WAVES204"), "read twice: {stderr}");
    assert!(stdout.contains("demo/a"), "{stdout}");
}

#[cfg(unix)]
#[test]
fn a_symlink_to_a_file_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    write(other.path(), "real.txt", CM);
    std::os::unix::fs::symlink(other.path().join("real.txt"), tmp.path().join("cm.yaml")).unwrap();
    let (code, stdout, stderr) = plan_dir(tmp.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("demo/a"), "{stdout}");
}

#[cfg(unix)]
#[test]
fn special_files_in_a_directory_are_refused_not_opened() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "cm.yaml", CM);
    let fifo = tmp.path().join("x.yaml");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    std::os::unix::fs::symlink("/dev/zero", tmp.path().join("zero.yaml")).unwrap();
    let (code, _, stderr) = plan_dir(tmp.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("x.yaml is not a regular file (a FIFO)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("zero.yaml is not a regular file (a character device)"),
        "{stderr}"
    );
}

#[test]
fn an_endless_stdin_stops_at_the_cap() {
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let (code, _, stderr) = run_within(
        &["plan", "--max-input-size", "1Mi", "-f", "-"],
        Stdio::from(zero),
        Duration::from_secs(20),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("<stdin> is larger than the input limit of 1 MiB"),
        "{stderr}"
    );
    assert!(stderr.contains("--max-input-size"), "{stderr}");
}

#[test]
fn an_endless_file_named_explicitly_stops_at_the_cap() {
    let (code, _, stderr) = run_within(
        &["health", "--max-input-size", "1Mi", "/dev/zero"],
        Stdio::null(),
        Duration::from_secs(20),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("/dev/zero is larger than the input limit"),
        "{stderr}"
    );
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "cm.yaml", CM);
    let (code, _, stderr) = run_within(
        &[
            "health",
            "--max-input-size",
            "1Mi",
            "--health-config",
            "/dev/zero",
            tmp.path().to_str().unwrap(),
        ],
        Stdio::null(),
        Duration::from_secs(20),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("/dev/zero is larger than the input limit"),
        "{stderr}"
    );
}

#[test]
fn the_cap_applies_to_each_file_and_can_be_raised() {
    let tmp = tempfile::tempdir().unwrap();
    let big = format!("{CM}data:\n  blob: \"{}\"\n", "x".repeat(3000));
    write(tmp.path(), "big.yaml", &big);
    let dir = tmp.path().to_str().unwrap();
    let (code, _, stderr) = run(&["plan", "--max-input-size", "2Ki", dir]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("big.yaml is larger than the input limit of 2 KiB"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["plan", "--max-input-size", "4Ki", dir]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(&["plan", "--max-input-size", "lots", dir]);
    assert_eq!(code, 2, "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_is_reported() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"bad\xff.yaml");
    std::fs::write(tmp.path().join(name), CM).unwrap();
    let dir = tmp.path().to_str().unwrap();
    for args in [vec!["plan", dir], vec!["annotate", "--check", dir]] {
        let (code, _, stderr) = run(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains("bad\\xff.yaml is not UTF-8"), "{stderr}");
    }
}

#[test]
fn an_object_without_namespace_and_one_in_the_destination_namespace_are_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n  namespace: default\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n  namespace: x\n",
    );
    let dir = tmp.path().to_str().unwrap();
    let (code, _, stderr) = run(&["plan", "-n", "default", dir]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("ConfigMap/default/same is defined twice"),
        "{stderr}"
    );
    assert!(stderr.contains("ns is defined twice: at"), "{stderr}");
    let (code, _, stderr) = run(&["annotate", "--check", "-n", "default", dir]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("WAVES204"), "{stderr}");
    // Without -n the kubeconfig decides the namespace: two objects, no verdict.
    let (code, _, stderr) = run(&["plan", "-n", "other", dir]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        !stderr.contains("ConfigMap/default/same is defined twice"),
        "{stderr}"
    );
}

#[test]
fn annotations_given_as_a_list_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n  - argocd.argoproj.io/sync-wave: \"5\"\n",
    );
    let (code, _, stderr) = run(&["plan", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("metadata.annotations is a list"),
        "{stderr}"
    );
    assert!(stderr.contains("a.yaml:1"), "{stderr}");
}

const JSON_CM: &str = "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"ConfigMap\",\n  \"metadata\": {\n    \"name\": \"cfg\",\n    \"namespace\": \"demo\"\n  }\n}\n";
const POD_AT_MINUS_ONE: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: demo\n  annotations:\n    argocd.argoproj.io/sync-wave: \"-1\"\nspec:\n  containers:\n  - name: c\n    image: x\n    envFrom:\n    - configMapRef:\n        name: cfg\n";

/// A directory where `annotate --write` moves the ConfigMap in `a.yaml` (JSON text) to wave -1.
fn json_in_yaml_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "a.yaml", JSON_CM);
    write(tmp.path(), "b.yaml", POD_AT_MINUS_ONE);
    tmp
}

fn annotate_write(dir: &Path) -> (i32, String, String) {
    run(&["annotate", "--write", dir.to_str().unwrap()])
}

#[test]
fn write_into_json_saved_as_yaml_stays_json() {
    let tmp = json_in_yaml_dir();
    let (code, _, stderr) = annotate_write(tmp.path());
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(tmp.path().join("a.yaml")).unwrap();
    // Strict JSON, as a JSON decoder (older kubectl, for a stream starting with `{`) reads it.
    let value: serde_json::Value = serde_json::from_str(&text).expect("still JSON");
    assert_eq!(
        value["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"],
        "-1"
    );
}

#[test]
fn stdout_of_a_folder_starting_with_json_is_one_yaml_stream() {
    let tmp = json_in_yaml_dir();
    std::fs::rename(tmp.path().join("a.yaml"), tmp.path().join("a.json")).unwrap();
    let (code, stdout, stderr) = run(&["annotate", "--stdout", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("---\n{"), "{stdout}");
    assert!(
        stdout.contains("\n---\napiVersion: v1\nkind: Pod"),
        "{stdout}"
    );
}

#[cfg(unix)]
#[test]
fn write_leaves_read_only_files_alone() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = json_in_yaml_dir();
    let a = tmp.path().join("a.yaml");
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o444)).unwrap();
    let (code, _, stderr) = annotate_write(tmp.path());
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("the file is read-only (444)"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&a).unwrap(), JSON_CM);
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        2,
        "no temp file left"
    );
}

#[cfg(unix)]
#[test]
fn write_keeps_the_owner_or_leaves_the_file_alone() {
    use std::os::unix::fs::MetadataExt;
    let tmp = json_in_yaml_dir();
    let a = tmp.path().join("a.yaml");
    let root = std::fs::metadata(&a).unwrap().uid() == 0;
    if root {
        // As root the rename would hand the file to root: it must keep its owner.
        std::os::unix::fs::chown(&a, Some(4321), Some(4321)).unwrap();
        let (code, _, stderr) = annotate_write(tmp.path());
        assert_eq!(code, 0, "{stderr}");
        let meta = std::fs::metadata(&a).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (4321, 4321));
        assert!(std::fs::read_to_string(&a).unwrap().contains("sync-wave"));
    } else {
        // Not root: our own file keeps our uid and gid.
        let before = std::fs::metadata(&a).unwrap();
        let (code, _, stderr) = annotate_write(tmp.path());
        assert_eq!(code, 0, "{stderr}");
        let meta = std::fs::metadata(&a).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (before.uid(), before.gid()));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn temp_files_of_killed_runs_are_removed() {
    let tmp = json_in_yaml_dir();
    // No process has this id: ids stay below pid_max.
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap();
    let stale = format!(".a.yaml.waves-{}-0.tmp", pid_max.trim());
    write(tmp.path(), &stale, "half");
    let (code, _, stderr) = annotate_write(tmp.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(!tmp.path().join(&stale).exists(), "stale temp file left");
}

#[test]
fn json_with_a_byte_order_mark_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "a.json", &format!("\u{feff}{JSON_CM}"));
    let (code, stdout, stderr) = run(&["plan", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("demo/cfg"), "{stdout}");
}

#[test]
fn a_huge_wave_value_is_quoted_short_and_out_of_range_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let huge = "9".repeat(1 << 20);
    write(
        tmp.path(),
        "a.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    argocd.argoproj.io/sync-wave: \"{huge}\"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  annotations:\n    argocd.argoproj.io/sync-wave: \"x{huge}\"\n"
        ),
    );
    let (code, _, stderr) = run(&["plan", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{}", &stderr[..stderr.len().min(2000)]);
    assert!(stderr.len() < 4096, "{} bytes on stderr", stderr.len());
    assert!(stderr.contains("is out of range"), "{stderr}");
    assert!(stderr.contains("is not an integer"), "{stderr}");
    assert!(stderr.contains("bytes in all"), "{stderr}");
}

#[test]
fn control_characters_from_the_input_are_escaped_in_text_output() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"evil\\e[31m\"\n  annotations:\n    argocd.argoproj.io/sync-wave: \"\\e]0;x\\a\"\n",
    );
    let (code, _, stderr) = run(&["plan", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
        "{stderr:?}"
    );
    assert!(stderr.contains("evil\\u{1b}[31m"), "{stderr}");
    let (code, stdout, stderr) = run(&["plan", "--lenient", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    assert!(stdout.contains("evil\\u{1b}[31m"), "{stdout}");
}

#[test]
fn deep_nesting_up_to_the_documented_limit_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    write(
        tmp.path(),
        "a.yaml",
        &format!("{WIDGET}spec:\n  x: {}\n", deep(100)),
    );
    let (code, _, stderr) = run(&["plan", tmp.path().to_str().unwrap()]);
    // A custom resource: its schema is the apiserver's business, reading it is the loader's.
    assert_eq!(code, 0, "{stderr}");
    write(
        tmp.path(),
        "a.yaml",
        &format!("{CM}data:\n  x: {}\n", deep(200)),
    );
    let (code, _, stderr) = run(&["plan", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("WAVES201"), "{stderr}");
}

#[test]
fn cr_only_line_endings_give_the_lines_an_editor_shows() {
    let dir = tempfile::tempdir().unwrap();
    let text = "apiVersion: v1\rkind: ConfigMap\rmetadata:\r  name: a\r  annotations:\r    argocd.argoproj.io/sync-wave: \"x\"\r";
    write(dir.path(), "old-mac.yaml", text);
    let (code, _, stderr) = plan_dir(dir.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("old-mac.yaml:6:"), "{stderr}");
}

#[test]
fn a_null_mapping_key_is_refused_in_yaml_terms() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "nullkey.yaml", &format!("{CM}data:\n  ~: x\n"));
    let (code, _, stderr) = plan_dir(dir.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("nullkey.yaml:7:") && stderr.contains("a mapping key is null"),
        "{stderr}"
    );
    assert!(!stderr.contains("Option<"), "Rust type names: {stderr}");
}
