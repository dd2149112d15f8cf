//! The krew manifest (`plugin-manifest/waves.yaml`) and `scripts/release`: the manifest is
//! checked against krew's rules, the script builds this platform's archive (from the binary the
//! tests built) and records its checksum, and the plugin is installed from manifest and archive
//! the way krew installs (checksum, unpack, `files` into `store/waves/VERSION`, a link in
//! `bin/`) into a temporary KREW_ROOT, then run through the Go-built kubectl's plugin discovery.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{bin, root};
use crate::ship::kubectl;

/// The platforms the manifest promises, as krew's `os`/`arch` selector labels.
const PLATFORMS: [(&str, &str); 5] = [
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
    ("windows", "amd64"),
];

fn this_platform() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    (
        PLATFORMS
            .iter()
            .find(|p| p.0 == os)
            .expect("a supported OS")
            .0,
        PLATFORMS
            .iter()
            .find(|p| p.1 == arch)
            .expect("a supported CPU")
            .1,
    )
}

fn read_manifest(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read the manifest");
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} is missing or not a string"))
}

fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read the archive");
    ring::digest::digest(&ring::digest::SHA256, &bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// krew's rules for a plugin manifest (its `validate` package and the krew-index checks):
/// problems as messages; PENDING checksums are allowed where `pending_ok`.
fn problems(
    manifest: &Value,
    file_stem: &str,
    pending_ok: &dyn Fn(&str, &str) -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut need = |ok: bool, what: String| {
        if !ok {
            out.push(what);
        }
    };
    need(
        manifest["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2",
        "apiVersion".into(),
    );
    need(manifest["kind"] == "Plugin", "kind".into());
    let name = str_at(manifest, "/metadata/name");
    need(
        name == file_stem,
        format!("metadata.name {name} is not the file name"),
    );
    need(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with("kubectl"),
        format!("bad plugin name {name}"),
    );
    let version = str_at(manifest, "/spec/version");
    need(
        version == format!("v{}", env!("CARGO_PKG_VERSION")),
        format!("spec.version {version} is not v + Cargo.toml's version"),
    );
    let short = str_at(manifest, "/spec/shortDescription");
    need(
        !short.is_empty() && short.len() <= 50,
        "shortDescription".into(),
    );
    need(
        !str_at(manifest, "/spec/description").trim().is_empty(),
        "description".into(),
    );
    need(
        str_at(manifest, "/spec/homepage").starts_with("https://"),
        "homepage".into(),
    );
    need(
        !str_at(manifest, "/spec/caveats").trim().is_empty(),
        "caveats".into(),
    );
    let platforms = manifest
        .pointer("/spec/platforms")
        .and_then(Value::as_array)
        .expect("spec.platforms");
    let mut seen = Vec::new();
    for p in platforms {
        let labels = p
            .pointer("/selector/matchLabels")
            .and_then(Value::as_object)
            .expect("selector.matchLabels");
        let os = labels.get("os").and_then(Value::as_str).unwrap_or("");
        let arch = labels.get("arch").and_then(Value::as_str).unwrap_or("");
        let at = format!("{os}/{arch}");
        need(
            labels.len() == 2,
            format!("{at}: selector has other labels"),
        );
        need(!seen.contains(&at), format!("{at}: two platforms match"));
        seen.push(at.clone());
        let uri = str_at(p, "/uri");
        need(
            uri.starts_with("https://")
                && uri.ends_with(&format!(
                    "/{version}/kubectl-waves_{version}_{os}_{arch}.tar.gz"
                )),
            format!("{at}: uri {uri}"),
        );
        let sha = str_at(p, "/sha256");
        need(
            is_sha256(sha) || (sha == "PENDING" && pending_ok(os, arch)),
            format!("{at}: sha256 {sha}"),
        );
        let bin = str_at(p, "/bin");
        let exe = if os == "windows" {
            "kubectl-waves.exe"
        } else {
            "kubectl-waves"
        };
        need(bin == exe, format!("{at}: bin {bin}"));
        let files = p
            .pointer("/files")
            .and_then(Value::as_array)
            .expect("files");
        let froms: Vec<&str> = files.iter().map(|f| str_at(f, "/from")).collect();
        for wanted in [exe, "LICENSE"] {
            need(
                froms.contains(&wanted),
                format!("{at}: files lack {wanted}"),
            );
        }
        for f in files {
            let to = str_at(f, "/to");
            need(
                !to.starts_with('/') && !to.split('/').any(|c| c == ".."),
                format!("{at}: files.to {to} leaves the plugin's folder"),
            );
        }
    }
    let mut expected: Vec<String> = PLATFORMS.iter().map(|(o, a)| format!("{o}/{a}")).collect();
    expected.sort();
    seen.sort();
    need(seen == expected, format!("platforms {seen:?}"));
    out
}

/// Installs as krew does: the platform whose selector matches, the archive named by its uri
/// (here a local file), its checksum, unpacked, `files` copied into the store, `bin` linked.
fn krew_install(manifest: &Value, archives: &Path, krew_root: &Path) -> PathBuf {
    let (os, arch) = this_platform();
    let platform = manifest["spec"]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["selector"]["matchLabels"]["os"] == os && p["selector"]["matchLabels"]["arch"] == arch
        })
        .expect("a platform for this machine");
    let uri = str_at(platform, "/uri");
    let archive = archives.join(uri.rsplit('/').next().unwrap());
    assert_eq!(
        sha256_hex(&archive),
        str_at(platform, "/sha256"),
        "checksum"
    );
    let unpacked = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(unpacked.path())
        .status()
        .expect("tar");
    assert!(status.success());
    let name = str_at(manifest, "/metadata/name");
    let version = str_at(manifest, "/spec/version");
    let store = krew_root.join("store").join(name).join(version);
    for f in platform["files"].as_array().unwrap() {
        let (from, to) = (str_at(f, "/from"), str_at(f, "/to"));
        let target = if to == "." {
            store.clone()
        } else {
            store.join(to)
        };
        std::fs::create_dir_all(&target).unwrap();
        // `from` is a file or a `dir/*` glob, the only forms this manifest uses.
        let sources: Vec<PathBuf> = match from.strip_suffix("/*") {
            Some(dir) => std::fs::read_dir(unpacked.path().join(dir))
                .unwrap_or_else(|e| panic!("{from}: {e}"))
                .map(|e| e.unwrap().path())
                .collect(),
            None => vec![unpacked.path().join(from)],
        };
        assert!(!sources.is_empty(), "{from} matches nothing in the archive");
        for source in sources {
            assert!(
                source.exists(),
                "{} is not in the archive",
                source.display()
            );
            std::fs::copy(&source, target.join(source.file_name().unwrap())).unwrap();
        }
    }
    let installed = store.join(str_at(platform, "/bin"));
    std::fs::create_dir_all(krew_root.join("bin")).unwrap();
    let link = krew_root.join("bin").join(format!("kubectl-{name}"));
    std::os::unix::fs::symlink(&installed, &link).unwrap();
    link
}

