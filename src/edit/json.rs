//! JSON files: one splice per edited object, laid out like its neighbours, then proved.
//!
//! A file may hold one value or a stream of values (as the loader reads it). Only the inside
//! of the edited object's `annotations` (or, to add or drop that key, of its `metadata`) is
//! rewritten; every other byte is copied.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{
    EditError, Format, Intended, ObjectEdit, ObjectPath, ObjectProblem, Unsupported,
    apply_to_metadata, by_document, verify,
};
use crate::model::Body;

/// The values of a JSON stream, as the loader reads them, each packed as it is read.
fn parse(text: &str) -> Result<Vec<Body>, String> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .map(|value| value.map(|v| Body::new(&v)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())
}

pub(super) fn edit(text: &str, edits: &[ObjectEdit]) -> Result<String, EditError> {
    let original = parse(text).map_err(|message| EditError::Parse {
        format: Format::Json,
        message,
    })?;
    let docs = scan_stream(text);
    if docs.len() != original.len() {
        return Err(Unsupported::DocumentCount {
            parser: original.len(),
            editor: docs.len(),
        }
        .into());
    }
    let mut intended = Intended::new(original);
    // The annotations of each object changed, before its first change and after its last.
    let mut touched: Vec<(ObjectPath, Annotations, Annotations)> = Vec::new();
    let mut seen: HashMap<ObjectPath, usize> = HashMap::new();
    for edit in by_document(edits) {
        let metadata = intended.metadata(edit.path)?;
        let first = seen.get(&edit.path).copied();
        // Only an object's first change needs what it had before.
        let before = first.is_none().then(|| annotations_in(metadata));
        let steps = apply_to_metadata(edit.path, metadata, &edit.changes)?;
        if steps.is_empty() {
            continue;
        }
        let after = annotations_in(metadata);
        match first {
            Some(i) => touched[i].2 = after,
            None => {
                seen.insert(edit.path, touched.len());
                touched.push((edit.path, before.flatten(), after));
            }
        }
    }
    let intended = intended.into_docs();
    let mut splices = Vec::with_capacity(touched.len());
    for (path, before, after) in &touched {
        if let Some(splice) = splice_for(text, &docs, *path, before.as_ref(), after.as_ref())? {
            splices.push(splice);
        }
    }
    if splices.is_empty() {
        return Ok(text.to_owned());
    }
    splices.sort_by_key(|s| s.start);
    let mut new = String::with_capacity(text.len() + 256);
    let mut at = 0;
    for s in &splices {
        if s.start < at {
            return Err(EditError::Verification("two edits overlap".into()));
        }
        new.push_str(&text[at..s.start]);
        new.push_str(&s.text);
        at = s.end;
    }
    new.push_str(&text[at..]);
    let reparsed = parse(&new)
        .map_err(|m| EditError::Verification(format!("the new text does not parse: {m}")))?;
    verify(&reparsed, &intended)?;
    Ok(new)
}

/// The `annotations` of a `metadata` mapping when it is a mapping.
type Annotations = Option<Map<String, Value>>;

fn annotations_in(metadata: &Map<String, Value>) -> Annotations {
    metadata.get("annotations")?.as_object().cloned()
}

/// Replace `start..end` of the input with `text`.
struct Splice {
    start: usize,
    end: usize,
    text: String,
}

