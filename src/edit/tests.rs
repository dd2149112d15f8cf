use super::*;

const WAVE: &str = "argocd.argoproj.io/sync-wave";

fn at(document: usize, item: Option<usize>) -> ObjectPath {
    ObjectPath { document, item }
}

fn set(document: usize, key: &str, value: &str) -> ObjectEdit {
    ObjectEdit {
        path: at(document, None),
        changes: vec![AnnotationChange::set(key, value)],
    }
}

fn remove(document: usize, key: &str) -> ObjectEdit {
    ObjectEdit {
        path: at(document, None),
        changes: vec![AnnotationChange::remove(key)],
    }
}

fn edit(text: &str, edits: &[ObjectEdit]) -> String {
    match edit_annotations(text, edits) {
        Ok(new) => new,
        Err(e) => panic!("edit failed: {e}"),
    }
}

fn refused(text: &str, edits: &[ObjectEdit]) -> EditError {
    match edit_annotations(text, edits) {
        Ok(new) => panic!("edit should be refused, got:\n{new}"),
        Err(e) => e,
    }
}

// ---------- YAML: the basic edits ----------

#[test]
fn set_appends_one_line_to_existing_annotations() {
    let text = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app  # the app
  annotations:
    team: \"web\"
    # keep me
  labels:
    a: b
data:
  mode: '0644'
";
    let new = edit(text, &[set(0, WAVE, "2")]);
    assert_eq!(
        new,
        "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app  # the app
  annotations:
    team: \"web\"
    argocd.argoproj.io/sync-wave: \"2\"
    # keep me
  labels:
    a: b
data:
  mode: '0644'
"
    );
}

#[test]
fn new_key_follows_the_quote_style_of_its_siblings() {
    let text = "metadata:\n  name: a\n  annotations:\n    team: 'web'\n";
    let new = edit(text, &[set(0, WAVE, "1")]);
    assert_eq!(
        new,
        "metadata:\n  name: a\n  annotations:\n    team: 'web'\n    argocd.argoproj.io/sync-wave: '1'\n"
    );
    let text = "metadata:\n  name: a\n  annotations:\n    \"team\": web\n";
    let new = edit(text, &[set(0, WAVE, "1")]);
    assert_eq!(
        new,
        "metadata:\n  name: a\n  annotations:\n    \"team\": web\n    \"argocd.argoproj.io/sync-wave\": \"1\"\n"
    );
}

#[test]
fn set_adds_an_annotations_block_when_metadata_has_none() {
    let text = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  labels:
    app: api
# the spec
spec:
  replicas: 2
";
    let new = edit(text, &[set(0, WAVE, "1")]);
    assert_eq!(
        new,
        "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  labels:
    app: api
  annotations:
    argocd.argoproj.io/sync-wave: \"1\"
# the spec
spec:
  replicas: 2
"
    );
}

#[test]
fn set_fills_a_null_or_empty_annotations() {
    let text = "metadata:\n  name: a\n  annotations:\n  labels: {}\n";
    let new = edit(text, &[set(0, WAVE, "1")]);
    assert_eq!(
        new,
        "metadata:\n  name: a\n  annotations:\n    argocd.argoproj.io/sync-wave: \"1\"\n  labels: {}\n"
    );
    let text = "metadata:\n  name: a\n  annotations: {}\n";
    let new = edit(text, &[set(0, WAVE, "1")]);
    assert_eq!(
        new,
        "metadata:\n  name: a\n  annotations: {argocd.argoproj.io/sync-wave: \"1\"}\n"
    );
}

#[test]
fn replacing_a_wave_keeps_its_line_and_quotes() {
    let cases = [
        ("\"0\"", "\"5\""),
        ("'0'", "'5'"),
        // plain (an int: invalid as an annotation) becomes a quoted string
        ("0", "\"5\""),
    ];
    for (old, new_value) in cases {
        let text = format!(
            "metadata:\n  name: a\n  annotations:\n    {WAVE}: {old}   # wave\n    other: x\nspec: {{}}\n"
        );
        let new = edit(&text, &[set(0, WAVE, "5")]);
        assert_eq!(
            new,
            format!(
                "metadata:\n  name: a\n  annotations:\n    {WAVE}: {new_value}   # wave\n    other: x\nspec: {{}}\n"
            )
        );
    }
}

#[test]
fn replacing_a_block_scalar_writes_a_quoted_string() {
    let text =
        "metadata:\n  name: a\n  annotations:\n    note: |\n      two\n      lines\n    b: c\n";
    let new = edit(text, &[set(0, "note", "one")]);
    assert_eq!(
        new,
        "metadata:\n  name: a\n  annotations:\n    note: \"one\"\n    b: c\n"
    );
}

#[test]
fn setting_the_same_value_changes_nothing() {
    let text = "metadata:\n  name: a\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n";
    assert_eq!(
        edit(text, &[set(0, "argocd.argoproj.io/hook", "PreSync")]),
        text
    );
    assert_eq!(edit(text, &[remove(0, "missing")]), text);
}

#[test]
fn remove_deletes_the_line_and_an_emptied_annotations_key() {
    let text = "metadata:\n  name: a\n  annotations:\n    a: \"1\"  # one\n    b: \"2\"\n  labels:\n    x: y\n";
    let new = edit(text, &[remove(0, "a")]);
    assert_eq!(
        new,
        "metadata:\n  name: a\n  annotations:\n    b: \"2\"\n  labels:\n    x: y\n"
    );
    let new = edit(&new, &[remove(0, "b")]);
    assert_eq!(new, "metadata:\n  name: a\n  labels:\n    x: y\n");
}

