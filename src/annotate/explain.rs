//! Reasons in words: why an object gets its wave (the chain of dependencies that sets it), and
//! what it needs and what needs it.

use std::collections::HashSet;

use serde::Serialize;

use super::{Analysis, Why};
use crate::infer::{Edge, Resolved, Strength};
use crate::model::Object;
use crate::model::known::SYNC_WAVE;

/// What an edge asks of the order, in words.
pub fn requirement(objects: &[Object], edge: &Edge, weight: Option<i64>) -> String {
    let (dep, user) = (&objects[edge.to].kind, &objects[edge.from].kind);
    match (edge.strength, weight) {
        (Strength::Ready, _) => "must be healthy first".to_string(),
        (Strength::Exists, Some(0)) => {
            format!("must exist first: in one wave Argo CD applies {dep} before {user}")
        }
        (Strength::Exists, _) => {
            format!("must exist first, and in one wave Argo CD does not apply {dep} before {user}")
        }
    }
}

/// The annotation that sets a kept wave.
fn wave_source(o: &Object) -> &'static str {
    let has_wave = o
        .value()
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(SYNC_WAVE))
        .is_some();
    if has_wave {
        "argocd.argoproj.io/sync-wave"
    } else {
        "helm.sh/hook-weight"
    }
}

/// Why no wave can satisfy edge `e`: the wave it asks for is outside the 64-bit range.
fn out_of_range(objects: &[Object], resolved: &Resolved, e: usize) -> String {
    let edge = &resolved.edges[e];
    format!(
        "{} (wave {}) {} (wave {}), and no wave lies beyond the limit (waves are 64-bit integers); move the written wave away from it (--rewrite recomputes every wave)",
        objects[edge.from].display_name(),
        objects[edge.from].annotations.wave,
        edge.reason,
        objects[edge.to].annotations.wave
    )
}

/// One line for the table of changes: why the suggested wave.
pub fn short_reason(
    objects: &[Object],
    resolved: &Resolved,
    analysis: &Analysis,
    index: usize,
) -> String {
    let s = &analysis.suggestions[index];
    let wave = |i: usize| analysis.suggestions[i].suggested;
    match s.why {
        Why::After(e) => {
            let edge = &resolved.edges[e];
            format!("{} at wave {}", edge.reason, wave(edge.to))
        }
        Why::Before(e) => {
            let edge = &resolved.edges[e];
            format!(
                "needed by {} at wave {} ({})",
                objects[edge.from].display_name(),
                wave(edge.from),
                edge.reason
            )
        }
        Why::Default => "needs nothing from an earlier wave".to_string(),
        Why::Kept => format!("kept ({})", wave_source(&objects[index])),
        Why::NotApplied => "not applied in a wave".to_string(),
        Why::OutOfRange(e) => out_of_range(objects, resolved, e),
    }
}

