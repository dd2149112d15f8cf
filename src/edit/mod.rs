//! Format-preserving edits of `metadata.annotations` in manifest files (`annotate --write`).
//!
//! Only the annotation lines of the objects named in the edits change: comments, key order,
//! quoting, indentation, document separators (`---`, `...`), directives and every other
//! document stay byte-identical. Every edit is proved before it is returned or written:
//!
//! 1. the input is parsed into data the way the loader reads it (serde-saphyr with kubectl's
//!    YAML 1.1 scalar rules, or a serde_json stream), and the intended data is computed by
//!    applying the changes to that data;
//! 2. the text is edited: for YAML, each edited object's `metadata` entry is edited on its own
//!    through `yaml-edit`'s lossless tree and spliced back, so every byte outside those entries
//!    is copied from the input by construction; for JSON, the inside of the one object that
//!    changes (`annotations`, or `metadata` to add or drop that key) is rewritten, copying
//!    untouched members and their separators byte for byte;
//! 3. the whole new text is parsed again and must equal the intended data, key order included.
//!
//! Anything that fails is an [`EditError`] saying why, and [`edit_file`] leaves the file
//! untouched; a file that passes is replaced atomically (temp file in the same directory,
//! fsync, rename over the original, permissions kept, then the directory fsynced).
//!
//! # Semantics
//!
//! * Objects are addressed by [`ObjectPath`]: `document` is the index in the stream as
//!   `serde_saphyr::from_multiple` returns it, so empty documents (nothing, only comments, or
//!   a plain `~`/`null`, or `!!null`) are *not* counted; `item` is the index in `items` of a
//!   List document (any document with an `items` sequence). A JSON file may hold a stream of
//!   values; `document` counts them. This is exactly how `manifest` numbers objects.
//! * [`AnnotationChange::Set`] replaces an existing value in place (same line, a trailing
//!   comment kept; double or single quotes kept when the old value had them, otherwise the
//!   quote style of the other annotation values, double quotes when there are none; values
//!   are always written quoted since annotations are strings) and appends a new key after the
//!   last annotation (its key quoted like the first existing key). Setting a value that is
//!   already there is a no-op. When the object has no `annotations` (or `annotations:` is
//!   null), a block `annotations:` mapping is added as the last key of `metadata`, indented as
//!   the file indents mappings under `metadata` (a flow entry in a flow-style `metadata`; in
//!   JSON, laid out like `metadata`).
//! * [`AnnotationChange::Remove`] of a missing key is a no-op. When the removals of one
//!   [`ObjectEdit`] leave the annotations empty, the `annotations` key itself is removed
//!   (rather than leaving `annotations: {}`).
//! * Refused per object ([`ObjectProblem`]): a `metadata` or `annotations` node that carries
//!   an anchor, is an alias, has a tag, or uses a merge key (`<<`) — an edit there would change
//!   other nodes or depend on the merge; a document or item that is not a mapping; no
//!   `metadata`; duplicate keys in JSON. Refused per file ([`Unsupported`]): not UTF-8, not a
//!   regular file, several hard links (a rename would split them), a stream where `yaml-edit`
//!   and serde-saphyr disagree about the documents, or a panic inside the editor. A result
//!   that does not re-parse to the intended data (e.g. an edit that would make the file exceed
//!   serde-saphyr's default budget, 250,000 nodes) is [`EditError::Verification`].
//! * Symlinks are followed (the file they name is replaced); the file is read again just
//!   before the rename and the edit is dropped ([`EditError::Changed`]) if it changed.

mod json;
mod yaml;

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::model::Body;
pub use crate::model::ObjectPath;

/// One change to the annotations of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnnotationChange {
    /// Sets `key` to the string `value` (written quoted).
    Set { key: String, value: String },
    /// Removes `key` if present.
    Remove { key: String },
}

impl AnnotationChange {
    /// A [`AnnotationChange::Set`].
    pub fn set(key: impl Into<String>, value: impl Into<String>) -> Self {
        AnnotationChange::Set {
            key: key.into(),
            value: value.into(),
        }
    }

