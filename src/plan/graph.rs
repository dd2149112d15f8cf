//! Graph order (`--order graph`): inside the Sync phase an object starts as soon as what it
//! depends on is done, instead of after every object of every lower wave.
//!
//! Pure: from the plan (Argo CD's order) and the resolved dependencies (the edges `annotate`
//! and lint share) it builds a plan whose Sync waves are merged into one step (or, with
//! `--respect-waves`, kept as barriers), and per object of that step what it waits for:
//! - an *exists* edge: the dependency applied;
//! - a *ready* edge: the dependency healthy. A CRD is *ready* (Established) for its custom
//!   resources, and so is a dependency the user put in a lower wave: that wave promised it
//!   healthy before the higher one started.
//!
//! A DNS-name edge (a workload reached through a Service's name) is the softest: clients retry,
//! and Argo CD users put frontend and backend in one wave on purpose, so it orders only objects
//! the written waves order already (the dependency in a lower wave).
//!
//! PreSync and PostSync keep their waves. A cycle is refused before anything is applied; a
//! cycle that only DNS-name edges close is not an order problem, so those edges are dropped,
//! with a note.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use petgraph::graph::{DiGraph, NodeIndex};

use super::{KindGroup, Plan, Step, Task};
use crate::infer::{EdgeKind, Resolved, Strength};
use crate::model::Phase;

/// How `sync` orders the Sync phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Order {
    /// Argo CD's total order: every wave waits for the previous one.
    #[default]
    Waves,
    /// Each object starts when its own dependencies are done.
    Graph,
}

/// One thing an object of a graph step waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// The dependency (index into the plan's objects).
    pub object: usize,
    pub strength: Strength,
    /// Why, in words (`reads Secret/db (envFrom)`, `lower wave`).
    pub reason: String,
}

/// Which steps of a plan run in graph order, and what their objects wait for.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    /// Indices of the steps run in graph order.
    pub graph_steps: BTreeSet<usize>,
    /// For objects of the graph steps: what each waits for (object index → waits).
    pub waits: HashMap<usize, Vec<Wait>>,
    /// The Sync waves were merged into one step (not `--respect-waves`).
    pub merged: bool,
}

/// The graph order of a plan: the plan with merged Sync steps, and its schedule.
#[derive(Debug)]
pub struct GraphPlan {
    pub plan: Plan,
    pub schedule: Schedule,
    /// Edges dropped because only DNS names closed a cycle through them ("A → B").
    pub dropped: Vec<String>,
}

/// A dependency cycle among objects of one graph step, as lines "A needs B (why)".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dependency cycle: no object of it can start first (--order graph):\n{}", .lines.join("\n"))]
pub struct CycleError {
    pub lines: Vec<String>,
    /// `path:line` of the first object of the cycle.
    pub source_: String,
}

/// The strength an edge has in graph order, or `None` when it does not order the step.
fn graph_strength(
    plan: &Plan,
    e: &crate::infer::Edge,
    waves: &HashMap<usize, i64>,
) -> Option<(Strength, String)> {
    let (Some(&wf), Some(&wt)) = (waves.get(&e.from), waves.get(&e.to)) else {
        return None;
    };
    let reason = e.reason.clone();
    // A DNS name is the softest reference (clients retry; SPEC §7 `annotate`): it orders only
    // what the written waves order already, never two objects of one wave.
    if e.kind == EdgeKind::Dns && wt >= wf {
        return None;
    }
    if e.kind == EdgeKind::Crd {
        return Some((Strength::Ready, reason));
    }
    if e.strength == Strength::Exists && wt < wf {
        let to = &plan.objects[e.to];
        return Some((
            Strength::Ready,
            format!("{reason}; {} is in a lower wave ({wt})", to.display_name()),
        ));
    }
    Some((e.strength, reason))
}

