//! KRM function mode (`annotate --krm`): a `config.kubernetes.io/v1` `ResourceList` on stdin,
//! the same list with the proposed `sync-wave` annotations on stdout, for kpt and kustomize.
//!
//! * `functionConfig` may be a ConfigMap whose `data` sets `rewrite: "true"` and
//!   `lenient: "true"` (the flags of the same names work too).
//! * Findings go to `results[]` (severity `error`, `warning` or `info`, the code in
//!   `tags.code`, the object in `resourceRef`, and its file in `file.path`/`file.index` from the
//!   item's `internal.config.kubernetes.io/path`/`index` annotations or the legacy
//!   `config.kubernetes.io/path`/`index`). Each change is an `info` result with `field`.
//! * Items are edited in place through [`crate::edit`], so a YAML list keeps its formatting;
//!   `results` is appended (or the list re-serialised when it cannot be appended safely).
//! * Exit 0 with the annotated list; exit 1 when the input is bad or the dependencies form a
//!   cycle: the items then come back unchanged, with the reasons in `results`.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Annotated, Failure, Options, explain, report, write};
use crate::diagnostics::{Diagnostic, Severity};
use crate::edit::{self, Format};
use crate::manifest::InputFile;
use crate::model::Object;
use crate::model::known::SYNC_WAVE;

/// Path annotations, newest first.
const PATH_KEYS: &[&str] = &[
    "internal.config.kubernetes.io/path",
    "config.kubernetes.io/path",
];
const INDEX_KEYS: &[&str] = &[
    "internal.config.kubernetes.io/index",
    "config.kubernetes.io/index",
];

/// What the function prints and how it exits.
#[derive(Debug)]
pub struct Output {
    /// The ResourceList for stdout (empty when there is none to send back).
    pub text: String,
    /// A message for stderr, when the input could not be read as a ResourceList.
    pub error: Option<String>,
    pub exit: u8,
}

/// The object a result is about.
#[derive(Debug, Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// The file an object came from, as the orchestrator recorded it.
#[derive(Debug, Serialize, Clone)]
pub struct FileRef {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
}

/// A field a result is about.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldRef {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_value: Option<String>,
    pub proposed_value: String,
}

/// One entry of `results[]`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KrmResult {
    pub message: String,
    pub severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_ref: Option<ResourceRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<FieldRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Map<String, Value>>,
}

fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        legacy_octal_numbers: true,
        strict_booleans: false,
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_depth: crate::manifest::MAX_DEPTH,
        },
    }
}

fn parse(text: &str, json: bool) -> Result<Value, String> {
    if json {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| e.to_string())
    }
}

/// The first of `keys` among the annotations `a`.
fn annotation<'a>(a: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| a.get(*k).and_then(Value::as_str))
}

fn resource_ref(o: &Object) -> ResourceRef {
    ResourceRef {
        api_version: o.api_version.to_string(),
        kind: o.kind.to_string(),
        name: o.name.clone(),
        namespace: o.namespace.to_string(),
    }
}

fn file_ref(o: &Object) -> Option<FileRef> {
    let value = o.value();
    let a = value.get("metadata")?.get("annotations")?;
    Some(FileRef {
        path: annotation(a, PATH_KEYS)?.to_string(),
        index: annotation(a, INDEX_KEYS).and_then(|i| i.trim().parse().ok()),
    })
}

fn diagnostic_result(objects: &[Object], d: &Diagnostic) -> KrmResult {
    let object = objects.iter().find(|o| o.display_name() == d.object);
    let mut tags = Map::new();
    tags.insert("code".into(), Value::String(d.code.id().into()));
    KrmResult {
        message: format!("[{}] {}", d.code, d.message),
        severity: match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        resource_ref: object.map(resource_ref),
        field: None,
        file: object.and_then(file_ref),
        tags: Some(tags),
    }
}

/// Runs the function on a ResourceList.
pub fn run(input: &str, mut options: Options) -> Output {
    let json = input.trim_start().starts_with('{');
    let list = match parse(input, json) {
        Ok(v) => v,
        Err(e) => return fatal(format!("the input is not a ResourceList: {e}")),
    };
    if list.get("kind").and_then(Value::as_str) != Some("ResourceList")
        || !list.get("items").is_none_or(Value::is_array)
    {
        return fatal(
            "the input is not a ResourceList (kind: ResourceList with items[]); --krm reads what kpt or kustomize send on stdin".into(),
        );
    }
    if let Some(data) = list.get("functionConfig").and_then(|c| c.get("data")) {
        let flag = |k: &str| data.get(k).and_then(Value::as_str) == Some("true");
        options.rewrite |= flag("rewrite");
        options.lenient |= flag("lenient");
    }
    let file = InputFile {
        display: "<stdin>".into(),
        text: input.to_string(),
        json,
    };
    match super::run_files(vec![file], Vec::new(), options) {
        Ok(a) => annotated(input, json, list, &a),
        Err(Failure::BadInput(checked)) => {
            let results = checked
                .diagnostics
                .iter()
                .map(|d| diagnostic_result(&checked.plan.objects, d))
                .collect();
            unchanged(input, json, list, results)
        }
        Err(Failure::Cycles { checked, cycles }) => {
            let (objects, graph) = (&checked.plan.objects, &checked.graph);
            let results = cycles
                .iter()
                .map(|c| {
                    let first = c.edges.first().map(|&e| &objects[graph.edges[e].from]);
                    KrmResult {
                        message: format!(
                            "dependency cycle: no order of waves satisfies these references:\n{}",
                            report::render_cycle(objects, graph, c)
                        ),
                        severity: "error",
                        resource_ref: first.map(resource_ref),
                        field: None,
                        file: first.and_then(file_ref),
                        tags: None,
                    }
                })
                .collect();
            unchanged(input, json, list, results)
        }
    }
}

