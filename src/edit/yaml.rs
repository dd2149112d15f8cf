//! YAML streams: edits through `yaml-edit`'s lossless syntax tree, then proved.

use std::collections::HashMap;
use std::str::FromStr;

use yaml_edit::{Document, Mapping, MappingEntry, ScalarValue, TextPosition, YamlFile, YamlNode};

use super::{
    EditError, Format, Intended, ObjectEdit, ObjectPath, ObjectProblem, Step, Unsupported,
    apply_to_metadata, by_document, verify,
};
use crate::model::Body;

/// The documents of a stream as the loader sees them (empty and null documents skipped),
/// packed.
pub(super) fn parse(text: &str) -> Result<Vec<Body>, String> {
    crate::manifest::packed_yaml_documents(text).map_err(|e| e.to_string())
}

/// One object to edit: where its `metadata` entry is and the steps to replay on it.
struct Target {
    /// How far this file indents a mapping nested in `metadata`, as read from the input.
    unit: usize,
    /// The entry's range in the input.
    before: TextPosition,
    steps: Vec<Step>,
}

pub(super) fn edit(text: &str, edits: &[ObjectEdit]) -> Result<String, EditError> {
    let parse_error = |message| EditError::Parse {
        format: Format::Yaml,
        message,
    };
    let mut intended = Intended::new(parse(text).map_err(parse_error)?);
    let file = YamlFile::from_str(text).map_err(|e| parse_error(e.to_string()))?;
    let docs: Vec<Document> = file.documents().filter(counts_as_document).collect();
    if docs.len() != intended.len() {
        return Err(Unsupported::DocumentCount {
            parser: intended.len(),
            editor: docs.len(),
        }
        .into());
    }

    // Locate and check every object before the tree changes, so ranges are the input's.
    let mut items: HashMap<usize, Vec<YamlNode>> = HashMap::new();
    let mut targets: Vec<Target> = Vec::new();
    let mut by_path: HashMap<ObjectPath, usize> = HashMap::new();
    for edit in by_document(edits) {
        let metadata = intended.metadata(edit.path)?;
        let steps = apply_to_metadata(edit.path, metadata, &edit.changes)?;
        if steps.is_empty() {
            continue;
        }
        if let Some(&i) = by_path.get(&edit.path) {
            targets[i].steps.extend(steps);
            continue;
        }
        let object = object_mapping(&docs, &mut items, edit.path)?;
        let (entry, metadata) = metadata_entry(text, &object, edit.path)?;
        check_annotations(text, &metadata, edit.path)?;
        let before = entry.byte_range();
        by_path.insert(edit.path, targets.len());
        let column = metadata.detect_indentation_level();
        let unit = nesting_step(&metadata, column)
            .or_else(|| {
                column
                    .checked_sub(object.detect_indentation_level())
                    .filter(|u| *u > 0)
            })
            .unwrap_or(2);
        targets.push(Target {
            unit,
            before,
            steps,
        });
    }
    if targets.is_empty() {
        return Ok(text.to_owned());
    }
    let intended = intended.into_docs();
    // The syntax tree of the whole file takes many times its text: gone before the new text
    // is built and parsed again.
    drop((items, docs, file));

    // Each `metadata` entry is edited in a tree of its own (its text keeps the input's
    // columns), so a List of thousands of items is not rebuilt once per item; every byte
    // outside these entries is copied from the input.
    targets.sort_by_key(|t| t.before.start);
    let mut new = String::with_capacity(text.len() + 64 * targets.len());
    let mut at = 0;
    for target in &targets {
        let (start, end) = (target.before.start as usize, target.before.end as usize);
        let original = text.get(start..end).unwrap_or("");
        let rendered = edit_entry(original, target)?;
        if start < at || !rendered.starts_with(key_text(original)) {
            return Err(EditError::Verification("the edited regions overlap".into()));
        }
        new.push_str(&text[at..start]);
        new.push_str(&rendered);
        at = end;
    }
    new.push_str(&text[at..]);
    let reparsed = parse(&new)
        .map_err(|m| EditError::Verification(format!("the new text does not parse: {m}")))?;
    verify(&reparsed, &intended)?;
    Ok(new)
}

