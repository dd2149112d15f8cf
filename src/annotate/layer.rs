//! Wave assignment: longest-path layering of the dependency graph, one phase at a time.
//!
//! Each object is placed in the first phase it runs in (hooks stay in their phase). An edge
//! "A needs B" between two objects of the same phase is a constraint `wave(A) ≥ wave(B) + w`:
//! `w = 1` when B must be healthy first (*Ready*) or when B only has to exist but Argo CD's
//! kind order would not apply it before A inside one wave; `w = 0` when B's kind comes first
//! (a Secret before a Deployment). Edges to an earlier phase are satisfied by the phase order;
//! edges to a later phase cannot be fixed with waves (lint reports them); edges to a Namespace
//! or a CRD are satisfied by Argo CD, which moves those before their first user.
//!
//! Objects with an explicit wave keep it (unless `--rewrite`). Every other object gets the
//! smallest wave its dependencies allow, but not below 0 (Argo CD's default) unless an object
//! with a kept wave needs it lower: `x = max(L, min(0, U))`, where `L` is the longest-path lower
//! bound from its dependencies and `U` the upper bound from kept dependents. Any cycle among
//! the constraints is infeasible (a cycle needs some `w = 1`), and reported with its edges.
//! Linear in objects + edges; deterministic (ties go to the lowest edge index).

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use super::{Cycle, Options, Suggestion, Why};
use crate::infer::{EdgeKind, Resolved, Strength};
use crate::model::known::{HELM_HOOK_WEIGHT, SYNC_WAVE};
use crate::model::{Object, Phase, Role, annotations::go_atoi};
use crate::plan::order::kind_rank;

/// The phase an object is first applied in, or `None` when `sync` never applies it in a wave
/// (SyncFail-only and delete hooks, skipped and ignored objects).
pub fn first_phase(o: &Object) -> Option<Phase> {
    match &o.annotations.role {
        Role::Resource => Some(Phase::Sync),
        Role::Hook { phases, .. } => phases.iter().copied().find(|p| *p != Phase::SyncFail),
        Role::Skip | Role::Ignored { .. } => None,
    }
}

/// Whether the object's wave is written down (`sync-wave`, or a Helm hook weight) rather than
/// Argo CD's default 0.
pub fn explicit_wave(o: &Object) -> bool {
    let value = o.value();
    let annotations = value
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.as_object());
    let valid = |key: &str| {
        annotations
            .and_then(|a| a.get(key))
            .and_then(|v| v.as_str())
            .and_then(go_atoi)
            .is_some()
    };
    valid(SYNC_WAVE) || valid(HELM_HOOK_WEIGHT)
}

/// The weight of edge `e` as a constraint, or `None` when it does not constrain waves, given
/// each object's first phase and kind rank.
pub fn weight(phases: &[Option<Phase>], ranks: &[usize], e: &crate::infer::Edge) -> Option<i64> {
    let (Some(user), Some(dep)) = (phases[e.from], phases[e.to]) else {
        return None;
    };
    if user != dep || matches!(e.kind, EdgeKind::Namespace | EdgeKind::Crd) {
        return None;
    }
    let before = ranks[e.to] < ranks[e.from];
    Some(match e.strength {
        Strength::Exists if before => 0,
        _ => 1,
    })
}

/// The result of layering: one suggestion per object, and per edge its weight as a
/// constraint (`None`: not a constraint).
pub struct Layers {
    pub suggestions: Vec<Suggestion>,
    pub weights: Vec<Option<i64>>,
}