    /// A [`AnnotationChange::Remove`].
    pub fn remove(key: impl Into<String>) -> Self {
        AnnotationChange::Remove { key: key.into() }
    }
}

/// The changes to one object, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEdit {
    pub path: ObjectPath,
    pub changes: Vec<AnnotationChange>,
}

/// How a file's text is read: YAML stream, or JSON (one value or a stream of values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    /// As the loader decides: `Json` for a `.json` file, and for any other file that is not
    /// `.yaml`/`.yml` whose text starts with `{`; `Yaml` otherwise.
    pub fn detect(path: &Path, text: &str) -> Format {
        let name = path.to_string_lossy();
        let json = name.ends_with(".json")
            || (!name.ends_with(".yaml")
                && !name.ends_with(".yml")
                && text.trim_start().starts_with('{'));
        if json { Format::Json } else { Format::Yaml }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Yaml => "YAML",
            Format::Json => "JSON",
        })
    }
}

/// Why one object cannot be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectProblem {
    #[error("there is no such document (the stream has {count})")]
    NoSuchDocument { count: usize },
    #[error("the document has no `items` sequence")]
    NotAList,
    #[error("there is no such item (the list has {count})")]
    NoSuchItem { count: usize },
    #[error("the object is not a mapping")]
    NotAMapping,
    #[error("the object has no `metadata` mapping")]
    NoMetadata,
    #[error("`{field}` is not a mapping")]
    NotAMappingField { field: &'static str },
    #[error("`{field}` carries a YAML anchor or is an alias; editing it would change other nodes")]
    Shared { field: &'static str },
    #[error("`{field}` has a YAML tag")]
    Tagged { field: &'static str },
    #[error("`{field}` uses a merge key (`<<`)")]
    MergeKey { field: &'static str },
    #[error("`{field}` holds the key `{key}` more than once")]
    DuplicateKey { field: &'static str, key: String },
}

/// Why a whole file cannot be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    #[error("the file is not UTF-8")]
    NotUtf8,
    #[error("the file is not a regular file")]
    NotAFile,
    #[error("the file has {links} hard links; replacing it would split them")]
    HardLinks { links: u64 },
    #[error("the YAML editor sees {editor} non-empty documents where the parser sees {parser}")]
    DocumentCount { parser: usize, editor: usize },
    #[error("the {format} editor failed on this file ({why})")]
    EditorFailed { format: Format, why: String },
    #[error("the file is read-only ({mode:o}); make it writable to edit it")]
    ReadOnly { mode: u32 },
    #[error("the file belongs to another user (uid {uid}); writing it would change its owner")]
    OtherOwner { uid: u32 },
}

/// Why an edit was refused. Nothing is written when any of these is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    #[error("invalid {format}: {message}")]
    Parse { format: Format, message: String },
    #[error("{}: {problem}", path_label(path))]
    Object {
        path: ObjectPath,
        problem: ObjectProblem,
    },
    #[error("cannot edit safely: {0}")]
    Unsupported(#[from] Unsupported),
    #[error("the edit could not be proved ({0}); nothing was written")]
    Verification(String),
    #[error("{} changed on disk while it was being edited; nothing was written", path.display())]
    Changed { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl EditError {
    fn object(path: ObjectPath, problem: ObjectProblem) -> Self {
        EditError::Object { path, problem }
    }
}

/// `documents[1].items[0]`: how errors name an object path (indexes from 0).
pub fn path_label(path: &ObjectPath) -> String {
    match path.item {
        Some(item) => format!("documents[{}].items[{item}]", path.document),
        None => format!("documents[{}]", path.document),
    }
}

/// Edits the annotations in a YAML stream; returns the new text (the input itself when nothing
/// changes). Verified by re-parse.
pub fn edit_annotations(text: &str, edits: &[ObjectEdit]) -> Result<String, EditError> {
    edit_text(text, Format::Yaml, edits)
}

/// Edits the annotations in `text` read as `format`; returns the new text. Verified by re-parse.
pub fn edit_text(text: &str, format: Format, edits: &[ObjectEdit]) -> Result<String, EditError> {
    if edits.iter().all(|e| e.changes.is_empty()) {
        return Ok(text.to_owned());
    }
    // yaml-edit is a large parser and tree editor: should it panic on some input, that is
    // one file refused, not a crashed run (the tree is local to the call).
    let run = std::panic::AssertUnwindSafe(|| match format {
        // JSON saved as `.yaml`: edited as JSON, so the new key is quoted as the rest is (a
        // plain key inside JSON is a stream that older kubectl, decoding it as JSON, rejects).
        Format::Yaml if text.trim_start().starts_with('{') => {
            json::edit(text, edits).or_else(|_| yaml::edit(text, edits))
        }
        Format::Yaml => yaml::edit(text, edits),
        Format::Json => json::edit(text, edits),
    });
    std::panic::catch_unwind(run).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Unsupported::EditorFailed { format, why }.into())
    })
}

/// Applies `edits` to the file at `path` (format as [`Format::detect`] says) and replaces it
/// atomically; returns whether it changed. On any error the file is left untouched.
pub fn edit_file(path: &Path, edits: &[ObjectEdit]) -> Result<bool, EditError> {
    let written = edit_one(path, edits, None)?;
    if let Some(dir) = &written {
        sync_dir(dir);
    }
    Ok(written.is_some())
}

/// [`edit_file`] for many files, run on several threads (the time goes to parsing and to
/// fsync); returns each file's result in input order.
pub fn edit_files(jobs: &[(PathBuf, Vec<ObjectEdit>)]) -> Vec<Result<bool, EditError>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bytes: u64 = jobs
        .iter()
        .filter_map(|(path, _)| fs::metadata(path).ok())
        .map(|m| m.len())
        .sum();
    let workers = edit_workers(threads, jobs.len(), bytes);
    let next = AtomicUsize::new(0);
    let budget = TextBudget::new(edit_text_budget(threads));
    type Slot = Mutex<Option<Result<Option<PathBuf>, EditError>>>;
    let results: Vec<Slot> = jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((path, edits)) = jobs.get(i) else {
                        break;
                    };
                    let result = edit_one(path, edits, Some(&budget));
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    let results: Vec<Result<Option<PathBuf>, EditError>> = results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err(EditError::Verification("a worker thread stopped".into())))
        })
        .collect();
    // One fsync per directory makes all the renames in it durable.
    let mut dirs: Vec<&PathBuf> = results
        .iter()
        .filter_map(|r| r.as_ref().ok()?.as_ref())
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        sync_dir(dir);
    }
    results
        .into_iter()
        .map(|r| r.map(|w| w.is_some()))
        .collect()
}

