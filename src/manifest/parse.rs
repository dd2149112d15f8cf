//! From one file's text to objects with source lines.

use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::InputFile;
use crate::diagnostics::{Code, Diagnostic};
use crate::model::annotations::{self, Context};
use crate::model::{Body, CrdDefinition, Name, Object, ObjectPath, Source, display_name, group_of};

/// One top-level value of a file, packed as soon as it is parsed (a stream holds at most one
/// document as parsed), with the line range it spans (1-based, end exclusive).
struct Document {
    body: Body,
    line: usize,
    end: usize,
}

/// How deeply mappings and lists may nest, the object itself counted: serde_json's own limit
/// (it refuses the 128th level), so YAML and JSON input agree and every object's packed body
/// (JSON) reads back (kubectl allows more; no manifest we know nests beyond 30). Bounds the
/// recursion of every later walk over the data.
pub(crate) const MAX_DEPTH: usize = 127;

/// Options that make serde-saphyr read scalars as kubectl (go-yaml v2, YAML 1.1) does:
/// `0644` is octal, `yes`/`on`/`y`/`n` are booleans. The default budget (1,024 documents,
/// 250,000 nodes) is far below what `helm template` of a large chart emits; these limits
/// still bound a hostile stream (alias expansion keeps its defaults).
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        legacy_octal_numbers: true,
        strict_booleans: false,
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_documents: 1_000_000,
            max_nodes: 100_000_000,
            max_events: 200_000_000,
            max_total_scalar_bytes: 1 << 30,
            max_depth: MAX_DEPTH,
        },
    }
}

/// Parses one file into objects and diagnostics. Never panics on any input.
pub fn parse_file(file: &InputFile) -> (Vec<Object>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let lines = text_lines(&file.text);
    let docs = if file.json {
        json_documents(file, &mut diags)
    } else if let Some((line, name)) = yaml_break_we_do_not_see(&file.text) {
        diags.push(invalid(
            file,
            line,
            format!(
                "this line holds a {name}, which kubectl's YAML parser reads as a line break and ours does not, so the two would read different objects; replace it with a newline (or escape it inside a double-quoted string)"
            ),
        ));
        Vec::new()
    } else {
        yaml_documents(file, lines.len(), &mut diags)
    };
    let mut objects = Vec::new();
    let mut list_item_lines: Option<Vec<Vec<usize>>> = None;
    for (index, doc) in docs.into_iter().enumerate() {
        let source = Source::new(file.display.clone(), doc.line);
        let value = doc.body.value();
        if is_list(&value) {
            if list_item_lines.is_none() {
                list_item_lines = Some(if file.json {
                    Vec::new()
                } else {
                    yaml_list_item_lines(&file.text)
                });
            }
            let item_lines = list_item_lines
                .as_ref()
                .and_then(|l| l.get(index))
                .cloned()
                .unwrap_or_default();
            let Value::Object(mut map) = value else {
                continue;
            };
            let Some(Value::Array(items)) = map.remove("items") else {
                continue;
            };
            for (i, item) in items.into_iter().enumerate() {
                let line = item_lines
                    .get(i)
                    .copied()
                    .filter(|l| *l > 0)
                    .unwrap_or(doc.line);
                let end = item_lines
                    .get(i + 1)
                    .copied()
                    .filter(|l| *l > 0)
                    .unwrap_or(doc.end);
                let path = ObjectPath {
                    document: index,
                    item: Some(i),
                };
                let body = Body::new(&item);
                if let Some(obj) =
                    build_object(item, body, &source.at(line), path, &lines, end, &mut diags)
                {
                    objects.push(obj);
                }
            }
            continue;
        }
        let path = ObjectPath {
            document: index,
            item: None,
        };
        let body = doc.body;
        if let Some(obj) = build_object(value, body, &source, path, &lines, doc.end, &mut diags) {
            objects.push(obj);
        }
    }
    // Every object is kept until the command ends: without the room this list grew into.
    objects.shrink_to_fit();
    (objects, diags)
}