/// Whether serde-saphyr returns a value for this document: it skips documents with no
/// content, plain null scalars (`~`, `null`, empty) and `!!null`-tagged ones.
fn counts_as_document(doc: &Document) -> bool {
    if let Some(tagged) = doc.as_tagged() {
        let tag = tagged.tag().unwrap_or_default();
        return !matches!(tag.as_str(), "!!null" | "!<tag:yaml.org,2002:null>");
    }
    if doc.as_mapping().is_some() || doc.as_sequence().is_some() {
        return true;
    }
    match doc.as_scalar() {
        Some(s) if s.is_quoted() => true,
        Some(s) => !matches!(s.to_string().trim(), "" | "~" | "null" | "Null" | "NULL"),
        None => false,
    }
}

/// The mapping of the object at `path` (the document, or one of its `items`).
fn object_mapping(
    docs: &[Document],
    items: &mut HashMap<usize, Vec<YamlNode>>,
    path: ObjectPath,
) -> Result<Mapping, EditError> {
    let problem = |p| EditError::object(path, p);
    let doc = docs
        .get(path.document)
        .ok_or(problem(ObjectProblem::NoSuchDocument { count: docs.len() }))?;
    let root = doc
        .as_mapping()
        .ok_or(problem(ObjectProblem::NotAMapping))?;
    let Some(index) = path.item else {
        return Ok(root);
    };
    let list = match items.entry(path.document) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            let Some(YamlNode::Sequence(seq)) = root.get("items") else {
                return Err(problem(ObjectProblem::NotAList));
            };
            e.insert(seq.values().collect())
        }
    };
    match list.get(index) {
        Some(YamlNode::Mapping(m)) => Ok(m.clone()),
        Some(YamlNode::Alias(_)) => Err(problem(ObjectProblem::Shared { field: "items[]" })),
        Some(YamlNode::TaggedNode(_)) => Err(problem(ObjectProblem::Tagged { field: "items[]" })),
        Some(_) => Err(problem(ObjectProblem::NotAMapping)),
        None => Err(problem(ObjectProblem::NoSuchItem { count: list.len() })),
    }
}

/// The `metadata` entry of an object and its mapping, refusing shared, tagged or merged ones.
fn metadata_entry(
    text: &str,
    object: &Mapping,
    path: ObjectPath,
) -> Result<(MappingEntry, Mapping), EditError> {
    let field = "metadata";
    let problem = |p| EditError::object(path, p);
    let entry = object
        .find_entry_by_key(field)
        .ok_or(problem(ObjectProblem::NoMetadata))?;
    let mapping = match entry.value_node() {
        Some(YamlNode::Mapping(m)) => m,
        Some(YamlNode::Alias(_)) => return Err(problem(ObjectProblem::Shared { field })),
        Some(YamlNode::TaggedNode(_)) => return Err(problem(ObjectProblem::Tagged { field })),
        _ => return Err(problem(ObjectProblem::NotAMappingField { field })),
    };
    if has_anchor(text, &entry) {
        return Err(problem(ObjectProblem::Shared { field }));
    }
    if has_merge_key(&mapping) {
        return Err(problem(ObjectProblem::MergeKey { field }));
    }
    Ok((entry, mapping))
}

