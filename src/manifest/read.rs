//! Reading input bytes safely: a size cap on every file and stream, directories walked as
//! `kubectl -R` walks them (never into a symlinked directory), only regular files taken from a
//! directory, and names shown with their control characters and non-UTF-8 bytes escaped.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::diagnostics::{escape_control, escape_control_into};

/// The default cap on one input file or stream: far above any real manifest set (a large
/// chart's `helm template` is a few MiB) and far below what exhausts a laptop's memory.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 256 << 20;

/// The cap on each file and stream read, set once by the command line (`--max-input-size`)
/// before any input is read. Process-wide because every reader (manifests, stdin, Git blobs,
/// `--health-config`, `--krm`) must honour the same number.
static MAX_INPUT_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MAX_INPUT_BYTES);

/// Sets the cap on each input file or stream.
pub fn set_max_input_bytes(bytes: u64) {
    MAX_INPUT_BYTES.store(bytes, Ordering::Relaxed);
}

/// The cap on each input file or stream.
pub fn max_input_bytes() -> u64 {
    MAX_INPUT_BYTES.load(Ordering::Relaxed)
}

/// Parses a size as `--max-input-size` takes it: bytes, or with a `Ki`/`Mi`/`Gi` (or
/// `K`/`M`/`G`, also powers of 1024) suffix, as Kubernetes quantities spell them.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let shift = match unit {
        "" => 0,
        "K" | "Ki" => 10,
        "M" | "Mi" => 20,
        "G" | "Gi" => 30,
        _ => return Err(format!("`{text}` is not a size such as 512Mi or 2Gi")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as 512Mi or 2Gi"))?;
    n.checked_mul(1 << shift)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is out of range"))
}

/// A size for messages: `256 MiB`, `1.5 KiB`, `17 bytes`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size {
            return if bytes.is_multiple_of(size) {
                format!("{} {unit}", bytes / size)
            } else {
                format!("{:.1} {unit}", bytes as f64 / size as f64)
            };
        }
    }
    format!("{bytes} bytes")
}

/// The error for input over the cap.
pub fn too_large(display: &str, limit: u64) -> String {
    format!(
        "{display} is larger than the input limit of {} per file or stream; raise it with --max-input-size (or KUBECTL_WAVES_MAX_INPUT_SIZE)",
        human_size(limit)
    )
}

/// Reads `reader` to its end, or fails once it holds more than the cap. Never allocates more
/// than the cap (plus one read buffer).
pub fn read_capped(reader: impl Read, display: &str) -> Result<Vec<u8>, String> {
    let limit = max_input_bytes();
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {display}: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(display, limit));
    }
    Ok(bytes)
}

/// Reads bytes as text: UTF-8, a leading byte-order mark dropped (kubectl accepts it).
pub fn utf8_text(bytes: Vec<u8>, display: &str) -> Result<String, String> {
    let mut text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "{display} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

/// Reads a whole file as text under the cap; the message names the file.
pub fn read_text_file(path: &Path) -> Result<String, String> {
    let display = display_path(path);
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot read {display}: {}", io_reason(&e)))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(format!("cannot read {display}: it is a directory"));
    }
    utf8_text(read_capped(file, &display)?, &display)
}

/// Reads stdin as text under the cap.
pub fn read_stdin_text() -> Result<String, String> {
    let bytes = read_capped(std::io::stdin().lock(), "<stdin>")?;
    utf8_text(bytes, "<stdin>")
}

/// An I/O error without Rust's `(os error N)` suffix.
pub fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// A path as shown to the user: non-UTF-8 bytes as `\xNN`, control characters escaped, so a
/// hostile name cannot drive the terminal.
pub fn display_path(path: &Path) -> String {
    escape_bytes(path.as_os_str().as_encoded_bytes())
}

/// Bytes as text: control characters escaped, invalid UTF-8 as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        escape_control_into(chunk.valid(), &mut out);
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Whether a file name is one we read when walking a directory.
pub fn is_manifest_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")
}

fn is_manifest_os_name(name: &OsStr) -> bool {
    let b = name.as_encoded_bytes();
    b.ends_with(b".yaml") || b.ends_with(b".yml") || b.ends_with(b".json")
}

/// A problem found while walking: the path as shown and the message.
pub type WalkProblem = (String, String);

