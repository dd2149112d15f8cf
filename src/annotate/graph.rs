//! The dependency graph drawn with the suggested waves as ranks: Graphviz DOT or Mermaid.
//!
//! Nodes are the objects applied in a wave, one rank per phase and wave in execution order;
//! arrows go from what is needed to what needs it (the apply order). *Ready* edges are bold
//! (DOT) or thick (Mermaid), *Exists* edges dashed; several references between the same two
//! objects are drawn as one arrow labelled with their kinds.

use std::collections::BTreeMap;

use super::Analysis;
use crate::infer::{Resolved, Strength};
use crate::model::{Object, Phase};
use crate::plan::order::phase_rank;

/// Output format of `--graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// One arrow: dependency → user, the strongest strength and the edge kinds.
struct Arrow {
    from: usize,
    to: usize,
    strength: Strength,
    kinds: Vec<&'static str>,
}

/// A rank: (phase, wave) and its objects.
type Rank = ((Phase, i64), Vec<usize>);

/// Ranks (phase, wave) with their objects, and the arrows between drawn objects.
fn layout(resolved: &Resolved, analysis: &Analysis) -> (Vec<Rank>, Vec<Arrow>) {
    let mut ranks: BTreeMap<(u8, i64), (Phase, Vec<usize>)> = BTreeMap::new();
    for s in &analysis.suggestions {
        if let Some(phase) = s.phase {
            ranks
                .entry((phase_rank(phase), s.suggested))
                .or_insert_with(|| (phase, Vec::new()))
                .1
                .push(s.object);
        }
    }
    let mut arrows: BTreeMap<(usize, usize), Arrow> = BTreeMap::new();
    for e in &resolved.edges {
        if analysis.suggestions[e.from].phase.is_none()
            || analysis.suggestions[e.to].phase.is_none()
        {
            continue;
        }
        let arrow = arrows.entry((e.to, e.from)).or_insert(Arrow {
            from: e.to,
            to: e.from,
            strength: e.strength,
            kinds: Vec::new(),
        });
        arrow.strength = arrow.strength.max(e.strength);
        if !arrow.kinds.contains(&e.kind.as_str()) {
            arrow.kinds.push(e.kind.as_str());
        }
    }
    (
        ranks
            .into_iter()
            .map(|((_, wave), (phase, objects))| ((phase, wave), objects))
            .collect(),
        arrows.into_values().collect(),
    )
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// The graph in the chosen format.
pub fn render(
    format: GraphFormat,
    objects: &[Object],
    resolved: &Resolved,
    analysis: &Analysis,
) -> String {
    match format {
        GraphFormat::Dot => dot(objects, resolved, analysis),
        GraphFormat::Mermaid => mermaid(objects, resolved, analysis),
    }
}

/// Graphviz: one `rank=same` row per wave, led by a label node, rows chained invisibly.
pub fn dot(objects: &[Object], resolved: &Resolved, analysis: &Analysis) -> String {
    let (ranks, arrows) = layout(resolved, analysis);
    let mut out = String::from(
        "digraph waves {\n  rankdir=TB;\n  newrank=true;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
    );
    for (r, ((phase, wave), members)) in ranks.iter().enumerate() {
        out.push_str(&format!(
            "  {{ rank=same; r{r} [shape=plaintext, label=\"{phase} wave {wave}\"];"
        ));
        for &i in members {
            out.push_str(&format!(
                " n{i} [label=\"{}\"];",
                dot_escape(&objects[i].display_name())
            ));
        }
        out.push_str(" }\n");
    }
    if ranks.len() > 1 {
        let chain: Vec<String> = (0..ranks.len()).map(|r| format!("r{r}")).collect();
        out.push_str(&format!("  {} [style=invis];\n", chain.join(" -> ")));
    }
    for a in &arrows {
        let style = match a.strength {
            Strength::Ready => "bold",
            Strength::Exists => "dashed",
        };
        out.push_str(&format!(
            "  n{} -> n{} [label=\"{}\", style={style}];\n",
            a.from,
            a.to,
            a.kinds.join(", ")
        ));
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart: one subgraph per wave.
pub fn mermaid(objects: &[Object], resolved: &Resolved, analysis: &Analysis) -> String {
    let (ranks, arrows) = layout(resolved, analysis);
    let mut out = String::from("flowchart TB\n");
    for (r, ((phase, wave), members)) in ranks.iter().enumerate() {
        out.push_str(&format!("  subgraph r{r}[\"{phase} wave {wave}\"]\n"));
        for &i in members {
            out.push_str(&format!(
                "    n{i}[\"{}\"]\n",
                mermaid_escape(&objects[i].display_name())
            ));
        }
        out.push_str("  end\n");
    }
    for a in &arrows {
        let arrow = match a.strength {
            Strength::Ready => "==>",
            Strength::Exists => "-.->",
        };
        out.push_str(&format!(
            "  n{} {arrow}|{}| n{}\n",
            a.from,
            a.kinds.join(", "),
            a.to
        ));
    }
    out
}
