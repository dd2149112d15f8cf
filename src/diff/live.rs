//! The manifests against the live cluster. Every object is made into the very body `sync`
//! writes ([`Unit`]) and dry-run server-side with `sync`'s write (server-side apply under our
//! field manager, conflicts forced; or the client-side apply / replace its options ask for),
//! so defaults and mutating webhooks are on both sides of the comparison. Reads and dry runs
//! go out concurrently, bounded.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures_util::StreamExt;
use serde_json::Value;

use super::normalize::strip_noise;
use super::{DiffAction, DiffReport, IgnoreRule, ObjectDiff, StepDiff, StepRef};
use crate::cluster::applyset::ApplySet;
use crate::cluster::{Cluster, ClusterError};
use crate::model::Phase;
use crate::plan::Plan;
use crate::sync::ObjectInfo;
use crate::sync::prune;
use crate::sync::unit::{Unit, UnitOptions, WriteOptions};

/// How to compare (the flags of `kubectl waves diff`, as `sync` spells them).
#[derive(Debug, Clone)]
pub struct DiffOptions {
    pub server_side: bool,
    pub force_conflicts: bool,
    /// Objects read and dry-run at once.
    pub concurrency: usize,
    /// The app's inventory: its member label is part of what `sync` writes, and `--prune`
    /// lists its members that left the manifests.
    pub applyset: Option<ApplySet>,
    pub prune: bool,
    pub confirm_prune: bool,
    pub prune_last: bool,
    /// The destination namespace will be created by `sync --create-namespace`.
    pub create_namespace: bool,
    pub ignore: Vec<IgnoreRule>,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            server_side: true,
            force_conflicts: true,
            concurrency: 16,
            applyset: None,
            prune: false,
            confirm_prune: false,
            prune_last: false,
            create_namespace: false,
            ignore: Vec::new(),
        }
    }
}

/// A problem that stops the whole comparison (exit 2): the cluster cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{source_}: {object}: {error}")]
    Object {
        source_: String,
        object: String,
        error: ClusterError,
    },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Compares the plan with the cluster, step by step.
pub async fn against_cluster(
    cluster: &Cluster,
    plan: &Plan,
    options: &DiffOptions,
) -> Result<DiffReport, DiffError> {
    let unit_options = UnitOptions {
        sync_id: "diff",
        applyset: options.applyset.as_ref(),
    };
    // Every task of every step, in execution order; hooks are not compared.
    let mut units: Vec<(usize, Unit)> = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        for task in step.tasks() {
            units.push((i, Unit::new(cluster, plan, task, &unit_options).await));
        }
    }
    let existing = existing_namespaces(cluster, units.iter().map(|(_, u)| u)).await?;
    let created = created_namespaces(plan, cluster, options);
    let listed = list_live(cluster, &units, &existing, options.concurrency).await?;

    let compared: Vec<(usize, Result<ObjectDiff, DiffError>)> =
        futures_util::stream::iter(units.iter().enumerate().map(|(n, (_, u))| {
            let existing = &existing;
            let created = &created;
            let listed = &listed;
            async move {
                (
                    n,
                    compare_one(cluster, plan, u, options, existing, created, listed).await,
                )
            }
        }))
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    let mut by_unit: Vec<Option<ObjectDiff>> = vec![None; units.len()];
    for (n, result) in compared {
        by_unit[n] = Some(result?);
    }

    let prunes = if options.prune {
        prune_candidates(cluster, &units, options).await?
    } else {
        Vec::new()
    };
    let plan_steps: Vec<(Phase, i64)> = plan.steps.iter().map(|s| (s.phase, s.wave)).collect();
    let prune_waves: Vec<(i64, bool)> = prunes.iter().map(|p| (p.wave, p.prune_last)).collect();
    let schedule = prune::schedule(&plan_steps, &prune_waves, options.prune_last);

    let mut per_step: Vec<Vec<ObjectDiff>> = vec![Vec::new(); plan.steps.len()];
    for ((step, _), diff) in units.iter().zip(by_unit) {
        if let Some(d) = diff {
            per_step[*step].push(d);
        }
    }
    let mut prunes: Vec<Option<PruneCandidate>> = prunes.into_iter().map(Some).collect();
    let mut steps = Vec::with_capacity(schedule.len() + 1);
    for run in schedule {
        // Prunes first, as `sync` runs them.
        let mut objects: Vec<ObjectDiff> = run
            .prunes
            .iter()
            .filter_map(|&i| prunes[i].take().map(|p| p.diff))
            .collect();
        if let Some(i) = run.plan_step {
            objects.append(&mut per_step[i]);
        }
        steps.push(StepDiff::new(
            StepRef {
                phase: run.phase,
                wave: run.wave,
            },
            objects,
        ));
    }
    if !plan.sync_fail.is_empty() {
        let mut objects = Vec::new();
        for task in &plan.sync_fail {
            let u = Unit::new(cluster, plan, task, &unit_options).await;
            objects.push(ObjectDiff::new(info(plan, &u), DiffAction::WillRun));
        }
        steps.push(StepDiff::new(
            StepRef {
                phase: Phase::SyncFail,
                wave: 0,
            },
            objects,
        ));
    }
    let from = "cluster".to_string();
    let to = "manifests".to_string();
    Ok(DiffReport::new(from, to, steps))
}

