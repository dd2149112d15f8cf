//! Kustomize and Helm apps, read the way Argo CD's repo server reads them: the app folder's
//! source type is detected from its files (a Kustomization wins over a `Chart.yaml`, else
//! plain manifests), and a Kustomize or Helm app is rendered by the user's own `kustomize`
//! (else `kubectl kustomize`) or `helm template`, whose output is then read like stdin.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use super::InputFile;
use crate::source::Source;

/// How an app folder becomes manifests (Argo CD's source types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceType {
    /// Plain manifests, read recursively.
    Directory,
    /// `kustomize build` (or `kubectl kustomize`).
    Kustomize,
    /// `helm template`.
    Helm,
}

impl SourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Directory => "directory",
            SourceType::Kustomize => "kustomize",
            SourceType::Helm => "helm",
        }
    }
}

/// The file names that make a folder a Kustomize app, as Kustomize accepts them.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The source type of an app folder: a Kustomization file → Kustomize, a `Chart.yaml` →
/// Helm (Kustomize first when both exist, as Argo CD), otherwise plain manifests.
pub fn detect(dir: &Path) -> SourceType {
    if KUSTOMIZATION_FILES.iter().any(|f| dir.join(f).is_file()) {
        SourceType::Kustomize
    } else if dir.join("Chart.yaml").is_file() {
        SourceType::Helm
    } else {
        SourceType::Directory
    }
}

/// What a render needs beyond the folder.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Helm's release name (Argo CD: the Application's name); default: the folder's name.
    pub release_name: Option<String>,
    /// The destination namespace (`helm template -n`).
    pub namespace: Option<String>,
    /// Extra words for `kustomize build` (Argo CD's `kustomize.buildOptions`).
    pub kustomize_build_options: Vec<String>,
    /// `helm template --values FILE`, in order.
    pub helm_values: Vec<PathBuf>,
    /// `helm template --set KEY=VALUE`, in order.
    pub helm_set: Vec<String>,
    /// Leave CRDs out (Argo CD's `skipCrds`); default: `--include-crds`.
    pub helm_skip_crds: bool,
    /// `helm template --set-string KEY=VALUE` (Argo CD's `forceString` parameters).
    pub helm_set_string: Vec<String>,
    /// `helm template --set-file KEY=PATH` (Argo CD's `fileParameters`).
    pub helm_set_file: Vec<String>,
    /// `--skip-tests` (Argo CD's `skipTests`).
    pub helm_skip_tests: bool,
    /// `--skip-schema-validation` (Argo CD's `skipSchemaValidation`).
    pub helm_skip_schema_validation: bool,
    /// `--kube-version` (Argo CD's `kubeVersion`).
    pub helm_kube_version: Option<String>,
    /// `--api-versions`, each (Argo CD's `apiVersions`).
    pub helm_api_versions: Vec<String>,
    /// A chart from a repository or registry instead of the folder.
    pub helm_chart: Option<HelmChart>,
}

/// A chart that `helm template` fetches itself: from a chart repository (`--repo`) or an OCI
/// registry (`oci://…`).
#[derive(Debug, Clone, Default)]
pub struct HelmChart {
    /// The chart's name in the repository, or its `oci://` reference.
    pub reference: String,
    /// `--repo URL` for a chart repository.
    pub repo: Option<String>,
    /// `--version`; `None` for the latest.
    pub version: Option<String>,
}