/// The one splice that turns the object's annotations from `before` into `after`.
fn splice_for(
    text: &str,
    docs: &[Node],
    path: ObjectPath,
    before: Option<&Map<String, Value>>,
    after: Option<&Map<String, Value>>,
) -> Result<Option<Splice>, EditError> {
    let problem = |p| EditError::object(path, p);
    let doc = docs
        .get(path.document)
        .ok_or(problem(ObjectProblem::NoSuchDocument { count: docs.len() }))?;
    let object = match path.item {
        None => doc,
        Some(i) => {
            let items = member(text, doc, "items", "object", path)?
                .ok_or(problem(ObjectProblem::NotAList))?;
            let Kind::Array(elements) = &items.value.kind else {
                return Err(problem(ObjectProblem::NotAList));
            };
            elements.get(i).ok_or(problem(ObjectProblem::NoSuchItem {
                count: elements.len(),
            }))?
        }
    };
    let metadata = &member(text, object, "metadata", "object", path)?
        .ok_or(problem(ObjectProblem::NoMetadata))?
        .value;
    let annotations = member(text, metadata, "annotations", "metadata", path)?;

    let Some(after) = after else {
        // Every annotation was removed: drop the key from `metadata`.
        let Some(annotations) = annotations else {
            return Ok(None);
        };
        let entries = members(metadata)
            .iter()
            .filter(|m| !std::ptr::eq(*m, annotations))
            .map(Entry::Keep)
            .collect();
        return Ok(Some(rewrite(text, metadata, entries)));
    };
    let fresh = || fresh_object(text, metadata, after);
    match annotations {
        None => {
            let mut entries: Vec<Entry> = members(metadata).iter().map(Entry::Keep).collect();
            entries.push(Entry::New(json_string("annotations"), fresh()));
            Ok(Some(rewrite(text, metadata, entries)))
        }
        Some(m) if members(&m.value).is_empty() => {
            // `null` or `{}`: write a whole new object in its place.
            Ok(Some(Splice {
                start: m.value.start,
                end: m.value.end,
                text: fresh(),
            }))
        }
        Some(m) => {
            let before = before.cloned().unwrap_or_default();
            let mut entries = Vec::with_capacity(after.len());
            for (key, value) in after {
                let value_text = json_value(value);
                match member(text, &m.value, key, "metadata.annotations", path)? {
                    Some(old) if before.get(key) == Some(value) => entries.push(Entry::Keep(old)),
                    Some(old) => entries.push(Entry::Replace(old, value_text)),
                    None => entries.push(Entry::New(json_string(key), value_text)),
                }
            }
            Ok(Some(rewrite(text, &m.value, entries)))
        }
    }
}

/// One member of a rewritten object.
enum Entry<'a> {
    /// Copied byte for byte.
    Keep(&'a Member),
    /// The original key, a new value.
    Replace(&'a Member, String),
    /// A new member: key and value, as JSON.
    New(String, String),
}

/// Rewrites the inside of `object` (which has members) to hold `entries`, keeping its
/// separators where neighbours stay neighbours and copying its layout for the rest.
fn rewrite(text: &str, object: &Node, entries: Vec<Entry>) -> Splice {
    let old = members(object);
    let (start, end) = (object.start + 1, object.end - 1);
    let layout = Layout::of(text, object);
    let index = |m: &Member| old.iter().position(|o| std::ptr::eq(o, m));
    let mut out = String::new();
    if !entries.is_empty() {
        out.push_str(&layout.lead);
    }
    let mut previous: Option<usize> = None;
    for (j, entry) in entries.iter().enumerate() {
        let this = match entry {
            Entry::Keep(m) | Entry::Replace(m, _) => index(m),
            Entry::New(..) => None,
        };
        if j > 0 {
            match (previous, this) {
                (Some(p), Some(t)) if t == p + 1 => {
                    out.push_str(&text[old[p].value.end..old[t].key_start]);
                }
                _ => out.push_str(&layout.separator),
            }
        }
        match entry {
            Entry::Keep(m) => out.push_str(&text[m.key_start..m.value.end]),
            Entry::Replace(m, value) => {
                out.push_str(&text[m.key_start..m.value.start]);
                out.push_str(value);
            }
            Entry::New(key, value) => {
                out.push_str(key);
                out.push_str(&layout.colon);
                out.push_str(value);
            }
        }
        previous = this;
    }
    if !entries.is_empty() {
        out.push_str(&layout.trail);
    }
    Splice {
        start,
        end,
        text: out,
    }
}

/// A new object holding `values`, to be placed as a member of `parent`, laid out like it.
fn fresh_object(text: &str, parent: &Node, values: &Map<String, Value>) -> String {
    let layout = Layout::of(text, parent);
    let pairs = values
        .iter()
        .map(|(k, v)| format!("{}{}{}", json_string(k), layout.colon, json_value(v)));
    match &layout.lines {
        Some(lines) => {
            let inner = format!("{}{}{}", lines.newline, lines.member_indent, lines.unit);
            let mut out = String::from("{");
            for (i, pair) in pairs.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&inner);
                out.push_str(&pair);
            }
            out.push_str(lines.newline);
            out.push_str(&lines.member_indent);
            out.push('}');
            out
        }
        None => format!("{{{}}}", pairs.collect::<Vec<_>>().join(&layout.separator)),
    }
}

/// How an object's members are laid out in the text.
struct Layout {
    /// Between `{` and the first key.
    lead: String,
    /// Between the last value and `}`.
    trail: String,
    /// Between two members (comma included).
    separator: String,
    /// Between a key and its value (colon included).
    colon: String,
    /// Set when members sit on their own lines.
    lines: Option<Lines>,
}

struct Lines {
    newline: &'static str,
    member_indent: String,
    unit: String,
}