#[test]
fn several_changes_apply_in_order() {
    let text = "metadata:\n  name: a\n  annotations:\n    a: \"1\"\n";
    let changes = vec![
        AnnotationChange::set(WAVE, "3"),
        AnnotationChange::remove("a"),
        AnnotationChange::set("argocd.argoproj.io/hook", "PreSync"),
    ];
    let new = edit(
        text,
        &[ObjectEdit {
            path: at(0, None),
            changes,
        }],
    );
    assert_eq!(
        new,
        "metadata:\n  name: a\n  annotations:\n    argocd.argoproj.io/sync-wave: \"3\"\n    argocd.argoproj.io/hook: \"PreSync\"\n"
    );
}

#[test]
fn values_needing_escapes_are_written_correctly() {
    let text = "metadata:\n  name: a\n  annotations:\n    q: 'x'\n";
    for value in [
        "it's",
        "tab\there",
        "line\nbreak",
        "quote \" and \\",
        "ünïcødé",
        "",
        "yes",
        "0644",
        "~",
    ] {
        let new = edit(text, &[set(0, "v", value)]);
        let data = yaml::parse(&new).unwrap();
        assert_eq!(
            data[0].value()["metadata"]["annotations"]["v"],
            Value::String(value.into()),
            "{new}"
        );
    }
}

#[test]
fn an_item_inside_a_list_is_edited() {
    let text = "\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ServiceAccount
  metadata:
    name: a
- apiVersion: v1
  kind: Secret
  metadata:
    name: b
    annotations:
      team: \"web\"
";
    let edits = [
        ObjectEdit {
            path: at(0, Some(0)),
            changes: vec![AnnotationChange::set(WAVE, "-1")],
        },
        ObjectEdit {
            path: at(0, Some(1)),
            changes: vec![AnnotationChange::set(WAVE, "0")],
        },
    ];
    let new = edit(text, &edits);
    assert_eq!(
        new,
        "\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ServiceAccount
  metadata:
    name: a
    annotations:
      argocd.argoproj.io/sync-wave: \"-1\"
- apiVersion: v1
  kind: Secret
  metadata:
    name: b
    annotations:
      team: \"web\"
      argocd.argoproj.io/sync-wave: \"0\"
"
    );
}

#[test]
fn flow_style_metadata_is_edited_in_place() {
    let text = "kind: A\nmetadata: {name: a, annotations: {x: \"1\"}}\n---\nkind: B\nmetadata: {name: b}\n";
    let new = edit(text, &[set(0, WAVE, "1"), set(1, WAVE, "2")]);
    assert_eq!(
        new,
        "kind: A\nmetadata: {name: a, annotations: {x: \"1\", argocd.argoproj.io/sync-wave: \"1\"}}\n---\nkind: B\nmetadata: {name: b, annotations: {argocd.argoproj.io/sync-wave: \"2\"}}\n"
    );
}

#[test]
fn crlf_files_keep_crlf() {
    let text = "# c\r\nkind: A\r\nmetadata:\r\n  name: a\r\n  annotations:\r\n    x: \"1\"\r\n---\r\nkind: B\r\nmetadata:\r\n  name: b\r\nspec: {}\r\n";
    let new = edit(text, &[set(0, WAVE, "1"), set(1, WAVE, "2")]);
    assert_eq!(
        new,
        "# c\r\nkind: A\r\nmetadata:\r\n  name: a\r\n  annotations:\r\n    x: \"1\"\r\n    argocd.argoproj.io/sync-wave: \"1\"\r\n---\r\nkind: B\r\nmetadata:\r\n  name: b\r\n  annotations:\r\n    argocd.argoproj.io/sync-wave: \"2\"\r\nspec: {}\r\n"
    );
}

#[test]
fn a_file_without_a_final_newline() {
    let text = "metadata:\n  name: a\n  annotations:\n    x: \"1\"";
    let new = edit(text, &[set(0, WAVE, "1")]);
    assert_eq!(
        new,
        "metadata:\n  name: a\n  annotations:\n    x: \"1\"\n    argocd.argoproj.io/sync-wave: \"1\""
    );
}

#[test]
fn wider_indentation_is_followed() {
    let text = "metadata:\n    name: a\n    annotations:\n        x: \"1\"\nspec:\n    a: 1\n---\nmetadata:\n    name: b\n";
    let new = edit(text, &[set(0, WAVE, "1"), set(1, WAVE, "2")]);
    assert_eq!(
        new,
        "metadata:\n    name: a\n    annotations:\n        x: \"1\"\n        argocd.argoproj.io/sync-wave: \"1\"\nspec:\n    a: 1\n---\nmetadata:\n    name: b\n    annotations:\n        argocd.argoproj.io/sync-wave: \"2\"\n"
    );
}