/// Assigns waves; the cycles among the constraints when there are any.
pub fn assign(
    objects: &[Object],
    resolved: &Resolved,
    options: Options,
) -> Result<Layers, Vec<Cycle>> {
    let n = objects.len();
    let phases: Vec<Option<Phase>> = objects.iter().map(first_phase).collect();
    let explicit: Vec<bool> = objects.iter().map(explicit_wave).collect();
    let fixed: Vec<bool> = explicit.iter().map(|&e| e && !options.rewrite).collect();
    let ranks: Vec<usize> = objects.iter().map(|o| kind_rank(&o.kind)).collect();
    let weights: Vec<Option<i64>> = resolved
        .edges
        .iter()
        .map(|e| weight(&phases, &ranks, e))
        .collect();

    // dependency → user, so a topological order lists what is needed first.
    let mut graph: DiGraph<(), usize> = DiGraph::with_capacity(n, resolved.edges.len());
    for _ in 0..n {
        graph.add_node(());
    }
    for (i, e) in resolved.edges.iter().enumerate() {
        if weights[i].is_some() {
            graph.add_edge(NodeIndex::new(e.to), NodeIndex::new(e.from), i);
        }
    }
    let order = match petgraph::algo::toposort(&graph, None) {
        Ok(order) => order,
        Err(_) => return Err(cycles(&graph)),
    };

    // Upper bounds from dependents whose wave is kept, users before what they need.
    let mut upper: Vec<Option<(i64, usize)>> = vec![None; n];
    // An edge that asks for a wave below i64::MIN or above i64::MAX, per object.
    let mut out_of_range: Vec<Option<usize>> = vec![None; n];
    for &node in order.iter().rev() {
        let b = node.index();
        if fixed[b] || phases[b].is_none() {
            continue;
        }
        let mut best: Option<(i64, usize)> = None;
        for edge in graph.edges_directed(node, Direction::Outgoing) {
            let e = *edge.weight();
            let a = resolved.edges[e].from;
            let w = weights[e].unwrap_or(0);
            let bound = if fixed[a] {
                Some(objects[a].annotations.wave)
            } else {
                upper[a].map(|(u, _)| u)
            };
            if let Some(bound) = bound {
                let Some(u) = bound.checked_sub(w) else {
                    out_of_range[b].get_or_insert(e);
                    continue;
                };
                if best.is_none_or(|(b, i)| u < b || (u == b && e < i)) {
                    best = Some((u, e));
                }
            }
        }
        upper[b] = best;
    }

    // Lower bounds and waves, what is needed before its users.
    let mut wave: Vec<i64> = objects.iter().map(|o| o.annotations.wave).collect();
    let mut suggestions: Vec<Suggestion> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| Suggestion {
            object: i,
            phase: phases[i],
            current: o.annotations.wave,
            explicit: explicit[i],
            suggested: o.annotations.wave,
            why: Why::NotApplied,
            lowest: None,
        })
        .collect();
    for &node in &order {
        let a = node.index();
        if phases[a].is_none() {
            continue;
        }
        let mut lower: Option<(i64, usize)> = None;
        for edge in graph.edges_directed(node, Direction::Incoming) {
            let e = *edge.weight();
            let Some(l) = wave[resolved.edges[e].to].checked_add(weights[e].unwrap_or(0)) else {
                out_of_range[a].get_or_insert(e);
                continue;
            };
            if lower.is_none_or(|(b, i)| l > b || (l == b && e < i)) {
                lower = Some((l, e));
            }
        }
        let s = &mut suggestions[a];
        s.lowest = lower;
        if fixed[a] {
            s.why = Why::Kept;
            continue;
        }
        if let Some(e) = out_of_range[a] {
            s.why = Why::OutOfRange(e);
            continue;
        }
        let ceiling = upper[a].map_or(0, |(u, _)| u.min(0));
        let (x, why) = match lower {
            Some((l, e)) if l > ceiling => (l, Why::After(e)),
            _ => match upper[a] {
                Some((u, e)) if u < 0 => (u, Why::Before(e)),
                _ => (0, Why::Default),
            },
        };
        wave[a] = x;
        s.suggested = x;
        s.why = why;
    }
    Ok(Layers {
        suggestions,
        weights,
    })
}