/// The chain of reasons for an object's wave, one line per link, ending at an object that
/// needs nothing earlier or keeps its written wave.
pub fn chain(
    objects: &[Object],
    resolved: &Resolved,
    analysis: &Analysis,
    index: usize,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut seen = HashSet::new();
    let mut current = index;
    let wave = |i: usize| analysis.suggestions[i].suggested;
    let link = |e: usize| {
        let edge = &resolved.edges[e];
        format!(
            "{} {} at wave {} ({})",
            objects[edge.from].display_name(),
            edge.reason,
            wave(edge.to),
            requirement(objects, edge, analysis.weights[e])
        )
    };
    while seen.insert(current) {
        let s = &analysis.suggestions[current];
        let name = objects[current].display_name();
        match s.why {
            Why::After(e) => {
                lines.push(format!("wave {} because {}", s.suggested, link(e)));
                current = resolved.edges[e].to;
            }
            Why::Before(e) => {
                let user = resolved.edges[e].from;
                lines.push(format!(
                    "wave {} because {} at wave {} needs it: {}",
                    s.suggested,
                    objects[user].display_name(),
                    wave(user),
                    link(e)
                ));
                current = user;
            }
            Why::Default => {
                lines.push(format!(
                    "wave {}: {name} needs nothing from an earlier wave",
                    s.suggested
                ));
                break;
            }
            Why::Kept => {
                lines.push(format!(
                    "wave {}: {name} keeps the wave its {} annotation sets (--rewrite recomputes it)",
                    s.suggested,
                    wave_source(&objects[current])
                ));
                if current != index {
                    break;
                }
                match s.lowest {
                    Some((lowest, e)) => {
                        let above = if lowest > s.suggested {
                            ", above the kept wave: a broken dependency (--rewrite moves it)"
                        } else {
                            ""
                        };
                        lines.push(format!(
                            "its dependencies need at least wave {lowest}{above}: {}",
                            link(e)
                        ));
                        current = resolved.edges[e].to;
                    }
                    None => {
                        lines.push(format!("{name} needs nothing from an earlier wave"));
                        break;
                    }
                }
            }
            Why::NotApplied => {
                lines.push(format!(
                    "{name} is not applied in a wave (a SyncFail hook, or an object sync skips)"
                ));
                break;
            }
            Why::OutOfRange(e) => {
                lines.push(format!(
                    "wave {}: {name} is left where it is: {}",
                    s.suggested,
                    out_of_range(objects, resolved, e)
                ));
                break;
            }
        }
    }
    lines
}

/// One dependency in an explanation.
#[derive(Debug, Serialize)]
pub struct Link {
    pub object: String,
    pub strength: Strength,
    pub kind: &'static str,
    pub reason: String,
    pub field: String,
}

/// Everything `--explain` shows about one object.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    pub object: String,
    pub source: String,
    pub phase: Option<String>,
    pub current_wave: i64,
    pub suggested_wave: i64,
    pub chain: Vec<String>,
    pub needs: Vec<Link>,
    pub needed_by: Vec<Link>,
}

/// The explanation of one object.
pub fn explain(
    objects: &[Object],
    resolved: &Resolved,
    analysis: &Analysis,
    index: usize,
) -> Explanation {
    let s = &analysis.suggestions[index];
    let link = |e: &Edge, other: usize| Link {
        object: objects[other].display_name(),
        strength: e.strength,
        kind: e.kind.as_str(),
        reason: e.reason.clone(),
        field: e.field.clone(),
    };
    Explanation {
        object: objects[index].display_name(),
        source: objects[index].source.to_string(),
        phase: s.phase.map(|p| p.to_string()),
        current_wave: s.current,
        suggested_wave: s.suggested,
        chain: chain(objects, resolved, analysis, index),
        needs: resolved
            .edges
            .iter()
            .filter(|e| e.from == index)
            .map(|e| link(e, e.to))
            .collect(),
        needed_by: resolved
            .edges
            .iter()
            .filter(|e| e.to == index)
            .map(|e| link(e, e.from))
            .collect(),
    }
}

/// The explanation as text.
pub fn render(x: &Explanation) -> String {
    let mut out = String::new();
    let phase = x.phase.as_deref().unwrap_or("not applied");
    let now = if x.current_wave == x.suggested_wave {
        "unchanged".to_string()
    } else {
        format!("now {}", x.current_wave)
    };
    out.push_str(&format!(
        "{} ({phase}, {}): wave {} ({now})\n",
        x.object, x.source, x.suggested_wave
    ));
    for line in &x.chain {
        out.push_str(&format!("  {line}\n"));
    }
    for (title, links) in [("needs:", &x.needs), ("needed by:", &x.needed_by)] {
        if links.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{title}\n"));
        let rows: Vec<Vec<String>> = links
            .iter()
            .map(|l| {
                vec![
                    format!("{:?}", l.strength),
                    l.object.clone(),
                    l.kind.to_string(),
                    l.field.clone(),
                ]
            })
            .collect();
        out.push_str(&crate::ui::table(
            &["STRENGTH", "OBJECT", "KIND", "FIELD"],
            &rows,
        ));
    }
    out
}