/// The 1-based line of byte `at`, with line breaks as [`text_lines`] counts them.
pub fn line_number_at(text: &str, at: usize) -> usize {
    let head = &text.as_bytes()[..at.min(text.len())];
    let lone_cr = head
        .iter()
        .enumerate()
        .filter(|(i, b)| **b == b'\r' && head.get(i + 1).is_none_or(|n| *n != b'\n'))
        .count();
    // A CR at the very end of `head` followed by LF in the text is one CRLF break, counted at its LF.
    let split_crlf =
        usize::from(head.last() == Some(&b'\r') && text.as_bytes().get(head.len()) == Some(&b'\n'));
    head.iter().filter(|b| **b == b'\n').count() + lone_cr - split_crlf + 1
}

/// The lines of a YAML text, broken as YAML (and kubectl's go-yaml) breaks them: at LF, CRLF
/// and a lone CR (old Mac line endings), so line numbers match the editor's.
pub fn text_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        lines.push(&text[start..]);
    }
    lines
}

fn invalid(file: &InputFile, line: usize, message: String) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidManifest,
        &Source::new(file.display.clone(), line),
        "-",
        message,
    )
}

/// The documents of a YAML stream with their first lines, each packed as soon as it is
/// parsed: a stream of many documents holds at most one of them as parsed.
#[derive(Default)]
struct PackedDocuments(Vec<(Body, usize)>);

impl Extend<Spanned<Value>> for PackedDocuments {
    fn extend<I: IntoIterator<Item = Spanned<Value>>>(&mut self, documents: I) {
        for document in documents {
            let line = document.referenced.line().max(1) as usize;
            self.0.push((Body::new(&document.value), line));
        }
    }
}

/// The documents of a YAML stream as the loader reads them, packed, with their first lines.
fn read_packed_yaml(text: &str) -> Result<Vec<(Body, usize)>, serde_saphyr::Error> {
    serde_saphyr::from_str_multiple_with_options::<Spanned<Value>, PackedDocuments>(
        text,
        yaml_options(),
    )
    .map(|PackedDocuments(docs)| docs)
}

/// The documents of a YAML stream as the loader reads them, packed (for the editor, which
/// must see the same data).
pub(crate) fn packed_yaml_documents(text: &str) -> Result<Vec<Body>, serde_saphyr::Error> {
    Ok(read_packed_yaml(text)?
        .into_iter()
        .map(|(body, _)| body)
        .collect())
}

fn yaml_documents(
    file: &InputFile,
    line_count: usize,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Document> {
    match read_packed_yaml(&file.text) {
        Ok(bodies) => {
            let starts: Vec<usize> = bodies.iter().map(|(_, line)| *line).collect();
            bodies
                .into_iter()
                .enumerate()
                .map(|(i, (body, line))| Document {
                    body,
                    line,
                    end: starts.get(i + 1).copied().unwrap_or(line_count + 1),
                })
                .collect()
        }
        Err(e) => {
            let line = e.location().map_or(1, |l| l.line().max(1) as usize);
            let message = e.to_string();
            // serde's wording for a null mapping key names Rust types; say it in YAML terms.
            let message = if message.contains("cannot deserialize null into string") {
                "a mapping key is null (`~`, `null` or nothing before the colon); kubectl \
                 refuses it too: quote the key if it is meant as text"
                    .to_string()
            } else {
                message
            };
            let message = message
                .split(", set DuplicateKeyPolicy")
                .next()
                .unwrap_or(&message)
                .to_string();
            diags.push(invalid(file, line, format!("invalid YAML: {message}")));
            Vec::new()
        }
    }
}

/// The first NEL, LINE SEPARATOR or PARAGRAPH SEPARATOR and its line: go-yaml (YAML 1.1, as
/// kubectl reads) breaks lines there, our YAML 1.2 parser does not, so an annotation after
/// one inside a comment would be seen by kubectl and hidden from us.
fn yaml_break_we_do_not_see(text: &str) -> Option<(usize, &'static str)> {
    let at = text.find(['\u{85}', '\u{2028}', '\u{2029}'])?;
    let name = match text[at..].chars().next() {
        Some('\u{85}') => "NEXT LINE character (U+0085)",
        Some('\u{2028}') => "LINE SEPARATOR (U+2028)",
        _ => "PARAGRAPH SEPARATOR (U+2029)",
    };
    Some((line_number_at(text, at), name))
}

/// A JSON value read like [`Value`], but a mapping with a key given twice is an error (which
/// kubectl's strict field validation reports too), not silently the last one.
struct StrictJson(Value);

impl<'de> Deserialize<'de> for StrictJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictJson)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(StrictJson(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate key `{}`",
                    crate::diagnostics::excerpt(&key)
                )));
            }
            let StrictJson(value) = map.next_value()?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

