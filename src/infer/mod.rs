//! Dependencies between objects: what each object needs to exist (or be healthy) before it is
//! applied, read from the fields that reference other objects and from explicit annotations.
//! Pure: knows nothing of the cluster or the terminal.
//!
//! [`refs::dependencies`] reads one object; [`resolve`] matches what it read against the input:
//! names to objects, Services to the workloads their selectors match, ServiceAccounts to the
//! bindings that grant them permissions, ConfigMaps to the Service names in their data, and
//! objects that only appear at run time to the hooks that `produce` them.

pub mod dns;
pub mod refs;
pub mod selector;

use std::collections::HashMap;

use crate::model::Object;
pub use refs::{Dependency, EdgeKind, Strength, Target, dependencies};

/// A resolved dependency between two objects of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The object that needs something (index into the objects).
    pub from: usize,
    /// What it needs.
    pub to: usize,
    pub strength: Strength,
    pub kind: EdgeKind,
    /// Why, in words: e.g. `reads Secret/db (envFrom)`.
    pub reason: String,
    /// The field the reference came from, e.g. `spec.template.spec.containers[0].envFrom[0].secretRef.name`.
    pub field: String,
}

/// A reference to something that is not in the input (provided by the cluster or another app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct External {
    pub from: usize,
    pub target: String,
    pub kind: EdgeKind,
    pub field: String,
}

/// Every dependency of every object, resolved against the input.
#[derive(Debug, Default, Clone)]
pub struct Resolved {
    pub edges: Vec<Edge>,
    pub external: Vec<External>,
}

type Key<'a> = (&'a str, &'a str, &'a str);

/// Index of objects by identity, labels and subjects, for resolving references.
struct Index<'a> {
    objects: &'a [Object],
    /// Every object by (kind, namespace, name), sorted: one entry per object, where a map of
    /// lists cost a list per object.
    by_name: Vec<(Key<'a>, usize)>,
    crds: HashMap<(String, String), usize>,
    producers: HashMap<Key<'a>, Vec<usize>>,
    /// Core Services by (namespace, name).
    services: HashMap<(&'a str, &'a str), usize>,
    /// Serving workloads by (namespace, `key\0value` of a pod label).
    by_label: HashMap<(&'a str, String), Vec<usize>>,
    /// The pod labels of each serving workload.
    pod_labels: HashMap<usize, serde_json::Map<String, serde_json::Value>>,
    /// Serving workloads by namespace.
    serving: HashMap<&'a str, Vec<usize>>,
    /// RoleBindings and ClusterRoleBindings by the (namespace, name) of a ServiceAccount subject.
    bindings: HashMap<(String, String), Vec<usize>>,
}

impl<'a> Index<'a> {
    fn new(objects: &'a [Object]) -> Self {
        let mut index = Index {
            objects,
            by_name: Vec::with_capacity(objects.len()),
            crds: HashMap::new(),
            producers: HashMap::new(),
            services: HashMap::new(),
            by_label: HashMap::new(),
            pod_labels: HashMap::new(),
            serving: HashMap::new(),
            bindings: HashMap::new(),
        };
        for (i, o) in objects.iter().enumerate() {
            let ns = o.namespace.as_str();
            index
                .by_name
                .push(((o.kind.as_str(), ns, o.name.as_str()), i));
            if let Some(key) = refs::crd_defines(o) {
                index.crds.insert(key, i);
            }
            for p in &o.annotations.produces {
                index
                    .producers
                    .entry((p.kind.as_str(), p.namespace.as_str(), p.name.as_str()))
                    .or_default()
                    .push(i);
            }
            if o.kind == "Service" && o.group.is_empty() {
                index.services.entry((ns, o.name.as_str())).or_insert(i);
            }
            let binding = matches!(o.kind.as_str(), "RoleBinding" | "ClusterRoleBinding")
                && o.group == "rbac.authorization.k8s.io";
            // Most objects (ConfigMaps, Secrets) need nothing from their value here: it is
            // parsed only for the kinds that serve pods or bind roles.
            if !binding && !refs::serves_pods(o) {
                continue;
            }
            let value = o.value();
            if let Some(labels) = refs::serving_pod_labels(o, &value) {
                index.serving.entry(ns).or_default().push(i);
                let labels = labels.cloned().unwrap_or_default();
                for (k, v) in &labels {
                    if let Some(v) = v.as_str() {
                        index
                            .by_label
                            .entry((ns, format!("{k}\0{v}")))
                            .or_default()
                            .push(i);
                    }
                }
                index.pod_labels.insert(i, labels);
            }
            if binding {
                let subjects = value.get("subjects").and_then(|s| s.as_array());
                for s in subjects.into_iter().flatten() {
                    let field = |k: &str| s.get(k).and_then(|v| v.as_str());
                    if let (Some("ServiceAccount"), Some(name)) = (field("kind"), field("name")) {
                        let sns = field("namespace").unwrap_or(ns);
                        let key = (sns.to_string(), name.to_string());
                        let list = index.bindings.entry(key).or_default();
                        if list.last() != Some(&i) {
                            list.push(i);
                        }
                    }
                }
            }
        }
        index.by_name.sort_unstable();
        index
    }

    /// The objects named (kind, namespace, name), in input order.
    fn named(&self, key: &Key<'_>) -> &[(Key<'a>, usize)] {
        let start = self.by_name.partition_point(|(k, _)| k < key);
        let len = self.by_name[start..].partition_point(|(k, _)| k == key);
        &self.by_name[start..start + len]
    }

    /// Serving workloads in `namespace` that `selector` selects, in input order.
    fn selected(&self, namespace: &str, selector: &selector::Selector) -> Vec<usize> {
        let candidates: &[usize] = match selector
            .labels
            .iter()
            .map(|(k, v)| {
                self.by_label
                    .get(&(namespace, format!("{k}\0{v}")))
                    .map_or(&[][..], Vec::as_slice)
            })
            .min_by_key(|l| l.len())
        {
            Some(list) => list,
            None => self.serving.get(namespace).map_or(&[][..], Vec::as_slice),
        };
        candidates
            .iter()
            .copied()
            .filter(|i| {
                self.pod_labels
                    .get(i)
                    .is_some_and(|labels| selector.matches(Some(labels)))
            })
            .collect()
    }
}