/// How many threads [`edit_files`] runs for `jobs` files of `bytes` in all: many (4 per core,
/// 16-64) for small files, whose time goes to fsync; one per core when the files average more
/// than 64 KiB, whose time goes to parsing. Each thread that edits a large file keeps the
/// memory it took in its own allocator arena: with many threads, a hundred 1 MB files held
/// hundreds of MB after their edits were done.
fn edit_workers(cores: usize, jobs: usize, bytes: u64) -> usize {
    let average = bytes / jobs.max(1) as u64;
    let workers = if average > 64 << 10 {
        cores.max(1)
    } else {
        (cores * 4).clamp(16, 64)
    };
    workers.min(jobs)
}

/// How many bytes of files [`edit_files`] edits at once: 1 MiB per core (at least 1, at most
/// 8 MiB). Editing a file takes many times its size (the editor's syntax tree, about 20 bytes
/// per byte of YAML), so many workers on large files would add up to gigabytes; editing is
/// work for a core, so more large files at once than cores would not be faster. The workers
/// are there for the fsyncs of many small files, which this leaves all running. A larger file
/// is edited alone.
fn edit_text_budget(cores: usize) -> u64 {
    (cores as u64).clamp(1, 8) << 20
}

/// A count of the bytes being edited, shared by the workers of [`edit_files`].
struct TextBudget {
    limit: u64,
    used: std::sync::Mutex<u64>,
    freed: std::sync::Condvar,
}