#[test]
fn the_checked_in_manifest_follows_krews_rules() {
    let manifest = read_manifest(&root().join("plugin-manifest/waves.yaml"));
    let found = problems(&manifest, "waves", &|_, _| true);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn release_archive_installs_through_the_manifest_and_runs_through_kubectl() {
    let work = tempfile::tempdir().unwrap();
    let manifest_path = work.path().join("waves.yaml");
    std::fs::copy(root().join("plugin-manifest/waves.yaml"), &manifest_path).unwrap();
    let dist = work.path().join("dist");
    let out = Command::new(root().join("scripts/release"))
        .arg("--binary")
        .arg(bin())
        .arg("--out")
        .arg(&dist)
        .arg("--manifest")
        .arg(&manifest_path)
        .output()
        .expect("run scripts/release");
    assert!(
        out.status.success(),
        "scripts/release: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let manifest = read_manifest(&manifest_path);
    let (os, arch) = this_platform();
    // Only this platform's entry changed, and it is complete now.
    let found = problems(&manifest, "waves", &|o, a| (o, a) != (os, arch));
    assert!(found.is_empty(), "{found:#?}");
    let before = std::fs::read_to_string(root().join("plugin-manifest/waves.yaml")).unwrap();
    let after = std::fs::read_to_string(&manifest_path).unwrap();
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(b, a)| b != a)
        .collect();
    assert!(
        changed
            .iter()
            .all(|(_, a)| a.starts_with("    sha256: ") || a.starts_with("    uri: ")),
        "{changed:#?}"
    );
    assert_eq!(before.lines().count(), after.lines().count());
    let pending = Command::new(root().join("scripts/release"))
        .arg("--check")
        .arg("--manifest")
        .arg(&manifest_path)
        .output()
        .unwrap();
    assert_eq!(
        pending.status.code(),
        Some(1),
        "other platforms are still PENDING"
    );

    let krew_root = work.path().join("krew");
    let link = krew_install(&manifest, &dist, &krew_root);
    let store = krew_root
        .join("store/waves")
        .join(format!("v{}", env!("CARGO_PKG_VERSION")));
    for file in ["LICENSE", "README.md", "man/kubectl-waves-sync.1"] {
        assert!(store.join(file).exists(), "{file} is installed");
    }
    assert!(link.exists());

    let path = std::env::join_paths([krew_root.join("bin"), cluster_bin_dir()]).unwrap();
    let version = Command::new(kubectl())
        .args(["waves", "--version"])
        .env("PATH", &path)
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl waves --version");
    let stdout = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&version.stderr)
    );
    assert!(
        stdout.starts_with(&format!(
            "kubectl-waves {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{stdout}"
    );
    let list = Command::new(kubectl())
        .args(["plugin", "list", "--name-only"])
        .env("PATH", &path)
        .output()
        .expect("kubectl plugin list");
    assert!(
        String::from_utf8_lossy(&list.stdout)
            .lines()
            .any(|l| l == "kubectl-waves"),
        "{}",
        String::from_utf8_lossy(&list.stdout)
    );
}

fn cluster_bin_dir() -> PathBuf {
    kubectl().parent().unwrap().to_path_buf()
}
