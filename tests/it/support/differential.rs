//! Comparing two traces of one sync: Argo CD's engine (`testenv/argocd`) and ours, each run on
//! the same manifests in its own namespace of the same cluster, recorded by
//! [`super::recorder::Recorder`].
//!
//! A trace becomes a sequence of *groups*. Each recorded write of an object of the case is a
//! step: a creation (ADDED), or the start of a deletion (the first MODIFIED carrying a
//! `deletionTimestamp`, else DELETED). Consecutive steps with the same label form one group,
//! compared as a set, because inside a group neither engine promises an order:
//! - creation: label `create <phase> <wave> <Kind>` — gitops-engine applies the tasks of one
//!   (phase, wave) kind by kind, the objects of one kind concurrently; objects that tie in its
//!   sort (same phase, wave, kind and name) come out of a Go map in no defined order;
//! - deletion of a hook: label `delete hook` — hook clean-up (HookSucceeded, HookFailed,
//!   BeforeHookCreation) runs concurrently over the hooks it concerns;
//! - deletion of anything else (a prune): label `prune <wave>` — the prune tasks of one wave
//!   run concurrently, whatever their kind.
//!
//! Phase and wave come from the object's own annotations as the cluster stored them (Argo
//! CD's, else Helm's), so the labels say nothing about either engine's reading of them: two
//! traces are equal when the cluster saw the same writes in the same order up to
//! reordering inside a group.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;

use super::recorder::Write;

/// The objects a case may write, to recognise them in a trace: fixed names and `generateName`
/// prefixes, per kind. Anything else in the namespace (controller-made Pods and ReplicaSets,
/// `kube-root-ca.crt`, our inventory Secret and Lease) is not part of the comparison.
#[derive(Debug, Default, Clone)]
pub struct Identities {
    names: HashSet<(String, String)>,
    prefixes: Vec<(String, String)>,
}

impl Identities {
    /// From the manifests of a case (every sync of it).
    pub fn of(docs: &[serde_json::Value]) -> Identities {
        let mut ids = Identities::default();
        for doc in docs {
            let kind = doc["kind"].as_str().unwrap_or_default().to_string();
            let meta = &doc["metadata"];
            if let Some(name) = meta["name"].as_str() {
                ids.names.insert((kind, name.to_string()));
            } else if let Some(prefix) = meta["generateName"].as_str() {
                ids.prefixes.push((kind, prefix.to_string()));
            }
        }
        // Longest prefix first, so `a-b-` wins over `a-`.
        ids.prefixes
            .sort_by_key(|(_, p)| std::cmp::Reverse(p.len()));
        ids
    }

    /// How `kind/name` is named in a comparison: its name, or `prefix*` for a generated one;
    /// `None` when the object is not one of the case's.
    pub fn identify(&self, kind: &str, name: &str) -> Option<String> {
        if self.names.contains(&(kind.to_string(), name.to_string())) {
            return Some(name.to_string());
        }
        self.prefixes
            .iter()
            .find(|(k, p)| k == kind && name.starts_with(p.as_str()))
            .map(|(_, p)| format!("{p}*"))
    }
}