/// How the report names an object: as written (a generateName hook by its prefix, not by
/// the name a sync would give it).
fn info(plan: &Plan, u: &Unit) -> ObjectInfo {
    let o = &plan.objects[u.object];
    ObjectInfo {
        api_version: o.api_version.to_string(),
        kind: o.kind.to_string(),
        namespace: u.namespace.clone(),
        name: o.name.clone(),
        source: o.source.to_string(),
    }
}

/// Live objects read by one list per kind and namespace: (apiVersion, kind, namespace) →
/// name → object.
type Listed = HashMap<(String, String, String), HashMap<String, Value>>;

/// From this many objects of one kind in one namespace on, one list reads them all instead of
/// a GET each (a namespace full of unrelated objects of a rare kind stays cheap).
const LIST_FROM: usize = 8;

/// Lists the live objects of every kind and namespace with many objects to compare.
async fn list_live(
    cluster: &Cluster,
    units: &[(usize, Unit)],
    existing: &HashSet<String>,
    concurrency: usize,
) -> Result<Listed, ClusterError> {
    let mut groups: HashMap<(String, String, String), (usize, &crate::cluster::ResolvedKind)> =
        HashMap::new();
    for (_, u) in units {
        let Some(kind) = &u.kind else { continue };
        if u.hook || (!u.namespace.is_empty() && !existing.contains(&u.namespace)) {
            continue;
        }
        let key = (
            kind.resource.api_version.clone(),
            kind.resource.kind.clone(),
            u.namespace.clone(),
        );
        groups.entry(key).or_insert((0, kind)).0 += 1;
    }
    let lists: Vec<Result<_, ClusterError>> = futures_util::stream::iter(
        groups
            .into_iter()
            .filter(|(_, (n, _))| *n >= LIST_FROM)
            .map(|(key, (_, kind))| async move {
                let namespace = (!key.2.is_empty()).then_some(key.2.as_str());
                let items = cluster.list(kind, namespace, None).await?;
                let by_name: HashMap<String, Value> = items
                    .into_iter()
                    .filter_map(|item| {
                        let name = item.pointer("/metadata/name")?.as_str()?.to_string();
                        Some((name, item))
                    })
                    .collect();
                Ok((key, by_name))
            }),
    )
    .buffer_unordered(concurrency.max(1))
    .collect()
    .await;
    lists.into_iter().collect()
}

/// The namespaces the units live in that exist now.
async fn existing_namespaces<'u>(
    cluster: &Cluster,
    units: impl Iterator<Item = &'u Unit>,
) -> Result<HashSet<String>, ClusterError> {
    let wanted: BTreeSet<&str> = units
        .filter(|u| !u.namespace.is_empty())
        .map(|u| u.namespace.as_str())
        .collect();
    let found: Vec<Result<Option<String>, ClusterError>> =
        futures_util::stream::iter(wanted.into_iter().map(|ns| async move {
            Ok(cluster.namespace_exists(ns).await?.then(|| ns.to_string()))
        }))
        .buffer_unordered(8)
        .collect()
        .await;
    let mut out = HashSet::new();
    for f in found {
        if let Some(ns) = f? {
            out.insert(ns);
        }
    }
    Ok(out)
}

/// Namespaces this sync would create: its Namespace objects, and the destination with
/// `--create-namespace`.
fn created_namespaces(plan: &Plan, cluster: &Cluster, options: &DiffOptions) -> HashSet<String> {
    let mut created: HashSet<String> = plan
        .objects
        .iter()
        .filter(|o| o.kind == "Namespace" && o.group.is_empty())
        .map(|o| o.name.clone())
        .collect();
    if options.create_namespace {
        created.insert(cluster.default_namespace.clone());
    }
    created
}

