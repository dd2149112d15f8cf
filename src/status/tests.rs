use serde_json::{Value, json};

use super::*;
use crate::manifest::{InputFile, parse_files};
use crate::plan::PlanOptions;

/// Live objects given as a list, keyed as the watches key them.
struct Fake(Vec<Value>);

impl Fake {
    fn key(v: &Value) -> LiveKey {
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("");
        LiveKey::new(
            crate::model::group_of(s("/apiVersion")),
            s("/kind"),
            s("/metadata/namespace"),
            s("/metadata/name"),
        )
    }
}

impl LiveView for Fake {
    fn get(&self, key: &LiveKey) -> Option<Value> {
        self.0.iter().find(|v| &Fake::key(v) == key).cloned()
    }

    fn list(&self, group: &str, kind: &str, namespace: &str) -> Vec<Value> {
        self.0
            .iter()
            .filter(|v| {
                let k = Fake::key(v);
                k.group == group && k.kind == kind && k.namespace == namespace
            })
            .cloned()
            .collect()
    }
}

fn plan(yaml: &str) -> Plan {
    let loaded = parse_files(&[InputFile {
        display: "app.yaml".into(),
        text: yaml.to_string(),
        json: false,
    }]);
    let plan = Plan::build(loaded, PlanOptions::default());
    assert!(!plan.has_input_errors(), "{:?}", plan.diagnostics);
    plan
}

fn targets(plan: &Plan) -> Vec<Target> {
    plan.objects
        .iter()
        .map(|_| Target {
            namespace: "shop".into(),
            served: true,
        })
        .collect()
}

fn report(plan: &Plan, live: Vec<Value>) -> StatusReport {
    assess(plan, &targets(plan), &Fake(live), &HealthConfig::new())
}

const APP: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    argocd.argoproj.io/hook: PreSync
    argocd.argoproj.io/hook-delete-policy: HookSucceeded
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: m}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations:
    argocd.argoproj.io/sync-wave: \"1\"
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: main, image: api}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: last
  annotations:
    argocd.argoproj.io/sync-wave: \"2\"
";

fn config_map(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": "shop"}})
}

fn deployment(available: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "api", "namespace": "shop", "generation": 1},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}}},
           "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                      "readyReplicas": available, "availableReplicas": available}})
}

fn pod(waiting: Option<(&str, &str)>) -> Value {
    let state = match waiting {
        Some((reason, message)) => json!({"waiting": {"reason": reason, "message": message}}),
        None => json!({"running": {}}),
    };
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "api-7d9f-x2", "namespace": "shop", "labels": {"app": "api"}},
           "spec": {"containers": [{"name": "main"}]},
           "status": {"phase": if waiting.is_some() { "Pending" } else { "Running" },
                      "conditions": [{"type": "Ready", "status": "False"}],
                      "containerStatuses": [{"name": "main", "ready": false, "state": state}]}})
}

fn verdicts(r: &StatusReport) -> Vec<StepVerdict> {
    r.steps.iter().map(|s| s.verdict).collect()
}

#[test]
fn everything_healthy_is_done_and_a_deleted_hook_ran() {
    let p = plan(APP);
    let r = report(
        &p,
        vec![config_map("settings"), deployment(1), config_map("last")],
    );
    assert!(r.healthy, "{r:#?}");
    assert_eq!(verdicts(&r), [StepVerdict::Done; 4]);
    assert!(r.blocking.is_none());
    assert_eq!(r.summary, "all 4 steps done");
    let hook = &r.steps[0].objects[0];
    assert_eq!(hook.live, Presence::Deleted, "never 'missing'");
    assert_eq!(hook.hook_run.as_ref().unwrap().result, HookResult::Deleted);
}

#[test]
fn a_deployment_not_ready_blocks_its_step_and_later_ones_are_not_started() {
    let p = plan(APP);
    let r = report(&p, vec![config_map("settings"), deployment(0), pod(None)]);
    assert!(!r.healthy);
    assert_eq!(
        verdicts(&r),
        [
            StepVerdict::Done,
            StepVerdict::Done,
            StepVerdict::Blocking,
            StepVerdict::NotStarted
        ]
    );
    let b = r.blocking.as_ref().unwrap();
    assert_eq!((b.step, b.phase, b.wave), (3, Phase::Sync, 1));
    assert_eq!(b.object.display(), "Deployment/shop/api");
    assert!(b.reason.starts_with("Progressing: "), "{}", b.reason);
    assert!(
        b.reason.contains("pod api-7d9f-x2: Running, not ready"),
        "{}",
        b.reason
    );
    assert!(
        r.summary
            .starts_with("blocked at step 3/4 (Sync wave 1): Deployment/shop/api: ")
    );
    assert_eq!(r.steps[3].objects[0].live, Presence::Missing);
}

#[test]
fn a_stuck_pod_names_the_missing_secret() {
    let p = plan(APP);
    let r = report(
        &p,
        vec![
            config_map("settings"),
            deployment(0),
            pod(Some((
                "CreateContainerConfigError",
                "secret \"api-db\" not found",
            ))),
        ],
    );
    let b = r.blocking.as_ref().unwrap();
    assert_eq!(b.object.state, ObjectState::Failed);
    assert!(
        b.reason.contains(
            "pod api-7d9f-x2: container \"main\": CreateContainerConfigError: secret \"api-db\" not found"
        ),
        "{}",
        b.reason
    );
    assert_eq!(b.object.stuck.as_ref().unwrap().pod, "api-7d9f-x2");
}