impl Layout {
    fn of(text: &str, object: &Node) -> Layout {
        let old = members(object);
        let (Some(first), Some(last)) = (old.first(), old.last()) else {
            return Layout {
                lead: String::new(),
                trail: String::new(),
                separator: ", ".into(),
                colon: ": ".into(),
                lines: None,
            };
        };
        let lead = text[object.start + 1..first.key_start].to_owned();
        let trail = text[last.value.end..object.end - 1].to_owned();
        let colon = text[first.key_end..first.value.start].to_owned();
        let separator = match old.len() {
            1 if lead.is_empty() && colon.ends_with(' ') => ", ".to_owned(),
            1 => format!(",{lead}"),
            n => text[old[n - 2].value.end..last.key_start].to_owned(),
        };
        let lines = lead.rfind('\n').map(|i| {
            let member_indent = lead[i + 1..].to_owned();
            let close_indent = trail.rfind('\n').map_or("", |j| &trail[j + 1..]);
            let unit = member_indent
                .strip_prefix(close_indent)
                .filter(|u| !u.is_empty())
                .unwrap_or("  ")
                .to_owned();
            let newline = if lead.contains("\r\n") { "\r\n" } else { "\n" };
            Lines {
                newline,
                member_indent,
                unit,
            }
        });
        Layout {
            lead,
            trail,
            separator,
            colon,
            lines,
        }
    }
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

fn json_value(v: &Value) -> String {
    v.to_string()
}

/// The member `key` of an object node, refusing duplicates. `Ok(None)` when absent or when
/// `node` is not an object.
fn member<'a>(
    text: &str,
    node: &'a Node,
    key: &str,
    field: &'static str,
    path: ObjectPath,
) -> Result<Option<&'a Member>, EditError> {
    let mut found = None;
    for m in members(node) {
        if m.key(text) == key {
            if found.is_some() {
                return Err(EditError::object(
                    path,
                    ObjectProblem::DuplicateKey {
                        field,
                        key: key.to_owned(),
                    },
                ));
            }
            found = Some(m);
        }
    }
    Ok(found)
}

fn members(node: &Node) -> &[Member] {
    match &node.kind {
        Kind::Object(members) => members,
        _ => &[],
    }
}

/// A JSON value with its byte range in the text.
struct Node {
    start: usize,
    end: usize,
    kind: Kind,
}

enum Kind {
    Object(Vec<Member>),
    Array(Vec<Node>),
    Other,
}

/// `"key": value` inside an object.
struct Member {
    key_start: usize,
    key_end: usize,
    value: Node,
}

impl Member {
    fn key(&self, text: &str) -> String {
        serde_json::from_str(&text[self.key_start..self.key_end]).unwrap_or_default()
    }
}

/// The byte ranges of every value of a stream that serde_json has accepted.
fn scan_stream(text: &str) -> Vec<Node> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut out = Vec::new();
    loop {
        scanner.skip_ws();
        if scanner.at >= scanner.bytes.len() {
            return out;
        }
        out.push(scanner.value());
    }
}

/// A span-recording scanner for text that is already known to be valid JSON.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> u8 {
        self.bytes.get(self.at).copied().unwrap_or(0)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    fn value(&mut self) -> Node {
        let start = self.at;
        let kind = match self.peek() {
            b'{' => {
                self.at += 1;
                let mut members = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        b'}' | 0 => break,
                        b',' => self.at += 1,
                        _ => {
                            let key_start = self.at;
                            self.string();
                            let key_end = self.at;
                            self.skip_ws();
                            self.at += 1; // ':'
                            self.skip_ws();
                            let value = self.value();
                            members.push(Member {
                                key_start,
                                key_end,
                                value,
                            });
                        }
                    }
                }
                self.at += 1;
                Kind::Object(members)
            }
            b'[' => {
                self.at += 1;
                let mut elements = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        b']' | 0 => break,
                        b',' => self.at += 1,
                        _ => elements.push(self.value()),
                    }
                }
                self.at += 1;
                Kind::Array(elements)
            }
            b'"' => {
                self.string();
                Kind::Other
            }
            _ => {
                while !matches!(
                    self.peek(),
                    b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | b'{' | b'[' | b'"' | 0
                ) {
                    self.at += 1;
                }
                Kind::Other
            }
        };
        Node {
            start,
            end: self.at.min(self.bytes.len()),
            kind,
        }
    }

    fn string(&mut self) {
        self.at += 1;
        while self.at < self.bytes.len() {
            match self.bytes[self.at] {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return;
                }
                _ => self.at += 1,
            }
        }
    }
}
