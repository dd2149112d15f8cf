//! Dependencies between objects: what each object needs to exist (or be healthy) before it is
//! applied, read from the fields that reference other objects and from explicit annotations.
//! Pure: knows nothing of the cluster or the terminal.

pub mod refs;

use std::collections::HashMap;

use crate::model::Object;
pub use refs::{Dependency, Strength, Target, dependencies};

/// A resolved dependency between two objects of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The object that needs something (index into the objects).
    pub from: usize,
    /// What it needs.
    pub to: usize,
    pub strength: Strength,
    /// Why, in words: e.g. `reads Secret/shop/db (envFrom)`.
    pub reason: String,
    /// The field the reference came from, e.g. `spec.template.spec.containers[0].envFrom[0].secretRef.name`.
    pub field: String,
}

/// A reference to something that is not in the input (provided by the cluster or another app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct External {
    pub from: usize,
    pub target: String,
    pub field: String,
}

/// Every dependency of every object, resolved against the input.
#[derive(Debug, Default)]
pub struct Resolved {
    pub edges: Vec<Edge>,
    pub external: Vec<External>,
}

/// Index of objects by identity, for resolving references.
struct Index<'a> {
    by_name: HashMap<(&'a str, &'a str, &'a str), Vec<usize>>,
    crds: HashMap<(String, String), usize>,
    producers: HashMap<(&'a str, &'a str, &'a str), Vec<usize>>,
}

impl<'a> Index<'a> {
    fn new(objects: &'a [Object]) -> Self {
        let mut by_name: HashMap<(&str, &str, &str), Vec<usize>> =
            HashMap::with_capacity(objects.len());
        let mut crds = HashMap::new();
        let mut producers: HashMap<(&str, &str, &str), Vec<usize>> = HashMap::new();
        for (i, o) in objects.iter().enumerate() {
            by_name
                .entry((o.kind.as_str(), o.namespace.as_str(), o.name.as_str()))
                .or_default()
                .push(i);
            if let Some(key) = refs::crd_defines(o) {
                crds.insert(key, i);
            }
            for p in &o.annotations.produces {
                producers
                    .entry((p.kind.as_str(), p.namespace.as_str(), p.name.as_str()))
                    .or_default()
                    .push(i);
            }
        }
        Index {
            by_name,
            crds,
            producers,
        }
    }
}

/// Resolves every object's dependencies to edges between input objects. Deterministic: edges
/// come in object order, then in field order.
pub fn resolve(objects: &[Object]) -> Resolved {
    let index = Index::new(objects);
    let mut out = Resolved::default();
    for (from, obj) in objects.iter().enumerate() {
        for dep in dependencies(obj) {
            let mut found = false;
            match &dep.target {
                Target::Object(r) => {
                    if let Some(list) =
                        index
                            .by_name
                            .get(&(r.kind.as_str(), r.namespace.as_str(), r.name.as_str()))
                    {
                        for &to in list {
                            if to != from
                                && r.group.as_deref().is_none_or(|g| g == objects[to].group)
                            {
                                found = true;
                                out.edges.push(Edge {
                                    from,
                                    to,
                                    strength: dep.strength,
                                    reason: dep.reason.clone(),
                                    field: dep.field.clone(),
                                });
                            }
                        }
                    }
                    // Whoever produces the object at run time must have finished first.
                    if let Some(list) = index.producers.get(&(
                        r.kind.as_str(),
                        r.namespace.as_str(),
                        r.name.as_str(),
                    )) {
                        for &to in list {
                            if to != from {
                                found = true;
                                out.edges.push(Edge {
                                    from,
                                    to,
                                    strength: Strength::Ready,
                                    reason: format!(
                                        "{}, which {} creates",
                                        dep.reason,
                                        objects[to].display_name()
                                    ),
                                    field: dep.field.clone(),
                                });
                            }
                        }
                    }
                }
                Target::CrdFor { group, kind } => {
                    if let Some(&to) = index.crds.get(&(group.clone(), kind.clone())) {
                        found = true;
                        out.edges.push(Edge {
                            from,
                            to,
                            strength: dep.strength,
                            reason: dep.reason.clone(),
                            field: dep.field.clone(),
                        });
                    }
                }
            }
            if !found && dep.report_external {
                out.external.push(External {
                    from,
                    target: dep.target.to_string(),
                    field: dep.field,
                });
            }
        }
    }
    out
}