#[test]
fn nothing_live_means_the_first_step_blocks_and_a_hook_has_not_run() {
    let p = plan(APP);
    let r = report(&p, vec![]);
    assert_eq!(r.steps[0].verdict, StepVerdict::Blocking);
    assert_eq!(
        r.steps[0].objects[0].hook_run.as_ref().unwrap().result,
        HookResult::NotRun
    );
    assert!(
        r.steps[1..]
            .iter()
            .all(|s| s.verdict == StepVerdict::NotStarted)
    );
}

#[test]
fn the_newest_labelled_run_of_a_hook_is_its_result() {
    let p = plan(
        "apiVersion: batch/v1
kind: Job
metadata:
  generateName: smoke-
  annotations:
    argocd.argoproj.io/hook: PostSync
    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: m}]
",
    );
    let run = |name: &str, created: &str, condition: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": name, "namespace": "shop", "creationTimestamp": created,
                            "labels": {"kubectl-waves.io/hook": "true",
                                       "kubectl-waves.io/hook-name": "smoke",
                                       "kubectl-waves.io/phase": "PostSync",
                                       "kubectl-waves.io/sync-id": name}},
               "spec": {"selector": {"matchLabels": {"job": name}}},
               "status": {"conditions": [{"type": condition, "status": "True"}]}})
    };
    let r = report(
        &p,
        vec![
            run("old", "2026-01-01T00:00:00Z", "Complete"),
            run("new", "2026-01-02T00:00:00Z", "Failed"),
        ],
    );
    let hook = &r.steps[0].objects[0];
    let last = hook.hook_run.as_ref().unwrap();
    assert_eq!(last.name.as_deref(), Some("new"));
    assert_eq!(last.sync_id.as_deref(), Some("new"));
    assert_eq!(last.result, HookResult::Failed);
    assert_eq!(r.steps[0].verdict, StepVerdict::Blocking);
    assert_eq!(r.blocking.unwrap().object.display(), "Job/shop/new");
}

#[test]
fn a_step_after_the_blocker_with_live_objects_is_waiting_or_done() {
    let p = plan(APP);
    let r = report(
        &p,
        vec![config_map("settings"), deployment(0), config_map("last")],
    );
    assert_eq!(r.steps[3].verdict, StepVerdict::Done);
    let not_served = {
        let mut t = targets(&p);
        let last = p.objects.iter().position(|o| o.name == "last").unwrap();
        t[last].served = false;
        assess(&p, &t, &Fake(vec![]), &HealthConfig::new())
    };
    assert!(
        not_served.steps[3].objects[0]
            .message
            .contains("does not serve v1 ConfigMap"),
        "{:?}",
        not_served.steps[3].objects[0]
    );
}

#[test]
fn the_json_shape_names_fields_in_camel_case() {
    let p = plan(APP);
    let r = report(&p, vec![config_map("settings"), deployment(0)]);
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["healthy"], false);
    assert_eq!(v["steps"][2]["verdict"], "blocking");
    assert_eq!(v["steps"][3]["verdict"], "notStarted");
    assert_eq!(v["steps"][0]["objects"][0]["hookRun"]["result"], "deleted");
    assert_eq!(v["steps"][2]["objects"][0]["apiVersion"], "apps/v1");
    assert_eq!(v["steps"][2]["objects"][0]["live"], "present");
    assert_eq!(v["steps"][2]["objects"][0]["health"], "Progressing");
    assert_eq!(v["steps"][2]["objects"][0]["state"], "waiting");
    assert!(v["steps"][2]["objects"][0].get("key").is_none());
    assert_eq!(v["blocking"]["step"], 3);
    assert_eq!(v["blocking"]["object"]["name"], "api");
    assert!(v["syncFail"].as_array().unwrap().is_empty());
}

/// `argocd.argoproj.io/ignore-healthcheck: "true"` on the live object leaves it out of the
/// verdict, as Argo CD leaves it out of the Application's health; any other value does not.
#[test]
fn ignore_healthcheck_leaves_an_object_out_of_the_verdict() {
    let p = plan(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web}]}
",
    );
    let live = |value: &str| {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "generation": 1,
                "annotations": {"argocd.argoproj.io/ignore-healthcheck": value}},
            "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}
        })
    };
    let r = report(&p, vec![live("true")]);
    assert!(r.healthy, "{r:#?}");
    let o = &r.steps[0].objects[0];
    assert_eq!(o.state, ObjectState::Done);
    assert_eq!(o.health, HealthStatus::Progressing);
    assert!(o.message.starts_with("health ignored"), "{}", o.message);
    // Exactly "true", as Argo CD compares it.
    let r = report(&p, vec![live("yes")]);
    assert!(!r.healthy, "{r:#?}");
    assert_eq!(r.steps[0].objects[0].state, ObjectState::Waiting);
}