#[test]
fn created_blocks_follow_four_space_lists_and_null_annotations() {
    let text = "kind: List\nitems:\n-   kind: A\n    metadata:\n        name: a\n-   kind: B\n    metadata:\n        name: b\n        annotations: ~\n";
    let edits = [
        ObjectEdit {
            path: at(0, Some(0)),
            changes: vec![AnnotationChange::set(WAVE, "1")],
        },
        ObjectEdit {
            path: at(0, Some(1)),
            changes: vec![AnnotationChange::set(WAVE, "2")],
        },
        ObjectEdit {
            path: at(0, Some(1)),
            changes: vec![AnnotationChange::set("x", "y")],
        },
    ];
    assert_eq!(
        edit(text, &edits),
        "kind: List\nitems:\n-   kind: A\n    metadata:\n        name: a\n        annotations:\n            argocd.argoproj.io/sync-wave: \"1\"\n-   kind: B\n    metadata:\n        name: b\n        annotations:\n            argocd.argoproj.io/sync-wave: \"2\"\n            x: \"y\"\n"
    );
}

#[test]
fn edits_of_one_object_in_several_entries_run_in_order() {
    let text = "metadata:\n  name: a\n  annotations:\n    a: \"1\"\n";
    // The removal empties the annotations (key dropped), the set creates them again.
    let edits = [remove(0, "a"), set(0, WAVE, "1")];
    assert_eq!(
        edit(text, &edits),
        "metadata:\n  name: a\n  annotations:\n    argocd.argoproj.io/sync-wave: \"1\"\n"
    );
    let json = "{\"metadata\": {\"name\": \"a\", \"annotations\": {\"a\": \"1\"}}}";
    assert_eq!(
        edit_json(json, &edits),
        "{\"metadata\": {\"name\": \"a\", \"annotations\": {\"argocd.argoproj.io/sync-wave\": \"1\"}}}"
    );
}

// ---------- document numbering ----------

#[test]
fn document_indexes_match_the_loader() {
    // A leading comment block, `---` at the start, comment-only and null documents between
    // two objects, a `%YAML` directive and `...` end markers.
    let text = "\
# Source: chart/templates/all.yaml
# second comment line
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: first
---
# only a comment: not a document for serde-saphyr
---
~
...
%YAML 1.2
---
apiVersion: v1
kind: Secret
metadata:
  name: second
...
";
    let loaded: Vec<Value> = serde_saphyr::from_multiple(text).unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(loaded[1]["metadata"]["name"], "second");
    let new = edit(text, &[set(1, WAVE, "5")]);
    assert_eq!(
        new,
        text.replace(
            "  name: second\n",
            "  name: second\n  annotations:\n    argocd.argoproj.io/sync-wave: \"5\"\n"
        )
    );
    let err = refused(text, &[set(2, WAVE, "5")]);
    assert!(
        matches!(
            err,
            EditError::Object {
                problem: ObjectProblem::NoSuchDocument { count: 2 },
                ..
            }
        ),
        "{err}"
    );
}

/// Every object the loader reads can be edited through the path the loader gives it, and the
/// edit lands on that very object (YAML with empty documents and a List, and a JSON stream).
#[test]
fn loader_paths_address_the_same_objects() {
    let yaml = "\
# lead
---
---
# nothing
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: first
---
~
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata: {name: second}
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: third
...
---
apiVersion: batch/v1
kind: Job
metadata:
  name: fourth
";
    let json = "{\"apiVersion\": \"v1\", \"kind\": \"A\", \"metadata\": {\"name\": \"first\"}}\n{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"apiVersion\": \"v1\", \"kind\": \"B\", \"metadata\": {\"name\": \"second\"}}]}\n";
    for (text, json_file, format) in [(yaml, false, Format::Yaml), (json, true, Format::Json)] {
        let file = crate::manifest::InputFile {
            display: "f".into(),
            text: text.to_owned(),
            json: json_file,
        };
        let (objects, diags) = crate::manifest::parse_file(&file);
        // Bare objects without a spec: only the structural check has something to say.
        assert!(
            diags
                .iter()
                .all(|d| d.code == crate::diagnostics::Code::MissingRequiredField),
            "{diags:?}"
        );
        assert!(objects.len() >= 2);
        for object in &objects {
            let edits = [ObjectEdit {
                path: object.path,
                changes: vec![AnnotationChange::set("marker", &object.name)],
            }];
            let new = edit_text(text, format, &edits).unwrap();
            let file = crate::manifest::InputFile {
                display: "f".into(),
                text: new,
                json: json_file,
            };
            let (after, _) = crate::manifest::parse_file(&file);
            for other in &after {
                let value = other.value();
                let marker = value
                    .pointer("/metadata/annotations/marker")
                    .and_then(Value::as_str);
                let want = (other.path == object.path).then_some(object.name.as_str());
                assert_eq!(
                    marker, want,
                    "{:?} edited through {:?}",
                    other.path, object.path
                );
            }
        }
    }
}

#[test]
fn object_problems_are_typed() {
    let text = "kind: A\n---\nkind: B\nmetadata: 3\n---\n- a\n---\nkind: List\nitems: []\n";
    let cases: [(ObjectPath, ObjectProblem); 5] = [
        (at(0, None), ObjectProblem::NoMetadata),
        (
            at(1, None),
            ObjectProblem::NotAMappingField { field: "metadata" },
        ),
        (at(2, None), ObjectProblem::NotAMapping),
        (at(3, Some(0)), ObjectProblem::NoSuchItem { count: 0 }),
        (at(0, Some(0)), ObjectProblem::NotAList),
    ];
    for (path, want) in cases {
        let edits = [ObjectEdit {
            path,
            changes: vec![AnnotationChange::set(WAVE, "1")],
        }];
        match refused(text, &edits) {
            EditError::Object { path: p, problem } => {
                assert_eq!((p, problem), (path, want));
            }
            other => panic!("{other}"),
        }
    }
}