/// Resolves references one object at a time, caching per-Service and per-ConfigMap work.
struct Resolver<'a> {
    index: Index<'a>,
    backends: HashMap<usize, Vec<usize>>,
    config_data: HashMap<usize, Vec<Dependency>>,
    out: Resolved,
}

impl Resolver<'_> {
    fn edge(
        &mut self,
        from: usize,
        to: usize,
        dep: &Dependency,
        strength: Strength,
        kind: EdgeKind,
        reason: String,
    ) {
        self.out.edges.push(Edge {
            from,
            to,
            strength,
            kind,
            reason,
            field: dep.field.clone(),
        });
    }

    /// Adds the edges of one dependency; whether anything in the input matched.
    fn dependency(&mut self, from: usize, dep: &Dependency, nested: bool) -> bool {
        let objects = self.index.objects;
        let mut found = false;
        match &dep.target {
            Target::Object(r) => {
                let key = (r.kind.as_str(), r.namespace.as_str(), r.name.as_str());
                let matched: Vec<usize> = self
                    .index
                    .named(&key)
                    .iter()
                    .map(|(_, i)| *i)
                    .filter(|&to| {
                        to != from && r.group.as_deref().is_none_or(|g| g == objects[to].group)
                    })
                    .collect();
                for to in matched {
                    found = true;
                    self.edge(from, to, dep, dep.strength, dep.kind, dep.reason.clone());
                    if dep.kind == EdgeKind::ConfigMap && !nested && objects[to].group.is_empty() {
                        self.config_map_data(from, to, dep);
                    }
                }
                // Whoever produces the object at run time must have finished first.
                let producers = self.index.producers.get(&key).cloned().unwrap_or_default();
                for to in producers {
                    if to != from {
                        found = true;
                        let reason = format!(
                            "{} which is created by {}",
                            dep.reason,
                            objects[to].display_name()
                        );
                        self.edge(from, to, dep, Strength::Ready, EdgeKind::Produced, reason);
                    }
                }
                if dep.kind == EdgeKind::ServiceAccount {
                    let bindings = self
                        .index
                        .bindings
                        .get(&(r.namespace.clone(), r.name.clone()))
                        .cloned()
                        .unwrap_or_default();
                    for to in bindings {
                        if to != from {
                            let reason = format!(
                                "{}, whose permissions {} grants",
                                dep.reason,
                                objects[to].display_name()
                            );
                            self.edge(
                                from,
                                to,
                                dep,
                                Strength::Exists,
                                EdgeKind::Permissions,
                                reason,
                            );
                        }
                    }
                }
            }
            Target::CrdFor { group, kind } => {
                if let Some(&to) = self.index.crds.get(&(group.clone(), kind.clone())) {
                    found = true;
                    self.edge(from, to, dep, dep.strength, dep.kind, dep.reason.clone());
                }
            }
            Target::Backends { namespace, service } => {
                let Some(&svc) = self
                    .index
                    .services
                    .get(&(namespace.as_str(), service.as_str()))
                else {
                    return false;
                };
                if !self.backends.contains_key(&svc) {
                    let service = objects[svc].value();
                    let selected = selector::Selector::from_map(
                        service.get("spec").and_then(|s| s.get("selector")),
                    )
                    .map(|s| self.index.selected(namespace, &s))
                    .unwrap_or_default();
                    self.backends.insert(svc, selected);
                }
                let workloads = self.backends.get(&svc).cloned().unwrap_or_default();
                // A workload that reaches its own Service talks to its peers: no order.
                if workloads.contains(&from) {
                    return true;
                }
                for to in workloads {
                    found = true;
                    let reason =
                        format!("{}, served by {}", dep.reason, objects[to].display_name());
                    self.edge(from, to, dep, dep.strength, dep.kind, reason);
                }
            }
            Target::Selected {
                namespace,
                selector,
            } => {
                for to in self.index.selected(namespace, selector) {
                    if to != from {
                        found = true;
                        let reason = format!(
                            "{} {} (selector {selector})",
                            dep.reason,
                            objects[to].display_name()
                        );
                        self.edge(from, to, dep, dep.strength, dep.kind, reason);
                    }
                }
            }
        }
        found
    }

    /// The Service names in the data of ConfigMap `cm`, which `from` reads through `via`.
    fn config_map_data(&mut self, from: usize, cm: usize, via: &Dependency) {
        let objects = self.index.objects;
        let deps = self
            .config_data
            .entry(cm)
            .or_insert_with(|| refs::config_data_dependencies(&objects[cm]))
            .clone();
        for d in deps {
            let derived = Dependency {
                reason: format!("{}, whose {} {}", via.reason, d.field, d.reason),
                field: format!("{} → {} {}", via.field, objects[cm].display_name(), d.field),
                ..d
            };
            if !self.dependency(from, &derived, true) && derived.report_external {
                self.external(from, &derived);
            }
        }
    }

    fn external(&mut self, from: usize, dep: &Dependency) {
        self.out.external.push(External {
            from,
            target: dep.target.to_string(),
            kind: dep.kind,
            field: dep.field.clone(),
        });
    }
}