/// Renders a Kustomize or Helm app into one manifest stream, named after the command that
/// made it (its lines are lines of that stream, not of the user's files).
pub fn render(
    dir: &Path,
    source: SourceType,
    options: &RenderOptions,
) -> Result<InputFile, String> {
    let folder = dir.display().to_string();
    let (program, args, display) = match source {
        SourceType::Directory => {
            return Err(format!(
                "{folder}: a directory source is read, not rendered"
            ));
        }
        SourceType::Kustomize => {
            let mut args: Vec<String> = Vec::new();
            let program = if let Some(p) = on_path("kustomize") {
                args.push("build".into());
                p
            } else if let Some(p) = on_path("kubectl") {
                args.push("kustomize".into());
                p
            } else {
                return Err(format!(
                    "{folder} is a Kustomize app (it has a kustomization file), but neither `kustomize` nor `kubectl` is on PATH: install one (https://kubectl.docs.kubernetes.io/installation/kustomize/), or render it yourself: kustomize build {folder} | kubectl waves plan -f -"
                ));
            };
            args.extend(options.kustomize_build_options.iter().cloned());
            args.push(folder.clone());
            let name = program
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let display = format!("{folder} ({name} {})", args[0]);
            (program, args, display)
        }
        SourceType::Helm => {
            let Some(program) = on_path("helm") else {
                return Err(format!(
                    "{folder} is a Helm chart (it has a Chart.yaml), but `helm` is not on PATH: install Helm 3 (https://helm.sh/docs/intro/install/), or render it yourself: helm template NAME {folder} | kubectl waves plan -f -"
                ));
            };
            let release = options.release_name.clone().unwrap_or_else(|| {
                std::fs::canonicalize(dir)
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_else(|| "release".into())
            });
            let chart = match &options.helm_chart {
                Some(chart) => chart.reference.clone(),
                None => folder.clone(),
            };
            let mut args = vec!["template".to_string(), release, chart];
            if let Some(chart) = &options.helm_chart {
                if let Some(repo) = &chart.repo {
                    args.extend(["--repo".into(), repo.clone()]);
                }
                if let Some(version) = &chart.version {
                    args.extend(["--version".into(), version.clone()]);
                }
            }
            if !options.helm_skip_crds {
                args.push("--include-crds".into());
            }
            if options.helm_skip_tests {
                args.push("--skip-tests".into());
            }
            if options.helm_skip_schema_validation {
                args.push("--skip-schema-validation".into());
            }
            if let Some(version) = &options.helm_kube_version {
                args.extend(["--kube-version".into(), version.clone()]);
            }
            for api in &options.helm_api_versions {
                args.extend(["--api-versions".into(), api.clone()]);
            }
            if let Some(ns) = &options.namespace {
                args.extend(["--namespace".into(), ns.clone()]);
            }
            for values in &options.helm_values {
                args.extend(["--values".into(), values.display().to_string()]);
            }
            for set in &options.helm_set {
                args.extend(["--set".into(), set.clone()]);
            }
            for set in &options.helm_set_string {
                args.extend(["--set-string".into(), set.clone()]);
            }
            for set in &options.helm_set_file {
                args.extend(["--set-file".into(), set.clone()]);
            }
            (program, args, format!("{folder} (helm template)"))
        }
    };
    let output = run_capped(&program, &args, &display)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first: Vec<&str> = stderr.lines().take(20).collect();
        return Err(format!(
            "`{} {}` failed ({}):\n{}",
            program.display(),
            args.join(" "),
            output.status,
            first.join("\n")
        ));
    }
    let text = String::from_utf8(output.stdout).map_err(|_| {
        format!(
            "`{} {}` printed text that is not UTF-8",
            program.display(),
            args.join(" ")
        )
    })?;
    Ok(InputFile {
        display: display.into(),
        text,
        json: false,
    })
}

/// Runs a renderer with its output under `--max-input-size`, like any other stream we read:
/// a chart that loops into gigabytes of YAML ends in a clear error, not in "out of memory".
/// Past the cap the renderer is killed. Its stderr is kept up to 64 KiB (for the message).
fn run_capped(
    program: &Path,
    args: &[String],
    display: &str,
) -> Result<std::process::Output, String> {
    use std::io::Read;
    let cannot_run = |e: std::io::Error| format!("cannot run {}: {e}", program.display());
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(cannot_run)?;
    let stderr = child.stderr.take().map(|pipe| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut pipe = pipe;
            let _ = (&mut pipe).take(64 * 1024).read_to_end(&mut kept);
            // Drain the rest so the renderer never blocks on a full pipe.
            let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            kept
        })
    });
    let stdout = child
        .stdout
        .take()
        .map(|pipe| super::read::read_capped(pipe, display))
        .unwrap_or_else(|| Ok(Vec::new()));
    if stdout.is_err() {
        let _ = child.kill();
    }
    let status = child.wait().map_err(cannot_run)?;
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    Ok(std::process::Output {
        status,
        stdout: stdout?,
        stderr,
    })
}

