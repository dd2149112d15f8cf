//! Lint: valid input that will misbehave at run time. Each rule is a function over the plan
//! and the dependency graph of its objects returning coded diagnostics; `docs/diagnostics.md`
//! lists them. [`crate::check`] runs them.

mod argocd_checks;
mod gaps;

use std::collections::{BTreeSet, HashSet};

use crate::diagnostics::{Code, Diagnostic, Severity};
use crate::infer::{self, Strength};
use crate::model::known::is_builtin_group;
use crate::model::{DeletePolicy, Object, Phase};
use crate::plan::Plan;

/// Runs every rule on `plan`, whose objects depend on each other as `graph` says.
pub fn run(plan: &Plan, graph: &infer::Resolved) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    ordering(plan, graph, &mut out);
    sync_fail_hooks(plan, graph, &mut out);
    out.extend(gaps::unneeded_waves(plan, graph));
    hook_jobs(plan, &mut out);
    custom_resources_without_health(plan, &mut out);
    out
}

fn phase_words(phase: Phase, wave: i64) -> String {
    format!("{phase} wave {wave}")
}

/// Whether a dependency at `(step, kind group)` is in place in time for a user at another
/// position: one that only has to exist may come in an earlier kind group of the same step.
fn in_time(dep: (usize, usize), user: (usize, usize), strength: Strength) -> bool {
    match strength {
        Strength::Exists => dep < user,
        Strength::Ready => dep.0 < user.0,
    }
}

/// References that nothing in a sync waits on, so that a dependency arriving later makes
/// nothing fail or hang: a client retries a DNS name, an Ingress or route gets its address
/// without its backend, a binding may name a role or subject that comes later, a
/// PodDisruptionBudget needs nothing, an APIService turns Available when its backend does.
/// Applying these together with what they name is the normal way, so they are warnings.
fn soft(kind: infer::EdgeKind) -> bool {
    use infer::EdgeKind as K;
    matches!(
        kind,
        K::Dns | K::Backend | K::RoleRef | K::Subject | K::ApiService | K::DisruptionBudget
    )
}

/// How to fix a hook at `user` that needs something created at `dep`: when the dependency
/// is in a later phase no wave of that phase helps, so the fix names the hook's own phase.
fn hook_fix(user: &crate::plan::Step, dep: &crate::plan::Step) -> String {
    if dep.phase > user.phase {
        format!(
            "{} runs before every {} wave, so an earlier {} wave cannot help: make it a {} hook at a wave below {}, or create it before the sync (outside this app)",
            user.phase, dep.phase, dep.phase, user.phase, user.wave
        )
    } else {
        format!(
            "give it a wave below {} (or make it a hook of an earlier phase), or create it before the sync",
            user.wave
        )
    }
}