/// Resolves every object's dependencies to edges between input objects. Deterministic: edges
/// come in object order, then in field order.
pub fn resolve(objects: &[Object]) -> Resolved {
    let mut r = Resolver {
        index: Index::new(objects),
        backends: HashMap::new(),
        config_data: HashMap::new(),
        out: Resolved::default(),
    };
    // Reading references is per object and the costly part (DNS names in every string);
    // resolving them against the index is cheap and sequential. A chunk at a time: the
    // references of every object at once (a reason and a field path each) took more memory
    // than the objects themselves.
    const CHUNK: usize = 4096;
    for (c, chunk) in objects.chunks(CHUNK).enumerate() {
        let read = crate::par::par_map(chunk, dependencies);
        for (i, deps) in read.into_iter().enumerate() {
            let from = c * CHUNK + i;
            for dep in deps {
                if !r.dependency(from, &dep, false) && dep.report_external {
                    r.external(from, &dep);
                }
            }
        }
    }
    r.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{InputFile, parse_files};

    fn edges(text: &str) -> Vec<(String, String, EdgeKind, Strength)> {
        let loaded = parse_files(&[InputFile {
            display: "t.yaml".into(),
            text: text.into(),
            json: false,
        }]);
        let r = resolve(&loaded.objects);
        r.edges
            .iter()
            .map(|e| {
                (
                    loaded.objects[e.from].display_name(),
                    loaded.objects[e.to].display_name(),
                    e.kind,
                    e.strength,
                )
            })
            .collect()
    }

    #[test]
    fn argo_rollouts_are_workloads_behind_services() {
        let e = edges(
            "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: d}\nspec: {selector: {app: api}}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: api, namespace: d}\nspec:\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: api, image: api, envFrom: [{secretRef: {name: s}}]}]}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: d}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: d}\nspec:\n  template:\n    spec: {containers: [{name: web, image: web, env: [{name: API, value: 'http://api:8080'}]}]}\n",
        );
        let has = |from: &str, to: &str, kind, strength| {
            e.contains(&(from.to_string(), to.to_string(), kind, strength))
        };
        assert!(
            has(
                "Deployment/d/web",
                "Rollout/d/api",
                EdgeKind::Dns,
                Strength::Ready
            ),
            "{e:#?}"
        );
        assert!(has(
            "Deployment/d/web",
            "Service/d/api",
            EdgeKind::Dns,
            Strength::Exists
        ));
        assert!(has(
            "Rollout/d/api",
            "Secret/d/s",
            EdgeKind::Secret,
            Strength::Exists
        ));
    }

    #[test]
    fn a_service_without_selector_has_no_workloads_and_peers_need_no_order() {
        let e = edges(
            "apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: d}\nspec: {type: ExternalName, externalName: db.example.com}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: d}\nspec: {selector: {app: db}}\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: d}\nspec:\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: db, image: db, args: ['--join=db-0.db.d.svc.cluster.local:5432', '--ext=ext:5432']}]}\n",
        );
        assert!(
            !e.iter().any(|x| x.3 == Strength::Ready),
            "peers and selector-less Services: {e:#?}"
        );
        assert!(e.contains(&(
            "StatefulSet/d/db".into(),
            "Service/d/ext".into(),
            EdgeKind::Dns,
            Strength::Exists
        )));
    }
}