// ---------- refusals ----------

#[test]
fn shared_tagged_and_merged_nodes_are_refused() {
    let cases = [
        (
            "metadata:\n  name: a\n  annotations: &ann\n    x: \"1\"\n  labels: *ann\n",
            "`metadata.annotations` carries a YAML anchor",
        ),
        (
            "metadata: &m\n  name: a\nspec:\n  template:\n    metadata: *m\n",
            "`metadata` carries a YAML anchor",
        ),
        (
            "base: &b {x: \"1\"}\nmetadata:\n  name: a\n  annotations: *b\n",
            "`metadata.annotations` carries a YAML anchor or is an alias",
        ),
        (
            "metadata:\n  name: a\n  annotations: !!map\n    x: \"1\"\n",
            "`metadata.annotations` has a YAML tag",
        ),
        (
            "base: &b {x: \"1\"}\nmetadata:\n  name: a\n  annotations:\n    <<: *b\n",
            "uses a merge key",
        ),
        (
            "base: &b {name: a}\nmetadata:\n  <<: *b\n",
            "`metadata` uses a merge key",
        ),
        (
            "metadata:\n  name: a\n  annotations: [a]\n",
            "`metadata.annotations` is not a mapping",
        ),
    ];
    for (text, why) in cases {
        let err = refused(text, &[set(0, WAVE, "1")]);
        assert!(err.to_string().contains(why), "{text}: {err}");
    }
}

#[test]
fn an_alias_to_an_edited_value_outside_metadata_is_refused() {
    // yaml-edit turns the first alias into a copy; that is a change outside `metadata`.
    let text = "metadata:\n  name: a\n  annotations:\n    x: &v \"1\"\nspec:\n  copy: *v\n";
    let err = refused(text, &[set(0, "x", "2")]);
    assert!(matches!(err, EditError::Verification(_)), "{err}");
}

#[test]
fn invalid_input_is_a_parse_error() {
    for text in [
        "a: [\n",
        "a: 1\na: 2\n",
        "metadata:\n  name: a\n   bad: indent\n",
    ] {
        let err = refused(text, &[set(0, WAVE, "1")]);
        assert!(
            matches!(
                err,
                EditError::Parse {
                    format: Format::Yaml,
                    ..
                }
            ),
            "{text}: {err}"
        );
    }
}

// ---------- JSON ----------

const JSON: &str = r#"{
  "apiVersion": "v1",
  "kind": "ConfigMap",
  "metadata": {
    "name": "cm",
    "labels": {"a": "b"}
  },
  "data": {"mode": "0644"}
}
"#;

fn edit_json(text: &str, edits: &[ObjectEdit]) -> String {
    match edit_text(text, Format::Json, edits) {
        Ok(new) => new,
        Err(e) => panic!("edit failed: {e}"),
    }
}

#[test]
fn json_adds_annotations_laid_out_like_metadata() {
    let new = edit_json(JSON, &[set(0, WAVE, "1")]);
    assert_eq!(
        new,
        r#"{
  "apiVersion": "v1",
  "kind": "ConfigMap",
  "metadata": {
    "name": "cm",
    "labels": {"a": "b"},
    "annotations": {
      "argocd.argoproj.io/sync-wave": "1"
    }
  },
  "data": {"mode": "0644"}
}
"#
    );
    // Then replace, add and remove inside the existing object.
    let changes = vec![
        AnnotationChange::set(WAVE, "2"),
        AnnotationChange::set("argocd.argoproj.io/hook", "PreSync"),
    ];
    let newer = edit_json(
        &new,
        &[ObjectEdit {
            path: at(0, None),
            changes,
        }],
    );
    assert!(newer.contains(
        "\"annotations\": {\n      \"argocd.argoproj.io/sync-wave\": \"2\",\n      \"argocd.argoproj.io/hook\": \"PreSync\"\n    }"
    ), "{newer}");
    let changes = vec![
        AnnotationChange::remove(WAVE),
        AnnotationChange::remove("argocd.argoproj.io/hook"),
    ];
    let back = edit_json(
        &newer,
        &[ObjectEdit {
            path: at(0, None),
            changes,
        }],
    );
    assert_eq!(back, JSON);
}

#[test]
fn json_inline_objects_stay_inline() {
    let text = "{\"kind\": \"A\", \"metadata\": {\"name\": \"a\", \"annotations\": {\"x\": \"1\", \"y\": \"2\"}}}";
    let new = edit_json(text, &[set(0, WAVE, "1"), remove(0, "x")]);
    assert_eq!(
        new,
        "{\"kind\": \"A\", \"metadata\": {\"name\": \"a\", \"annotations\": {\"y\": \"2\", \"argocd.argoproj.io/sync-wave\": \"1\"}}}"
    );
    let new = edit_json(text, &[set(0, "x", "it's \"quoted\"")]);
    assert_eq!(
        new,
        "{\"kind\": \"A\", \"metadata\": {\"name\": \"a\", \"annotations\": {\"x\": \"it's \\\"quoted\\\"\", \"y\": \"2\"}}}"
    );
    let compact = "{\"metadata\":{\"name\":\"a\"}}";
    assert_eq!(
        edit_json(compact, &[set(0, WAVE, "1")]),
        "{\"metadata\":{\"name\":\"a\",\"annotations\":{\"argocd.argoproj.io/sync-wave\":\"1\"}}}"
    );
}

