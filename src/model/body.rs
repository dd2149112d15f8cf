//! The whole of an object as it was read, kept packed.
//!
//! Every object is kept until a command ends, and most of them are looked into once or twice
//! (the references of a Deployment, the data of a ConfigMap, the body of an apply). Kept as a
//! parsed `serde_json::Value`, a 200-byte ConfigMap took 1.5 KB (112 bytes per mapping entry,
//! a hash table per mapping, an allocation per string): for a large input that was most of
//! the memory a command used. Kept as compact JSON text it takes its own size, and parsing it
//! again when needed costs about a microsecond per KB.
//!
//! The JSON text is exact: serde_json writes every string, integer and float so that it reads
//! back the same (floats in their shortest form that reads back to the same bits), and keys in
//! their order. Depth is bounded when the object is first read (`manifest::parse::MAX_DEPTH`,
//! serde_json's own limit, for YAML too), so what was written always parses again.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// An object's parsed content, packed as compact JSON. Clones share the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Body(Arc<str>);

impl Body {
    /// Packs `value`.
    pub fn new(value: &Value) -> Self {
        Body(Arc::from(value.to_string()))
    }

    /// The content, parsed again. Each call parses: call once per pass over an object.
    pub fn value(&self) -> Value {
        // Written by `new` from a `Value` no deeper than serde_json's own limit (the loader
        // reads YAML and JSON to the same depth), so it parses; a failure would be a bug here,
        // reported as an empty object rather than a panic on user input.
        serde_json::from_str(&self.0).unwrap_or_else(|e| {
            debug_assert!(false, "a packed body did not parse again: {e}");
            Value::Object(serde_json::Map::new())
        })
    }

    /// The packed JSON text.
    pub fn json(&self) -> &str {
        &self.0
    }

    /// Whether two bodies share one text (a clone, not a copy).
    pub fn shares(&self, other: &Body) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::diagnostics::excerpt(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_packed_body_reads_back_exactly() {
        let value = json!({
            "zeta": 1, "alpha": [u64::MAX, i64::MIN, 0.1, -0.0, 1.0, 1e300, 5e-324],
            "text": "ünï\u{0}\"\\\n\t\u{2028}", "nested": {"b": null, "a": true, "": {}},
        });
        let body = Body::new(&value);
        let back = body.value();
        assert_eq!(back, value);
        // Key order is kept, not sorted.
        let keys: Vec<&String> = back.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["zeta", "alpha", "text", "nested"]);
        // Floats keep their bits (-0.0 is not 0.0 to a float comparison of bits).
        assert_eq!(
            back["alpha"][3].as_f64().unwrap().to_bits(),
            (-0.0f64).to_bits()
        );
        assert!(back["alpha"][4].is_f64(), "1.0 stays a float");
    }

    #[test]
    fn the_deepest_values_the_reader_accepts_pack_and_read_back() {
        // As deep a stack as the loader's workers (`par`): parsing this deep recurses.
        std::thread::Builder::new()
            .stack_size(16 << 20)
            .spawn(deepest_values_read_back)
            .unwrap()
            .join()
            .unwrap();
    }

    fn deepest_values_read_back() {
        let read = |text: String, json: bool| {
            let file = crate::manifest::InputFile {
                display: if json { "deep.json" } else { "deep.yaml" }.into(),
                text,
                json,
            };
            let (objects, diags) = crate::manifest::parse::parse_file(&file);
            diags.is_empty().then(|| objects[0].value())
        };
        let mut deepest = 0;
        for nesting in 100..160 {
            let (open, close) = ("[".repeat(nesting), "]".repeat(nesting));
            let yaml = format!(
                "apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: a}}\nspec: {open}1{close}\n"
            );
            let json = format!(
                r#"{{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {{"name": "a"}}, "spec": {open}1{close}}}"#
            );
            let (from_yaml, from_json) = (read(yaml, false), read(json, true));
            // The loader reads YAML and JSON to the same depth, so a packed body (JSON) of
            // either reads back.
            assert_eq!(
                from_yaml.is_some(),
                from_json.is_some(),
                "nesting {nesting}: YAML and JSON disagree"
            );
            let Some(value) = from_yaml else { continue };
            assert_eq!(value, from_json.unwrap());
            assert_eq!(
                value["kind"], "Widget",
                "nesting {nesting} did not read back"
            );
            let mut at = &value["spec"];
            let mut levels = 0;
            while let Some(inner) = at.get(0) {
                at = inner;
                levels += 1;
            }
            assert_eq!((levels, at), (nesting, &json!(1)));
            deepest = nesting;
        }
        assert!(
            deepest >= 120,
            "the reader accepted no deep value ({deepest})"
        );
    }

    #[test]
    fn clones_share_the_text() {
        let body = Body::new(&json!({"a": 1}));
        let clone = body.clone();
        assert!(body.shares(&clone));
        assert!(!body.shares(&Body::new(&json!({"a": 1}))));
    }
}
