//! Argo CD's order of sync tasks (gitops-engine `pkg/sync/sync_tasks.go`): phase, wave, kind,
//! name, then Namespaces and CRDs bubbled up to their first user. One function per rule.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::model::known::{KIND_ORDER, is_builtin_cluster_scoped};
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

/// Sorts tasks exactly as Argo CD, including the dependency adjustments. `destination` is the
/// Application's destination namespace: Argo CD gives it to every object without a namespace
/// (cluster-scoped ones included) before it looks for each Namespace's first user.
pub fn sort(tasks: &mut [Task], objects: &[Object], destination: Option<&str>) {
    tasks.sort_by(|a, b| compare(a, b, objects));
    // Namespaces before the objects in them.
    adjust_dependencies(
        tasks,
        objects,
        |o| (o.kind == "Namespace" && o.group.is_empty()).then(|| o.name.clone()),
        |o| {
            let written =
                (!is_builtin_cluster_scoped(&o.group, &o.kind)).then_some(o.namespace.as_str());
            let ns = written.filter(|n| !n.is_empty()).or(destination)?;
            (!ns.is_empty()).then(|| ns.to_string())
        },
    );
    // CRDs before their custom resources.
    adjust_dependencies(tasks, objects, crd_key, |o| {
        Some(format!("{}/{}", o.group, o.kind))
    });
}

