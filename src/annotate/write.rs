//! Applying the proposal: `sync-wave` edits per file through [`crate::edit`] (only annotation
//! lines change; every edit is re-parsed and proved; files are replaced atomically), or the
//! whole input as one annotated stream for `--stdout`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::Analysis;
use crate::edit::{self, AnnotationChange, EditError, Format, ObjectEdit};
use crate::manifest::InputFile;
use crate::model::Object;
use crate::model::known::SYNC_WAVE;

/// The edits of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdits {
    /// The file as the loader named it (the path given, or `<stdin>`).
    pub path: Arc<str>,
    pub edits: Vec<ObjectEdit>,
}

/// The `sync-wave` changes of the proposal, per file, in input order.
pub fn planned_edits(objects: &[Object], analysis: &Analysis) -> Vec<FileEdits> {
    let mut out: Vec<FileEdits> = Vec::new();
    let mut files: HashMap<Arc<str>, usize> = HashMap::new();
    for s in analysis.changes() {
        let o = &objects[s.object];
        let at = *files.entry(o.source.path.clone()).or_insert_with(|| {
            out.push(FileEdits {
                path: o.source.path.clone(),
                edits: Vec::new(),
            });
            out.len() - 1
        });
        out[at].edits.push(ObjectEdit {
            path: o.path,
            changes: vec![AnnotationChange::set(SYNC_WAVE, s.suggested.to_string())],
        });
    }
    out
}

/// What happened to one file.
#[derive(Debug)]
pub struct Written {
    pub path: Arc<str>,
    /// Whether it changed; an error leaves it untouched.
    pub result: Result<bool, EditError>,
}

/// Edits the files in place, several at a time ([`edit::edit_files`]); results in the order
/// of `edits`.
pub fn write_files(edits: &[FileEdits]) -> Vec<Written> {
    let jobs: Vec<(PathBuf, Vec<ObjectEdit>)> = edits
        .iter()
        .map(|f| (PathBuf::from(&*f.path), f.edits.clone()))
        .collect();
    edit::edit_files(&jobs)
        .into_iter()
        .zip(edits)
        .map(|(result, f)| Written {
            path: f.path.clone(),
            result,
        })
        .collect()
}

/// The whole input with the proposal applied, as one stream: each file's text (edited where
/// needed) in input order, separated by `---` unless a file starts with one.
pub fn annotated_stream(
    files: &[InputFile],
    edits: &[FileEdits],
) -> Result<String, (Arc<str>, EditError)> {
    let by_file: HashMap<&str, &FileEdits> = edits.iter().map(|f| (&*f.path, f)).collect();
    let mut out = String::new();
    for file in files {
        let format = if file.json {
            Format::Json
        } else {
            Format::Yaml
        };
        let text = match by_file.get(&*file.display) {
            Some(f) => edit::edit_text(&file.text, format, &f.edits)
                .map_err(|e| (file.display.clone(), e))?,
            None => file.text.clone(),
        };
        if text.trim().is_empty() {
            continue;
        }
        if !out.is_empty() {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            if text.starts_with('%') {
                // Directives may only follow an explicitly ended document.
                if !out.ends_with("...\n") {
                    out.push_str("...\n");
                }
            } else if !text.starts_with("---") {
                out.push_str("---\n");
            }
        }
        out.push_str(&text);
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    // kubectl decodes a stream that starts with `{` as JSON and then stops at the first
    // `---`: a stream of several documents starting with a JSON file is marked as YAML.
    if out.trim_start().starts_with('{') && out.contains("\n---\n") {
        out.insert_str(0, "---\n");
    }
    Ok(out)
}
