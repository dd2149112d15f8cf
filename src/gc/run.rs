//! The cluster side of `gc`: list the kinds in scope, describe each hook leftover, read Argo
//! CD's Applications for the hook finalizer, and (with `--yes`) save logs, remove the hook
//! finalizer and delete. Never prints: the results go back in each [`Leftover`].

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use serde_json::Value;

use super::{Action, Applications, Found, HOOK_FINALIZER, Leftover, State};
use crate::cluster::{Cluster, ClusterError, Propagation, ResolvedKind};
use crate::health::{self, HealthConfig};

/// Deletions (and finalizer patches) in flight at once.
const CONCURRENCY: usize = 8;
/// Log lines kept per container with `--logs`.
const LOG_LINES: i64 = 100_000;

/// Where to look.
#[derive(Debug, Clone)]
pub struct Scope {
    /// `None`: all namespaces (`-A`).
    pub namespace: Option<String>,
    /// `-l`: a label selector, passed to the apiserver.
    pub selector: Option<String>,
    pub kinds: Vec<ResolvedKind>,
}

/// The kinds listed without `--kind`: those that run and finish — Jobs, Pods, and Argo
/// Workflows when the cluster serves them.
pub async fn default_kinds(cluster: &Cluster) -> Vec<ResolvedKind> {
    let mut kinds = Vec::new();
    for (group, kind) in [("batch", "Job"), ("", "Pod"), ("argoproj.io", "Workflow")] {
        if let Some(k) = cluster.resolve_group_kind(group, kind).await {
            kinds.push(k);
        }
    }
    kinds
}

/// What [`find`] found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Hook leftovers, by namespace, kind and name; every action is [`Action::Delete`] until
    /// [`super::decide`] runs.
    pub leftovers: Vec<Leftover>,
    /// Hook objects that are never touched (`Skip`, `crd-install`, `resource-policy: keep`):
    /// `Kind/namespace/name: why`.
    pub protected: Vec<String>,
}

/// Lists every kind of `scope` and describes the hook leftovers, at `now` (Unix seconds).
pub async fn find(
    cluster: &Cluster,
    scope: &Scope,
    health: &HealthConfig,
    now: i64,
) -> Result<Findings, ClusterError> {
    let mut findings = Findings::default();
    for kind in &scope.kinds {
        let objects = cluster
            .list(kind, scope.namespace.as_deref(), scope.selector.as_deref())
            .await?;
        for obj in objects {
            match super::classify(&obj) {
                Found::NotHook => {}
                Found::Protected(why) => findings.protected.push(format!(
                    "{}: {why}",
                    crate::model::display_name(
                        &kind.resource.kind,
                        obj.pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            .unwrap_or(""),
                        obj.pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                    )
                )),
                Found::Hook(meta) => {
                    let health = health::assess_or_unknown(&obj, health);
                    findings
                        .leftovers
                        .push(super::leftover(&obj, meta, &health, now));
                }
            }
        }
    }
    findings.leftovers.sort_by(|a, b| {
        (&a.namespace, &a.kind, &a.created, &a.name).cmp(&(
            &b.namespace,
            &b.kind,
            &b.created,
            &b.name,
        ))
    });
    findings.protected.sort();
    Ok(findings)
}

/// Argo CD's Applications, when the CRD is served and they can be listed in all namespaces.
pub async fn applications(cluster: &Cluster) -> Applications {
    let Some(kind) = cluster
        .resolve_group_kind("argoproj.io", "Application")
        .await
    else {
        return Applications::Unreadable;
    };
    match cluster.list(&kind, None, None).await {
        Ok(apps) => Applications::Read(
            apps.iter()
                .map(|app| {
                    let meta = |k: &str| {
                        app.pointer(&format!("/metadata/{k}"))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string()
                    };
                    (
                        meta("namespace"),
                        meta("name"),
                        super::application_busy(app),
                    )
                })
                .collect(),
        ),
        Err(_) => Applications::Unreadable,
    }
}