/// Builds the graph order of `plan`, consuming it.
pub fn build(plan: Plan, graph: &Resolved, respect_waves: bool) -> Result<GraphPlan, CycleError> {
    // Sync-phase objects and their waves (as placed by Argo CD's order, so a Namespace moved
    // to its first user's wave counts there).
    let mut waves: HashMap<usize, i64> = HashMap::new();
    for step in plan.steps.iter().filter(|s| s.phase == Phase::Sync) {
        for t in step.tasks() {
            waves.insert(t.object, step.wave);
        }
    }
    let same_step = |a: usize, b: usize| !respect_waves || waves.get(&a) == waves.get(&b);

    // Candidate waits, strongest per (from, to).
    let mut edges: BTreeMap<(usize, usize), (Strength, String, bool)> = BTreeMap::new();
    for e in &graph.edges {
        if e.from == e.to || !same_step(e.from, e.to) {
            continue;
        }
        let Some((strength, reason)) = graph_strength(&plan, e, &waves) else {
            continue;
        };
        let dns = e.kind == EdgeKind::Dns;
        match edges.get_mut(&(e.from, e.to)) {
            Some(entry) => {
                if strength > entry.0 {
                    entry.0 = strength;
                    entry.1 = reason;
                }
                entry.2 &= dns;
            }
            None => {
                edges.insert((e.from, e.to), (strength, reason, dns));
            }
        }
    }

    // Cycles: DNS-only edges inside a strongly connected component are dropped; any other
    // cycle is an error.
    let mut dropped = Vec::new();
    for only_hard in [false, true] {
        let nodes: Vec<usize> = waves
            .keys()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let index: HashMap<usize, NodeIndex> = nodes
            .iter()
            .enumerate()
            .map(|(i, &o)| (o, NodeIndex::new(i)))
            .collect();
        let mut g: DiGraph<usize, ()> = DiGraph::new();
        for &o in &nodes {
            g.add_node(o);
        }
        for (&(from, to), (_, _, dns)) in &edges {
            if only_hard && *dns {
                continue;
            }
            g.add_edge(index[&to], index[&from], ());
        }
        let components: Vec<Vec<NodeIndex>> = petgraph::algo::tarjan_scc(&g)
            .into_iter()
            .filter(|c| c.len() > 1)
            .collect();
        if components.is_empty() {
            break;
        }
        if only_hard {
            return Err(cycle_error(&plan, &edges, &components[0], &g));
        }
        for c in &components {
            let inside: HashSet<usize> = c.iter().map(|n| g[*n]).collect();
            let cut: Vec<(usize, usize)> = edges
                .iter()
                .filter(|((f, t), (_, _, dns))| *dns && inside.contains(f) && inside.contains(t))
                .map(|(k, _)| *k)
                .collect();
            for k in cut {
                edges.remove(&k);
                dropped.push(format!(
                    "{} → {}",
                    plan.objects[k.0].display_name(),
                    plan.objects[k.1].display_name()
                ));
            }
        }
    }

    let mut waits: HashMap<usize, Vec<Wait>> = HashMap::new();
    for ((from, to), (strength, reason, _)) in edges {
        waits.entry(from).or_default().push(Wait {
            object: to,
            strength,
            reason,
        });
    }

    // Merge the Sync steps (all of them, or none with --respect-waves).
    let Plan {
        objects,
        steps,
        sync_fail,
        skipped,
        diagnostics,
        health,
    } = plan;
    let mut merged: Vec<Step> = Vec::new();
    let mut graph_steps = BTreeSet::new();
    for step in steps {
        if step.phase != Phase::Sync {
            merged.push(step);
            continue;
        }
        if !respect_waves
            && let Some(last) = merged.last_mut()
            && last.phase == Phase::Sync
        {
            // Keep the Argo CD order inside the merged step (it is the order of equal starts).
            let mut tasks: Vec<Task> = last.tasks().copied().collect();
            tasks.extend(step.tasks().map(|t| Task {
                wave: last.wave,
                ..*t
            }));
            last.groups = vec![KindGroup {
                kind: String::new(),
                tasks,
            }];
            continue;
        }
        graph_steps.insert(merged.len());
        merged.push(step);
    }
    Ok(GraphPlan {
        plan: Plan {
            objects,
            steps: merged,
            sync_fail,
            skipped,
            diagnostics,
            health,
        },
        schedule: Schedule {
            graph_steps,
            waits,
            merged: !respect_waves,
        },
        dropped,
    })
}

