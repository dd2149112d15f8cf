use serde_json::{Value, json};

use super::*;
use crate::health::{Health, HealthStatus};

const NOW: i64 = 1_800_000_000;

fn ts(seconds_ago: i64) -> String {
    // NOW is 2027-01-15T08:00:00Z.
    let t = NOW - seconds_ago;
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (inverse of parse_timestamp's), for the test only.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn job(name: &str, labels: Value, annotations: Value, seconds_ago: i64) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": name, "namespace": "shop", "labels": labels,
                        "annotations": annotations, "creationTimestamp": ts(seconds_ago)}})
}

fn ours(name: &str, hook: &str, policy: &str, seconds_ago: i64) -> Value {
    job(
        name,
        json!({"kubectl-waves.io/hook": "true", "kubectl-waves.io/sync-id": "abc",
               "kubectl-waves.io/phase": "PreSync", "kubectl-waves.io/hook-name": hook}),
        json!({"argocd.argoproj.io/hook": "PreSync",
               "argocd.argoproj.io/hook-delete-policy": policy}),
        seconds_ago,
    )
}

fn health(status: HealthStatus) -> Health {
    Health::new(status, "why")
}

fn describe(obj: &Value, status: HealthStatus) -> Leftover {
    let Found::Hook(meta) = classify(obj) else {
        panic!("not a hook: {obj}")
    };
    leftover(obj, meta, &health(status), NOW)
}

#[test]
fn timestamps_parse_as_unix_seconds() {
    assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_timestamp("2026-11-30T01:02:03Z"), Some(1_796_000_523));
    assert_eq!(
        parse_timestamp("2026-11-30T01:02:03.123456Z"),
        Some(1_796_000_523)
    );
    assert_eq!(
        parse_timestamp("2026-11-30T02:02:03+01:00"),
        Some(1_796_000_523)
    );
    assert_eq!(parse_timestamp("yesterday"), None);
    assert_eq!(parse_timestamp(&ts(90)), Some(NOW - 90));
}

#[test]
fn ages_print_as_kubectl() {
    assert_eq!(format_age(45), "45s");
    assert_eq!(format_age(200), "3m20s");
    assert_eq!(format_age(25 * 60), "25m");
    assert_eq!(format_age(5 * 3600 + 600), "5h10m");
    assert_eq!(format_age(30 * 3600), "30h");
    assert_eq!(format_age(3 * 86_400 + 4 * 3600), "3d4h");
    assert_eq!(format_age(40 * 86_400), "40d");
}

#[test]
fn older_than_takes_go_durations_and_days() {
    assert_eq!(parse_age("90s"), Some(Duration::from_secs(90)));
    assert_eq!(parse_age("1h30m"), Some(Duration::from_secs(5400)));
    assert_eq!(parse_age("7d"), Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(parse_age("1d12h"), Some(Duration::from_secs(36 * 3600)));
    assert_eq!(parse_age("soon"), None);
    assert_eq!(parse_age("d"), None);
}

#[test]
fn classify_finds_ours_argocd_and_helm_hooks() {
    let Found::Hook(m) = classify(&ours("migrate", "migrate", "HookSucceeded", 10)) else {
        panic!()
    };
    assert_eq!(m.origin, Origin::Waves);
    assert_eq!(m.phase, "PreSync");
    assert_eq!(m.policies, ["HookSucceeded"]);

    let argo = job(
        "smoke",
        json!({}),
        json!({"argocd.argoproj.io/hook": "PostSync, SyncFail"}),
        10,
    );
    let Found::Hook(m) = classify(&argo) else {
        panic!()
    };
    assert_eq!(m.origin, Origin::ArgoCd);
    assert_eq!(m.phase, "PostSync,SyncFail");
    assert!(m.policies.is_empty());

    let helm = job(
        "h",
        json!({}),
        json!({"helm.sh/hook": "pre-install", "helm.sh/hook-delete-policy": "hook-succeeded,before-hook-creation"}),
        10,
    );
    let Found::Hook(m) = classify(&helm) else {
        panic!()
    };
    assert_eq!(m.origin, Origin::Helm);
    assert_eq!(m.policies, ["HookSucceeded", "BeforeHookCreation"]);
}

#[test]
fn classify_never_touches_non_hooks_skip_crd_install_keep_or_owned_pods() {
    assert_eq!(
        classify(&job("worker", json!({"app": "x"}), json!({}), 10)),
        Found::NotHook
    );
    assert!(matches!(
        classify(&job(
            "s",
            json!({}),
            json!({"argocd.argoproj.io/hook": "Skip"}),
            10
        )),
        Found::Protected(_)
    ));
    assert!(matches!(
        classify(&job(
            "c",
            json!({}),
            json!({"helm.sh/hook": "crd-install"}),
            10
        )),
        Found::Protected(_)
    ));
    assert!(matches!(
        classify(&job(
            "k",
            json!({}),
            json!({"helm.sh/hook": "pre-install", "helm.sh/resource-policy": "keep"}),
            10
        )),
        Found::Protected(_)
    ));
    // Skip with a real phase is a hook.
    assert!(matches!(
        classify(&job(
            "both",
            json!({}),
            json!({"argocd.argoproj.io/hook": "Skip,PreSync"}),
            10
        )),
        Found::Hook(_)
    ));
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "migrate-x", "annotations": {"argocd.argoproj.io/hook": "PreSync"},
                     "ownerReferences": [{"kind": "Job", "name": "migrate", "controller": true, "uid": "u"}]}});
    assert_eq!(classify(&pod), Found::NotHook);
}

