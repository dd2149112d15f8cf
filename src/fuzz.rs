//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz, nightly), one per parser surface.
//! Each takes arbitrary bytes, must never panic, and asserts the properties its surface
//! promises. `tests/it/fuzz_corpus.rs` replays every corpus file through the same functions on
//! stable, so a crash found once stays a regression test.

use serde_json::{Map, Value};

use crate::edit::{self, AnnotationChange, Format, ObjectEdit};
use crate::manifest::{InputFile, Loaded, parse_file};
use crate::model::annotations::{self, Context};
use crate::model::known::SYNC_WAVE;
use crate::source::Source;

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

fn file(text: &str, json: bool) -> InputFile {
    InputFile {
        display: if json { "fuzz.json" } else { "fuzz.yaml" }.into(),
        text: text.to_string(),
        json,
    }
}

/// Manifest loading, as YAML and as JSON, then the whole check (plan, graph, lint): every
/// diagnostic points inside the file.
pub fn manifest(data: &[u8]) {
    let Some(text) = text(data) else {
        return;
    };
    let lines = text.split('\n').count() + 1;
    for json in [false, true] {
        let (objects, diagnostics) = parse_file(&file(text, json));
        for d in &diagnostics {
            assert!(d.source.line <= lines, "{d:?} is past the end of the file");
        }
        for o in &objects {
            assert!(
                o.source.line >= 1 && o.source.line <= lines,
                "{:?}",
                o.source
            );
        }
        let loaded = Loaded {
            objects,
            diagnostics,
            files: 1,
        };
        let checked = crate::check::check(loaded, crate::plan::PlanOptions::default());
        let _ = checked.document();
    }
}

/// Annotation parsing: each line `key=value` is one annotation (a line without `=` is a key
/// with an empty value).
pub fn annotations(data: &[u8]) {
    let Some(text) = text(data) else {
        return;
    };
    let mut map = Map::new();
    for line in text.lines() {
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        map.insert(k.to_string(), Value::String(v.to_string()));
    }
    let locate = |_: &str| Source::new("fuzz.yaml", 1);
    let cx = Context {
        object: "ConfigMap/ns/fuzz",
        namespace: "ns",
        locate: &locate,
    };
    let (parsed, diagnostics) = annotations::parse(Some(&map), &cx);
    for d in &diagnostics {
        assert!(d.message.len() <= 4096, "unbounded message");
    }
    let _ = parsed;
}

/// The format-preserving editor: set `sync-wave` on every object of the file. When the edit is
/// made, re-reading the result gives exactly the intended data (the original with that
/// annotation set), and no line other than annotation lines and the braces around them is
/// removed.
pub fn edit(data: &[u8]) {
    let Some(text) = text(data) else {
        return;
    };
    for json in [false, true] {
        let (objects, diagnostics) = parse_file(&file(text, json));
        if objects.is_empty() || !diagnostics.is_empty() {
            continue;
        }
        let edits: Vec<ObjectEdit> = objects
            .iter()
            .map(|o| ObjectEdit {
                path: o.path,
                changes: vec![AnnotationChange::set(SYNC_WAVE, "7")],
            })
            .collect();
        let format = if json { Format::Json } else { Format::Yaml };
        let Ok(new) = edit::edit_text(text, format, &edits) else {
            continue; // refused: nothing written, which is always allowed
        };
        let (after, diagnostics) = parse_file(&file(&new, json));
        assert!(
            diagnostics.is_empty(),
            "the edit broke the file: {diagnostics:?}"
        );
        assert_eq!(after.len(), objects.len(), "objects appeared or vanished");
        for (before, after) in objects.iter().zip(&after) {
            let mut intended = before.value();
            set_wave(&mut intended);
            assert_eq!(
                after.value(),
                intended,
                "the edit changed more than the wave"
            );
        }
        let diff = similar::TextDiff::from_lines(text, &new);
        let inserted: std::collections::HashSet<&str> = diff
            .iter_all_changes()
            .filter(|c| c.tag() == similar::ChangeTag::Insert)
            .map(|c| c.value().trim_end())
            .collect();
        for change in diff.iter_all_changes() {
            if change.tag() == similar::ChangeTag::Delete {
                let line = change.value();
                // A JSON member that gains the comma before the new one is still untouched.
                let comma = format!("{},", line.trim_end());
                assert!(
                    line.contains("annotations")
                        || line.contains(SYNC_WAVE)
                        || line.contains(['{', '}'])
                        || inserted.contains(comma.as_str()),
                    "an untouched line was rewritten: {line:?}"
                );
            }
        }
    }
}

fn set_wave(object: &mut Value) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if metadata.is_null() {
        *metadata = Value::Object(Map::new());
    }
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if annotations.is_null() {
        *annotations = Value::Object(Map::new());
    }
    if let Some(a) = annotations.as_object_mut() {
        a.insert(SYNC_WAVE.to_string(), Value::String("7".into()));
    }
}

/// Lua health evaluation: the bytes up to the first NUL are the script, the rest (if JSON) the
/// object. Whatever the script does, the result is a health or a health error, twice the same
/// (a check is a pure function of its object).
pub fn lua_health(data: &[u8]) {
    let (script, object) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Some(script) = text(script) else {
        return;
    };
    let mut obj: Value = serde_json::from_slice(object).unwrap_or(Value::Null);
    if !obj.is_object() {
        obj = serde_json::json!({"status": obj});
    }
    obj["apiVersion"] = "example.com/v1".into();
    obj["kind"] = "Widget".into();
    let cfg = crate::health::HealthConfig::new().with_script(
        "example.com/Widget",
        "resource.customizations.health.example.com_Widget",
        script,
    );
    let first = crate::health::assess(&obj, &cfg);
    // Time-dependent scripts (os.time, os.clock) may differ; the others must not.
    if !script.contains("os.")
        && !matches!(&first, Err(e) if e.kind == crate::health::HealthErrorKind::Timeout)
    {
        let second = crate::health::assess(&obj, &cfg);
        if !matches!(&second, Err(e) if e.kind == crate::health::HealthErrorKind::Timeout) {
            assert_eq!(first, second, "the verdict depends on an earlier run");
        }
    }
}
