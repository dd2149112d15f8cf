//! Reading manifests: files and directories, stdin, or a Git revision; YAML (multi-document,
//! YAML 1.1 scalars as kubectl reads them) and JSON; `List` kinds flattened. The only module
//! that reads input bytes.

pub mod app;
pub mod git;
pub(crate) mod parse;
pub mod read;
pub mod render;
mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostics::{Code, Diagnostic};
use crate::model::{Object, Source};
use crate::par::par_map;

pub use parse::parse_file;
pub(crate) use parse::{MAX_DEPTH, packed_yaml_documents, yaml_options};
pub use read::is_manifest_name;

/// Where to read manifests from.
#[derive(Debug, Clone)]
pub enum Input {
    /// Files and directories (recursive).
    Paths(Vec<PathBuf>),
    /// A manifest stream on stdin (`-f -`).
    Stdin,
    /// A tree in a Git repository, read without a checkout.
    Git {
        repo: PathBuf,
        revision: String,
        path: Option<String>,
        /// `--source-type` (else detected in the tree, as for a folder).
        source_type: Option<render::SourceType>,
        /// How a Kustomize or Helm app at that revision is rendered.
        options: Box<render::RenderOptions>,
    },
    /// An Argo CD Application's sources.
    App {
        app: Arc<app::Application>,
        context: app::ReadContext,
    },
    /// A Kustomize or Helm app folder, rendered by its tool.
    Rendered {
        dir: PathBuf,
        source: render::SourceType,
        options: Box<render::RenderOptions>,
    },
}

/// Where the objects came from and what produced them, for `plan`'s output: the source type
/// as Argo CD names it and, for a rendered app, the renderer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceInfo {
    /// `directory`, `kustomize`, `helm` (Argo CD's source types), or `stdin`.
    #[serde(rename = "type")]
    pub source_type: &'static str,
    /// The folder, file or stream read (`REV:path` in Git).
    pub path: String,
    /// The command that rendered it (`kubectl kustomize`, `helm template`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renderer: Option<String>,
    /// The Application whose source this is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
}

/// What [`load`] reads `input` as; for an Application, what its last read found.
pub fn describe(input: &Input) -> Vec<SourceInfo> {
    let plain = |source_type: &'static str, path: String| SourceInfo {
        source_type,
        path,
        renderer: None,
        application: None,
    };
    match input {
        Input::Stdin => vec![plain("stdin", "-".into())],
        Input::Paths(paths) => paths
            .iter()
            .map(|p| plain("directory", read::display_path(p)))
            .collect(),
        Input::Git {
            repo,
            revision,
            path,
            source_type,
            ..
        } => {
            let shown = format!("{revision}:{}", path.as_deref().unwrap_or(""));
            let source =
                source_type.or_else(|| app::git_source_type(repo, revision, path.as_deref()));
            vec![SourceInfo {
                renderer: source.and_then(render::renderer),
                ..plain(
                    source.unwrap_or(render::SourceType::Directory).as_str(),
                    shown,
                )
            }]
        }
        Input::Rendered { dir, source, .. } => vec![SourceInfo {
            renderer: render::renderer(*source),
            ..plain(source.as_str(), read::display_path(dir))
        }],
        Input::App { app, .. } => app.read.lock().map(|r| r.clone()).unwrap_or_default(),
    }
}

/// One input file's text and how to show its name.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub display: Arc<str>,
    pub text: String,
    pub json: bool,
}

/// The objects read and every problem found while reading them.
#[derive(Debug, Default)]
pub struct Loaded {
    pub objects: Vec<Object>,
    pub diagnostics: Vec<Diagnostic>,
    /// How many files were read.
    pub files: usize,
}

/// Reads all input and parses it, files on all cores. Duplicates are found when the plan is
/// built ([`check_duplicates`]), which knows the namespace of objects without one.
pub fn load(input: &Input) -> Loaded {
    match input {
        Input::Paths(paths) => {
            let (list, mut diagnostics) = walk_paths(paths);
            let results = par_map(&list, |path| match read_file(path) {
                Ok(file) => parse_file(&file),
                Err(d) => (Vec::new(), vec![d]),
            });
            let mut loaded = collect(results);
            diagnostics.append(&mut loaded.diagnostics);
            loaded.diagnostics = diagnostics;
            loaded.files = list.len();
            loaded
        }
        _ => {
            let (files, mut diagnostics) = read_input(input);
            let mut loaded = parse_files(&files);
            // Helm's output names each object's template: show that instead of a line of the
            // rendered stream. A chart folder's template is shown as its file; an
            // Application's chart (from Git or a repository) in Helm's own words.
            let chart_dir = match input {
                Input::Rendered { dir, .. } => Some(dir.as_path()),
                _ => None,
            };
            for file in files
                .iter()
                .filter(|f| f.display.ends_with(" (helm template)"))
            {
                let templates = render::HelmTemplates::of(chart_dir, &file.text);
                for obj in &mut loaded.objects {
                    templates.rename(file, &mut obj.source);
                }
                for d in &mut loaded.diagnostics {
                    templates.rename(file, &mut d.source);
                }
            }
            diagnostics.append(&mut loaded.diagnostics);
            loaded.diagnostics = diagnostics;
            loaded.files = files.len();
            loaded
        }
    }
}