/// One concrete cycle per strongly connected component, each as the edges "A needs B",
/// "B needs C", …, "Z needs A", starting at the component's first object.
fn cycles(graph: &DiGraph<(), usize>) -> Vec<Cycle> {
    let mut out = Vec::new();
    let mut components = petgraph::algo::tarjan_scc(graph);
    for c in &mut components {
        c.sort();
    }
    components.sort();
    for component in components.into_iter().filter(|c| c.len() > 1) {
        let inside: std::collections::HashSet<NodeIndex> = component.iter().copied().collect();
        let start = component[0];
        // Breadth-first along "needs" (against the graph's direction), back to the start.
        let mut came_from: std::collections::HashMap<NodeIndex, (NodeIndex, usize)> =
            std::collections::HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut closing: Option<(NodeIndex, usize)> = None;
        'search: while let Some(node) = queue.pop_front() {
            let mut next: Vec<(NodeIndex, usize)> = graph
                .edges_directed(node, Direction::Incoming)
                .map(|e| (petgraph::visit::EdgeRef::source(&e), *e.weight()))
                .filter(|(dep, _)| inside.contains(dep))
                .collect();
            next.sort();
            for (dep, e) in next {
                if dep == start {
                    closing = Some((node, e));
                    break 'search;
                }
                if let std::collections::hash_map::Entry::Vacant(v) = came_from.entry(dep) {
                    v.insert((node, e));
                    queue.push_back(dep);
                }
            }
        }
        let Some((mut node, last)) = closing else {
            continue;
        };
        let mut edges = vec![last];
        while node != start {
            let Some(&(prev, e)) = came_from.get(&node) else {
                break;
            };
            edges.push(e);
            node = prev;
        }
        edges.reverse();
        out.push(Cycle { edges });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{InputFile, parse_files};

    fn layers(text: &str, rewrite: bool) -> (Vec<Object>, Resolved, Result<Layers, Vec<Cycle>>) {
        let loaded = parse_files(&[InputFile {
            display: "t.yaml".into(),
            text: text.into(),
            json: false,
        }]);
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let resolved = crate::infer::resolve(&loaded.objects);
        let result = assign(
            &loaded.objects,
            &resolved,
            Options {
                rewrite,
                ..Options::default()
            },
        );
        (loaded.objects, resolved, result)
    }

    fn waves(text: &str, rewrite: bool) -> Vec<(String, i64, Why)> {
        let (objects, _, result) = layers(text, rewrite);
        let layers = result.unwrap_or_else(|c| panic!("cycle: {c:?}"));
        layers
            .suggestions
            .iter()
            .map(|s| (objects[s.object].name.clone(), s.suggested, s.why))
            .collect()
    }

    const CHAIN: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, annotations: {kubectl-waves.io/depends-on: ConfigMap/a}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, annotations: {kubectl-waves.io/depends-on: ConfigMap/b, argocd.argoproj.io/sync-wave: \"-1\"}}\n";

    #[test]
    fn no_wave_is_proposed_beyond_the_64_bit_limit() {
        // `b` needs `a` (depends-on: a ready dependency, one wave earlier).
        let above = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {argocd.argoproj.io/sync-wave: \"9223372036854775807\"}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, annotations: {kubectl-waves.io/depends-on: ConfigMap/a}}\n";
        let w = waves(above, false);
        assert!(matches!(w[1], (_, 0, Why::OutOfRange(_))), "{w:?}");
        let below = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, annotations: {kubectl-waves.io/depends-on: ConfigMap/a, argocd.argoproj.io/sync-wave: \"-9223372036854775808\"}}\n";
        let w = waves(below, false);
        assert!(matches!(w[0], (_, 0, Why::OutOfRange(_))), "{w:?}");
        // One below the limit still fits.
        let w = waves(&above.replace("807", "806"), false);
        assert_eq!(w[1].1, i64::MAX);
        // --rewrite moves the written waves away from the limit.
        let w = waves(above, true);
        assert_eq!((w[0].1, w[1].1), (0, 1));
    }

    #[test]
    fn a_kept_dependent_pulls_its_dependencies_below_zero() {
        let w = waves(CHAIN, false);
        assert_eq!(w[2], ("c".into(), -1, Why::Kept));
        assert_eq!(w[1].1, -2);
        assert!(matches!(w[1].2, Why::Before(_)));
        assert_eq!(w[0].1, -3);
        assert!(matches!(w[0].2, Why::Before(_)));
    }

    #[test]
    fn rewrite_recomputes_from_zero() {
        let w: Vec<i64> = waves(CHAIN, true).iter().map(|x| x.1).collect();
        assert_eq!(w, [0, 1, 2]);
    }

    #[test]
    fn kept_waves_that_break_an_edge_stay_and_show_the_lowest_wave() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {argocd.argoproj.io/sync-wave: \"3\"}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, annotations: {kubectl-waves.io/depends-on: ConfigMap/a, argocd.argoproj.io/sync-wave: \"1\"}}\n";
        let (_, _, result) = layers(text, false);
        let layers = result.unwrap_or_else(|c| panic!("{c:?}"));
        let b = &layers.suggestions[1];
        assert_eq!((b.suggested, b.why), (1, Why::Kept));
        assert_eq!(b.lowest.map(|l| l.0), Some(4));
    }

    #[test]
    fn exists_edges_use_the_kind_order_and_hooks_keep_their_phase() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, envFrom: [{secretRef: {name: s}}]}]}\n---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: d}\nspec: {selector: {matchLabels: {}}}\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: j, annotations: {argocd.argoproj.io/hook: PostSync}}\nspec: {template: {spec: {containers: [{name: c, image: i, envFrom: [{secretRef: {name: s}}]}]}}}\n";
        let w = waves(text, false);
        assert_eq!(w[1].1, 0, "a Secret comes before a Pod in one wave");
        assert_eq!(w[2].1, 1, "a PDB does not come before a Pod in one wave");
        assert_eq!(w[3].1, 0, "PostSync needs nothing from Sync waves");
    }

    #[test]
    fn a_cycle_lists_its_edges_in_order() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {kubectl-waves.io/depends-on: ConfigMap/c}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, annotations: {kubectl-waves.io/depends-on: ConfigMap/a}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, annotations: {kubectl-waves.io/depends-on: ConfigMap/b}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d, annotations: {kubectl-waves.io/depends-on: ConfigMap/a}}\n";
        let (objects, resolved, result) = layers(text, false);
        let Err(cycles) = result else {
            panic!("a cycle expected")
        };
        assert_eq!(cycles.len(), 1);
        let names: Vec<(&str, &str)> = cycles[0]
            .edges
            .iter()
            .map(|&e| {
                let edge = &resolved.edges[e];
                (
                    objects[edge.from].name.as_str(),
                    objects[edge.to].name.as_str(),
                )
            })
            .collect();
        assert_eq!(names, [("a", "c"), ("c", "b"), ("b", "a")]);
    }
}
