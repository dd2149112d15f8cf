//! Lint: valid input that will misbehave at run time. Each rule is a function over the plan
//! and the dependency graph of its objects returning coded diagnostics; `docs/diagnostics.md`
//! lists them. [`crate::check`] runs them.

mod gaps;

use std::collections::{BTreeSet, HashSet};

use crate::diagnostics::{Code, Diagnostic};
use crate::infer::{self, Strength};
use crate::model::known::is_builtin_group;
use crate::model::{DeletePolicy, Object, Phase};
use crate::plan::Plan;

/// Runs every rule on `plan`, whose objects depend on each other as `graph` says.
pub fn run(plan: &Plan, graph: &infer::Resolved) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    ordering(plan, graph, &mut out);
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
        let consequence = match (user.is_hook(), edge.strength) {
            (true, _) => {
                "on the first sync the hook waits for it forever; move the dependency to an earlier wave or make it a hook of an earlier phase"
            }
            (false, Strength::Exists) => {
                "it is applied before what it needs exists and waits for it; give the dependency an earlier wave (`kubectl waves annotate --rewrite` proposes one)"
            }
            (false, Strength::Ready) => {
                "it starts before what it needs is healthy; give the dependency an earlier wave (`kubectl waves annotate --rewrite` proposes one)"
            }
        };
        out.push(Diagnostic::new(
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
        ));
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
        let Some((spec, _)) = infer::refs::pod_spec(hook) else {
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
                        "{} at {} runs as ServiceAccount/{sa}, which {why}, created only in {}: the hook runs without those permissions; move the RBAC to an earlier wave or make it a hook of an earlier phase",
                        hook.display_name(),
                        phase_words(hook_at.phase, hook_at.wave),
                        phase_words(at.phase, at.wave)
                    ),
                ));
            }
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
                .value
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

/// Kinds whose health Argo CD and this tool can tell without configuration.
fn has_health_check(group: &str, kind: &str) -> bool {
    crate::health::has_health_rule(group, kind, &crate::health::HealthConfig::default())
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
        if has_health_check(&o.group, &o.kind) {
            continue;
        }
        out.push(custom_resource_diagnostic(o));
    }
}

fn custom_resource_diagnostic(o: &Object) -> Diagnostic {
    Diagnostic::new(
        Code::CustomResourceWithoutHealth,
        &o.source,
        o.display_name(),
        format!(
            "{}.{} has no health check: Argo CD treats it as healthy as soon as it is applied, so later waves do not wait for it; add a Lua check under resource.customizations.health.{}_{} (see --health-config)",
            o.kind, o.group, o.group, o.kind
        ),
    )
}