#[test]
fn owner_is_the_sync_id_or_the_application() {
    assert_eq!(
        owner(&ours("m", "m", "", 1)),
        Some(Owner::SyncId("abc".into()))
    );
    let by_label = job(
        "m",
        json!({"argocd.argoproj.io/instance": "shop"}),
        json!({"argocd.argoproj.io/hook": "PreSync"}),
        1,
    );
    assert_eq!(owner(&by_label), Some(Owner::Application("shop".into())));
    let tracked = job(
        "m",
        json!({}),
        json!({"argocd.argoproj.io/hook": "PreSync",
               "argocd.argoproj.io/tracking-id": "team_shop:batch/Job:shop/m"}),
        1,
    );
    assert_eq!(
        owner(&tracked),
        Some(Owner::Application("team_shop".into()))
    );
    assert_eq!(
        owner(&job(
            "m",
            json!({}),
            json!({"argocd.argoproj.io/hook": "PreSync"}),
            1
        )),
        None
    );
}

#[test]
fn runs_group_by_label_generate_name_or_argocd_suffix() {
    assert_eq!(
        run_group(&ours("smoke-abc-postsync", "smoke", "", 1)),
        "smoke"
    );
    let mut generated = job(
        "smoke-1a2b3c4-postsync-1700000000",
        json!({}),
        json!({"argocd.argoproj.io/hook": "PostSync"}),
        1,
    );
    assert_eq!(run_group(&generated), "smoke");
    generated["metadata"]["generateName"] = json!("smoke-test-");
    assert_eq!(run_group(&generated), "smoke-test");
    let fixed = job(
        "db-migrate",
        json!({}),
        json!({"argocd.argoproj.io/hook": "PreSync"}),
        1,
    );
    assert_eq!(run_group(&fixed), "db-migrate");
    let glued = job(
        "smoke1a2b3c4-sync-1700000000",
        json!({}),
        json!({"argocd.argoproj.io/hook": "Sync"}),
        1,
    );
    assert_eq!(run_group(&glued), "smoke");
}

#[test]
fn state_is_what_health_says() {
    assert_eq!(State::of(&health(HealthStatus::Healthy)), State::Succeeded);
    assert_eq!(State::of(&health(HealthStatus::None)), State::Succeeded);
    assert_eq!(
        State::of(&health(HealthStatus::Progressing)),
        State::Running
    );
    assert_eq!(State::of(&health(HealthStatus::Degraded)), State::Failed);
    assert_eq!(State::of(&health(HealthStatus::Unknown)), State::Failed);
}

#[test]
fn why_left_names_the_gap() {
    let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(why_left(State::Succeeded, &[]), "no policy");
    assert!(why_left(State::Failed, &p(&["BeforeHookCreation"])).starts_with("no policy"));
    assert_eq!(
        why_left(State::Failed, &p(&["HookSucceeded"])),
        "policy did not cover the outcome (HookSucceeded only)"
    );
    assert!(why_left(State::Succeeded, &p(&["HookSucceeded"])).starts_with("sync interrupted"));
    assert_eq!(
        why_left(State::Failed, &p(&["HookFailed"])),
        "sync interrupted"
    );
    assert!(why_left(State::Running, &p(&["HookSucceeded"])).starts_with("running"));
}

fn actions(leftovers: &[Leftover]) -> Vec<(String, String)> {
    leftovers
        .iter()
        .map(|l| {
            (
                l.name.clone(),
                match &l.action {
                    Action::Delete => "delete".to_string(),
                    Action::Keep(why) => format!("keep: {why}"),
                },
            )
        })
        .collect()
}

#[test]
fn default_keeps_running_hooks_and_the_newest_failed_run() {
    let mut l = vec![
        describe(
            &ours("a1", "a", "HookSucceeded", 300),
            HealthStatus::Degraded,
        ),
        describe(
            &ours("a2", "a", "HookSucceeded", 200),
            HealthStatus::Degraded,
        ),
        describe(
            &ours("a3", "a", "HookSucceeded", 100),
            HealthStatus::Healthy,
        ),
        describe(&ours("b1", "b", "", 100), HealthStatus::Progressing),
    ];
    decide(&mut l, &Selection::default(), &Applications::Unreadable);
    let got = actions(&l);
    assert_eq!(got[0], ("a1".into(), "delete".into()));
    assert!(
        got[1].1.starts_with("keep: newest failed run of a"),
        "{got:?}"
    );
    assert_eq!(got[2], ("a3".into(), "delete".into()));
    assert!(got[3].1.starts_with("keep: running"), "{got:?}");
}