/// Parses already-read files, in parallel, keeping input order.
pub fn parse_files(files: &[InputFile]) -> Loaded {
    collect(par_map(files, parse_file))
}

fn collect(results: Vec<(Vec<Object>, Vec<Diagnostic>)>) -> Loaded {
    // Sized once: growing by doubling would hold up to twice the room, and copy it all.
    let count = results.iter().map(|(objects, _)| objects.len()).sum();
    let mut loaded = Loaded {
        objects: Vec::with_capacity(count),
        ..Loaded::default()
    };
    for (mut objects, mut diags) in results {
        loaded.objects.append(&mut objects);
        loaded.diagnostics.append(&mut diags);
    }
    loaded
}

fn unreadable(display: &str, message: String) -> Diagnostic {
    Diagnostic::new(
        Code::UnreadableInput,
        &Source::new(display, 0),
        "-",
        message,
    )
}

/// Reads the bytes of every input file; unreadable inputs become diagnostics.
pub fn read_input(input: &Input) -> (Vec<InputFile>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut diags = Vec::new();
    match input {
        Input::Stdin => match read::read_stdin_text() {
            Ok(text) => files.push(InputFile {
                display: "<stdin>".into(),
                json: looks_like_json(&text),
                text,
            }),
            Err(message) => diags.push(unreadable("<stdin>", message)),
        },
        Input::Paths(paths) => {
            let (list, mut walked) = walk_paths(paths);
            diags.append(&mut walked);
            for result in par_map(&list, |p| read_file(p)) {
                match result {
                    Ok(file) => files.push(file),
                    Err(d) => diags.push(d),
                }
            }
        }
        Input::Rendered {
            dir,
            source,
            options,
        } => match render::render(dir, *source, options) {
            Ok(file) => files.push(file),
            Err(message) => diags.push(unreadable(&dir.display().to_string(), message)),
        },
        Input::App { app, context } => match app::read_sources(app, context) {
            Ok(mut read) => files.append(&mut read),
            Err(message) => diags.push(unreadable(&app.origin, message)),
        },
        Input::Git {
            repo,
            revision,
            path,
            source_type,
            options,
        } => {
            let read = app::read_git_app(repo, revision, path.as_deref(), *source_type, options)
                .and_then(|rendered| match rendered {
                    Some(file) => {
                        files.push(file);
                        Ok(())
                    }
                    None => git::read_tree(repo, revision, path.as_deref(), &mut files),
                });
            if let Err(message) = read {
                diags.push(unreadable(
                    &format!("{}@{revision}", repo.display()),
                    message,
                ));
            }
        }
    }
    (files, diags)
}

pub(crate) fn looks_like_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// The files to read under `paths` ([`read::walk_paths`]); problems become diagnostics.
fn walk_paths(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let (list, problems) = read::walk_paths(paths);
    let diags = problems
        .into_iter()
        .map(|(display, message)| unreadable(&display, message))
        .collect();
    (list, diags)
}

/// Reads one file as UTF-8 text, under the size cap.
fn read_file(path: &Path) -> Result<InputFile, Diagnostic> {
    let display = read::display_path(path);
    let text = read::read_text_file(path).map_err(|message| unreadable(&display, message))?;
    let json = display.ends_with(".json")
        || (!display.ends_with(".yaml") && !display.ends_with(".yml") && looks_like_json(&text));
    Ok(InputFile {
        display: display.into(),
        text,
        json,
    })
}

/// The identity the apiserver gives an object: a built-in cluster-scoped kind has no
/// namespace whatever is written; an object without one gets `destination` (`-n`).
pub fn effective_key(obj: &Object, destination: Option<&str>) -> crate::model::ObjectKey {
    let mut key = obj.key();
    if crate::model::known::is_builtin_cluster_scoped(&obj.group, &obj.kind) {
        key.namespace.clear();
    } else if key.namespace.is_empty() {
        key.namespace = destination.unwrap_or("").to_string();
    }
    key
}

/// Reports every object defined more than once, naming both places; `destination` is `-n`,
/// the namespace of objects without one (without `-n` it depends on the kubeconfig, so
/// `name` and `default/name` are told apart).
pub fn check_duplicates(
    objects: &[Object],
    destination: Option<&str>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut seen: HashMap<crate::model::ObjectKey, &Source> = HashMap::with_capacity(objects.len());
    for obj in objects {
        if obj.generate_name {
            continue;
        }
        let key = effective_key(obj, destination);
        if let Some(first) = seen.get(&key) {
            diags.push(Diagnostic::new(
                Code::DuplicateObject,
                &obj.source,
                obj.display_name(),
                format!(
                    "{} is defined twice: at {} and at {}; remove one of them",
                    obj.display_name(),
                    first,
                    obj.source
                ),
            ));
        } else {
            seen.insert(key, &obj.source);
        }
    }
}