#[allow(clippy::too_many_arguments)]
async fn compare_one(
    cluster: &Cluster,
    plan: &Plan,
    u: &Unit,
    options: &DiffOptions,
    existing: &HashSet<String>,
    created: &HashSet<String>,
    listed: &Listed,
) -> Result<ObjectDiff, DiffError> {
    let o = &plan.objects[u.object];
    let object = info(plan, u);
    if u.hook {
        return Ok(ObjectDiff::new(object, DiffAction::WillRun));
    }
    let not_validated = |why: String| {
        let mut body = u.body.clone();
        strip_noise(&mut body);
        ObjectDiff::new(object.clone(), DiffAction::CreateNotValidated)
            .with_message(why)
            .with_versions(None, Some(body))
    };
    let Some(kind) = &u.kind else {
        let defined_here = plan.objects.iter().any(|crd| {
            crate::infer::refs::crd_defines(crd).is_some_and(|(g, k)| g == o.group && k == o.kind)
        });
        if defined_here {
            return Ok(not_validated(format!(
                "its CustomResourceDefinition ({}) is created by this sync",
                o.group
            )));
        }
        return Ok(ObjectDiff::new(object, DiffAction::Rejected).with_message(
            ClusterError::UnknownKind {
                api_version: o.api_version.to_string(),
                kind: o.kind.to_string(),
            }
            .to_string(),
        ));
    };
    if !u.namespace.is_empty() && !existing.contains(&u.namespace) && created.contains(&u.namespace)
    {
        return Ok(not_validated(format!(
            "Namespace {} is created by this sync",
            u.namespace
        )));
    }
    let how = WriteOptions {
        server_side: options.server_side,
        force_conflicts: options.force_conflicts,
        dry_run: true,
    };
    let group_key = (
        kind.resource.api_version.clone(),
        kind.resource.kind.clone(),
        u.namespace.clone(),
    );
    let read_live = async {
        match listed.get(&group_key) {
            Some(objects) => Ok(objects.get(&u.name).cloned()),
            None => cluster.get(kind, &u.namespace, &u.name).await,
        }
    };
    let (live, desired) = tokio::join!(read_live, u.write(cluster, o, kind, how));
    let fatal = |error: ClusterError| DiffError::Object {
        source_: o.source.to_string(),
        object: o.display_name(),
        error,
    };
    let live = match live {
        Ok(live) => live,
        Err(e) if e.is_forbidden() || matches!(e, ClusterError::Unreachable(_)) => {
            return Err(fatal(e));
        }
        // A namespace that does not exist (and is not created here): the dry run says so.
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(fatal(e)),
    };
    let mut desired = match desired {
        Ok(d) => d,
        Err(e) if e.is_forbidden() || matches!(e, ClusterError::Unreachable(_)) => {
            return Err(fatal(e));
        }
        Err(e) => {
            return Ok(ObjectDiff::new(object, DiffAction::Rejected)
                .with_message(format!("server-side dry run: {e}")));
        }
    };
    let Some(mut live) = live else {
        strip_noise(&mut desired);
        return Ok(ObjectDiff::new(object, DiffAction::Create).with_versions(None, Some(desired)));
    };
    super::ignore::apply_rules(
        &options.ignore,
        &o.group,
        &o.kind,
        &u.namespace,
        &u.name,
        Some(&mut desired),
        Some(&mut live),
    );
    strip_noise(&mut desired);
    strip_noise(&mut live);
    let action = if desired == live {
        DiffAction::Unchanged
    } else {
        DiffAction::Change
    };
    Ok(ObjectDiff::new(object, action).with_versions(Some(live), Some(desired)))
}

/// A member of the inventory that left the manifests.
struct PruneCandidate {
    wave: i64,
    prune_last: bool,
    diff: ObjectDiff,
}

/// The inventory's members that are not in the manifests, as `sync --prune` would treat
/// them: pruned, or kept by `Prune=false` / `Prune=confirm`.
async fn prune_candidates(
    cluster: &Cluster,
    units: &[(usize, Unit)],
    options: &DiffOptions,
) -> Result<Vec<PruneCandidate>, ClusterError> {
    let Some(set) = &options.applyset else {
        return Ok(Vec::new());
    };
    let Some(parent) = set.read(cluster).await? else {
        return Ok(Vec::new());
    };
    let desired: HashSet<_> = units
        .iter()
        .filter(|(_, u)| !u.hook)
        .map(|(_, u)| &u.key)
        .collect();
    let mut out = Vec::new();
    for (key, live) in set.members(cluster, &parent.inventory).await? {
        if desired.contains(&key) {
            continue;
        }
        let settings = prune::settings(&live);
        let object = ObjectInfo {
            api_version: kind_api_version(cluster, &key.group, &key.kind).await,
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            source: String::new(),
        };
        let mut before = live;
        // Listed items carry no apiVersion and kind of their own.
        if let Some(top) = before.as_object_mut() {
            top.insert(
                "apiVersion".into(),
                Value::String(object.api_version.clone()),
            );
            top.insert("kind".into(), Value::String(object.kind.clone()));
        }
        strip_noise(&mut before);
        let diff = if settings.never {
            ObjectDiff::new(object, DiffAction::Keep).with_message("Prune=false: left in place")
        } else if settings.confirm && !options.confirm_prune {
            ObjectDiff::new(object, DiffAction::Keep)
                .with_message("Prune=confirm: left in place (pass --confirm-prune to prune it)")
        } else {
            ObjectDiff::new(object, DiffAction::Prune).with_versions(Some(before), None)
        };
        out.push(PruneCandidate {
            wave: settings.wave,
            prune_last: settings.prune_last,
            diff,
        });
    }
    Ok(out)
}

/// The apiVersion the cluster prefers for a group and kind (list items do not say theirs).
async fn kind_api_version(cluster: &Cluster, group: &str, kind: &str) -> String {
    match cluster.resolve_group_kind(group, kind).await {
        Some(k) => k.resource.api_version,
        None if group.is_empty() => "v1".to_string(),
        None => format!("{group}/v1"),
    }
}