/// The per-engine renaming of what a case writes outside the engine's own namespace, so
/// that the two engines, syncing side by side into one cluster, never write the same object:
/// - every namespace the case names (a Namespace object, a `metadata.namespace`, a binding's
///   subject) gets the suffix: `shop` becomes `shop-<suffix>`;
/// - every CustomResourceDefinition's group gets it as a first label (`example.com` becomes
///   `<suffix>.example.com`, the CRD's name `widgets.<suffix>.example.com`), and so does the
///   `apiVersion` of the case's objects of that group;
/// - every other cluster-scoped object (`cluster_scoped` kinds: ClusterRole, …) gets it on
///   its name, and so do the role references naming a renamed ClusterRole.
///
/// [`Renaming::original`] maps a renamed object back, so the two traces compare by the
/// case's own names.
#[derive(Debug, Default, Clone)]
pub struct Renaming {
    suffix: String,
    /// original namespace → renamed
    pub namespaces: BTreeMap<String, String>,
    /// original CRD group → renamed
    groups: BTreeMap<String, String>,
    /// (kind, renamed name) → original name, for cluster-scoped objects and CRDs
    originals: BTreeMap<(String, String), String>,
    cluster_scoped: BTreeSet<String>,
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

impl Renaming {
    /// The renaming of `docs` (every sync of a case) for the engine whose suffix is `suffix`.
    /// `cluster_scoped`: the kinds (besides Namespace and CustomResourceDefinition) that are
    /// cluster-scoped.
    pub fn of(
        docs: &[serde_json::Value],
        suffix: &str,
        cluster_scoped: &BTreeSet<String>,
    ) -> Renaming {
        let mut r = Renaming {
            suffix: suffix.to_string(),
            cluster_scoped: cluster_scoped.clone(),
            ..Renaming::default()
        };
        for doc in docs {
            let kind = doc["kind"].as_str().unwrap_or_default();
            let meta = &doc["metadata"];
            if kind == "Namespace"
                && group_of(doc["apiVersion"].as_str().unwrap_or_default()).is_empty()
                && let Some(name) = meta["name"].as_str()
            {
                r.add_namespace(name);
            }
            if let Some(ns) = meta["namespace"].as_str() {
                r.add_namespace(ns);
            }
            for subject in doc["subjects"].as_array().into_iter().flatten() {
                if let Some(ns) = subject["namespace"].as_str() {
                    r.add_namespace(ns);
                }
            }
            if kind == "CustomResourceDefinition"
                && let Some(group) = doc["spec"]["group"].as_str()
            {
                r.groups
                    .insert(group.to_string(), format!("{suffix}.{group}"));
            }
        }
        for doc in docs {
            let kind = doc["kind"].as_str().unwrap_or_default();
            let Some(name) = doc["metadata"]["name"].as_str() else {
                continue;
            };
            if let Some(renamed) = r.cluster_name(kind, name, doc) {
                r.originals
                    .insert((kind.to_string(), renamed), name.to_string());
            }
        }
        r
    }

    fn add_namespace(&mut self, ns: &str) {
        let renamed = format!("{ns}-{}", self.suffix);
        self.originals
            .insert(("Namespace".to_string(), renamed.clone()), ns.to_string());
        self.namespaces.insert(ns.to_string(), renamed);
    }

    /// The renamed name of a cluster-scoped object `kind/name` (`doc` for a CRD's group),
    /// `None` for a namespaced one.
    fn cluster_name(&self, kind: &str, name: &str, doc: &serde_json::Value) -> Option<String> {
        match kind {
            "Namespace" => self.namespaces.get(name).cloned(),
            "CustomResourceDefinition" => {
                let group = doc["spec"]["group"].as_str()?;
                let plural = doc["spec"]["names"]["plural"].as_str()?;
                Some(format!("{plural}.{}", self.groups.get(group)?))
            }
            k if self.cluster_scoped.contains(k) => Some(format!("{name}-{}", self.suffix)),
            _ => None,
        }
    }

    /// `doc` as this engine syncs it.
    pub fn apply(&self, doc: &serde_json::Value) -> serde_json::Value {
        let mut doc = doc.clone();
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        let api_version = doc["apiVersion"].as_str().unwrap_or_default();
        if api_version.contains('/') {
            doc["apiVersion"] = self.api_version(api_version).into();
        }
        if let Some(name) = doc["metadata"]["name"].as_str().map(str::to_string)
            && let Some(renamed) = self.cluster_name(&kind, &name, &doc)
        {
            doc["metadata"]["name"] = renamed.into();
        }
        if kind == "CustomResourceDefinition"
            && let Some(renamed) = doc["spec"]["group"]
                .as_str()
                .and_then(|g| self.groups.get(g))
        {
            doc["spec"]["group"] = renamed.clone().into();
        }
        if let Some(renamed) = doc["metadata"]["namespace"]
            .as_str()
            .and_then(|ns| self.namespaces.get(ns))
        {
            doc["metadata"]["namespace"] = renamed.clone().into();
        }
        // `get_mut`, not `doc["subjects"]`: indexing a missing key mutably would add it.
        if let Some(subjects) = doc.get_mut("subjects").and_then(|s| s.as_array_mut()) {
            for subject in subjects {
                if let Some(renamed) = subject["namespace"]
                    .as_str()
                    .and_then(|ns| self.namespaces.get(ns))
                {
                    subject["namespace"] = renamed.clone().into();
                }
            }
        }
        // A reference to one of the case's ClusterRoles (not to a cluster's own, `view`).
        if doc["roleRef"]["kind"] == "ClusterRole"
            && let Some(name) = doc["roleRef"]["name"].as_str()
        {
            let renamed = format!("{name}-{}", self.suffix);
            if self
                .originals
                .contains_key(&("ClusterRole".to_string(), renamed.clone()))
            {
                doc["roleRef"]["name"] = renamed.into();
            }
        }
        doc
    }

