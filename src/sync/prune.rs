//! Where prunes run (SPEC §4, as gitops-engine's `sync_context.go`): prune tasks belong to the
//! Sync phase; their waves are mirrored among the prune waves only (the object created last is
//! deleted first), and `PruneLast` objects go to an extra step after the last Sync wave. Pure.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::Phase;
use crate::model::annotations::go_atoi;

/// How a live object that left the manifests may be pruned, read from its annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneSettings {
    pub wave: i64,
    pub prune_last: bool,
    /// `Prune=false`: never.
    pub never: bool,
    /// `Prune=confirm`: only with `--confirm-prune`.
    pub confirm: bool,
}

/// Reads a live object's `sync-wave` and `sync-options` as Argo CD does for a prune task
/// (a wave Argo CD cannot parse counts as 0).
pub fn settings(live: &Value) -> PruneSettings {
    let annotations = live.pointer("/metadata/annotations");
    let get = |k: &str| {
        annotations
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let wave = go_atoi(get("argocd.argoproj.io/sync-wave")).unwrap_or(0);
    let options: Vec<&str> = get("argocd.argoproj.io/sync-options")
        .split(',')
        .map(str::trim)
        .collect();
    // Argo CD reads the first Prune= it finds.
    let prune = options.iter().find_map(|o| o.strip_prefix("Prune="));
    PruneSettings {
        wave,
        prune_last: options.contains(&"PruneLast=true"),
        never: prune == Some("false"),
        confirm: prune == Some("confirm"),
    }
}

/// One step of the run: a plan step, prunes, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStep {
    pub phase: Phase,
    pub wave: i64,
    /// Index of the plan step applied here.
    pub plan_step: Option<usize>,
    /// Indexes of the prunes run here, before the step's applies.
    pub prunes: Vec<usize>,
}

/// Merges prunes (their wave and PruneLast) into the plan's steps (phase, wave).
pub fn schedule(
    plan_steps: &[(Phase, i64)],
    prunes: &[(i64, bool)],
    prune_last_all: bool,
) -> Vec<RunStep> {
    // Mirror the prune waves: the i-th lowest goes where the i-th highest was.
    let mut waves: Vec<i64> = prunes.iter().map(|(w, _)| *w).collect();
    waves.sort_unstable();
    waves.dedup();
    let mirrored = |w: i64| {
        let i = waves.binary_search(&w).unwrap_or(0);
        waves[waves.len() - 1 - i]
    };
    let mut target: Vec<i64> = prunes.iter().map(|(w, _)| mirrored(*w)).collect();
    // PruneLast: one wave after the last Sync wave, prunes (as mirrored) included; at least 1.
    let last_sync = plan_steps
        .iter()
        .filter(|(p, _)| *p == Phase::Sync)
        .map(|(_, w)| *w)
        .chain(target.iter().copied())
        .fold(0, i64::max);
    for (i, (_, last)) in prunes.iter().enumerate() {
        if *last || prune_last_all {
            target[i] = last_sync.saturating_add(1);
        }
    }
    let mut steps: BTreeMap<(Phase, i64), RunStep> = BTreeMap::new();
    for (i, &(phase, wave)) in plan_steps.iter().enumerate() {
        steps.insert(
            (phase, wave),
            RunStep {
                phase,
                wave,
                plan_step: Some(i),
                prunes: Vec::new(),
            },
        );
    }
    for (i, wave) in target.into_iter().enumerate() {
        steps
            .entry((Phase::Sync, wave))
            .or_insert(RunStep {
                phase: Phase::Sync,
                wave,
                plan_step: None,
                prunes: Vec::new(),
            })
            .prunes
            .push(i);
    }
    steps.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape(steps: &[RunStep]) -> Vec<(Phase, i64, Option<usize>, Vec<usize>)> {
        steps
            .iter()
            .map(|s| (s.phase, s.wave, s.plan_step, s.prunes.clone()))
            .collect()
    }

    #[test]
    fn prune_waves_are_mirrored_among_prune_waves_only() {
        // SPEC §4: prune waves {0, 5}: the wave-5 object in the step of wave 0 and back.
        let plan = [(Phase::Sync, 0), (Phase::Sync, 3), (Phase::Sync, 5)];
        let steps = schedule(&plan, &[(0, false), (5, false)], false);
        assert_eq!(
            shape(&steps),
            vec![
                (Phase::Sync, 0, Some(0), vec![1]),
                (Phase::Sync, 3, Some(1), vec![]),
                (Phase::Sync, 5, Some(2), vec![0]),
            ]
        );
    }

    #[test]
    fn a_prune_wave_without_a_plan_step_gets_its_own_step_in_order() {
        let plan = [(Phase::PreSync, 0), (Phase::Sync, 1), (Phase::PostSync, 0)];
        let steps = schedule(&plan, &[(7, false)], false);
        assert_eq!(
            shape(&steps),
            vec![
                (Phase::PreSync, 0, Some(0), vec![]),
                (Phase::Sync, 1, Some(1), vec![]),
                (Phase::Sync, 7, None, vec![0]),
                (Phase::PostSync, 0, Some(2), vec![]),
            ]
        );
    }

    #[test]
    fn prune_last_runs_after_the_last_sync_wave_before_post_sync() {
        let plan = [(Phase::Sync, -1), (Phase::Sync, 2), (Phase::PostSync, 0)];
        let steps = schedule(&plan, &[(0, true), (1, false)], false);
        assert_eq!(
            shape(&steps),
            vec![
                (Phase::Sync, -1, Some(0), vec![]),
                (Phase::Sync, 0, None, vec![1]),
                (Phase::Sync, 2, Some(1), vec![]),
                (Phase::Sync, 3, None, vec![0]),
                (Phase::PostSync, 0, Some(2), vec![]),
            ]
        );
        // With only negative waves the PruneLast step is at wave 1 (max(0, last) + 1).
        let steps = schedule(&[(Phase::Sync, -3)], &[(0, false)], true);
        assert_eq!(steps.last().map(|s| s.wave), Some(1));
    }

    #[test]
    fn settings_read_the_live_annotations() {
        let live = json!({"metadata": {"annotations": {
            "argocd.argoproj.io/sync-wave": "4",
            "argocd.argoproj.io/sync-options": "Prune=confirm,PruneLast=true"}}});
        assert_eq!(
            settings(&live),
            PruneSettings {
                wave: 4,
                prune_last: true,
                never: false,
                confirm: true
            }
        );
        let never = json!({"metadata": {"annotations": {
            "argocd.argoproj.io/sync-wave": "x", "argocd.argoproj.io/sync-options": "Prune=false"}}});
        assert_eq!(settings(&never).wave, 0);
        assert!(settings(&never).never);
    }
}