fn json_documents(file: &InputFile, diags: &mut Vec<Diagnostic>) -> Vec<Document> {
    let text = &file.text;
    let line_at = |offset: usize| {
        text[..offset.min(text.len())]
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
            + 1
    };
    let mut docs: Vec<Document> = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<StrictJson>();
    let mut start = 0;
    loop {
        let skipped = text[start..].len() - text[start..].trim_start().len();
        let begin = start + skipped;
        match stream.next() {
            None => break,
            Some(Ok(StrictJson(value))) => {
                let end = stream.byte_offset();
                docs.push(Document {
                    body: Body::new(&value),
                    line: line_at(begin),
                    end: line_at(end) + 1,
                });
                start = end;
            }
            Some(Err(e)) => {
                diags.push(invalid(file, e.line().max(1), format!("invalid JSON: {e}")));
                return Vec::new();
            }
        }
    }
    docs
}

/// A `List` (or any `*List` kind with `items`), which kubectl flattens.
fn is_list(value: &Value) -> bool {
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    kind.ends_with("List") && value.get("items").is_some_and(Value::is_array)
}

/// The start line of every `items` entry of every document, by a second, shape-only parse. Only
/// run for files that hold a List; empty where the shape does not fit.
fn yaml_list_item_lines(text: &str) -> Vec<Vec<usize>> {
    #[derive(Deserialize)]
    struct Shape {
        #[serde(default)]
        items: Vec<Spanned<serde::de::IgnoredAny>>,
    }
    match serde_saphyr::from_multiple_with_options::<Shape>(text, yaml_options()) {
        Ok(docs) => docs
            .into_iter()
            .map(|d| {
                d.items
                    .iter()
                    .map(|i| i.referenced.line() as usize)
                    .collect()
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The line of an annotation key within `[from, end)`, or `from`.
pub(crate) fn key_line(lines: &[&str], from: usize, end: usize, key: &str) -> usize {
    let lo = from.saturating_sub(1).min(lines.len());
    let hi = end.saturating_sub(1).clamp(lo, lines.len());
    for (i, line) in lines[lo..hi].iter().enumerate() {
        let t = line
            .trim_start()
            .trim_start_matches("- ")
            .trim_start_matches(['{', ',', ' ']);
        let t = t.strip_prefix(['"', '\'']).unwrap_or(t);
        if let Some(rest) = t.strip_prefix(key) {
            let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest).trim_start();
            if rest.starts_with(':') {
                return from + i;
            }
        }
    }
    from
}

fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// What a value is, in words: `a list`, `a string`...
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "a list",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Object(_) => "a mapping",
        Value::Null => "empty",
    }
}

/// A `metadata` that kubectl refuses to decode (a field of the wrong type), which we must not
/// read as absent: an `annotations` list would otherwise silently mean wave 0.
fn metadata_problem(metadata: Option<&Value>) -> Option<String> {
    let metadata = match metadata {
        None | Some(Value::Null) => return None,
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Some(format!(
                "metadata is {}; kubectl refuses the file: it must be a mapping",
                type_name(other)
            ));
        }
    };
    for field in ["name", "generateName", "namespace"] {
        match metadata.get(field) {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(other) => {
                return Some(format!(
                    "metadata.{field} is {}; kubectl refuses the file: quote it to make it a string",
                    type_name(other)
                ));
            }
        }
    }
    for field in ["annotations", "labels"] {
        match metadata.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                if field == "labels"
                    && let Some((key, v)) = map.iter().find(|(_, v)| !v.is_string() && !v.is_null())
                {
                    return Some(format!(
                        "label `{}` is {}; kubectl refuses the file: label values must be strings (quote it)",
                        crate::diagnostics::excerpt(key),
                        type_name(v)
                    ));
                }
            }
            Some(other) => {
                return Some(format!(
                    "metadata.{field} is {}; kubectl refuses the file: it must be a mapping of strings (key: \"value\")",
                    type_name(other)
                ));
            }
        }
    }
    None
}