/// No ResourceList to send back: the orchestrator shows stderr.
fn fatal(message: String) -> Output {
    Output {
        text: String::new(),
        error: Some(message),
        exit: 1,
    }
}

fn unchanged(input: &str, json: bool, list: Value, results: Vec<KrmResult>) -> Output {
    match with_results(input, json, list, &results) {
        Ok(text) => Output {
            text,
            error: None,
            exit: 1,
        },
        Err(e) => fatal(e),
    }
}

fn annotated(input: &str, json: bool, mut list: Value, a: &Annotated) -> Output {
    let objects = a.objects();
    let mut results: Vec<KrmResult> = a
        .proposed
        .diagnostics
        .iter()
        .map(|d| diagnostic_result(objects, d))
        .collect();
    for s in a.analysis.changes() {
        let o = &objects[s.object];
        results.push(KrmResult {
            message: format!(
                "sync-wave {}: {}",
                s.suggested,
                explain::short_reason(objects, a.graph(), &a.analysis, s.object)
            ),
            severity: "info",
            resource_ref: Some(resource_ref(o)),
            field: Some(FieldRef {
                path: format!("metadata.annotations.[{SYNC_WAVE}]"),
                current_value: s.explicit.then(|| s.current.to_string()),
                proposed_value: s.suggested.to_string(),
            }),
            file: file_ref(o),
            tags: None,
        });
        // The intended data, to check the edited text against.
        let item = list
            .get_mut("items")
            .and_then(Value::as_array_mut)
            .and_then(|items| items.get_mut(o.path.item.unwrap_or(usize::MAX)));
        if let Some(Value::Object(item)) = item {
            set_wave(item, s.suggested);
        }
    }
    let edits = write::planned_edits(objects, &a.analysis);
    let edited = match edits.first() {
        // Re-serialised below when the list cannot be edited in place.
        Some(f) if !json => edit::edit_text(input, Format::Yaml, &f.edits).ok(),
        _ => None,
    };
    let text = match edited {
        Some(text) => with_results(&text, json, list, &results),
        None => serialise(list, json, &results),
    };
    match text {
        Ok(text) => Output {
            text,
            error: None,
            exit: 0,
        },
        Err(e) => fatal(e),
    }
}

fn set_wave(item: &mut Map<String, Value>, wave: i64) {
    let metadata = item
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(m) = metadata {
        let annotations = m
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if annotations.is_null() {
            *annotations = Value::Object(Map::new());
        }
        if let Value::Object(a) = annotations {
            a.insert(SYNC_WAVE.into(), Value::String(wave.to_string()));
        }
    }
}

/// `text` (whose data is `list`) with `results` added: appended as a block to a YAML list
/// when that provably gives the intended data, re-serialised otherwise.
fn with_results(
    text: &str,
    json: bool,
    list: Value,
    results: &[KrmResult],
) -> Result<String, String> {
    if results.is_empty() {
        return Ok(text.to_string());
    }
    if json || list.get("results").is_some() {
        return serialise(list, json, results);
    }
    let mut intended = list.clone();
    let rendered = serde_json::to_value(results).map_err(|e| e.to_string())?;
    if let Value::Object(m) = &mut intended {
        m.insert("results".into(), rendered);
    }
    let block = serde_saphyr::to_string(&results).map_err(|e| e.to_string())?;
    let mut appended = text.to_string();
    if !appended.ends_with('\n') {
        appended.push('\n');
    }
    appended.push_str("results:\n");
    appended.push_str(&block);
    match parse(&appended, false) {
        Ok(v) if v == intended => Ok(appended),
        _ => serialise(list, json, results),
    }
}

fn serialise(mut list: Value, json: bool, results: &[KrmResult]) -> Result<String, String> {
    if !results.is_empty()
        && let Value::Object(m) = &mut list
    {
        m.insert(
            "results".into(),
            serde_json::to_value(results).map_err(|e| e.to_string())?,
        );
    }
    if json {
        let mut s = serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?;
        s.push('\n');
        Ok(s)
    } else {
        serde_saphyr::to_string(&list).map_err(|e| e.to_string())
    }
}