#[test]
fn json_list_items_and_streams() {
    let text = "{\"kind\": \"List\", \"items\": [\n  {\"kind\": \"A\", \"metadata\": {\"name\": \"a\", \"annotations\": null}},\n  {\"kind\": \"B\", \"metadata\": {\"name\": \"b\"}}\n]}\n{\"kind\": \"C\", \"metadata\": {\"name\": \"c\", \"annotations\": {}}}\n";
    let edits = [
        ObjectEdit {
            path: at(0, Some(0)),
            changes: vec![AnnotationChange::set(WAVE, "1")],
        },
        ObjectEdit {
            path: at(0, Some(1)),
            changes: vec![AnnotationChange::set(WAVE, "2")],
        },
        set(1, WAVE, "3"),
    ];
    assert_eq!(
        edit_json(text, &edits),
        "{\"kind\": \"List\", \"items\": [\n  {\"kind\": \"A\", \"metadata\": {\"name\": \"a\", \"annotations\": {\"argocd.argoproj.io/sync-wave\": \"1\"}}},\n  {\"kind\": \"B\", \"metadata\": {\"name\": \"b\", \"annotations\": {\"argocd.argoproj.io/sync-wave\": \"2\"}}}\n]}\n{\"kind\": \"C\", \"metadata\": {\"name\": \"c\", \"annotations\": {\"argocd.argoproj.io/sync-wave\": \"3\"}}}\n"
    );
}

#[test]
fn json_crlf_and_duplicates() {
    let text = "{\r\n  \"metadata\": {\r\n    \"name\": \"a\"\r\n  }\r\n}\r\n";
    assert_eq!(
        edit_json(text, &[set(0, WAVE, "1")]),
        "{\r\n  \"metadata\": {\r\n    \"name\": \"a\",\r\n    \"annotations\": {\r\n      \"argocd.argoproj.io/sync-wave\": \"1\"\r\n    }\r\n  }\r\n}\r\n"
    );
    let dup = "{\"metadata\": {\"name\": \"a\", \"annotations\": {\"x\": \"1\", \"x\": \"2\"}}}";
    let err = edit_text(dup, Format::Json, &[set(0, WAVE, "1")]).unwrap_err();
    assert!(
        matches!(
            err,
            EditError::Object {
                problem: ObjectProblem::DuplicateKey { .. },
                ..
            }
        ),
        "{err}"
    );
    let err = edit_text("{\"a\": ", Format::Json, &[set(0, WAVE, "1")]).unwrap_err();
    assert!(
        matches!(
            err,
            EditError::Parse {
                format: Format::Json,
                ..
            }
        ),
        "{err}"
    );
}

// ---------- files on disk ----------

fn temp_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn edit_file_replaces_the_file_with_the_intended_data() {
    let dir = tempfile::tempdir().unwrap();
    let text = "# keep\nkind: A\nmetadata:\n  name: a\n---\nkind: B\nmetadata:\n  name: b\n";
    let path = temp_file(&dir, "a.yaml", text);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    }
    assert!(edit_file(&path, &[set(1, WAVE, "3")]).unwrap());
    let written = fs::read_to_string(&path).unwrap();
    let data: Vec<Value> = serde_saphyr::from_multiple(&written).unwrap();
    assert_eq!(
        data[0],
        serde_json::json!({"kind": "A", "metadata": {"name": "a"}})
    );
    assert_eq!(
        data[1],
        serde_json::json!({"kind": "B", "metadata": {"name": "b", "annotations": {WAVE: "3"}}})
    );
    assert!(written.starts_with("# keep\nkind: A\nmetadata:\n  name: a\n---\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }
    // A second, identical edit changes nothing.
    assert!(!edit_file(&path, &[set(1, WAVE, "3")]).unwrap());
    // No temp files are left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_file_that_cannot_be_edited_safely_stays_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "anchor.yaml",
            "metadata:\n  name: a\n  annotations: &x\n    a: \"1\"\n  labels: *x\n",
        ),
        ("broken.yaml", "metadata:\n  name: [a\n"),
        ("nometa.yaml", "kind: A\n"),
        (
            "bad.json",
            "{\"metadata\": {\"name\": \"a\", \"annotations\": [1]}}",
        ),
    ];
    for (name, text) in cases {
        let path = temp_file(&dir, name, text);
        let before = fs::metadata(&path).unwrap().modified().unwrap();
        let err = edit_file(&path, &[set(0, WAVE, "1")]).unwrap_err();
        assert_eq!(fs::read_to_string(&path).unwrap(), text, "{name}: {err}");
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
    }
    let path = dir.path().join("latin1.yaml");
    fs::write(&path, b"metadata:\n  name: \xe9\n").unwrap();
    let err = edit_file(&path, &[set(0, WAVE, "1")]).unwrap_err();
    assert!(
        matches!(err, EditError::Unsupported(Unsupported::NotUtf8)),
        "{err}"
    );
    assert_eq!(fs::read(&path).unwrap(), b"metadata:\n  name: \xe9\n");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), cases.len() + 1);
}