/// `group/Kind` that a CRD defines.
fn crd_key(o: &Object) -> Option<String> {
    let crd = o.defines.as_ref()?;
    Some(format!("{}/{}", crd.group, crd.kind))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Loaded;
    use crate::manifest::{InputFile, parse_file};
    use crate::plan::{Plan, PlanOptions};
    use proptest::prelude::*;

    /// Objects from compact specs: (kind, name, namespace, wave, hook annotation).
    fn objects(specs: &[(&str, &str, &str, &str, &str)]) -> Vec<Object> {
        let mut text = String::new();
        for (kind, name, ns, wave, hook) in specs {
            let api = match *kind {
                "Deployment" | "StatefulSet" | "DaemonSet" => "apps/v1",
                "Job" | "CronJob" => "batch/v1",
                "Ingress" | "IngressClass" => "networking.k8s.io/v1",
                "CustomResourceDefinition" => "apiextensions.k8s.io/v1",
                "Role" | "RoleBinding" | "ClusterRole" => "rbac.authorization.k8s.io/v1",
                "Widget" => "example.com/v1",
                _ => "v1",
            };
            text.push_str(&format!(
                "---\napiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n"
            ));
            if !ns.is_empty() {
                text.push_str(&format!("  namespace: \"{ns}\"\n"));
            }
            text.push_str("  annotations:\n    x: \"y\"\n");
            if !wave.is_empty() {
                text.push_str(&format!("    argocd.argoproj.io/sync-wave: \"{wave}\"\n"));
            }
            if !hook.is_empty() {
                text.push_str(&format!("    argocd.argoproj.io/hook: {hook}\n"));
            }
            if *kind == "CustomResourceDefinition" {
                text.push_str("spec:\n  group: example.com\n  names:\n    kind: Widget\n");
            }
        }
        let (objects, diags) = parse_file(&InputFile {
            display: "t.yaml".into(),
            text,
            json: false,
        });
        // Bare objects without a spec: only the structural check has something to say.
        assert!(
            diags
                .iter()
                .all(|d| d.code == crate::diagnostics::Code::MissingRequiredField),
            "{diags:?}"
        );
        objects
    }

    /// `Phase wave Kind/name` in plan order (SyncFail last).
    fn planned(objects: Vec<Object>) -> Vec<String> {
        let plan = Plan::build(
            Loaded {
                objects,
                diagnostics: vec![],
                files: 1,
            },
            PlanOptions::default(),
        );
        let mut out: Vec<String> = plan
            .steps
            .iter()
            .flat_map(|s| {
                s.tasks()
                    .map(|t| (s.phase, s.wave, t.object))
                    .collect::<Vec<_>>()
            })
            .chain(plan.sync_fail.iter().map(|t| (t.phase, t.wave, t.object)))
            .map(|(p, w, o)| format!("{p} {w} {}/{}", plan.objects[o].kind, plan.objects[o].name))
            .collect();
        out.extend(
            plan.skipped
                .iter()
                .map(|s| format!("skip {}", plan.objects[s.object].name)),
        );
        out
    }

    #[test]
    fn phase_comes_first_then_wave() {
        let got = planned(objects(&[
            ("ConfigMap", "post", "", "-5", "PostSync"),
            ("ConfigMap", "sync", "", "9", ""),
            ("ConfigMap", "pre", "", "100", "PreSync"),
            ("ConfigMap", "fail", "", "-100", "SyncFail"),
        ]));
        assert_eq!(
            got,
            [
                "PreSync 100 ConfigMap/pre",
                "Sync 9 ConfigMap/sync",
                "PostSync -5 ConfigMap/post",
                "SyncFail -100 ConfigMap/fail"
            ]
        );
    }

    #[test]
    fn negative_and_extreme_waves_do_not_overflow() {
        let got = planned(objects(&[
            ("ConfigMap", "max", "", "9223372036854775807", ""),
            ("ConfigMap", "min", "", "-9223372036854775808", ""),
            ("ConfigMap", "zero", "", "", ""),
            ("ConfigMap", "neg", "", "-1", ""),
        ]));
        assert_eq!(
            got,
            [
                "Sync -9223372036854775808 ConfigMap/min",
                "Sync -1 ConfigMap/neg",
                "Sync 0 ConfigMap/zero",
                "Sync 9223372036854775807 ConfigMap/max"
            ]
        );
    }

    #[test]
    fn kind_order_then_name_and_unknown_kinds_last_by_name_alone() {
        let got = planned(objects(&[
            ("Zeta", "a", "ns", "", ""),
            ("Alpha", "b", "ns", "", ""),
            ("Ingress", "i", "ns", "", ""),
            ("Deployment", "b", "ns", "", ""),
            ("Deployment", "a", "ns", "", ""),
            ("Service", "z", "ns", "", ""),
            ("APIService", "v1.x", "", "", ""),
            ("IngressClass", "nginx", "", "", ""),
        ]));
        assert_eq!(
            got,
            [
                "Sync 0 Service/z",
                "Sync 0 Deployment/a",
                "Sync 0 Deployment/b",
                "Sync 0 IngressClass/nginx",
                "Sync 0 Ingress/i",
                "Sync 0 APIService/v1.x",
                "Sync 0 Zeta/a",
                "Sync 0 Alpha/b"
            ]
        );
    }

    #[test]
    fn ties_break_by_namespace_then_group_then_kind() {
        let objs = objects(&[
            ("Secret", "s", "b", "", ""),
            ("Secret", "s", "a", "", ""),
            ("Zeta", "x", "ns", "", ""),
            ("Alpha", "x", "ns", "", ""),
        ]);
        let plan = Plan::build(
            Loaded {
                objects: objs,
                diagnostics: vec![],
                files: 1,
            },
            PlanOptions::default(),
        );
        let got: Vec<String> = plan.steps[0]
            .tasks()
            .map(|t| plan.objects[t.object].display_name())
            .collect();
        assert_eq!(got, ["Secret/a/s", "Secret/b/s", "Alpha/ns/x", "Zeta/ns/x"]);
    }

    #[test]
    fn multi_phase_hooks_appear_once_per_phase_and_skip_never() {
        let got = planned(objects(&[
            ("Job", "both", "", "", "PreSync,PostSync"),
            ("ConfigMap", "skipped", "", "", "Skip"),
            ("ConfigMap", "not-skipped", "", "", "Skip,Sync"),
        ]));
        assert_eq!(
            got,
            [
                "PreSync 0 Job/both",
                "Sync 0 ConfigMap/not-skipped",
                "PostSync 0 Job/both",
                "skip skipped"
            ]
        );
    }

    #[test]
    fn namespace_moves_to_its_first_user() {
        let got = planned(objects(&[
            ("Namespace", "app", "", "5", ""),
            ("ConfigMap", "c", "app", "1", ""),
            ("Job", "pre", "app", "-3", "PreSync"),
        ]));
        assert_eq!(
            got,
            [
                "PreSync -3 Namespace/app",
                "PreSync -3 Job/pre",
                "Sync 1 ConfigMap/c"
            ]
        );
        // Already early enough: untouched.
        let got = planned(objects(&[
            ("Namespace", "app", "", "-1", ""),
            ("ConfigMap", "c", "app", "1", ""),
        ]));
        assert_eq!(got, ["Sync -1 Namespace/app", "Sync 1 ConfigMap/c"]);
    }

    #[test]
    fn destination_namespace_counts_for_objects_without_one() {
        let specs = [
            ("Namespace", "app", "", "5", ""),
            ("ClusterRole", "r", "", "1", ""),
            ("ConfigMap", "c", "", "2", ""),
        ];
        let with = |destination: Option<&str>| {
            let objs = objects(&specs);
            let plan = Plan::build(
                Loaded {
                    objects: objs,
                    diagnostics: vec![],
                    files: 1,
                },
                PlanOptions {
                    destination_namespace: destination.map(str::to_string),
                    ..PlanOptions::default()
                },
            );
            plan.steps
                .iter()
                .flat_map(|s| {
                    s.tasks()
                        .map(|t| {
                            format!(
                                "{} {}/{}",
                                s.wave, plan.objects[t.object].kind, plan.objects[t.object].name
                            )
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        };
        // Argo CD sets the destination namespace even on cluster-scoped objects before it orders.
        assert_eq!(
            with(Some("app")),
            ["1 Namespace/app", "1 ClusterRole/r", "2 ConfigMap/c"]
        );
        assert_eq!(
            with(None),
            ["1 ClusterRole/r", "2 ConfigMap/c", "5 Namespace/app"]
        );
        // A stray namespace on a cluster-scoped kind is cleared first, so it pulls nothing.
        let got = planned(objects(&[
            ("Namespace", "app", "", "5", ""),
            ("ClusterRole", "r", "app", "1", ""),
        ]));
        assert_eq!(got, ["Sync 1 ClusterRole/r", "Sync 5 Namespace/app"]);
    }

    #[test]
    fn crd_moves_before_its_first_custom_resource() {
        let got = planned(objects(&[
            (
                "CustomResourceDefinition",
                "widgets.example.com",
                "",
                "3",
                "",
            ),
            ("Widget", "w", "ns", "1", ""),
            ("ConfigMap", "c", "ns", "1", ""),
        ]));
        assert_eq!(
            got,
            [
                "Sync 1 ConfigMap/c",
                "Sync 1 CustomResourceDefinition/widgets.example.com",
                "Sync 1 Widget/w"
            ]
        );
    }

    #[test]
    fn cluster_scoped_objects_sort_like_others() {
        let got = planned(objects(&[
            ("ClusterRole", "r", "", "", ""),
            ("Namespace", "apps", "", "", ""),
            ("StorageClass", "fast", "", "", ""),
        ]));
        assert_eq!(
            got,
            [
                "Sync 0 Namespace/apps",
                "Sync 0 StorageClass/fast",
                "Sync 0 ClusterRole/r"
            ]
        );
    }

    #[test]
    fn steps_and_kind_groups() {
        let objs = objects(&[
            ("Deployment", "a", "n", "", ""),
            ("Service", "a", "n", "", ""),
            ("Deployment", "b", "n", "", ""),
            ("ConfigMap", "c", "n", "1", ""),
        ]);
        let plan = Plan::build(
            Loaded {
                objects: objs,
                diagnostics: vec![],
                files: 1,
            },
            PlanOptions::default(),
        );
        assert_eq!(plan.steps.len(), 2);
        let kinds: Vec<(&str, usize)> = plan.steps[0]
            .groups
            .iter()
            .map(|g| (g.kind.as_str(), g.tasks.len()))
            .collect();
        assert_eq!(kinds, [("Service", 1), ("Deployment", 2)]);
    }

    const KINDS: &[&str] = &[
        "Namespace",
        "Secret",
        "ConfigMap",
        "Service",
        "Deployment",
        "Job",
        "Ingress",
        "Widget",
        "CustomResourceDefinition",
        "Zeta",
    ];
    const HOOKS: &[&str] = &[
        "",
        "",
        "PreSync",
        "PostSync",
        "SyncFail",
        "Skip",
        "PreSync,PostSync",
    ];

    fn arb_specs() -> impl Strategy<Value = Vec<(usize, usize, usize, i64, usize)>> {
        prop::collection::vec(
            (
                0..KINDS.len(),
                0..6usize,
                0..3usize,
                prop_oneof![Just(i64::MIN), Just(i64::MAX), -3i64..4],
                0..HOOKS.len(),
            ),
            1..40,
        )
    }

    proptest! {
        /// The order is total (no two tasks compare equal) and the same whatever the input order.
        #[test]
        fn order_is_total_and_stable_under_shuffling(specs in arb_specs(), seed in any::<u64>()) {
            let mut seen = std::collections::HashSet::new();
            let rows: Vec<(String, String, String, String, String)> = specs.iter().filter_map(|&(k, n, ns, w, h)| {
                let kind = KINDS[k];
                let ns = if matches!(kind, "Namespace" | "CustomResourceDefinition") { String::new() } else { format!("ns{ns}") };
                let name = if kind == "CustomResourceDefinition" { "widgets.example.com".to_string() } else { format!("n{n}") };
                seen.insert((kind, ns.clone(), name.clone())).then(|| (kind.to_string(), name, ns, w.to_string(), HOOKS[h].to_string()))
            }).collect();
            let as_refs = |rows: &[(String, String, String, String, String)]| -> Vec<String> {
                let specs: Vec<(&str, &str, &str, &str, &str)> = rows.iter().map(|(a, b, c, d, e)| (a.as_str(), b.as_str(), c.as_str(), d.as_str(), e.as_str())).collect();
                let objs = objects(&specs);
                let mut tasks: Vec<Task> = Vec::new();
                for (i, o) in objs.iter().enumerate() {
                    if let crate::model::Role::Hook { phases, .. } = &o.annotations.role {
                        tasks.extend(phases.iter().map(|&phase| Task { object: i, phase, wave: o.annotations.wave }));
                    } else if o.annotations.role == crate::model::Role::Resource {
                        tasks.push(Task { object: i, phase: Phase::Sync, wave: o.annotations.wave });
                    }
                }
                for a in &tasks {
                    for b in &tasks {
                        if a != b {
                            // Ignoring the input index, distinct tasks never tie.
                            let (oa, ob) = (&objs[a.object], &objs[b.object]);
                            let tie = a.phase == b.phase && a.wave == b.wave && oa.key() == ob.key();
                            assert!(!tie || a.object == b.object);
                        }
                    }
                }
                planned(objs)
            };
            let original = as_refs(&rows);
            let mut shuffled = rows.clone();
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            prop_assert_eq!(original, as_refs(&shuffled));
        }
    }
}
