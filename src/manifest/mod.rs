//! Reading manifests: files and directories, stdin, or a Git revision; YAML (multi-document,
//! YAML 1.1 scalars as kubectl reads them) and JSON; `List` kinds flattened. The only module
//! that reads input bytes.

pub mod git;
mod parse;
pub mod render;
mod schema;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostics::{Code, Diagnostic};
use crate::model::{Object, Source};
use crate::par::par_map;

pub use parse::parse_file;
pub(crate) use parse::yaml_options;

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
    },
    /// A Kustomize or Helm app folder, rendered by its tool.
    Rendered {
        dir: PathBuf,
        source: render::SourceType,
        options: render::RenderOptions,
    },
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

/// Reads all input, parses it, and checks for duplicate objects. Files are read and parsed
/// on all cores.
pub fn load(input: &Input) -> Loaded {
    let mut loaded = match input {
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
            diagnostics.append(&mut loaded.diagnostics);
            loaded.diagnostics = diagnostics;
            loaded.files = files.len();
            loaded
        }
    };
    check_duplicates(&loaded.objects, &mut loaded.diagnostics);
    loaded
}

/// Parses already-read files, in parallel, keeping input order.
pub fn parse_files(files: &[InputFile]) -> Loaded {
    collect(par_map(files, parse_file))
}

fn collect(results: Vec<(Vec<Object>, Vec<Diagnostic>)>) -> Loaded {
    let mut loaded = Loaded::default();
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
        Input::Stdin => {
            let mut text = String::new();
            match std::io::stdin().read_to_string(&mut text) {
                Ok(_) => files.push(InputFile {
                    display: "<stdin>".into(),
                    json: looks_like_json(&text),
                    text,
                }),
                Err(e) => diags.push(unreadable("<stdin>", format!("cannot read stdin: {e}"))),
            }
        }
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
        Input::Git {
            repo,
            revision,
            path,
        } => {
            if let Err(message) = git::read_tree(repo, revision, path.as_deref(), &mut files) {
                diags.push(unreadable(
                    &format!("{}@{revision}", repo.display()),
                    message,
                ));
            }
        }
    }
    (files, diags)
}

/// Whether a file name is one we read when walking a directory.
pub fn is_manifest_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")
}

fn looks_like_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// The files to read under `paths`, in order: directories recursively and sorted, manifest
/// names only; a file named explicitly whatever its name.
fn walk_paths(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let mut list = Vec::new();
    let mut diags = Vec::new();
    for path in paths {
        walk(path, true, &mut list, &mut diags);
    }
    (list, diags)
}

fn walk(path: &Path, explicit: bool, list: &mut Vec<PathBuf>, diags: &mut Vec<Diagnostic>) {
    let display = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            diags.push(unreadable(&display, format!("cannot read {display}: {e}")));
            return;
        }
    };
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                diags.push(unreadable(&display, format!("cannot list {display}: {e}")));
                return;
            }
        };
        entries.sort();
        for entry in entries {
            let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('.') {
                continue; // .git and editor droppings
            }
            if entry.is_dir() || is_manifest_name(name) {
                walk(&entry, false, list, diags);
            }
        }
    } else if explicit || is_manifest_name(&display) {
        list.push(path.to_path_buf());
    }
}

/// Reads one file as UTF-8 text.
fn read_file(path: &Path) -> Result<InputFile, Diagnostic> {
    let display = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| unreadable(&display, format!("cannot read {display}: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| unreadable(&display, format!("{display} is not UTF-8 text")))?;
    let json = display.ends_with(".json")
        || (!display.ends_with(".yaml") && !display.ends_with(".yml") && looks_like_json(&text));
    Ok(InputFile {
        display: display.into(),
        text,
        json,
    })
}

/// Reports every object defined more than once, naming both places.
pub fn check_duplicates(objects: &[Object], diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<crate::model::ObjectKey, &Source> = HashMap::with_capacity(objects.len());
    for obj in objects {
        if obj.generate_name {
            continue;
        }
        if let Some(first) = seen.get(&obj.key()) {
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
            seen.insert(obj.key(), &obj.source);
        }
    }
}