#[test]
fn edit_files_reports_each_file_and_detects_json() {
    let dir = tempfile::tempdir().unwrap();
    let good = temp_file(&dir, "good.yaml", "metadata:\n  name: a\n");
    let bad = temp_file(
        &dir,
        "bad.yaml",
        "metadata:\n  name: a\n  annotations: &a {}\n  labels: *a\n",
    );
    let json = temp_file(&dir, "cm.txt", "{\"metadata\": {\"name\": \"a\"}}\n");
    let jobs: Vec<(PathBuf, Vec<ObjectEdit>)> = [&good, &bad, &json]
        .iter()
        .map(|p| ((*p).clone(), vec![set(0, WAVE, "1")]))
        .collect();
    let results = edit_files(&jobs);
    assert!(matches!(results[0], Ok(true)));
    assert!(matches!(
        results[1],
        Err(EditError::Object {
            problem: ObjectProblem::Shared { .. },
            ..
        })
    ));
    assert!(matches!(results[2], Ok(true)));
    assert_eq!(
        fs::read_to_string(&json).unwrap(),
        "{\"metadata\": {\"name\": \"a\", \"annotations\": {\"argocd.argoproj.io/sync-wave\": \"1\"}}}\n"
    );
    assert_eq!(Format::detect(Path::new("x.yaml"), "{}"), Format::Yaml);
    assert_eq!(Format::detect(Path::new("x.json"), "a: 1"), Format::Json);
}