/// WAVES001, WAVES007, WAVES008: something is applied before what it needs.
fn ordering(plan: &Plan, resolved: &infer::Resolved, out: &mut Vec<Diagnostic>) {
    let positions = plan.positions();
    let mut reported: HashSet<(usize, usize)> = HashSet::new();
    for edge in &resolved.edges {
        let (user, dep) = (&plan.objects[edge.from], &plan.objects[edge.to]);
        // A hook's RBAC is checked below, with its own message.
        if edge.kind == infer::EdgeKind::Permissions && user.is_hook() {
            continue;
        }
        let Some(&(user_step, user_group)) = positions[edge.from].first() else {
            continue;
        };
        // A dependency that this sync never applies is someone else's business.
        let Some(&(dep_step, dep_group)) = positions[edge.to].first() else {
            continue;
        };
        let in_time = in_time(
            (dep_step, dep_group),
            (user_step, user_group),
            edge.strength,
        );
        if in_time || !reported.insert((edge.from, edge.to)) {
            continue;
        }
        let user_at = &plan.steps[user_step];
        let dep_at = &plan.steps[dep_step];
        let rbac = matches!(
            dep.kind.as_str(),
            "ServiceAccount" | "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
        );
        let reads = matches!(
            dep.kind.as_str(),
            "Secret" | "ConfigMap" | "PersistentVolumeClaim"
        );
        let code = match (user.is_hook(), rbac, reads) {
            (true, true, _) => Code::HookRbacLater,
            (true, false, true) => Code::HookReadsLaterObject,
            _ => Code::DependencyViolated,
        };
        let when = if edge.strength == Strength::Ready && dep_step == user_step {
            format!(
                "in the same step ({}), but it must be healthy first",
                phase_words(dep_at.phase, dep_at.wave)
            )
        } else {
            format!("only in {}", phase_words(dep_at.phase, dep_at.wave))
        };
        let soft = soft(edge.kind);
        let consequence = match (user.is_hook(), soft, edge.strength) {
            (true, false, _) => format!(
                "on the first sync the hook waits for it forever; {}",
                hook_fix(user_at, dep_at)
            ),
            (true, true, _) => format!(
                "nothing waits on this reference, but on the first sync the hook finds nothing there, so its script must retry or skip; if it cannot, {}",
                hook_fix(user_at, dep_at)
            ),
            (false, true, _) => {
                "nothing in the sync waits on this reference (a client retries, a route or binding may name what comes later), so this is a warning; give the dependency an earlier wave if this object cannot start without it".to_string()
            }
            (false, false, Strength::Exists) => {
                "it is applied before what it needs exists and waits for it; give the dependency an earlier wave (`kubectl waves annotate --rewrite` proposes one)".to_string()
            }
            (false, false, Strength::Ready) => {
                "it starts before what it needs is healthy; give the dependency an earlier wave (`kubectl waves annotate --rewrite` proposes one)".to_string()
            }
        };
        let diagnostic = Diagnostic::new(
            code,
            &user.source,
            user.display_name(),
            format!(
                "{} at {} {} ({}), which this sync creates {when}: {consequence}",
                user.display_name(),
                phase_words(user_at.phase, user_at.wave),
                edge.reason,
                edge.field,
            ),
        );
        out.push(if soft {
            diagnostic.with_severity(Severity::Warning)
        } else {
            diagnostic
        });
    }
    // RBAC for a hook's ServiceAccount: bindings that name it as subject, and their roles.
    for (h, hook) in plan.objects.iter().enumerate() {
        let Some(&hook_at_pos) = positions[h].first() else {
            continue;
        };
        let hook_step = hook_at_pos.0;
        if !hook.is_hook() {
            continue;
        }
        let value = hook.value();
        let Some((spec, _)) = infer::refs::pod_spec(hook, &value) else {
            continue;
        };
        let Some(sa) = spec.get("serviceAccountName").and_then(|v| v.as_str()) else {
            continue;
        };
        for edge in resolved
            .edges
            .iter()
            .filter(|e| e.to != h && plan.objects[e.to].kind == "ServiceAccount")
        {
            let binding = &plan.objects[edge.from];
            let sa_obj = &plan.objects[edge.to];
            if sa_obj.name != sa
                || sa_obj.namespace != hook.namespace
                || !binding.kind.ends_with("RoleBinding")
            {
                continue;
            }
            // The binding and the role it grants must be in place before the hook runs.
            let mut needed = vec![(edge.from, format!("is bound by {}", binding.display_name()))];
            for e in resolved
                .edges
                .iter()
                .filter(|e| e.from == edge.from && plan.objects[e.to].kind.ends_with("Role"))
            {
                needed.push((
                    e.to,
                    format!(
                        "gets its permissions from {} through {}",
                        plan.objects[e.to].display_name(),
                        binding.display_name()
                    ),
                ));
            }
            for (index, why) in needed {
                let Some(&dep_pos) = positions[index].first() else {
                    continue;
                };
                let step = dep_pos.0;
                if in_time(dep_pos, hook_at_pos, Strength::Exists) || !reported.insert((h, index)) {
                    continue;
                }
                let at = &plan.steps[step];
                let hook_at = &plan.steps[hook_step];
                out.push(Diagnostic::new(
                    Code::HookRbacLater,
                    &hook.source,
                    hook.display_name(),
                    format!(
                        "{} at {} runs as ServiceAccount/{sa}, which {why}, created only in {}: the hook runs without those permissions; {}",
                        hook.display_name(),
                        phase_words(hook_at.phase, hook_at.wave),
                        phase_words(at.phase, at.wave),
                        hook_fix(hook_at, at)
                    ),
                ));
            }
        }
    }
}

/// WAVES009, WAVES125: SyncFail hooks. They run when any step fails, the first one
/// included, so what they need must be in place before the sync's first step ends; and they
/// run together, whatever their waves.
fn sync_fail_hooks(plan: &Plan, resolved: &infer::Resolved, out: &mut Vec<Diagnostic>) {
    let positions = plan.positions();
    let mut reported: HashSet<(usize, usize)> = HashSet::new();
    let first = plan.steps.first();
    for task in &plan.sync_fail {
        let hook = &plan.objects[task.object];
        for edge in resolved.edges.iter().filter(|e| e.from == task.object) {
            if soft(edge.kind) || !reported.insert((edge.from, edge.to)) {
                continue;
            }
            let Some(&(step, _)) = positions[edge.to].first() else {
                continue;
            };
            let (Some(first), true) = (first, step > 0) else {
                continue;
            };
            let at = &plan.steps[step];
            out.push(Diagnostic::new(
                Code::SyncFailHookReadsLaterObject,
                &hook.source,
                hook.display_name(),
                format!(
                    "SyncFail hook {} {} ({}), which this sync creates only in {} (step {} of {}): when the sync fails before that step (a PreSync hook of the first install, say), the SyncFail hook cannot start and nobody is told; make it a hook of the first step ({} wave {}), or create it before the sync (outside this app)",
                    hook.display_name(),
                    edge.reason,
                    edge.field,
                    phase_words(at.phase, at.wave),
                    step + 1,
                    plan.steps.len(),
                    first.phase,
                    first.wave
                ),
            ));
        }
        let only_sync_fail = matches!(&hook.annotations.role, crate::model::Role::Hook { phases, .. } if phases.iter().all(|p| *p == Phase::SyncFail));
        let value = hook.value();
        let annotations = value
            .pointer("/metadata/annotations")
            .and_then(|a| a.as_object());
        let wave_set = annotations.and_then(|a| {
            ["argocd.argoproj.io/sync-wave", "helm.sh/hook-weight"]
                .into_iter()
                .find(|k| a.contains_key(*k))
        });
        if let (true, Some(key)) = (only_sync_fail, wave_set) {
            out.push(Diagnostic::new(
                Code::SyncFailWave,
                &hook.source,
                hook.display_name(),
                format!(
                    "{key} on a SyncFail hook does nothing: Argo CD and kubectl waves start every SyncFail hook together when a sync fails; remove it (if one alert must follow another, make it one Job)"
                ),
            ));
        }
    }
}

