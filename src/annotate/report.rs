//! The results of `annotate` for people (a table of proposed changes) and for programs
//! (`-o json`: the graph, the externals and the proposal).

use serde::Serialize;

use super::{Annotated, Cycle, explain};
use crate::diagnostics::Diagnostic;
use crate::infer::{Edge, Resolved, Strength};
use crate::model::{Object, Phase};

/// One object in `-o json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDocument<'a> {
    pub object: String,
    pub api_version: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub source: String,
    /// The phase it is first applied in; `null` when never applied in a wave.
    pub phase: Option<Phase>,
    pub current_wave: i64,
    /// Whether the current wave is written down (else it is Argo CD's default, 0).
    pub explicit: bool,
    pub suggested_wave: i64,
    pub reason: String,
}

/// One edge in `-o json`: `from` needs `to`.
#[derive(Debug, Serialize)]
pub struct EdgeDocument<'a> {
    pub from: String,
    pub to: String,
    pub kind: &'static str,
    pub strength: Strength,
    pub reason: &'a str,
    pub field: &'a str,
}

/// A reference to something not in the input.
#[derive(Debug, Serialize)]
pub struct ExternalDocument<'a> {
    pub from: String,
    pub target: &'a str,
    pub kind: &'static str,
    pub field: &'a str,
}

/// One proposed annotation change.
#[derive(Debug, Serialize)]
pub struct ChangeDocument {
    pub object: String,
    pub source: String,
    /// The written wave now; `null` when unset.
    pub from: Option<i64>,
    pub to: i64,
    pub reason: String,
}

/// `annotate -o json`.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub objects: Vec<ObjectDocument<'a>>,
    pub edges: Vec<EdgeDocument<'a>>,
    pub external: Vec<ExternalDocument<'a>>,
    pub changes: Vec<ChangeDocument>,
    pub diagnostics: &'a [Diagnostic],
}

/// An edge as JSON.
pub fn edge_document<'a>(objects: &[Object], e: &'a Edge) -> EdgeDocument<'a> {
    EdgeDocument {
        from: objects[e.from].display_name(),
        to: objects[e.to].display_name(),
        kind: e.kind.as_str(),
        strength: e.strength,
        reason: &e.reason,
        field: &e.field,
    }
}

/// The serialisable result.
pub fn document(a: &Annotated) -> Document<'_> {
    let objects = a.objects();
    let reason = |i: usize| explain::short_reason(objects, a.graph(), &a.analysis, i);
    Document {
        objects: a
            .analysis
            .suggestions
            .iter()
            .map(|s| {
                let o = &objects[s.object];
                ObjectDocument {
                    object: o.display_name(),
                    api_version: &o.api_version,
                    kind: &o.kind,
                    namespace: &o.namespace,
                    name: &o.name,
                    source: o.source.to_string(),
                    phase: s.phase,
                    current_wave: s.current,
                    explicit: s.explicit,
                    suggested_wave: s.suggested,
                    reason: reason(s.object),
                }
            })
            .collect(),
        edges: a
            .graph()
            .edges
            .iter()
            .map(|e| edge_document(objects, e))
            .collect(),
        external: a
            .graph()
            .external
            .iter()
            .map(|x| ExternalDocument {
                from: objects[x.from].display_name(),
                target: &x.target,
                kind: x.kind.as_str(),
                field: &x.field,
            })
            .collect(),
        changes: a
            .analysis
            .changes()
            .map(|s| ChangeDocument {
                object: objects[s.object].display_name(),
                source: objects[s.object].source.to_string(),
                from: s.explicit.then_some(s.current),
                to: s.suggested,
                reason: reason(s.object),
            })
            .collect(),
        diagnostics: &a.proposed.diagnostics,
    }
}

/// The object column: `Kind/ns/name`, with the phase for hooks outside Sync.
fn object_label(o: &Object, phase: Option<Phase>) -> String {
    match phase {
        Some(p) if p != Phase::Sync => format!("{} ({p})", o.display_name()),
        _ => o.display_name(),
    }
}

/// The table of proposed changes, the references to objects outside the input, and a summary.
pub fn render_text(a: &Annotated) -> String {
    let objects = a.objects();
    let mut out = String::new();
    let rows: Vec<Vec<String>> = a
        .analysis
        .changes()
        .map(|s| {
            vec![
                object_label(&objects[s.object], s.phase),
                if s.explicit {
                    s.current.to_string()
                } else {
                    "-".to_string()
                },
                s.suggested.to_string(),
                explain::short_reason(objects, a.graph(), &a.analysis, s.object),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out.push_str(&crate::ui::table(
            &["OBJECT", "CURRENT", "SUGGESTED", "REASON"],
            &rows,
        ));
    }
    let mut external: Vec<(String, &str)> = Vec::new();
    for x in &a.graph().external {
        let entry = (x.target.clone(), x.kind.as_str());
        if !external.contains(&entry) {
            external.push(entry);
        }
    }
    if !external.is_empty() {
        out.push_str(&format!(
            "{}external (not in the input, assumed to exist): {}\n",
            if out.is_empty() { "" } else { "\n" },
            external
                .iter()
                .map(|(t, _)| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let changes = rows.len();
    let files = super::write::planned_edits(objects, &a.analysis).len();
    let steps = a.proposed.plan.steps.len();
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    if !out.is_empty() {
        out.push('\n');
    }
    if changes == 0 {
        out.push_str(&format!(
            "no changes: {} in {} respect every dependency{}\n",
            plural(objects.len(), "object"),
            plural(steps, "step"),
            if a.has_ordering_errors() {
                " that waves can satisfy without moving a written wave (see the errors; --rewrite recomputes every wave)"
            } else {
                ""
            }
        ));
    } else {
        out.push_str(&format!(
            "{} in {}; with them, {} run in {} (--write applies them)\n",
            plural(changes, "change"),
            plural(files, "file"),
            plural(objects.len(), "object"),
            plural(steps, "step"),
        ));
    }
    out
}

/// A cycle in words, one "needs" per line.
pub fn render_cycle(objects: &[Object], resolved: &Resolved, cycle: &Cycle) -> String {
    let mut out = String::new();
    for &e in &cycle.edges {
        let edge = &resolved.edges[e];
        out.push_str(&format!(
            "  {} {} ({:?}, {})\n",
            objects[edge.from].display_name(),
            edge.reason,
            edge.strength,
            edge.field
        ));
    }
    out
}