/// Refuses an `annotations` value that an edit could not change on its own.
fn check_annotations(text: &str, metadata: &Mapping, path: ObjectPath) -> Result<(), EditError> {
    let field = "metadata.annotations";
    let problem = |p| EditError::object(path, p);
    let Some(entry) = metadata.find_entry_by_key("annotations") else {
        return Ok(());
    };
    if has_anchor(text, &entry) {
        return Err(problem(ObjectProblem::Shared { field }));
    }
    match entry.value_node() {
        None => Ok(()),
        Some(YamlNode::Mapping(m)) if has_merge_key(&m) => {
            Err(problem(ObjectProblem::MergeKey { field }))
        }
        Some(YamlNode::Mapping(_) | YamlNode::Scalar(_)) => Ok(()),
        Some(YamlNode::Alias(_)) => Err(problem(ObjectProblem::Shared { field })),
        Some(YamlNode::TaggedNode(_)) => Err(problem(ObjectProblem::Tagged { field })),
        Some(YamlNode::Sequence(_)) => Err(problem(ObjectProblem::NotAMappingField { field })),
    }
}

/// Whether an anchor (`&name`) sits between the entry's key and its value.
fn has_anchor(text: &str, entry: &MappingEntry) -> bool {
    let (Some(key), Some(value)) = (entry.key_node(), entry.value_node()) else {
        return false;
    };
    let (start, end) = (
        key.byte_range().end as usize,
        value.byte_range().start as usize,
    );
    let gap = text.get(start..end.max(start)).unwrap_or("");
    gap.lines()
        .any(|line| line.split('#').next().unwrap_or("").contains('&'))
}

/// Whether a mapping has a `<<` merge key.
fn has_merge_key(mapping: &Mapping) -> bool {
    mapping.entries().any(|e| {
        e.key_node()
            .and_then(|k| k.as_scalar().map(|s| s.to_string()))
            .as_deref()
            == Some("<<")
    })
}

/// Quote style of a scalar as written, `None` when it is not quoted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    Double,
    Single,
}

fn quote_of(node: Option<YamlNode>) -> Option<Quote> {
    let raw = node?.as_scalar()?.to_string();
    match raw.as_bytes().first() {
        Some(b'"') => Some(Quote::Double),
        Some(b'\'') => Some(Quote::Single),
        _ => None,
    }
}

/// A string value written with `quote`; single quotes only when they can hold it on one line.
fn quoted(value: &str, quote: Quote) -> ScalarValue {
    let single_ok = !value
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}'));
    match quote {
        Quote::Single if single_ok => ScalarValue::single_quoted(value),
        _ => ScalarValue::double_quoted(value),
    }
}

/// A new key, quoted like `like` (the first existing key) when that is quoted, else plain
/// when plain is safe.
fn new_key(key: &str, like: Option<Quote>) -> ScalarValue {
    match like {
        Some(q) => quoted(key, q),
        None => ScalarValue::string(key),
    }
}

/// Replays the steps on the `metadata` mapping of the tree.
fn replay(metadata: &Mapping, steps: &[Step]) -> Result<(), EditError> {
    let lost = || EditError::Verification("the annotations mapping was lost while editing".into());
    for step in steps {
        match step {
            Step::Create { key, value } => {
                let annotations = Mapping::new();
                annotations.set(
                    ScalarValue::string(key.as_str()),
                    quoted(value, Quote::Double),
                );
                metadata.set("annotations", annotations);
            }
            Step::Set { key, value } => {
                let annotations = metadata.get_mapping("annotations").ok_or_else(lost)?;
                match annotations.find_entry_by_key(key.as_str()) {
                    Some(entry) => {
                        let quote = quote_of(entry.value_node())
                            .or_else(|| sibling_quote(&annotations))
                            .unwrap_or(Quote::Double);
                        annotations.set(key.as_str(), quoted(value, quote));
                    }
                    None => {
                        let quote = sibling_quote(&annotations).unwrap_or(Quote::Double);
                        let key_quote = annotations
                            .entries()
                            .next()
                            .and_then(|e| quote_of(e.key_node()));
                        annotations.set(new_key(key, key_quote), quoted(value, quote));
                    }
                }
            }
            Step::Remove { key } => {
                let annotations = metadata.get_mapping("annotations").ok_or_else(lost)?;
                annotations.remove(key.as_str()).ok_or_else(lost)?;
            }
            Step::Drop => {
                metadata.remove("annotations").ok_or_else(lost)?;
            }
        }
    }
    Ok(())
}