/// The files to read under `paths`, in order. A path given explicitly is read whatever it is
/// (a FIFO from `<(...)` too, under the size cap); a directory is walked as `kubectl -R` walks
/// it: sorted, never into a symlinked directory (so a link loop cannot hang us or read a file
/// twice), a symlink to a file followed, and only manifest names (`.yaml`, `.yml`, `.json`)
/// taken. From a directory only regular files are read: a FIFO or device named `x.yaml` is
/// reported, not opened. Names that are not UTF-8 are reported: we could not name them in our
/// output nor write them back.
pub fn walk_paths(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<WalkProblem>) {
    let mut list = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let display = display_path(path);
        match std::fs::metadata(path) {
            Err(e) => problems.push((
                display.clone(),
                format!("cannot read {display}: {}", io_reason(&e)),
            )),
            Ok(meta) if meta.is_dir() => walk_dir(path, &mut list, &mut problems),
            Ok(_) if path.to_str().is_none() => {
                problems.push((display.clone(), not_utf8_name(&display)))
            }
            Ok(_) => list.push(path.clone()),
        }
    }
    (list, problems)
}

fn not_utf8_name(display: &str) -> String {
    format!("the file name {display} is not UTF-8; rename it to read it")
}

fn walk_dir(dir: &Path, list: &mut Vec<PathBuf>, problems: &mut Vec<WalkProblem>) {
    let display = display_path(dir);
    let mut entries: Vec<std::fs::DirEntry> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(Result::ok).collect(),
        Err(e) => {
            problems.push((
                display.clone(),
                format!("cannot list {display}: {}", io_reason(&e)),
            ));
            return;
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue; // .git and editor droppings
        }
        let path = entry.path();
        // The entry itself, not what it links to: a symlinked directory is not descended into.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk_dir(&path, list, problems);
            continue;
        }
        if !is_manifest_os_name(&name) {
            continue;
        }
        let shown = display_path(&path);
        if path.to_str().is_none() {
            problems.push((shown.clone(), not_utf8_name(&shown)));
            continue;
        }
        let target = if kind.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(m) => m.file_type(),
                Err(e) => {
                    problems.push((
                        shown.clone(),
                        format!("cannot read {shown}: {}", io_reason(&e)),
                    ));
                    continue;
                }
            }
        } else {
            kind
        };
        if target.is_file() {
            list.push(path);
        } else if !target.is_dir() {
            problems.push((
                shown.clone(),
                format!(
                    "{shown} is not a regular file ({}); only regular files are read from a directory (name it explicitly to read it as a stream)",
                    special_kind(&target)
                ),
            ));
        }
    }
}

fn special_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    let _ = kind;
    "a special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_quantities() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("64Ki"), Ok(64 << 10));
        assert_eq!(parse_size("2Gi"), Ok(2 << 30));
        assert_eq!(parse_size("3M"), Ok(3 << 20));
        assert!(parse_size("0").is_err());
        assert!(parse_size("1Ti").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999999999Gi").is_err());
        assert_eq!(human_size(256 << 20), "256 MiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(17), "17 bytes");
    }

    #[test]
    fn reads_stop_at_the_cap() {
        let limit = max_input_bytes();
        // An endless stream: the read must end with an error, not grow without bound.
        let err = read_capped(std::io::repeat(b'a'), "<stdin>").unwrap_err();
        assert!(err.contains("--max-input-size"), "{err}");
        assert!(err.contains(&human_size(limit)), "{err}");
        assert_eq!(read_capped(&b"abc"[..], "x").unwrap(), b"abc");
    }

    #[test]
    fn bom_is_dropped_and_bad_utf8_named() {
        assert_eq!(utf8_text("\u{feff}{}".into(), "x").unwrap(), "{}");
        let err = utf8_text(vec![b'a', 0xff], "x.yaml").unwrap_err();
        assert!(
            err.contains("x.yaml is not UTF-8") && err.contains("offset 1"),
            "{err}"
        );
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(escape_control("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(escape_control("plain"), "plain");
        assert_eq!(escape_bytes(b"x\xffy.yaml"), "x\\xffy.yaml");
        assert_eq!(escape_control("a\nb\u{2028}"), "a\\nb\\u{2028}");
    }
}