#[test]
fn keep_last_keeps_the_newest_runs_of_each_hook() {
    let mut l = vec![
        describe(&ours("a1", "a", "", 300), HealthStatus::Degraded),
        describe(&ours("a2", "a", "", 200), HealthStatus::Healthy),
        describe(&ours("a3", "a", "", 100), HealthStatus::Healthy),
        describe(&ours("b1", "b", "", 100), HealthStatus::Degraded),
    ];
    let s = Selection {
        keep_last: Some(2),
        ..Selection::default()
    };
    decide(&mut l, &s, &Applications::Unreadable);
    let deleted: Vec<_> = l
        .iter()
        .filter(|l| l.action == Action::Delete)
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(deleted, ["a1"]);
    let s = Selection {
        keep_last: Some(0),
        ..Selection::default()
    };
    decide(&mut l, &s, &Applications::Unreadable);
    assert!(l.iter().all(|l| l.action == Action::Delete));
}

#[test]
fn state_and_older_than_filters() {
    let mut l = vec![
        describe(&ours("old", "a", "", 7200), HealthStatus::Healthy),
        describe(&ours("young", "b", "", 60), HealthStatus::Healthy),
        describe(&ours("run", "c", "", 7200), HealthStatus::Progressing),
    ];
    let s = Selection {
        older_than: Some(Duration::from_secs(3600)),
        state: StateFilter::All,
        keep_last: Some(0),
        ..Selection::default()
    };
    decide(&mut l, &s, &Applications::Unreadable);
    let got = actions(&l);
    assert_eq!(got[0].1, "delete");
    assert!(
        got[1].1.contains("younger than --older-than 60m"),
        "{got:?}"
    );
    assert_eq!(got[2].1, "delete");
    let s = Selection {
        state: StateFilter::Failed,
        ..Selection::default()
    };
    decide(&mut l, &s, &Applications::Unreadable);
    assert!(l.iter().all(|l| matches!(&l.action, Action::Keep(_))));
}

#[test]
fn the_hook_finalizer_needs_a_readable_idle_application_or_the_flag() {
    let mut obj = job(
        "migrate",
        json!({"argocd.argoproj.io/instance": "shop"}),
        json!({"argocd.argoproj.io/hook": "PreSync"}),
        100,
    );
    obj["metadata"]["finalizers"] = json!(["example.com/other", HOOK_FINALIZER]);
    let base = vec![describe(&obj, HealthStatus::Healthy)];
    assert!(base[0].hook_finalizer);
    let run = |s: &Selection, apps: &Applications| {
        let mut l = base.clone();
        decide(&mut l, s, apps);
        l[0].action.clone()
    };
    let default = Selection::default();
    assert!(
        matches!(run(&default, &Applications::Unreadable), Action::Keep(r) if r.contains("--remove-finalizers"))
    );
    let flag = Selection {
        remove_finalizers: true,
        ..Selection::default()
    };
    assert_eq!(run(&flag, &Applications::Unreadable), Action::Delete);
    let idle = Applications::Read(vec![("argocd".into(), "shop".into(), false)]);
    assert_eq!(run(&default, &idle), Action::Delete);
    let busy = Applications::Read(vec![("argocd".into(), "shop".into(), true)]);
    assert!(matches!(run(&flag, &busy), Action::Keep(r) if r.contains("operation running")));
    let gone = Applications::Read(vec![]);
    assert_eq!(run(&default, &gone), Action::Delete);
}

#[test]
fn terminating_without_the_hook_finalizer_is_left_alone() {
    let mut obj = ours("m", "m", "", 100);
    obj["metadata"]["deletionTimestamp"] = json!(ts(5));
    obj["metadata"]["finalizers"] = json!(["example.com/other"]);
    let mut l = vec![describe(&obj, HealthStatus::Healthy)];
    decide(
        &mut l,
        &Selection {
            state: StateFilter::All,
            keep_last: Some(0),
            remove_finalizers: true,
            ..Selection::default()
        },
        &Applications::Unreadable,
    );
    assert!(matches!(&l[0].action, Action::Keep(r) if r.contains("being deleted")));
}

#[test]
fn an_application_is_busy_with_an_operation() {
    assert!(application_busy(&json!({"operation": {"sync": {}}})));
    assert!(application_busy(
        &json!({"status": {"operationState": {"phase": "Running"}}})
    ));
    assert!(!application_busy(
        &json!({"status": {"operationState": {"phase": "Succeeded"}}})
    ));
}