fn cycle_error(
    plan: &Plan,
    edges: &BTreeMap<(usize, usize), (Strength, String, bool)>,
    component: &[NodeIndex],
    g: &DiGraph<usize, ()>,
) -> CycleError {
    let inside: HashSet<usize> = component.iter().map(|n| g[*n]).collect();
    let start = *inside.iter().min().unwrap_or(&0);
    // Walk "needs" edges inside the component from the start until it closes.
    let mut path = vec![start];
    let mut seen = HashSet::from([start]);
    let mut lines = Vec::new();
    let mut at = start;
    loop {
        let next = edges
            .iter()
            .filter(|((f, t), (_, _, _))| *f == at && inside.contains(t))
            .map(|((_, t), (s, r, _))| (*t, *s, r.clone()))
            .min_by_key(|(t, _, _)| (*t != start, *t));
        let Some((to, strength, reason)) = next else {
            break;
        };
        lines.push(format!(
            "  {} needs {} ({reason}, {strength:?})",
            plan.objects[at].display_name(),
            plan.objects[to].display_name()
        ));
        if to == start || !seen.insert(to) {
            break;
        }
        path.push(to);
        at = to;
    }
    CycleError {
        lines,
        source_: plan.objects[start].source.to_string(),
    }
}

/// Per-kind readiness estimates (`--estimate Deployment=30s,StatefulSet=60s`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Estimates {
    by_kind: BTreeMap<String, Duration>,
}

impl Estimates {
    /// Parses `Kind=DURATION,...`.
    pub fn parse(text: &str) -> Result<Estimates, String> {
        let mut by_kind = BTreeMap::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((kind, value)) = part.split_once('=') else {
                return Err(format!(
                    "{part:?}: expected Kind=DURATION (e.g. Deployment=30s)"
                ));
            };
            let d = crate::model::annotations::parse_duration(value.trim())
                .ok_or_else(|| format!("{part:?}: {value:?} is not a duration (e.g. 30s, 2m)"))?;
            by_kind.insert(kind.trim().to_string(), d);
        }
        Ok(Estimates { by_kind })
    }

    /// The estimate of a kind; kinds not given are ready at once.
    pub fn of(&self, kind: &str) -> Duration {
        self.by_kind.get(kind).copied().unwrap_or_default()
    }
}

/// The critical path of a graph plan under estimates, and the wave order's estimate for
/// comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriticalPath {
    /// Objects along the longest chain, first to last (steps of PreSync/PostSync waves
    /// contribute their slowest object).
    pub objects: Vec<usize>,
    /// Estimated wall time of graph order (the critical path's length).
    pub graph: Duration,
    /// Estimated wall time of wave order: the sum over steps of each step's slowest object.
    pub waves: Duration,
}

