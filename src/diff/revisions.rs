//! Two revisions of the manifests against each other, with no cluster: per step, which
//! objects appear, disappear, change, or move to another step, so a reviewer sees the
//! ordering effect of a change. The steps are the plans' own (never ordered a second time).

use std::collections::{BTreeMap, HashMap};

use super::normalize::strip_noise;
use super::{DiffAction, DiffReport, ObjectDiff, StepDiff, StepRef};
use crate::model::{ObjectKey, Phase};
use crate::plan::{Plan, Task};
use crate::sync::ObjectInfo;

/// An entry's place in its step: (0, order in the second revision) or (1, order in the
/// first, for what it removed).
type SortKey = (u8, usize);

/// Where a plan runs an object: its step and its place in the execution order.
#[derive(Debug, Clone, Copy)]
struct Position {
    step: StepRef,
    object: usize,
    order: usize,
}

/// Every task of a plan in execution order, SyncFail hooks last.
fn positions(plan: &Plan) -> Vec<Position> {
    let step_tasks = plan.steps.iter().flat_map(|s| {
        s.tasks().map(move |t| {
            (
                StepRef {
                    phase: s.phase,
                    wave: s.wave,
                },
                t,
            )
        })
    });
    let sync_fail = plan.sync_fail.iter().map(|t: &Task| {
        (
            StepRef {
                phase: Phase::SyncFail,
                wave: 0,
            },
            t,
        )
    });
    step_tasks
        .chain(sync_fail)
        .enumerate()
        .map(|(order, (step, t))| Position {
            step,
            object: t.object,
            order,
        })
        .collect()
}

fn info(plan: &Plan, object: usize) -> ObjectInfo {
    let o = &plan.objects[object];
    ObjectInfo {
        api_version: o.api_version.to_string(),
        kind: o.kind.to_string(),
        namespace: o.namespace.to_string(),
        name: o.name.clone(),
        source: o.source.to_string(),
    }
}

fn normalized(plan: &Plan, object: usize) -> serde_json::Value {
    let mut v = plan.objects[object].value();
    strip_noise(&mut v);
    v
}

/// Compares plan `a` (the first revision, named `from`) with plan `b` (`to`).
pub fn compare(a: &Plan, b: &Plan, from: &str, to: &str) -> DiffReport {
    let a_positions = positions(a);
    let b_positions = positions(b);
    let mut in_a: HashMap<ObjectKey, Vec<(Position, bool)>> = HashMap::new();
    for p in &a_positions {
        in_a.entry(a.objects[p.object].key())
            .or_default()
            .push((*p, false));
    }
    let count_b: HashMap<ObjectKey, usize> = b_positions.iter().fold(HashMap::new(), |mut m, p| {
        *m.entry(b.objects[p.object].key()).or_insert(0) += 1;
        m
    });

    // Step → (sort key, entry): the second revision's order first, then what it removed.
    let mut by_step: BTreeMap<StepRef, Vec<(SortKey, ObjectDiff)>> = BTreeMap::new();
    for p in &b_positions {
        let key = b.objects[p.object].key();
        let candidates = in_a.get_mut(&key);
        let paired = candidates.and_then(|list| {
            let single = list.len() == 1 && count_b.get(&key) == Some(&1);
            let i = list
                .iter()
                .position(|(q, used)| !used && q.step.phase == p.step.phase)
                .or_else(|| single.then_some(0).filter(|&i| !list[i].1))?;
            list[i].1 = true;
            Some(list[i].0)
        });
        let entry = match paired {
            None => ObjectDiff::new(info(b, p.object), DiffAction::Added)
                .with_versions(None, Some(normalized(b, p.object))),
            Some(q) => {
                let before = normalized(a, q.object);
                let after = normalized(b, p.object);
                let action = if q.step != p.step {
                    DiffAction::Moved
                } else if before != after {
                    DiffAction::Changed
                } else {
                    DiffAction::Unchanged
                };
                let mut d = ObjectDiff::new(info(b, p.object), action)
                    .with_versions(Some(before), Some(after));
                if action == DiffAction::Moved {
                    d.from = Some(q.step);
                    d.message = Some(format!("moves from {} to {}", q.step, p.step));
                }
                d
            }
        };
        by_step
            .entry(p.step)
            .or_default()
            .push(((0, p.order), entry));
    }
    for list in in_a.values() {
        for (q, used) in list {
            if *used {
                continue;
            }
            let entry = ObjectDiff::new(info(a, q.object), DiffAction::Removed)
                .with_versions(Some(normalized(a, q.object)), None);
            by_step
                .entry(q.step)
                .or_default()
                .push(((1, q.order), entry));
        }
    }
    let steps = by_step
        .into_iter()
        .map(|(step, mut entries)| {
            entries.sort_by_key(|(k, _)| *k);
            StepDiff::new(step, entries.into_iter().map(|(_, d)| d).collect())
        })
        .collect();
    DiffReport::new(from.to_string(), to.to_string(), steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{InputFile, parse_files};
    use crate::plan::PlanOptions;

    fn plan(text: &str, rev: &str) -> Plan {
        let files = vec![InputFile {
            display: format!("{rev}:app.yaml").into(),
            text: text.to_string(),
            json: false,
        }];
        Plan::build(parse_files(&files), PlanOptions::default())
    }

    const A: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: config
  annotations:
    argocd.argoproj.io/sync-wave: \"1\"
data:
  a: \"1\"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: same
data:
  b: \"2\"
---
apiVersion: v1
kind: Secret
metadata:
  name: old
stringData:
  password: hunter2
";

    const B: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: config
  annotations:
    argocd.argoproj.io/sync-wave: \"2\"
data:
  a: \"1\"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: same
data:
  b: \"3\"
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    argocd.argoproj.io/hook: PreSync
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: busybox}]
";

    #[test]
    fn moves_adds_removes_and_changes_per_step() {
        let report = compare(&plan(A, "a"), &plan(B, "b"), "a", "b");
        let shape: Vec<(String, Vec<(String, &str)>)> = report
            .steps
            .iter()
            .map(|s| {
                (
                    s.step.to_string(),
                    s.objects
                        .iter()
                        .map(|o| (o.object.display(), o.action.as_str()))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                (
                    "PreSync wave 0".to_string(),
                    vec![("Job/migrate".to_string(), "added")]
                ),
                (
                    "Sync wave 0".to_string(),
                    vec![
                        ("ConfigMap/same".to_string(), "changed"),
                        ("Secret/old".to_string(), "removed")
                    ]
                ),
                (
                    "Sync wave 2".to_string(),
                    vec![("ConfigMap/config".to_string(), "moved")]
                ),
            ]
        );
        let moved = &report.steps[2].objects[0];
        assert_eq!(
            moved.message.as_deref(),
            Some("moves from Sync wave 1 to Sync wave 2")
        );
        assert!(report.differs);
        // The removed Secret's value is masked in what is kept for rendering.
        let removed = &report.steps[1].objects[1];
        assert!(!format!("{:?}", removed.before).contains("hunter2"));
        assert_eq!(
            removed.secret_keys.as_ref().unwrap().removed,
            vec!["password"]
        );
    }

    #[test]
    fn the_same_revision_twice_differs_in_nothing() {
        let report = compare(&plan(A, "a"), &plan(A, "a"), "a", "a");
        assert!(!report.differs);
        assert_eq!(report.totals.get("unchanged"), Some(&3));
    }
}