/// The quote style of the first quoted value in the annotations.
fn sibling_quote(annotations: &Mapping) -> Option<Quote> {
    annotations.entries().find_map(|e| quote_of(e.value_node()))
}

/// Replays the target's steps on its `metadata` entry (`original`, parsed on its own) and
/// returns the entry's new text.
fn edit_entry(original: &str, target: &Target) -> Result<String, EditError> {
    let fail = |why: &str| EditError::Verification(format!("the `metadata` entry {why}"));
    let file = YamlFile::from_str(original).map_err(|_| fail("does not parse on its own"))?;
    let root = file.documents().next().and_then(|d| d.as_mapping());
    let entry = root.as_ref().and_then(|r| r.entries().next());
    let (Some(root), Some(entry)) = (root, entry) else {
        return Err(fail("does not parse on its own"));
    };
    let Some(YamlNode::Mapping(metadata)) = entry.value_node() else {
        return Err(fail("is not a mapping on its own"));
    };
    if root.len() != 1 || file.to_string() != original {
        return Err(fail("does not parse on its own"));
    }
    replay(&metadata, &target.steps)?;
    let created = target
        .steps
        .iter()
        .any(|s| matches!(s, Step::Create { .. }));
    Ok(render(
        &file.to_string(),
        &entry,
        &metadata,
        created,
        target.unit,
    ))
}

/// The new text of a `metadata` entry. An `annotations` block that the edit created is
/// indented by the step the file uses under `metadata` (yaml-edit always uses two spaces).
fn render(
    rendered: &str,
    entry: &MappingEntry,
    metadata: &Mapping,
    created: bool,
    unit: usize,
) -> String {
    let unchanged = || rendered.to_owned();
    if !created || unit == 2 || metadata.is_flow_style() {
        return unchanged();
    }
    let Some(annotations) = metadata.find_entry_by_key("annotations") else {
        return unchanged();
    };
    let column = metadata.detect_indentation_level();
    let range = annotations.byte_range();
    let Some(start) = range.start.checked_sub(entry.byte_range().start) else {
        return unchanged();
    };
    let (start, end) = (start as usize, (start + range.len()) as usize);
    let Some(block) = rendered.get(start..end) else {
        return unchanged();
    };
    // Every line after `annotations:` is one created `key: "value"` entry at column + 2.
    let (old_indent, new_indent) = (" ".repeat(column + 2), " ".repeat(column + unit));
    let mut fixed = String::with_capacity(block.len() + 16);
    for (i, line) in block.split_inclusive('\n').enumerate() {
        match line.strip_prefix(old_indent.as_str()) {
            Some(rest) if i > 0 && !rest.starts_with(' ') => {
                fixed.push_str(&new_indent);
                fixed.push_str(rest);
            }
            _ if i > 0 => return unchanged(),
            _ => fixed.push_str(line),
        }
    }
    format!("{}{}{}", &rendered[..start], fixed, &rendered[end..])
}

/// How far the file indents a block mapping nested in `metadata` (e.g. `labels`).
fn nesting_step(metadata: &Mapping, column: usize) -> Option<usize> {
    metadata.entries().find_map(|e| match e.value_node() {
        Some(YamlNode::Mapping(m)) if !m.is_flow_style() && !m.is_empty() => m
            .detect_indentation_level()
            .checked_sub(column)
            .filter(|u| *u > 0),
        _ => None,
    })
}

/// The key part of an entry's text (`metadata` in `metadata:\n  name: a`).
fn key_text(entry: &str) -> &str {
    entry.split(':').next().unwrap_or("")
}