/// Earliest start and finish of every object of the graph plan; the critical path.
pub fn critical_path(gp: &GraphPlan, wave_plan: &Plan, estimates: &Estimates) -> CriticalPath {
    let est = |o: usize| estimates.of(&gp.plan.objects[o].kind);
    let mut total = Duration::ZERO;
    let mut chain: Vec<usize> = Vec::new();
    for (s, step) in gp.plan.steps.iter().enumerate() {
        if !gp.schedule.graph_steps.contains(&s) {
            let slowest = step.tasks().map(|t| t.object).max_by_key(|&o| (est(o), o));
            if let Some(o) = slowest {
                total += est(o);
                chain.push(o);
            }
            continue;
        }
        // Longest path: tasks in Argo CD order may list a dependency after its user, so relax
        // until nothing changes (a DAG: at most n rounds).
        let tasks: Vec<usize> = step.tasks().map(|t| t.object).collect();
        let member: HashSet<usize> = tasks.iter().copied().collect();
        let mut start: HashMap<usize, (Duration, Option<usize>)> =
            tasks.iter().map(|&o| (o, (Duration::ZERO, None))).collect();
        for _ in 0..=tasks.len() {
            let mut changed = false;
            for &o in &tasks {
                for w in gp.schedule.waits.get(&o).into_iter().flatten() {
                    if !member.contains(&w.object) {
                        continue;
                    }
                    let dep_start = start[&w.object].0;
                    let ready = match w.strength {
                        Strength::Ready => dep_start + est(w.object),
                        Strength::Exists => dep_start,
                    };
                    if ready > start[&o].0 {
                        start.insert(o, (ready, Some(w.object)));
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let last = tasks
            .iter()
            .copied()
            .max_by_key(|&o| (start[&o].0 + est(o), std::cmp::Reverse(o)));
        if let Some(last) = last {
            total += start[&last].0 + est(last);
            let mut path = vec![last];
            let mut at = last;
            while let Some(prev) = start[&at].1 {
                path.push(prev);
                at = prev;
            }
            path.reverse();
            chain.extend(path);
        }
    }
    let waves = wave_plan
        .steps
        .iter()
        .map(|step| {
            step.tasks()
                .map(|t| est(t.object))
                .max()
                .unwrap_or_default()
        })
        .sum();
    CriticalPath {
        objects: chain,
        graph: total,
        waves,
    }
}

/// Output format of `plan --graph`.
pub use crate::annotate::graph::GraphFormat;

/// The graph order drawn: PreSync/PostSync waves as ranks, the graph steps as one box with
/// their waits as arrows (dependency → user; *ready* bold/thick, *exists* dashed); the critical
/// path's objects marked.
pub fn render(format: GraphFormat, gp: &GraphPlan, critical: &[usize]) -> String {
    let objects = &gp.plan.objects;
    let on_path: HashSet<usize> = critical.iter().copied().collect();
    let label = |o: usize| {
        let name = objects[o].display_name();
        if on_path.contains(&o) {
            format!("{name} *")
        } else {
            name
        }
    };
    let title = |s: usize, step: &Step| {
        if gp.schedule.graph_steps.contains(&s) {
            format!("{} graph order", step.phase)
        } else {
            format!("{} wave {}", step.phase, step.wave)
        }
    };
    let mut arrows: Vec<(usize, usize, Strength)> = Vec::new();
    for (s, step) in gp.plan.steps.iter().enumerate() {
        if !gp.schedule.graph_steps.contains(&s) {
            continue;
        }
        for t in step.tasks() {
            for w in gp.schedule.waits.get(&t.object).into_iter().flatten() {
                arrows.push((w.object, t.object, w.strength));
            }
        }
    }
    arrows.sort();
    arrows.dedup();
    let mut out = String::new();
    match format {
        GraphFormat::Dot => {
            out.push_str("digraph waves {\n  rankdir=LR;\n  compound=true;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n");
            for (s, step) in gp.plan.steps.iter().enumerate() {
                out.push_str(&format!(
                    "  subgraph cluster_{s} {{\n    label=\"{}\";\n",
                    title(s, step)
                ));
                for t in step.tasks() {
                    out.push_str(&format!(
                        "    s{s}_n{} [label=\"{}\"{}];\n",
                        t.object,
                        label(t.object).replace('"', "\\\""),
                        if on_path.contains(&t.object) {
                            ", penwidth=2"
                        } else {
                            ""
                        }
                    ));
                }
                out.push_str("  }\n");
            }
            for (s, step) in gp.plan.steps.iter().enumerate() {
                if !gp.schedule.graph_steps.contains(&s) {
                    continue;
                }
                for &(from, to, strength) in &arrows {
                    let members: HashSet<usize> = step.tasks().map(|t| t.object).collect();
                    if members.contains(&from) && members.contains(&to) {
                        let style = match strength {
                            Strength::Ready => "bold",
                            Strength::Exists => "dashed",
                        };
                        out.push_str(&format!("  s{s}_n{from} -> s{s}_n{to} [style={style}];\n"));
                    }
                }
            }
            // Steps run one after another.
            for s in 1..gp.plan.steps.len() {
                let (Some(a), Some(b)) = (
                    gp.plan.steps[s - 1].tasks().next(),
                    gp.plan.steps[s].tasks().next(),
                ) else {
                    continue;
                };
                out.push_str(&format!(
                    "  s{}_n{} -> s{s}_n{} [ltail=cluster_{}, lhead=cluster_{s}, style=invis];\n",
                    s - 1,
                    a.object,
                    b.object,
                    s - 1
                ));
            }
            out.push_str("}\n");
        }
        GraphFormat::Mermaid => {
            out.push_str("flowchart LR\n");
            for (s, step) in gp.plan.steps.iter().enumerate() {
                out.push_str(&format!("  subgraph r{s}[\"{}\"]\n", title(s, step)));
                for t in step.tasks() {
                    out.push_str(&format!(
                        "    s{s}_n{}[\"{}\"]\n",
                        t.object,
                        label(t.object).replace('"', "#quot;")
                    ));
                }
                out.push_str("  end\n");
            }
            for s in 1..gp.plan.steps.len() {
                out.push_str(&format!("  r{} --> r{s}\n", s - 1));
            }
            for (s, step) in gp.plan.steps.iter().enumerate() {
                if !gp.schedule.graph_steps.contains(&s) {
                    continue;
                }
                let members: HashSet<usize> = step.tasks().map(|t| t.object).collect();
                for &(from, to, strength) in &arrows {
                    if members.contains(&from) && members.contains(&to) {
                        let arrow = match strength {
                            Strength::Ready => "==>",
                            Strength::Exists => "-.->",
                        };
                        out.push_str(&format!("  s{s}_n{from} {arrow} s{s}_n{to}\n"));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{InputFile, parse_files};
    use crate::plan::PlanOptions;

    fn plan(text: &str) -> (Plan, Resolved) {
        let loaded = parse_files(&[InputFile {
            display: "t.yaml".into(),
            text: text.into(),
            json: false,
        }]);
        let plan = Plan::build(loaded, PlanOptions::default());
        let graph = crate::infer::resolve(&plan.objects);
        (plan, graph)
    }

    fn deploy(name: &str, wave: i64, secret: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: d, annotations: {{argocd.argoproj.io/sync-wave: '{wave}'}}}}\nspec:\n  template:\n    spec: {{containers: [{{name: c, image: i, envFrom: [{{secretRef: {{name: {secret}}}}}]}}]}}\n---\n"
        )
    }

    const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: d}\n---\n";

    fn names(gp: &GraphPlan, o: usize) -> Vec<(String, Strength)> {
        gp.schedule
            .waits
            .get(&o)
            .into_iter()
            .flatten()
            .map(|w| (gp.plan.objects[w.object].display_name(), w.strength))
            .collect()
    }

    #[test]
    fn sync_waves_merge_into_one_step_and_waits_follow_edges() {
        let text = format!("{SECRET}{}{}", deploy("a", 0, "s"), deploy("b", 3, "s"));
        let (p, g) = plan(&text);
        assert_eq!(p.steps.len(), 2);
        let gp = build(p, &g, false).unwrap();
        assert_eq!(gp.plan.steps.len(), 1);
        assert_eq!(gp.schedule.graph_steps, BTreeSet::from([0]));
        let a = gp.plan.objects.iter().position(|o| o.name == "a").unwrap();
        let b = gp.plan.objects.iter().position(|o| o.name == "b").unwrap();
        // Same wave: the Secret only has to exist; a lower wave promised it healthy.
        assert_eq!(names(&gp, a), vec![("Secret/d/s".into(), Strength::Exists)]);
        assert_eq!(names(&gp, b), vec![("Secret/d/s".into(), Strength::Ready)]);
        // b does not wait for a: they are not connected.
        assert!(!gp.schedule.waits[&b].iter().any(|w| w.object == a));
    }

    #[test]
    fn respect_waves_keeps_barriers_and_only_waits_inside_a_wave() {
        let text = format!("{SECRET}{}{}", deploy("a", 0, "s"), deploy("b", 3, "s"));
        let (p, g) = plan(&text);
        let gp = build(p, &g, true).unwrap();
        assert_eq!(gp.plan.steps.len(), 2);
        assert_eq!(gp.schedule.graph_steps, BTreeSet::from([0, 1]));
        let b = gp.plan.objects.iter().position(|o| o.name == "b").unwrap();
        assert!(!gp.schedule.waits.contains_key(&b));
    }

    #[test]
    fn a_cycle_is_refused_with_its_edges() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: d, annotations: {kubectl-waves.io/depends-on: ConfigMap/b}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: d, annotations: {kubectl-waves.io/depends-on: ConfigMap/a}}\n";
        let (p, g) = plan(text);
        let err = build(p, &g, false).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("ConfigMap/d/a needs ConfigMap/d/b"), "{text}");
        assert!(text.contains("ConfigMap/d/b needs ConfigMap/d/a"), "{text}");
        assert_eq!(err.source_, "t.yaml:1");
    }

    #[test]
    fn services_calling_each_other_by_dns_are_not_a_cycle() {
        let svc = |n: &str| {
            format!(
                "apiVersion: v1\nkind: Service\nmetadata: {{name: {n}, namespace: d}}\nspec: {{selector: {{app: {n}}}}}\n---\n"
            )
        };
        let dep = |n: &str, other: &str| {
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {n}, namespace: d}}\nspec:\n  template:\n    metadata: {{labels: {{app: {n}}}}}\n    spec: {{containers: [{{name: c, image: i, env: [{{name: PEER, value: 'http://{other}:80'}}]}}]}}\n---\n"
            )
        };
        let text = format!("{}{}{}{}", svc("a"), svc("b"), dep("a", "b"), dep("b", "a"));
        let (p, g) = plan(&text);
        let gp = build(p, &g, false).unwrap();
        let a = gp
            .plan
            .objects
            .iter()
            .position(|o| o.kind == "Deployment" && o.name == "a")
            .unwrap();
        let b = gp
            .plan
            .objects
            .iter()
            .position(|o| o.kind == "Deployment" && o.name == "b")
            .unwrap();
        // One wave: neither waits for the other (only for its peer's Service to exist).
        let waits = |o: usize| gp.schedule.waits.get(&o).cloned().unwrap_or_default();
        assert!(!waits(a).iter().any(|w| w.object == b));
        assert!(!waits(b).iter().any(|w| w.object == a));
    }

    #[test]
    fn critical_path_sums_ready_chains_and_waves_sum_steps() {
        // s (Job, wave 0) ← db (StatefulSet wave 1) ; a, b Deployments wave 1 read s.
        let text = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg, namespace: d}}\n---\n{SECRET}{}{}apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: db, namespace: d, annotations: {{argocd.argoproj.io/sync-wave: '0'}}}}\nspec:\n  template:\n    spec: {{containers: [{{name: c, image: i}}]}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api, namespace: d, annotations: {{argocd.argoproj.io/sync-wave: '1', kubectl-waves.io/depends-on: StatefulSet/db}}}}\nspec:\n  template:\n    spec: {{containers: [{{name: c, image: i}}]}}\n",
            deploy("web", 1, "s"),
            deploy("admin", 0, "s")
        );
        let (p, g) = plan(&text);
        let waves_plan = Plan {
            objects: p.objects.clone(),
            steps: p.steps.clone(),
            sync_fail: p.sync_fail.clone(),
            skipped: p.skipped.clone(),
            diagnostics: p.diagnostics.clone(),
            health: p.health.clone(),
        };
        let gp = build(p, &g, false).unwrap();
        let est = Estimates::parse("Deployment=30s, StatefulSet=60s").unwrap();
        let cp = critical_path(&gp, &waves_plan, &est);
        // db (60s) then api (30s).
        assert_eq!(cp.graph, Duration::from_secs(90));
        // wave 0: max(db 60, admin 30) + wave 1: 30.
        assert_eq!(cp.waves, Duration::from_secs(90));
        let path: Vec<String> = cp
            .objects
            .iter()
            .map(|&o| gp.plan.objects[o].display_name())
            .collect();
        assert_eq!(path, vec!["StatefulSet/d/db", "Deployment/d/api"]);
    }

    #[test]
    fn estimates_parse_and_refuse_garbage() {
        let e = Estimates::parse("Deployment=30s,StatefulSet=2m").unwrap();
        assert_eq!(e.of("StatefulSet"), Duration::from_secs(120));
        assert_eq!(e.of("Secret"), Duration::ZERO);
        assert!(Estimates::parse("Deployment").is_err());
        assert!(Estimates::parse("Deployment=soon").is_err());
    }
}
