//! Argo CD's order of sync tasks (gitops-engine `pkg/sync/sync_tasks.go`): phase, wave, kind,
//! name, then Namespaces and CRDs bubbled up to their first user. One function per rule.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::model::known::KIND_ORDER;
use crate::model::{Object, Phase};

/// One object in one phase: Argo CD's sync task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    /// Index into the plan's objects.
    pub object: usize,
    pub phase: Phase,
    pub wave: i64,
}

/// Rank of a kind: known kinds in `KIND_ORDER` order, every other kind after them, all equal.
pub fn kind_rank(kind: &str) -> usize {
    KIND_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(KIND_ORDER.len())
}

/// Phase order: PreSync, Sync, PostSync, SyncFail.
pub fn phase_rank(phase: Phase) -> u8 {
    match phase {
        Phase::PreSync => 0,
        Phase::Sync => 1,
        Phase::PostSync => 2,
        Phase::SyncFail => 3,
    }
}

/// Argo CD's `Less`, with our tie-breakers (namespace, group, kind) so the order is total.
/// Waves are compared, not subtracted, so extreme values cannot overflow.
pub fn compare(a: &Task, b: &Task, objects: &[Object]) -> Ordering {
    let (oa, ob) = (&objects[a.object], &objects[b.object]);
    phase_rank(a.phase)
        .cmp(&phase_rank(b.phase))
        .then(a.wave.cmp(&b.wave))
        .then(kind_rank(&oa.kind).cmp(&kind_rank(&ob.kind)))
        .then_with(|| oa.name.cmp(&ob.name))
        .then_with(|| oa.namespace.cmp(&ob.namespace))
        .then_with(|| oa.group.cmp(&ob.group))
        .then_with(|| oa.kind.cmp(&ob.kind))
        .then(a.object.cmp(&b.object))
}

/// Sorts tasks exactly as Argo CD, including the dependency adjustments.
pub fn sort(tasks: &mut [Task], objects: &[Object]) {
    tasks.sort_by(|a, b| compare(a, b, objects));
    // Namespaces before the objects in them.
    adjust_dependencies(
        tasks,
        objects,
        |o| (o.kind == "Namespace" && o.group.is_empty()).then(|| o.name.clone()),
        |o| (!o.namespace.is_empty()).then(|| o.namespace.clone()),
    );
    // CRDs before their custom resources.
    adjust_dependencies(tasks, objects, crd_key, |o| {
        Some(format!("{}/{}", o.group, o.kind))
    });
}

/// `group/Kind` that a CRD defines.
fn crd_key(o: &Object) -> Option<String> {
    if o.kind != "CustomResourceDefinition" || o.group != "apiextensions.k8s.io" {
        return None;
    }
    let spec = o.value.get("spec")?;
    let group = spec.get("group")?.as_str()?;
    let kind = spec.get("names")?.get("kind")?.as_str()?;
    Some(format!("{group}/{kind}"))
}

/// gitops-engine's `adjustDeps`: a dependency that sorts after its first user moves right
/// before it and takes that user's phase and wave.
fn adjust_dependencies(
    tasks: &mut [Task],
    objects: &[Object],
    is_dependency: impl Fn(&Object) -> Option<String>,
    depends_on: impl Fn(&Object) -> Option<String>,
) {
    let mut first_user: HashMap<String, usize> = HashMap::new();
    for i in 0..tasks.len() {
        let obj = &objects[tasks[i].object];
        if let Some(key) = is_dependency(obj) {
            if let Some(&index) = first_user.get(&key) {
                let mut moved = tasks[i];
                moved.phase = tasks[index].phase;
                moved.wave = tasks[index].wave;
                tasks.copy_within(index..i, index + 1);
                tasks[index] = moved;
                for first in first_user.values_mut() {
                    if *first >= index {
                        *first += 1;
                    }
                }
            }
        } else if let Some(key) = depends_on(obj) {
            first_user.entry(key).or_insert(i);
        }
    }
}