/// `bytes` of a [`TextBudget`], given back when dropped.
struct TextBudgetShare<'a> {
    budget: &'a TextBudget,
    bytes: u64,
}

impl TextBudget {
    fn new(limit: u64) -> Self {
        TextBudget {
            limit,
            used: std::sync::Mutex::new(0),
            freed: std::sync::Condvar::new(),
        }
    }

    /// Waits until `bytes` fit (or nothing else is being edited), then takes them.
    fn take(&self, bytes: u64) -> TextBudgetShare<'_> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used > 0 && used.saturating_add(bytes) > self.limit {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += bytes;
        TextBudgetShare {
            budget: self,
            bytes,
        }
    }
}

impl Drop for TextBudgetShare<'_> {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().unwrap_or_else(|e| e.into_inner());
        *used -= self.bytes;
        self.budget.freed.notify_all();
    }
}

/// Edits one file; returns the directory whose entry changed, `None` when nothing changed.
/// With a `budget`, waits until the file's size fits in it.
fn edit_one(
    path: &Path,
    edits: &[ObjectEdit],
    budget: Option<&TextBudget>,
) -> Result<Option<PathBuf>, EditError> {
    let io = |source| EditError::Io {
        path: path.to_owned(),
        source,
    };
    if edits.iter().all(|e| e.changes.is_empty()) {
        return Ok(None);
    }
    // Write through a symlink to the file it names, as editors do.
    let target = fs::canonicalize(path).map_err(io)?;
    let meta = fs::metadata(&target).map_err(io)?;
    if !meta.is_file() {
        return Err(Unsupported::NotAFile.into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Err(Unsupported::HardLinks {
                links: meta.nlink(),
            }
            .into());
        }
    }
    refuse_read_only(&target, &meta)?;
    remove_stale_temps(&target);
    let _share = budget.map(|b| b.take(meta.len()));
    let bytes = crate::manifest::read::read_capped(
        fs::File::open(&target).map_err(io)?,
        &crate::manifest::read::display_path(path),
    )
    .map_err(|message| EditError::Io {
        path: path.to_owned(),
        source: std::io::Error::other(message),
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Unsupported::NotUtf8)?;
    let new = edit_text(text, Format::detect(path, text), edits)?;
    if new == text {
        return Ok(None);
    }
    replace_atomically(path, &target, &bytes, new.as_bytes(), &meta)?;
    Ok(Some(target.parent().unwrap_or(Path::new(".")).to_owned()))
}

/// Writes `new` to a temp file next to `target`, fsyncs it, and renames it over `target`,
/// unless `target` no longer holds `old`.
fn replace_atomically(
    shown: &Path,
    target: &Path,
    old: &[u8],
    new: &[u8],
    meta: &fs::Metadata,
) -> Result<(), EditError> {
    let io = |source| EditError::Io {
        path: shown.to_owned(),
        source,
    };
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let (tmp_path, mut tmp) = create_temp(dir, &name).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // The replacement keeps the owner and group of the file it replaces; when we may not
        // give it that owner, the file is left alone.
        if let Err(e) = std::os::unix::fs::fchown(&tmp, Some(meta.uid()), Some(meta.gid())) {
            drop(tmp);
            let _ = fs::remove_file(&tmp_path);
            return Err(if e.kind() == std::io::ErrorKind::PermissionDenied {
                Unsupported::OtherOwner { uid: meta.uid() }.into()
            } else {
                io(e)
            });
        }
    }
    let result = (|| {
        tmp.write_all(new)?;
        tmp.set_permissions(meta.permissions())?;
        tmp.sync_all()?;
        drop(tmp);
        // Last look before the rename: someone else may have written the file meanwhile.
        if fs::read(target)? != old {
            return Ok(false);
        }
        fs::rename(&tmp_path, target)?;
        Ok(true)
    })();
    match result {
        Ok(true) => Ok(()),
        Ok(false) => {
            let _ = fs::remove_file(&tmp_path);
            Err(EditError::Changed {
                path: shown.to_owned(),
            })
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp_path);
            Err(io(e))
        }
    }
}