    /// The case's own name of the object `kind/name` this engine wrote.
    pub fn original(&self, kind: &str, name: &str) -> String {
        self.originals
            .get(&(kind.to_string(), name.to_string()))
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    /// The renamed names of the cluster-scoped objects of `kind`.
    pub fn cluster_names(&self, kind: &str) -> HashSet<String> {
        self.originals
            .keys()
            .filter(|(k, _)| k == kind)
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// The renamed apiVersion of `api_version`.
    pub fn api_version(&self, api_version: &str) -> String {
        match api_version.rsplit_once('/') {
            Some((group, version)) => match self.groups.get(group) {
                Some(renamed) => format!("{renamed}/{version}"),
                None => api_version.to_string(),
            },
            None => api_version.to_string(),
        }
    }
}

/// One group: a label and the objects (`Kind/identity`) it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub label: String,
    pub members: BTreeSet<String>,
}

impl std::fmt::Display for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let members: Vec<&str> = self.members.iter().map(String::as_str).collect();
        write!(f, "{} {{{}}}", self.label, members.join(", "))
    }
}

fn annotation<'a>(object: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key].as_str()
}

/// The hook phases of an object as written (`PreSync`, `PreSync,PostSync`, a Helm hook
/// list), or `None` for a non-hook object.
fn hook_of(object: &serde_json::Value) -> Option<String> {
    annotation(object, "argocd.argoproj.io/hook")
        .or_else(|| annotation(object, "helm.sh/hook"))
        .map(|h| h.split(',').map(str::trim).collect::<Vec<_>>().join(","))
}

fn wave_of(object: &serde_json::Value) -> String {
    annotation(object, "argocd.argoproj.io/sync-wave")
        .or_else(|| annotation(object, "helm.sh/hook-weight"))
        .map(|w| w.trim().to_string())
        .unwrap_or_else(|| "0".to_string())
}