#[cfg(unix)]
#[test]
fn hard_links_are_refused_and_symlinks_followed() {
    let dir = tempfile::tempdir().unwrap();
    let text = "metadata:\n  name: a\n";
    let path = temp_file(&dir, "a.yaml", text);
    let link = dir.path().join("b.yaml");
    fs::hard_link(&path, &link).unwrap();
    let err = edit_file(&path, &[set(0, WAVE, "1")]).unwrap_err();
    assert!(
        matches!(
            err,
            EditError::Unsupported(Unsupported::HardLinks { links: 2 })
        ),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
    fs::remove_file(&link).unwrap();

    let sym = dir.path().join("sym.yaml");
    std::os::unix::fs::symlink(&path, &sym).unwrap();
    assert!(edit_file(&sym, &[set(0, WAVE, "1")]).unwrap());
    assert!(fs::symlink_metadata(&sym).unwrap().file_type().is_symlink());
    assert!(fs::read_to_string(&path).unwrap().contains(WAVE));
}

// ---------- snapshot of a realistic file ----------

const REALISTIC: &str = r#"# Source: shop/templates/all.yaml
# Rendered by helm template, then hand-tuned.
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop   # the namespace
---
apiVersion: v1
kind: Secret
metadata:
  name: app-db
  namespace: shop
  annotations:
    # Argo CD keeps this one
    argocd.argoproj.io/compare-options: IgnoreExtraneous
    argocd.argoproj.io/sync-wave: '-1'
type: Opaque
stringData:
  mode: '0644'
  enabled: yes
  port: "5432"
---
# a comment-only document, not counted
---
apiVersion: batch/v1
kind: Job
metadata:
  name: db-migrate
  namespace: shop
  annotations:
    argocd.argoproj.io/hook: PreSync
    helm.sh/hook-weight: "5"
    notes: |
      Runs the migrations.
      Keep it idempotent.
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: "shop/migrate:1.2"
        args: [--up, "--verbose"]
        envFrom:
        - secretRef: {name: app-db}
...
---
apiVersion: apps/v1
kind: Deployment
metadata:
  labels: {app: api, tier: "backend"}
  name: api
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: shop/api:1.2
        command:
        - /bin/api
        - --listen=:8080
---
# untouched document
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: shop
spec:
  ports: [{port: 80, targetPort: 8080}]
"#;

#[test]
fn realistic_stream_snapshot() {
    let edits = [
        set(1, WAVE, "0"),
        ObjectEdit {
            path: at(2, None),
            changes: vec![
                AnnotationChange::set(WAVE, "1"),
                AnnotationChange::remove("helm.sh/hook-weight"),
                AnnotationChange::set(
                    "argocd.argoproj.io/hook-delete-policy",
                    "BeforeHookCreation,HookSucceeded",
                ),
            ],
        },
        set(3, WAVE, "2"),
        remove(0, "not-there"),
    ];
    let new = edit(REALISTIC, &edits);
    insta::assert_snapshot!(new);

    // Everything outside the edited objects' annotations is byte-identical.
    let changed: Vec<_> = similar::TextDiff::from_lines(REALISTIC, &new)
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .map(|c| format!("{}{}", c.tag(), c.value()))
        .collect();
    assert_eq!(
        changed,
        [
            "-    argocd.argoproj.io/sync-wave: '-1'\n",
            "+    argocd.argoproj.io/sync-wave: '0'\n",
            "-    helm.sh/hook-weight: \"5\"\n",
            "+    argocd.argoproj.io/sync-wave: \"1\"\n",
            "+    argocd.argoproj.io/hook-delete-policy: \"BeforeHookCreation,HookSucceeded\"\n",
            "+  annotations:\n",
            "+    argocd.argoproj.io/sync-wave: \"2\"\n",
        ]
    );
}

// ---------- speed ----------

/// Not a benchmark: prints how long 1,000 typical files take (run with `--release
/// --nocapture`; a debug build times a tenth of the work). No timed assertions.
#[test]
fn thousand_files_timing() {
    let scale = if cfg!(debug_assertions) { 10 } else { 1 };
    let files = 1000 / scale;
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = (0..files)
        .map(|i| {
            temp_file(
                &dir,
                &format!("f{i}.yaml"),
                &REALISTIC.replace("db-migrate", &format!("job-{i}")),
            )
        })
        .collect();
    let edits = [
        set(1, WAVE, "3"),
        set(3, WAVE, "2"),
        remove(2, "helm.sh/hook-weight"),
    ];
    let start = std::time::Instant::now();
    for path in &paths {
        let text = fs::read_to_string(path).unwrap();
        edit_annotations(&text, &edits).unwrap();
    }
    let in_memory = start.elapsed();
    let jobs: Vec<(PathBuf, Vec<ObjectEdit>)> =
        paths.iter().map(|p| (p.clone(), edits.to_vec())).collect();
    let start = std::time::Instant::now();
    assert!(edit_files(&jobs).iter().all(|r| matches!(r, Ok(true))));
    let written = start.elapsed();
    let start = std::time::Instant::now();
    for path in &paths[..files / 10] {
        assert!(!edit_file(path, &edits).unwrap());
    }
    eprintln!(
        "edit: {files} files of {} lines: {in_memory:?} in memory, {written:?} written by \
         edit_files; {} unchanged files by edit_file: {:?}",
        REALISTIC.lines().count(),
        files / 10,
        start.elapsed()
    );

    // One big List: edits on every item must stay linear.
    let items = 2000 / scale;
    let mut big = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..items {
        big.push_str(&format!(
            "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c{i}\n  data:\n    k: v\n"
        ));
    }
    let edits: Vec<ObjectEdit> = (0..items)
        .map(|i| ObjectEdit {
            path: at(0, Some(i)),
            changes: vec![AnnotationChange::set(WAVE, "1")],
        })
        .collect();
    let start = std::time::Instant::now();
    edit_annotations(&big, &edits).unwrap();
    eprintln!(
        "edit: one List of {items} items, all edited: {:?}",
        start.elapsed()
    );
}

// ---------- random edits ----------

mod random {
    use super::*;
    use proptest::prelude::*;

    const FIXTURES: &[(&str, Format)] = &[
        (REALISTIC, Format::Yaml),
        (
            "kind: List\nitems:\n-   kind: A\n    metadata:\n        name: a\n        labels:\n            x: y\n-   kind: B\n    metadata: {name: b, annotations: {team: 'web'}}\n-   kind: C\n    metadata:\n        name: c\n        annotations:\n            # why\n            team: \"web\"   # inline\n            notes: >\n                folded\n                text\n\n        labels: {}\n",
            Format::Yaml,
        ),
        (
            "%YAML 1.2\n---\n# lead\r\nkind: A\r\nmetadata:\r\n  name: a\r\n  annotations:\r\n    argocd.argoproj.io/sync-wave: \"1\"\r\n  namespace: x\r\n...\r\n---\r\n---\r\nkind: B\r\nmetadata:\r\n  annotations: {}\r\n  name: b\r\n",
            Format::Yaml,
        ),
        (JSON, Format::Json),
        (
            "{\"kind\": \"List\", \"items\": [{\"metadata\": {\"name\": \"a\", \"annotations\": {\"team\": \"web\"}}}, {\"metadata\": {\"name\": \"b\"}}]}\n{\"metadata\": {\"name\": \"c\", \"annotations\": null}}",
            Format::Json,
        ),
    ];
    const KEYS: &[&str] = &[
        WAVE,
        "argocd.argoproj.io/hook",
        "team",
        "notes",
        "helm.sh/hook-weight",
        "argocd.argoproj.io/compare-options",
    ];
    const VALUES: &[&str] = &[
        "1", "-2", "PreSync", "it's", "a\nb", "", "yes", "0644", "x: y # z", "ünï", "'q'",
    ];

    fn parse(text: &str, format: Format) -> Vec<Value> {
        match format {
            Format::Yaml => yaml::parse(text)
                .unwrap()
                .iter()
                .map(crate::model::Body::value)
                .collect(),
            Format::Json => serde_json::Deserializer::from_str(text)
                .into_iter::<Value>()
                .collect::<Result<_, _>>()
                .unwrap(),
        }
    }

    /// Every object of a stream: documents, and items of List documents.
    fn paths(docs: &[Value]) -> Vec<ObjectPath> {
        let mut out = Vec::new();
        for (d, doc) in docs.iter().enumerate() {
            match doc.get("items").and_then(Value::as_array) {
                Some(items) => out.extend((0..items.len()).map(|i| at(d, Some(i)))),
                None => out.push(at(d, None)),
            }
        }
        out
    }

    /// The documented semantics, written independently of the module.
    fn reference(docs: &mut [Value], edits: &[ObjectEdit]) {
        for edit in edits {
            let doc = &mut docs[edit.path.document];
            let object = match edit.path.item {
                Some(i) => &mut doc["items"][i],
                None => doc,
            };
            let metadata = object["metadata"].as_object_mut().unwrap();
            let mut removed = false;
            for change in &edit.changes {
                match change {
                    AnnotationChange::Set { key, value } => {
                        if !metadata.get("annotations").is_some_and(Value::is_object) {
                            metadata.insert("annotations".into(), Value::Object(Map::new()));
                        }
                        let ann = metadata["annotations"].as_object_mut().unwrap();
                        ann.insert(key.clone(), Value::String(value.clone()));
                    }
                    AnnotationChange::Remove { key } => {
                        if let Some(Value::Object(ann)) = metadata.get_mut("annotations") {
                            removed |= ann.shift_remove(key).is_some();
                        }
                    }
                }
            }
            if removed
                && metadata["annotations"]
                    .as_object()
                    .is_some_and(Map::is_empty)
            {
                metadata.shift_remove("annotations");
            }
        }
    }

    fn change() -> impl Strategy<Value = AnnotationChange> {
        prop_oneof![
            (0..KEYS.len(), 0..VALUES.len())
                .prop_map(|(k, v)| AnnotationChange::set(KEYS[k], VALUES[v])),
            (0..KEYS.len()).prop_map(|k| AnnotationChange::remove(KEYS[k])),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
        #[test]
        fn random_edits_are_exact_or_refused_with_a_reason(
            fixture in 0..FIXTURES.len(),
            picks in prop::collection::vec((any::<prop::sample::Index>(), prop::collection::vec(change(), 1..4)), 1..5),
        ) {
            let (text, format) = FIXTURES[fixture];
            let mut docs = parse(text, format);
            let all = paths(&docs);
            let edits: Vec<ObjectEdit> = picks
                .into_iter()
                .map(|(i, changes)| ObjectEdit { path: *i.get(&all), changes })
                .collect();
            match edit_text(text, format, &edits) {
                Ok(new) => {
                    reference(&mut docs, &edits);
                    let got = parse(&new, format);
                    prop_assert!(got.len() == docs.len() && got.iter().zip(&docs).all(|(a, b)| same_data(a, b)),
                        "{new}\n--- expected\n{docs:#?}");
                    // The first line is never an annotation in the multi-line fixtures.
                    if text.lines().count() > 2 {
                        prop_assert_eq!(new.lines().next(), text.lines().next());
                    }
                }
                Err(e) => prop_assert!(
                    matches!(e, EditError::Object { .. }),
                    "unexpected refusal: {e}"
                ),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
        /// Damaged YAML (a cut and an insertion of YAML punctuation): whatever is returned
        /// holds exactly the intended data; anything else is an error (never a panic).
        #[test]
        fn damaged_yaml_is_never_half_edited(
            fixture in 0..3usize,
            item in proptest::option::of(0..3usize),
            document in 0..6usize,
            cut in 0..2000usize,
            len in 0..40usize,
            insert in "[ :\\-#&*!|>'\"{}\\[\\],\n]{0,6}",
        ) {
            let text = FIXTURES[fixture].0;
            let (cut, end) = (cut.min(text.len()), (cut + len).min(text.len()));
            prop_assume!(text.is_char_boundary(cut) && text.is_char_boundary(end));
            let damaged = format!("{}{insert}{}", &text[..cut], &text[end..]);
            let changes = vec![
                AnnotationChange::set(WAVE, "1"),
                AnnotationChange::remove("notes"),
                AnnotationChange::remove("team"),
            ];
            let edits = [ObjectEdit { path: at(document, item), changes }];
            if let Ok(new) = edit_annotations(&damaged, &edits) {
                let mut want = parse(&damaged, Format::Yaml);
                reference(&mut want, &edits);
                let got = parse(&new, Format::Yaml);
                prop_assert!(
                    got.len() == want.len() && got.iter().zip(&want).all(|(a, b)| same_data(a, b)),
                    "{new}"
                );
            }
        }
    }
}

#[test]
fn the_edit_budget_holds_back_a_file_that_does_not_fit_until_room_is_freed() {
    let budget = TextBudget::new(10);
    let first = budget.take(6);
    let (sent, received) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let second = budget.take(6);
            sent.send(second.bytes).unwrap();
        });
        assert!(
            received
                .recv_timeout(std::time::Duration::from_millis(200))
                .is_err(),
            "6 + 6 bytes were taken from a budget of 10"
        );
        drop(first);
        assert_eq!(
            received.recv_timeout(std::time::Duration::from_secs(10)),
            Ok(6)
        );
    });
    // A file larger than the whole budget is edited alone, not never.
    let large = budget.take(100);
    assert_eq!(*budget.used.lock().unwrap(), 100);
    drop(large);
    assert_eq!(*budget.used.lock().unwrap(), 0);
}

#[test]
fn large_files_are_edited_by_one_thread_per_core_small_ones_by_many() {
    // A hundred 1 MB files on 2 cores: two threads.
    assert_eq!(super::edit_workers(2, 100, 100 << 20), 2);
    // Thousands of small files: many threads for their fsyncs.
    assert_eq!(super::edit_workers(2, 5000, 5000 * 2048), 16);
    assert_eq!(super::edit_workers(32, 5000, 5000 * 2048), 64);
    // Never more threads than files.
    assert_eq!(super::edit_workers(2, 3, 300), 3);
    assert_eq!(super::edit_workers(0, 1, 1 << 30), 1);
}

/// Equality that also compares the order of mapping keys.
fn same_data(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && same_data(v1, v2))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v1, v2)| same_data(v1, v2))
        }
        _ => a == b,
    }
}