/// The object `value` is, if it is one; `body` is `value` packed.
fn build_object(
    value: Value,
    body: Body,
    source: &Source,
    path: ObjectPath,
    lines: &[&str],
    end: usize,
    diags: &mut Vec<Diagnostic>,
) -> Option<Object> {
    let not_object = |what: String| Diagnostic::new(Code::NotAnObject, source, "-", what);
    if !value.is_object() {
        diags.push(not_object(format!(
            "this document is {}, not a Kubernetes object",
            type_name(&value)
        )));
        return None;
    }
    let (Some(api_version), Some(kind)) =
        (str_field(&value, "apiVersion"), str_field(&value, "kind"))
    else {
        let missing: Vec<&str> = ["apiVersion", "kind"]
            .into_iter()
            .filter(|k| str_field(&value, k).is_none())
            .collect();
        diags.push(not_object(format!(
            "this document is not a Kubernetes object: it has no {} (is it a values file or kustomization?)",
            missing.join(" and ")
        )));
        return None;
    };
    let metadata = value.get("metadata");
    if let Some(problem) = metadata_problem(metadata) {
        let name = metadata.and_then(|m| str_field(m, "name")).unwrap_or("?");
        let namespace = metadata
            .and_then(|m| str_field(m, "namespace"))
            .unwrap_or("");
        diags.push(Diagnostic::new(
            Code::NotAnObject,
            source,
            display_name(kind, namespace, name),
            problem,
        ));
        return None;
    }
    let namespace = metadata
        .and_then(|m| str_field(m, "namespace"))
        .unwrap_or("")
        .to_string();
    let (name, generate_name) = match (
        metadata.and_then(|m| str_field(m, "name")),
        metadata.and_then(|m| str_field(m, "generateName")),
    ) {
        (Some(n), _) => (n.to_string(), false),
        (None, Some(g)) => (g.to_string(), true),
        (None, None) => {
            diags.push(Diagnostic::new(
                Code::MissingName,
                source,
                display_name(kind, &namespace, "?"),
                format!(
                    "{kind} has no metadata.name (or metadata.generateName); every object needs one"
                ),
            ));
            // Kept with an empty name, so that `health` can still judge it (a name is not
            // needed for that); the error stops every command that would plan or apply it.
            (String::new(), false)
        }
    };
    let object_name = display_name(kind, &namespace, if name.is_empty() { "?" } else { &name });
    let locate = |key: &str| source.at(key_line(lines, source.line, end, key));
    let cx = Context {
        object: &object_name,
        namespace: &namespace,
        locate: &locate,
    };
    let (annotations, mut found) = annotations::parse(
        metadata
            .and_then(|m| m.get("annotations"))
            .and_then(Value::as_object),
        &cx,
    );
    diags.append(&mut found);
    if let Some(problem) =
        super::schema::check(&value, api_version, kind, &object_name, source, lines, end)
    {
        diags.push(problem);
    }
    let defines = CrdDefinition::read(group_of(api_version), kind, &value).map(Box::new);
    Some(Object {
        defines,
        group: Name::new(group_of(api_version)),
        api_version: Name::new(api_version),
        kind: Name::new(kind),
        namespace: Name::new(&namespace),
        name,
        generate_name,
        source: source.clone(),
        path,
        annotations,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> InputFile {
        InputFile {
            display: name.into(),
            text: text.to_string(),
            json: name.ends_with(".json"),
        }
    }

    #[test]
    fn documents_keep_their_lines() {
        let text = "# leading comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    argocd.argoproj.io/sync-wave: \"two\"\n---\n# empty\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b, namespace: ns}\n";
        let (objs, diags) = parse_file(&file("m.yaml", text));
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0].source.to_string(), "m.yaml:3");
        assert_eq!(objs[1].source.to_string(), "m.yaml:12");
        assert_eq!(
            objs[1].path,
            ObjectPath {
                document: 1,
                item: None
            }
        );
        assert_eq!(objs[1].display_name(), "Secret/ns/b");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].source, "m.yaml:8", "the annotation's own line");
        assert_eq!(diags[0].object, "ConfigMap/a");
    }

    #[test]
    fn lists_are_flattened_with_item_lines() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n";
        let (objs, diags) = parse_file(&file("l.yaml", text));
        assert!(diags.is_empty());
        let lines: Vec<String> = objs.iter().map(|o| o.source.to_string()).collect();
        assert_eq!(lines, ["l.yaml:4", "l.yaml:8"]);
        assert_eq!(
            objs[1].path,
            ObjectPath {
                document: 0,
                item: Some(1)
            }
        );
    }

    #[test]
    fn json_streams() {
        let text = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}\n\n{\"apiVersion\":\"v1\",\n\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"}}]}\n";
        let (objs, diags) = parse_file(&file("x.json", text));
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1].source.line, 3);
        let (_, diags) = parse_file(&file("bad.json", "{\"a\":\n"));
        assert_eq!(diags[0].code, Code::InvalidManifest);
    }

    #[test]
    fn yaml_1_1_scalars_as_kubectl() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  mode: 0644\n  flag: yes\n";
        let (objs, _) = parse_file(&file("m.yaml", text));
        assert_eq!(objs[0].value()["data"]["mode"], 420);
        assert_eq!(objs[0].value()["data"]["flag"], true);
    }

    #[test]
    fn large_streams_are_read() {
        // helm template of a big chart: thousands of documents in one stream.
        let text: String = (0..3000)
            .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n"))
            .collect();
        let (objs, diags) = parse_file(&file("big.yaml", &text));
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(objs.len(), 3000);
    }

    #[test]
    fn bad_input_is_reported_not_panicked() {
        for text in [
            "a: [1,\n",
            "- 1\n- 2\n",
            "just text\n",
            "apiVersion: v1\nkind: Secret\n",
            "kind: X\nmetadata: {name: a}\n",
            "a: 1\na: 2\n",
            "\u{0}\n",
            "apiVersion: v1\nkind: X\nmetadata: 5\n",
        ] {
            let (objs, diags) = parse_file(&file("b.yaml", text));
            // An object without a name is kept (unnamed) for `health`, with its error.
            let nameless = text == "apiVersion: v1\nkind: Secret\n";
            assert_eq!(objs.len(), usize::from(nameless), "{text:?}");
            assert!(objs.iter().all(|o| o.name.is_empty()));
            assert_eq!(diags.len(), 1, "{text:?}: {diags:?}");
            assert!(!diags[0].message.contains("DuplicateKeyPolicy"));
        }
    }

    #[test]
    fn metadata_of_the_wrong_shape_is_refused_as_kubectl_does() {
        for (meta, words) in [
            (
                "  annotations:\n  - argocd.argoproj.io/sync-wave: \"5\"\n",
                "metadata.annotations is a list",
            ),
            (
                "  annotations: \"argocd.argoproj.io/sync-wave=5\"\n",
                "metadata.annotations is a string",
            ),
            ("  labels: [a]\n", "metadata.labels is a list"),
            ("  labels:\n    tier: 5\n", "label `tier` is a number"),
            ("  namespace: 5\n", "metadata.namespace is a number"),
        ] {
            let text = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n{meta}");
            let (objs, diags) = parse_file(&file("m.yaml", &text));
            assert!(objs.is_empty(), "{meta}");
            assert_eq!(diags.len(), 1, "{meta}: {diags:?}");
            assert_eq!(diags[0].code, Code::NotAnObject);
            assert!(diags[0].message.contains(words), "{}", diags[0].message);
            assert!(
                diags[0].message.contains("kubectl refuses"),
                "{}",
                diags[0].message
            );
        }
        let (objs, diags) = parse_file(&file(
            "m.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations: null\n  labels: {}\n",
        ));
        assert_eq!(
            (objs.len(), diags.len()),
            (1, 0),
            "null and empty stay fine"
        );
    }

    #[test]
    fn line_breaks_only_go_yaml_sees_are_refused() {
        for sep in ['\u{2028}', '\u{2029}', '\u{85}'] {
            let text = format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    # note{sep}    argocd.argoproj.io/sync-wave: \"5\"\n"
            );
            let (objs, diags) = parse_file(&file("m.yaml", &text));
            assert!(objs.is_empty());
            assert_eq!(diags[0].code, Code::InvalidManifest);
            assert_eq!(diags[0].source, "m.yaml:6");
            assert!(
                diags[0]
                    .message
                    .contains("kubectl's YAML parser reads as a line break")
            );
        }
    }

    #[test]
    fn json_duplicate_keys_are_errors() {
        let text = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\n\"metadata\":{\"name\":\"a\",\"name\":\"b\"}}\n";
        let (objs, diags) = parse_file(&file("d.json", text));
        assert!(objs.is_empty());
        assert_eq!(diags[0].code, Code::InvalidManifest);
        assert_eq!(diags[0].source, "d.json:2");
        assert!(
            diags[0].message.contains("duplicate key `name`"),
            "{}",
            diags[0].message
        );
    }
}