/// WAVES002, WAVES003, WAVES004: hook Jobs that leave debris or retry for too long.
fn hook_jobs(plan: &Plan, out: &mut Vec<Diagnostic>) {
    for o in plan.objects.iter().filter(|o| o.is_hook()) {
        let a = &o.annotations;
        if o.kind == "Job" && !a.explicit_delete_policy {
            out.push(Diagnostic::new(
                Code::HookWithoutDeletePolicy,
                &o.source,
                o.display_name(),
                "hook Job has no argocd.argoproj.io/hook-delete-policy; the default BeforeHookCreation leaves the finished Job in the cluster until the next sync; write the policy you mean, e.g. \"BeforeHookCreation,HookSucceeded\"",
            ));
        }
        if o.kind == "Job" {
            let limit = o
                .value()
                .get("spec")
                .and_then(|s| s.get("backoffLimit"))
                .and_then(|v| v.as_i64());
            if limit.is_none_or(|l| l > 2) {
                let said = limit.map_or(
                    "backoffLimit is not set (Kubernetes default 6)".to_string(),
                    |l| format!("backoffLimit is {l}"),
                );
                out.push(Diagnostic::new(
                    Code::HookBackoffLimit,
                    &o.source,
                    o.display_name(),
                    format!("{said}: a failing hook retries with exponential back-off for minutes before the sync fails; set spec.backoffLimit to 0–2"),
                ));
            }
        }
        if !o.generate_name
            && !a
                .delete_policies
                .contains(&DeletePolicy::BeforeHookCreation)
        {
            let policies: Vec<&str> = a.delete_policies.iter().map(|p| p.as_str()).collect();
            out.push(Diagnostic::new(
                Code::FixedNameHookNoBeforeCreation,
                &o.source,
                o.display_name(),
                format!(
                    "fixed-name hook with hook-delete-policy {}: when it is left behind (e.g. it failed), the next sync re-applies the finished {} and fails on its immutable template; add BeforeHookCreation or use metadata.generateName",
                    policies.join(","),
                    o.kind
                ),
            ));
        }
    }
}

/// WAVES005: once per custom resource kind without a health check.
fn custom_resources_without_health(plan: &Plan, out: &mut Vec<Diagnostic>) {
    let mut seen = BTreeSet::new();
    let applied: HashSet<usize> = plan
        .steps
        .iter()
        .flat_map(|s| s.tasks().map(|t| t.object))
        .collect();
    for (i, o) in plan.objects.iter().enumerate() {
        if !applied.contains(&i)
            || is_builtin_group(&o.group)
            || !seen.insert((o.group.as_str(), o.kind.as_str()))
        {
            continue;
        }
        if crate::health::has_health_rule(&o.group, &o.kind, &plan.health) {
            continue;
        }
        out.push(custom_resource_diagnostic(o));
    }
}

fn custom_resource_diagnostic(o: &Object) -> Diagnostic {
    let message = if argocd_checks::argo_cd_ships_a_check(&o.group, &o.kind) {
        format!(
            "{}.{} has no health check here: Argo CD ships one (in its resource_customizations tree) and waits for it, but kubectl waves has none built in, so later waves do not wait for it; pass Argo CD's tree with --resource-customizations DIR, or configure the Lua check under resource.customizations.health.{}_{} (see --health-config)",
            o.kind, o.group, o.group, o.kind
        )
    } else {
        format!(
            "{}.{} has no health check: Argo CD treats it as healthy as soon as it is applied, so later waves do not wait for it; add a Lua check under resource.customizations.health.{}_{} (see --health-config)",
            o.kind, o.group, o.group, o.kind
        )
    };
    Diagnostic::new(
        Code::CustomResourceWithoutHealth,
        &o.source,
        o.display_name(),
        message,
    )
}