/// A file nobody may write (`chmod 444`), or one we may not write, is not ours to replace:
/// the rename would go through because the directory is writable.
fn refuse_read_only(target: &Path, meta: &fs::Metadata) -> Result<(), EditError> {
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o7777
    };
    #[cfg(not(unix))]
    let mode = 0;
    if meta.permissions().readonly() {
        return Err(Unsupported::ReadOnly { mode }.into());
    }
    // Opened for writing, not truncated: only asks whether we may write it.
    match fs::OpenOptions::new().write(true).open(target) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(Unsupported::ReadOnly { mode }.into())
        }
        _ => Ok(()),
    }
}

/// The temp file name pattern for `name`: `.NAME.waves-PID-N.tmp`.
fn temp_name(name: &str, pid: u32, n: u64) -> String {
    format!(".{name}.waves-{pid}-{n}.tmp")
}

/// Removes temp files that an earlier run, killed between creating and renaming them, left
/// next to `target`: those of processes that no longer run (on Linux, by `/proc`), elsewhere
/// those older than an hour.
fn remove_stale_temps(target: &Path) {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return;
    };
    let prefix = format!(".{}.waves-", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let proc = Path::new("/proc/self").exists();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".tmp"))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let stale = if proc {
            !Path::new("/proc").join(pid.to_string()).exists()
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(3600))
        };
        if stale && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// A new, exclusively created temp file in `dir`.
fn create_temp(dir: &Path, name: &str) -> std::io::Result<(PathBuf, fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(temp_name(name, std::process::id(), n));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Makes the rename durable where the platform allows (best effort).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// One effective step on an object's annotations, in order. Both the intended data and the
/// text edit replay the same steps, so their results can be compared exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// `annotations` is absent or null: create it holding this one key.
    Create { key: String, value: String },
    /// Set in the existing annotations mapping (in place, or appended).
    Set { key: String, value: String },
    /// Remove an existing key.
    Remove { key: String },
    /// The annotations became empty through removals: remove the `annotations` key.
    Drop,
}

/// Applies `changes` to the `metadata` object of the intended data; returns the effective steps.
fn apply_to_metadata(
    path: ObjectPath,
    metadata: &mut Map<String, Value>,
    changes: &[AnnotationChange],
) -> Result<Vec<Step>, EditError> {
    let mut current: Option<Map<String, Value>> = match metadata.get("annotations") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(map.clone()),
        Some(_) => {
            return Err(EditError::object(
                path,
                ObjectProblem::NotAMappingField {
                    field: "metadata.annotations",
                },
            ));
        }
    };
    let mut steps = Vec::new();
    let mut removed = false;
    for change in changes {
        match change {
            AnnotationChange::Set { key, value } => match &mut current {
                None => {
                    let mut map = Map::new();
                    map.insert(key.clone(), Value::String(value.clone()));
                    current = Some(map);
                    steps.push(Step::Create {
                        key: key.clone(),
                        value: value.clone(),
                    });
                }
                Some(map) => {
                    if map.get(key).and_then(Value::as_str) == Some(value.as_str()) {
                        continue;
                    }
                    map.insert(key.clone(), Value::String(value.clone()));
                    steps.push(Step::Set {
                        key: key.clone(),
                        value: value.clone(),
                    });
                }
            },
            AnnotationChange::Remove { key } => {
                if let Some(map) = &mut current
                    && map.shift_remove(key).is_some()
                {
                    removed = true;
                    steps.push(Step::Remove { key: key.clone() });
                }
            }
        }
    }
    if steps.is_empty() {
        return Ok(steps);
    }
    match current {
        Some(map) if removed && map.is_empty() => {
            metadata.shift_remove("annotations");
            steps.push(Step::Drop);
        }
        Some(map) => {
            metadata.insert("annotations".to_owned(), Value::Object(map));
        }
        None => {}
    }
    Ok(steps)
}