/// The command that renders a source type here (`kustomize build` when `kustomize` is on
/// PATH, else `kubectl kustomize`; `helm template`).
pub fn renderer(source: SourceType) -> Option<String> {
    match source {
        SourceType::Directory => None,
        SourceType::Kustomize if on_path("kustomize").is_some() => Some("kustomize build".into()),
        SourceType::Kustomize => Some("kubectl kustomize".into()),
        SourceType::Helm => Some("helm template".into()),
    }
}

/// Which template each line of `helm template`'s output came from: Helm starts every
/// document with `---` and `# Source: CHART/templates/x.yaml`. An object is shown with its
/// template and no line, because a line of the rendered stream is not a line of that file.
#[derive(Debug, Default)]
pub struct HelmTemplates {
    /// For each 0-based line of the output, the template of its document, if Helm named it.
    by_line: Vec<Option<Arc<str>>>,
}

impl HelmTemplates {
    /// Reads the `# Source:` comments of `text`, rendered from the chart folder `dir` (if
    /// any). A template shown as `CHART/rest` becomes `dir/rest` when that file exists (a path
    /// the user can open, also for subcharts unpacked under `charts/`), else stays Helm's text.
    pub fn of(dir: Option<&Path>, text: &str) -> HelmTemplates {
        let mut current: Option<Arc<str>> = None;
        let mut by_line = Vec::new();
        for line in text.lines() {
            if line.trim_end() == "---" || line.starts_with("--- ") {
                current = None;
            } else if let Some(name) = line.strip_prefix("# Source: ") {
                current = Some(template_path(dir, name.trim()).into());
            }
            by_line.push(current.clone());
        }
        HelmTemplates { by_line }
    }

    /// Replaces `source`, a line of `file` (the rendered stream), by its template.
    pub fn rename(&self, file: &InputFile, source: &mut Source) {
        if source.path != file.display || source.line == 0 {
            return;
        }
        if let Some(Some(template)) = self.by_line.get(source.line - 1) {
            *source = Source::new(template.clone(), 0);
        }
    }
}

fn template_path(dir: Option<&Path>, shown: &str) -> String {
    if let (Some(dir), Some((_chart, rest))) = (dir, shown.split_once('/')) {
        let file = dir.join(rest);
        if file.is_file() {
            return file.display().to_string();
        }
    }
    shown.to_string()
}

/// The first executable named `name` on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file() || path.with_extension("exe").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_objects_name_their_template_without_a_line() {
        let chart = tempfile::tempdir().unwrap();
        std::fs::create_dir(chart.path().join("templates")).unwrap();
        std::fs::write(chart.path().join("templates/cm.yaml"), "x").unwrap();
        let text = "---\n# Source: demo/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\n\
                    ---\n# Source: demo/charts/sub/templates/gone.yaml\nkind: Secret\n---\nkind: Pod\n";
        let file = InputFile {
            display: "chart (helm template)".into(),
            text: text.into(),
            json: false,
        };
        let templates = HelmTemplates::of(Some(chart.path()), text);
        let mut source = Source::new(file.display.clone(), 3);
        templates.rename(&file, &mut source);
        assert_eq!(
            source.to_string(),
            chart.path().join("templates/cm.yaml").display().to_string()
        );
        // Not a file of the folder (a packaged subchart): Helm's own words.
        let mut source = Source::new(file.display.clone(), 7);
        templates.rename(&file, &mut source);
        assert_eq!(source, "demo/charts/sub/templates/gone.yaml");
        // A document Helm did not name keeps its rendered line.
        let mut source = Source::new(file.display.clone(), 9);
        templates.rename(&file, &mut source);
        assert_eq!(source, "chart (helm template):9");
    }

    #[test]
    fn detection_follows_argo_cd() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(detect(dir.path()), SourceType::Directory);
        std::fs::write(dir.path().join("Chart.yaml"), "name: x\n").unwrap();
        assert_eq!(detect(dir.path()), SourceType::Helm);
        std::fs::write(dir.path().join("Kustomization"), "resources: []\n").unwrap();
        assert_eq!(
            detect(dir.path()),
            SourceType::Kustomize,
            "Kustomize wins over Helm"
        );
    }
}