/// Carries out every [`Action::Delete`]: saves the logs of failed hooks first (with
/// `logs`), removes Argo CD's hook finalizer (only that one) where present, deletes with
/// background propagation (a Job's pods go too). Each leftover's `result` says what
/// happened; returns how many failed.
pub async fn clean(cluster: &Cluster, leftovers: &mut [Leftover], logs: Option<&Path>) -> usize {
    let work: Vec<(usize, Leftover)> = leftovers
        .iter()
        .enumerate()
        .filter(|(_, l)| l.action == Action::Delete)
        .map(|(i, l)| (i, l.clone()))
        .collect();
    let results: Vec<(usize, Result<String, String>)> = futures_util::stream::iter(work)
        .map(|(i, l)| async move { (i, clean_one(cluster, &l, logs).await) })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut failed = 0;
    for (i, result) in results {
        leftovers[i].result = Some(match result {
            Ok(done) => done,
            Err(e) => {
                failed += 1;
                format!("failed: {e}")
            }
        });
    }
    failed
}

async fn clean_one(cluster: &Cluster, l: &Leftover, logs: Option<&Path>) -> Result<String, String> {
    let kind = cluster
        .resolve(&l.api_version, &l.kind)
        .await
        .ok_or_else(|| format!("the cluster no longer serves {} {}", l.api_version, l.kind))?;
    let Some(live) = cluster
        .get(&kind, &l.namespace, &l.name)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok("gone".into());
    };
    if let Some(dir) = logs
        && l.state == State::Failed
    {
        save_logs(cluster, l, &live, dir)
            .await
            .map_err(|e| format!("cannot save its logs, so it was not deleted: {e}"))?;
    }
    let mut removed = false;
    if l.hook_finalizer {
        let finalizers = live
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(index) = finalizers
            .iter()
            .position(|f| f.as_str() == Some(HOOK_FINALIZER))
        {
            cluster
                .remove_finalizer(&kind, &l.namespace, &l.name, HOOK_FINALIZER, index)
                .await
                .map_err(|e| format!("removing {HOOK_FINALIZER}: {e}"))?;
            removed = true;
        }
    }
    if live.pointer("/metadata/deletionTimestamp").is_some() {
        return Ok(if removed {
            "finalizer removed (was being deleted)".into()
        } else {
            "being deleted".into()
        });
    }
    let existed = cluster
        .delete(&kind, &l.namespace, &l.name, Propagation::Background)
        .await
        .map_err(|e| e.to_string())?;
    Ok(match (existed, removed) {
        (false, _) => "gone".into(),
        (true, true) => "finalizer removed, deleted".into(),
        (true, false) => "deleted".into(),
    })
}

/// `DIR/<namespace>/<kind>-<name>/`: `<pod>.<container>.log` for every container of the
/// hook's pods (the Pod itself, or the pods it owns) and `events.txt` (the hook's and its
/// pods' events).
async fn save_logs(
    cluster: &Cluster,
    l: &Leftover,
    live: &Value,
    dir: &Path,
) -> Result<PathBuf, String> {
    let target = dir
        .join(&l.namespace)
        .join(format!("{}-{}", l.kind.to_ascii_lowercase(), l.name));
    std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    let pods: Vec<Value> = if l.kind == "Pod" {
        vec![live.clone()]
    } else {
        let uid = live
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("");
        match cluster.resolve_group_kind("", "Pod").await {
            Some(pod_kind) => cluster
                .list(&pod_kind, Some(&l.namespace), None)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|p| owned_by(p, uid))
                .collect(),
            None => Vec::new(),
        }
    };
    let mut events: Vec<String> = Vec::new();
    let mut heading = |what: String, lines: Vec<String>| {
        events.push(format!("# {what}"));
        if lines.is_empty() {
            events.push("(no events)".into());
        }
        events.extend(lines);
    };
    heading(
        format!("{}/{}", l.kind, l.name),
        cluster
            .events_for(&l.namespace, &l.kind, &l.name, 200)
            .await,
    );
    for pod in &pods {
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        heading(
            format!("Pod/{name}"),
            cluster.events_for(&l.namespace, "Pod", name, 200).await,
        );
        for container in containers(pod) {
            let text = cluster
                .pod_logs(&l.namespace, name, &container, LOG_LINES)
                .await
                .unwrap_or_default();
            let file = target.join(format!("{name}.{container}.log"));
            std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
        }
    }
    events.push(String::new());
    let file = target.join("events.txt");
    std::fs::write(&file, events.join("\n")).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(target)
}

fn owned_by(pod: &Value, uid: &str) -> bool {
    !uid.is_empty()
        && pod
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|refs| {
                refs.iter()
                    .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
            })
}

fn containers(pod: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for key in ["initContainers", "containers"] {
        for c in pod
            .pointer(&format!("/spec/{key}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = c.get("name").and_then(Value::as_str) {
                names.push(name.to_string());
            }
        }
    }
    names
}