/// The documents of a stream as the loader reads them, packed ([`Body`]) while edits are
/// applied to them, with the one document being edited open as a value: a stream of many
/// documents holds at most one of them as parsed (a parsed document takes several times its
/// text).
struct Intended {
    docs: Vec<Body>,
    open: Option<(usize, Value)>,
}

impl Intended {
    fn new(docs: Vec<Body>) -> Self {
        Intended { docs, open: None }
    }

    fn len(&self) -> usize {
        self.docs.len()
    }

    /// The `metadata` mapping of the object at `path`, its document opened (and the one open
    /// before packed again). Edits sorted by document open each document once.
    fn metadata(&mut self, path: ObjectPath) -> Result<&mut Map<String, Value>, EditError> {
        if self.open.as_ref().is_none_or(|(d, _)| *d != path.document) {
            self.close();
            let count = self.docs.len();
            let doc = self.docs.get(path.document).ok_or(EditError::object(
                path,
                ObjectProblem::NoSuchDocument { count },
            ))?;
            self.open = Some((path.document, doc.value()));
        }
        let (_, doc) = self.open.as_mut().expect("opened above");
        metadata_mut(doc, path)
    }

    fn close(&mut self) {
        if let Some((d, value)) = self.open.take() {
            self.docs[d] = Body::new(&value);
        }
    }

    fn into_docs(mut self) -> Vec<Body> {
        self.close();
        self.docs
    }
}

/// `edits` in document order (stable: edits of one object keep their order), so that
/// [`Intended`] opens each document once.
fn by_document(edits: &[ObjectEdit]) -> Vec<&ObjectEdit> {
    let mut sorted: Vec<&ObjectEdit> = edits.iter().collect();
    sorted.sort_by_key(|e| e.path.document);
    sorted
}

/// The `metadata` mapping of the object at `path` inside its document `doc`.
fn metadata_mut(doc: &mut Value, path: ObjectPath) -> Result<&mut Map<String, Value>, EditError> {
    let object = match path.item {
        None => doc,
        Some(i) => {
            let items = doc
                .get_mut("items")
                .and_then(Value::as_array_mut)
                .ok_or(EditError::object(path, ObjectProblem::NotAList))?;
            let count = items.len();
            items
                .get_mut(i)
                .ok_or(EditError::object(path, ObjectProblem::NoSuchItem { count }))?
        }
    };
    let object = object
        .as_object_mut()
        .ok_or(EditError::object(path, ObjectProblem::NotAMapping))?;
    match object.get_mut("metadata") {
        Some(Value::Object(m)) => Ok(m),
        None | Some(Value::Null) => Err(EditError::object(path, ObjectProblem::NoMetadata)),
        Some(_) => Err(EditError::object(
            path,
            ObjectProblem::NotAMappingField { field: "metadata" },
        )),
    }
}

/// Checks that `reparsed` equals `intended` exactly (the packed text of each document, which
/// keeps key order); names the first difference otherwise.
fn verify(reparsed: &[Body], intended: &[Body]) -> Result<(), EditError> {
    if reparsed.len() != intended.len() {
        return Err(EditError::Verification(format!(
            "the new text has {} documents, expected {}",
            reparsed.len(),
            intended.len()
        )));
    }
    for (i, (got, want)) in reparsed.iter().zip(intended).enumerate() {
        if got.json() != want.json() {
            let at =
                first_difference(&got.value(), &want.value(), String::new()).unwrap_or_default();
            return Err(EditError::Verification(format!(
                "documents[{i}] would differ at `{}`",
                if at.is_empty() { "/" } else { &at }
            )));
        }
    }
    Ok(())
}

/// The JSON pointer of the first place where `a` and `b` differ.
fn first_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for ((k1, v1), (k2, v2)) in x.iter().zip(y) {
                if k1 != k2 {
                    return Some(format!("{at}/{k1} (key order)"));
                }
                if let Some(d) = first_difference(v1, v2, format!("{at}/{k1}")) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then_some(at)
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (v1, v2)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_difference(v1, v2, format!("{at}/{i}")) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then_some(at)
        }
        _ => (a != b).then_some(at),
    }
}

#[cfg(test)]
mod tests;
