//! WAVES006: a wave that only one object occupies and that the dependency graph does not need.
//!
//! Every step (phase + wave) is a health gate: the next one starts only when it is healthy. A
//! step is reported when all of these hold, so that hand-numbered waves with room between
//! them (`-10`, `-5`, `0`, `5`) and deliberate orderings are left alone:
//!
//! * it holds a single object, which is not a hook (hooks are often ordered for effects no
//!   manifest shows: a smoke test before a notification);
//! * it is neither the first nor the last step of its phase (a last step is a common place
//!   for what nothing waits for);
//! * the object could join the previous step of its phase without breaking any dependency:
//!   everything it needs is in an earlier step, or in the previous step in an earlier kind
//!   group and needed only to exist.

use crate::diagnostics::{Code, Diagnostic};
use crate::infer::{Resolved, Strength};
use crate::plan::Plan;
use crate::plan::order::kind_rank;

/// The WAVES006 findings of a plan.
pub fn unneeded_waves(plan: &Plan, resolved: &Resolved) -> Vec<Diagnostic> {
    let positions = plan.positions();
    let mut needs: Vec<Vec<usize>> = vec![Vec::new(); plan.objects.len()];
    for (i, e) in resolved.edges.iter().enumerate() {
        needs[e.from].push(i);
    }
    let mut out = Vec::new();
    for (s, step) in plan.steps.iter().enumerate() {
        let mut tasks = step.tasks();
        let (Some(task), None) = (tasks.next(), tasks.next()) else {
            continue;
        };
        let Some(prev) = s
            .checked_sub(1)
            .filter(|&p| plan.steps[p].phase == step.phase)
        else {
            continue;
        };
        if plan.steps.get(s + 1).is_none_or(|n| n.phase != step.phase) {
            continue;
        }
        let o = &plan.objects[task.object];
        if o.is_hook() {
            continue;
        }
        let movable = needs[task.object].iter().all(|&e| {
            let edge = &resolved.edges[e];
            match positions[edge.to].first() {
                None => true,
                Some(&(dep_step, _)) if dep_step < prev => true,
                Some(&(dep_step, _)) if dep_step == prev => {
                    edge.strength == Strength::Exists
                        && kind_rank(&plan.objects[edge.to].kind) < kind_rank(&o.kind)
                }
                Some(_) => false,
            }
        });
        if !movable {
            continue;
        }
        let before = &plan.steps[prev];
        out.push(Diagnostic::new(
            Code::WaveGap,
            &o.source,
            o.display_name(),
            format!(
                "{} is alone in {} wave {}, and nothing it needs requires a step after {} wave {}: the extra step is a health gate no dependency needs; give it argocd.argoproj.io/sync-wave: \"{}\" (see `kubectl waves annotate --explain {}`)",
                o.display_name(),
                step.phase,
                step.wave,
                before.phase,
                before.wave,
                before.wave,
                o.display_name()
            ),
        ));
    }
    out
}