#[cfg(test)]
mod packed_tests {
    use super::*;

    #[test]
    fn objects_are_kept_packed_at_about_their_own_size() {
        let one = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-0000001\n  annotations:\n    argocd.argoproj.io/sync-wave: \"3\"\ndata:\n  key: value-0000001-abcdefghijklmnopqrstuvwxyz\n";
        let text = format!("{one}---\n{one}");
        let (objects, diags) = parse_file(&InputFile {
            display: "m.yaml".into(),
            text,
            json: false,
        });
        assert!(diags.is_empty(), "{diags:?}");
        for o in &objects {
            // Kept as parsed (a `serde_json::Value`) this object took about 1.5 KB; packed,
            // its JSON is its YAML with quotes for indentation.
            assert!(
                o.body.json().len() <= one.len() * 11 / 10,
                "{}",
                o.body.json()
            );
            assert_eq!(
                o.value()["data"]["key"],
                "value-0000001-abcdefghijklmnopqrstuvwxyz"
            );
        }
    }
}

#[cfg(test)]
mod line_tests {
    use super::{line_number_at, text_lines};

    #[test]
    fn lone_cr_crlf_and_lf_all_break_lines() {
        let text = "a\rb\r\nc\nd";
        assert_eq!(text_lines(text), ["a", "b", "c", "d"]);
        assert_eq!(line_number_at(text, text.find('d').unwrap()), 4);
        assert_eq!(line_number_at(text, text.find('b').unwrap()), 2);
        assert_eq!(line_number_at(text, 0), 1);
        // Between the CR and the LF of a CRLF: still line 2.
        assert_eq!(line_number_at(text, 4), 2);
        assert_eq!(text_lines("x\n"), ["x"]);
    }
}