fn is_owned(object: &serde_json::Value) -> bool {
    object["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| !refs.is_empty())
}

/// The groups of a trace (see the module's documentation).
pub fn groups(trace: &[Write], ids: &Identities) -> Vec<Group> {
    let mut steps: Vec<(String, String, Option<Tie>)> = Vec::new();
    // uids whose deletion was already seen starting
    let mut deleting: HashSet<String> = HashSet::new();
    for w in trace {
        if is_owned(&w.object) {
            continue;
        }
        let Some(id) = ids.identify(&w.kind, &w.name) else {
            continue;
        };
        let uid = w.object["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let member = format!("{}/{id}", w.kind);
        let being_deleted = !w.object["metadata"]["deletionTimestamp"].is_null();
        let mut tie = None;
        let label = match w.kind_of_event {
            "ADDED" if !being_deleted => {
                let phase = hook_of(&w.object).unwrap_or_else(|| "Sync".to_string());
                // The SyncFail hooks are applied in one round, kind group by kind group
                // whatever their wave.
                let prefix = if phase == "SyncFail" {
                    format!("create {phase}")
                } else {
                    format!("create {phase} {}", wave_of(&w.object))
                };
                tie = tie_of(&prefix, &w.kind, &id);
                format!("{prefix} {}", w.kind)
            }
            "MODIFIED" | "DELETED" if (being_deleted || w.kind_of_event == "DELETED") => {
                if !deleting.insert(uid) {
                    continue;
                }
                match hook_of(&w.object) {
                    Some(_) => "delete hook".to_string(),
                    None => format!("prune {}", wave_of(&w.object)),
                }
            }
            _ => continue,
        };
        steps.push((label, member, tie));
    }
    // Consecutive creations that tie in Argo CD's sort (objects of kinds outside its kind
    // order, in one phase and wave, with one name) come in no defined order there: put each
    // such run in one order (by kind) before grouping.
    let mut i = 0;
    while i < steps.len() {
        let mut j = i + 1;
        while steps[i].2.is_some() && j < steps.len() && steps[j].2 == steps[i].2 {
            j += 1;
        }
        steps[i..j].sort_by(|a, b| a.1.cmp(&b.1));
        i = j;
    }
    let mut out: Vec<Group> = Vec::new();
    for (label, member, _) in steps {
        match out.last_mut() {
            Some(g) if g.label == label => {
                g.members.insert(member);
            }
            _ => out.push(Group {
                label,
                members: BTreeSet::from([member]),
            }),
        }
    }
    out
}

/// (`create <phase> <wave>`, identity): see [`tie_of`].
type Tie = (String, String);

/// The tie of a creation in Argo CD's sort: for a kind outside its kind order, (`create
/// <phase> <wave>`, name); objects with the same tie are sorted in no defined order. Argo CD's
/// kind order is SPEC §3's, which `plan` uses too.
fn tie_of(label_prefix: &str, kind: &str, id: &str) -> Option<Tie> {
    (!kubectl_waves::model::known::KIND_ORDER.contains(&kind))
        .then(|| (label_prefix.to_string(), id.to_string()))
}

/// The outcome of one engine's run, as compared: `Succeeded` or `Failed` (anything else is
/// shown as it is and never equal to the other side's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub outcome: String,
    pub groups: Vec<Group>,
    /// `manager operation` of every managedFields entry the case's objects were written with
    /// (not compared: D4 is about them).
    pub managers: BTreeSet<String>,
}

/// The field managers of the case's objects in a trace (`manager operation`).
pub fn managers(trace: &[Write], ids: &Identities) -> BTreeSet<String> {
    trace
        .iter()
        .filter(|w| w.kind_of_event != "DELETED" && ids.identify(&w.kind, &w.name).is_some())
        .filter(|w| !is_owned(&w.object))
        .flat_map(|w| {
            w.object["metadata"]["managedFields"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|f| {
            format!(
                "{} {}",
                f["manager"].as_str().unwrap_or_default(),
                f["operation"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// Whether the difference between the two sides is exactly the documented difference `id`
/// says (docs/argocd-differences.md), and nothing else; `Err` says what does not fit.
pub fn shows_exactly(id: &str, argocd: &Side, ours: &Side) -> Result<(), String> {
    let same_writes = argocd.groups == ours.groups && argocd.outcome == ours.outcome;
    let fits = match id {
        // Our refusal: nothing written, exit 2; Argo CD's engine syncs the input.
        "D1" => {
            ours.groups.is_empty()
                && ours.outcome == "exit Some(2)"
                && argocd.outcome == "Succeeded"
                && !argocd.groups.is_empty()
        }
        // The same writes; only the end differs: Argo CD's engine does not await the last
        // step's health, we do.
        "D2" => {
            argocd.groups == ours.groups
                && argocd.outcome == "Succeeded"
                && ours.outcome == "Failed"
        }
        // Not visible in the writes: the same groups and outcome.
        "D3" | "D5" => same_writes,
        // The same writes, applied server-side by us and client-side by the engine.
        "D4" => {
            same_writes
                && ours.managers.contains("kubectl-waves Apply")
                && !argocd.managers.iter().any(|m| m.ends_with(" Apply"))
        }
        // The server's dry run refuses before anything is written; the engine writes the
        // earlier waves and fails.
        "D6" => {
            ours.groups.is_empty()
                && ours.outcome != "Succeeded"
                && argocd.outcome == "Failed"
                && !argocd.groups.is_empty()
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "the runs do not show exactly {id} (docs/argocd-differences.md): Argo CD's engine {} with {} groups, managers {:?}; kubectl-waves {} with {} groups, managers {:?}",
            argocd.outcome,
            argocd.groups.len(),
            argocd.managers,
            ours.outcome,
            ours.groups.len(),
            ours.managers
        ))
    }
}

/// `None` when both sides agree; otherwise a side-by-side table of the two, the rows that
/// differ marked `≠`.
pub fn compare(argocd: &Side, ours: &Side) -> Option<String> {
    if argocd.outcome == ours.outcome && argocd.groups == ours.groups {
        return None;
    }
    let left: Vec<String> = argocd
        .groups
        .iter()
        .map(ToString::to_string)
        .chain([format!("result {}", argocd.outcome)])
        .collect();
    let right: Vec<String> = ours
        .groups
        .iter()
        .map(ToString::to_string)
        .chain([format!("result {}", ours.outcome)])
        .collect();
    Some(side_by_side(&left, &right))
}

/// Rows `#  ARGO CD  KUBECTL-WAVES`, wrapped at 60 columns per side.
fn side_by_side(left: &[String], right: &[String]) -> String {
    const WIDTH: usize = 60;
    let rows = left.len().max(right.len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "   {:<3} {:<WIDTH$} | KUBECTL-WAVES",
        "#", "ARGO CD ENGINE"
    );
    for i in 0..rows {
        let l = left.get(i).map(String::as_str).unwrap_or("");
        let r = right.get(i).map(String::as_str).unwrap_or("");
        let mark = if l == r { " " } else { "≠" };
        let lw = wrap(l, WIDTH);
        let rw = wrap(r, WIDTH);
        for line in 0..lw.len().max(rw.len()) {
            let number = if line == 0 {
                (i + 1).to_string()
            } else {
                String::new()
            };
            let m = if line == 0 { mark } else { " " };
            let _ = writeln!(
                out,
                " {m} {number:<3} {:<WIDTH$} | {}",
                lw.get(line).map(String::as_str).unwrap_or(""),
                rw.get(line).map(String::as_str).unwrap_or("")
            );
        }
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// The differences `docs/argocd-differences.md` documents: its `### D<n>: …` headings, by id.
pub fn documented_differences(markdown: &str) -> BTreeMap<String, String> {
    markdown
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .filter_map(|h| h.split_once(": "))
        .filter(|(id, _)| id.starts_with('D') && id[1..].chars().all(|c| c.is_ascii_digit()))
        .map(|(id, title)| (id.to_string(), title.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(rv: u64, what: &'static str, kind: &str, object: serde_json::Value) -> Write {
        Write {
            rv,
            kind_of_event: what,
            kind: kind.to_string(),
            name: object["metadata"]["name"].as_str().unwrap().to_string(),
            object,
        }
    }

    fn obj(name: &str, annotations: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"name": name, "uid": format!("uid-{name}"), "annotations": annotations}})
    }

    fn ids() -> Identities {
        Identities::of(&[
            json!({"kind": "ConfigMap", "metadata": {"name": "a"}}),
            json!({"kind": "ConfigMap", "metadata": {"name": "b"}}),
            json!({"kind": "Secret", "metadata": {"name": "s"}}),
            json!({"kind": "Job", "metadata": {"generateName": "smoke-"}}),
            json!({"kind": "Job", "metadata": {"name": "migrate"}}),
        ])
    }

    #[test]
    fn a_group_is_a_set_and_generated_names_compare_by_prefix() {
        let hook = json!({"argocd.argoproj.io/hook": "PostSync"});
        let argo = [
            write(1, "ADDED", "Secret", obj("s", json!({}))),
            write(2, "ADDED", "ConfigMap", obj("a", json!({}))),
            write(3, "ADDED", "ConfigMap", obj("b", json!({}))),
            write(4, "ADDED", "Job", obj("smoke-abc-postsync", hook.clone())),
        ];
        let ours = [
            write(11, "ADDED", "Secret", obj("s", json!({}))),
            write(12, "ADDED", "ConfigMap", obj("b", json!({}))),
            write(13, "ADDED", "ConfigMap", obj("a", json!({}))),
            // not one of the case's objects: ignored
            write(14, "ADDED", "Secret", obj("inventory", json!({}))),
            write(15, "ADDED", "Job", obj("smoke-xyz-postsync", hook)),
        ];
        let a = groups(&argo, &ids());
        assert_eq!(a.len(), 3, "{a:?}");
        assert_eq!(
            a[1].to_string(),
            "create Sync 0 ConfigMap {ConfigMap/a, ConfigMap/b}"
        );
        assert_eq!(a[2].to_string(), "create PostSync 0 Job {Job/smoke-*}");
        let side = |groups| Side {
            outcome: "Succeeded".into(),
            groups,
            managers: BTreeSet::new(),
        };
        assert_eq!(compare(&side(a), &side(groups(&ours, &ids()))), None);
    }

    #[test]
    fn an_order_across_groups_is_a_difference_shown_side_by_side() {
        let argo = [
            write(1, "ADDED", "Secret", obj("s", json!({}))),
            write(2, "ADDED", "ConfigMap", obj("a", json!({}))),
        ];
        let ours = [
            write(1, "ADDED", "ConfigMap", obj("a", json!({}))),
            write(2, "ADDED", "Secret", obj("s", json!({}))),
        ];
        let side = |t: &[Write]| Side {
            outcome: "Succeeded".into(),
            groups: groups(t, &ids()),
            managers: BTreeSet::new(),
        };
        let table = compare(&side(&argo), &side(&ours)).expect("a difference");
        assert!(table.contains("ARGO CD ENGINE"), "{table}");
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[1].starts_with(" ≠ 1"), "{table}");
        assert!(
            lines[1].contains("create Sync 0 Secret {Secret/s}"),
            "{table}"
        );
        assert!(
            lines[1].ends_with("create Sync 0 ConfigMap {ConfigMap/a}"),
            "{table}"
        );
        assert!(lines[3].starts_with("   3"), "the results agree: {table}");
    }

    #[test]
    fn deletions_count_once_from_their_start_hooks_and_prunes_apart() {
        let hook = json!({"argocd.argoproj.io/hook": "PreSync"});
        let mut deleting = obj("migrate", hook.clone());
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let mut pruning = obj("a", json!({"argocd.argoproj.io/sync-wave": "3"}));
        pruning["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let trace = [
            write(1, "ADDED", "Job", obj("migrate", hook)),
            write(2, "MODIFIED", "Job", deleting.clone()),
            write(3, "DELETED", "Job", deleting),
            write(4, "DELETED", "ConfigMap", pruning),
        ];
        let g: Vec<String> = groups(&trace, &ids())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            g,
            [
                "create PreSync 0 Job {Job/migrate}",
                "delete hook {Job/migrate}",
                "prune 3 {ConfigMap/a}"
            ]
        );
    }

    #[test]
    fn objects_of_unknown_kinds_with_one_name_tie_and_compare_as_a_set() {
        let obj = |name: &str| obj(name, json!({"argocd.argoproj.io/sync-wave": "2"}));
        let ids = Identities::of(&[
            json!({"kind": "User", "metadata": {"name": "t"}}),
            json!({"kind": "Vhost", "metadata": {"name": "t"}}),
            json!({"kind": "Vhost", "metadata": {"name": "u"}}),
            json!({"kind": "ConfigMap", "metadata": {"name": "t"}}),
            json!({"kind": "Secret", "metadata": {"name": "t"}}),
        ]);
        let argo = [
            write(1, "ADDED", "User", obj("t")),
            write(2, "ADDED", "Vhost", obj("t")),
            write(3, "ADDED", "Vhost", obj("u")),
        ];
        let ours = [
            write(1, "ADDED", "Vhost", obj("t")),
            write(2, "ADDED", "User", obj("t")),
            write(3, "ADDED", "Vhost", obj("u")),
        ];
        let a: Vec<String> = groups(&argo, &ids)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            a,
            [
                "create Sync 2 User {User/t}",
                "create Sync 2 Vhost {Vhost/t, Vhost/u}"
            ]
        );
        let o: Vec<String> = groups(&ours, &ids)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(a, o);
        // Known kinds never tie: Argo CD orders them by kind.
        let known = [
            write(1, "ADDED", "ConfigMap", obj("t")),
            write(2, "ADDED", "Secret", obj("t")),
        ];
        assert_eq!(groups(&known, &ids).len(), 2);
    }

    #[test]
    fn owned_objects_are_not_the_cases() {
        let mut pod = obj("migrate", json!({}));
        pod["metadata"]["ownerReferences"] = json!([{"kind": "Job", "name": "migrate"}]);
        assert!(groups(&[write(1, "ADDED", "Job", pod)], &ids()).is_empty());
    }

    #[test]
    fn a_documented_difference_must_be_exactly_that_one() {
        let g = |label: &str| Group {
            label: label.into(),
            members: BTreeSet::from(["ConfigMap/a".to_string()]),
        };
        let side = |outcome: &str, groups: Vec<Group>, managers: &[&str]| Side {
            outcome: outcome.into(),
            groups,
            managers: managers.iter().map(|m| m.to_string()).collect(),
        };
        let written = vec![g("create Sync 0 ConfigMap")];
        let argo = side("Succeeded", written.clone(), &["argocd-sync Update"]);
        assert!(shows_exactly("D1", &argo, &side("exit Some(2)", vec![], &[])).is_ok());
        // a refusal that still wrote something is not D1
        assert!(shows_exactly("D1", &argo, &side("exit Some(2)", written.clone(), &[])).is_err());
        assert!(shows_exactly("D2", &argo, &side("Failed", written.clone(), &[])).is_ok());
        // D2 with other writes is more than D2
        assert!(shows_exactly("D2", &argo, &side("Failed", vec![], &[])).is_err());
        let ssa = side("Succeeded", written.clone(), &["kubectl-waves Apply"]);
        assert!(shows_exactly("D4", &argo, &ssa).is_ok());
        assert!(shows_exactly("D4", &ssa, &ssa).is_err(), "both server-side");
        assert!(shows_exactly("D3", &argo, &ssa).is_ok());
        assert!(shows_exactly("D5", &argo, &side("Failed", written, &[])).is_err());
        assert!(shows_exactly("D9", &argo, &ssa).is_err(), "unknown");
    }

    #[test]
    fn a_renaming_moves_namespaces_crd_groups_and_cluster_objects_and_maps_them_back() {
        let docs = [
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}}),
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "widgets.example.com"},
                "spec": {"group": "example.com", "names": {"plural": "widgets", "kind": "Widget"}}}),
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "b"},
                "roleRef": {"kind": "ClusterRole", "name": "reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "other"}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "v"},
                "roleRef": {"kind": "ClusterRole", "name": "view"}}),
        ];
        let cluster: BTreeSet<String> = ["ClusterRole", "ClusterRoleBinding"]
            .map(String::from)
            .into();
        let r = Renaming::of(&docs, "x1", &cluster);
        let out: Vec<serde_json::Value> = docs.iter().map(|d| r.apply(d)).collect();
        assert_eq!(out[0]["metadata"]["name"], "shop-x1");
        assert_eq!(out[1]["metadata"]["namespace"], "shop-x1");
        assert!(
            out[2]["metadata"]["namespace"].is_null(),
            "the engine's own namespace"
        );
        assert_eq!(out[3]["metadata"]["name"], "widgets.x1.example.com");
        assert_eq!(out[3]["spec"]["group"], "x1.example.com");
        assert_eq!(out[4]["apiVersion"], "x1.example.com/v1");
        assert_eq!(out[4]["metadata"]["namespace"], "shop-x1");
        assert_eq!(out[5]["metadata"]["name"], "reader-x1");
        assert_eq!(out[6]["metadata"]["name"], "b-x1");
        assert_eq!(out[6]["roleRef"]["name"], "reader-x1");
        assert_eq!(out[6]["subjects"][0]["namespace"], "other-x1");
        assert_eq!(out[7]["roleRef"]["name"], "view", "not one of the case's");
        assert_eq!(r.original("Namespace", "shop-x1"), "shop");
        assert_eq!(
            r.original("CustomResourceDefinition", "widgets.x1.example.com"),
            "widgets.example.com"
        );
        assert_eq!(r.original("ClusterRole", "reader-x1"), "reader");
        assert_eq!(r.original("Widget", "w"), "w");
        assert_eq!(r.api_version("example.com/v1"), "x1.example.com/v1");
        assert_eq!(
            r.cluster_names("Namespace"),
            HashSet::from(["shop-x1".to_string(), "other-x1".to_string()])
        );
    }

    #[test]
    fn documented_differences_are_the_d_headings() {
        let md = "# x\n### D1: strict errors\ntext\n### Not one\n### D12: no 2 s delay\n";
        let d = documented_differences(md);
        assert_eq!(d.keys().collect::<Vec<_>>(), ["D1", "D12"]);
        assert_eq!(d["D12"], "no 2 s delay");
    }
}
