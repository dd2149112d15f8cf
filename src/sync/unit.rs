//! One task of the plan made concrete for a cluster: the body exactly as `sync` writes it
//! (namespace filled in, hook name and labels, the ApplySet member label), and the write that
//! its sync options call for. `sync` and `diff` share both, so `diff` dry-runs the very
//! request `sync` would send.

use std::time::Duration;

use serde_json::Value;

use super::hooks;
use crate::cluster::applyset::{self, ApplySet};
use crate::cluster::{ApplyMode, Cluster, ClusterError, LiveKey, Propagation, ResolvedKind};
use crate::model::Object;
use crate::plan::{Plan, Task};

/// One task made concrete: the object as it will be written.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Index in the plan's objects.
    pub object: usize,
    pub hook: bool,
    /// The body to write (namespace filled in; hooks: generated name and our labels).
    pub body: Value,
    pub namespace: String,
    pub name: String,
    /// `None` when the cluster does not serve the kind (yet: a CRD of this sync may add it).
    pub kind: Option<ResolvedKind>,
    pub key: LiveKey,
    pub timeout: Option<Duration>,
}

/// What shapes a body beyond the manifest.
pub struct UnitOptions<'a> {
    /// Names generateName hooks and labels every hook.
    pub sync_id: &'a str,
    /// The inventory whose member label every non-hook object carries.
    pub applyset: Option<&'a ApplySet>,
}

/// How to write: the app-level apply settings (per-object sync options come on top).
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    pub server_side: bool,
    pub force_conflicts: bool,
    pub dry_run: bool,
}

impl Unit {
    pub async fn new(
        cluster: &Cluster,
        plan: &Plan,
        task: &Task,
        options: &UnitOptions<'_>,
    ) -> Unit {
        let o = &plan.objects[task.object];
        let kind = cluster.resolve(&o.api_version, &o.kind).await;
        let namespace = namespace_of(plan, o, kind.as_ref(), &cluster.default_namespace);
        let hook = o.is_hook();
        let name = if hook && o.generate_name {
            hooks::generated_name(&o.name, options.sync_id, task.phase)
        } else {
            o.name.clone()
        };
        let mut body = if hook {
            hooks::hook_body(
                &o.value(),
                &name,
                o.generate_name,
                options.sync_id,
                task.phase,
                &hooks::hook_name_label(&o.name, o.generate_name),
            )
        } else {
            o.value()
        };
        if !namespace.is_empty()
            && let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.insert("namespace".into(), Value::String(namespace.clone()));
        }
        if !hook && let Some(set) = options.applyset {
            applyset::label_member(&mut body, &set.id);
        }
        Unit {
            object: task.object,
            hook,
            key: LiveKey::new(&o.group, &o.kind, &namespace, &name),
            body,
            namespace,
            name,
            kind,
            timeout: o.annotations.timeout,
        }
    }

    /// Writes the body as the object's sync options say: `Replace=true` replaces, else
    /// server-side apply (or client-side with `ServerSideApply=false` / `--server-side=false`);
    /// `Force=true` deletes and recreates an object that cannot be patched.
    pub async fn write(
        &self,
        cluster: &Cluster,
        object: &Object,
        kind: &ResolvedKind,
        how: WriteOptions,
    ) -> Result<Value, ClusterError> {
        let opts = &object.annotations.sync_options;
        let mode = ApplyMode {
            dry_run: how.dry_run,
            force_conflicts: how.force_conflicts,
            validate: opts.validate,
        };
        if opts.replace {
            return cluster
                .replace(kind, &self.namespace, &self.body, how.dry_run)
                .await;
        }
        let server_side = opts.server_side_apply.unwrap_or(how.server_side);
        let result = if server_side {
            cluster.apply(kind, &self.namespace, &self.body, mode).await
        } else {
            cluster
                .apply_client_side(kind, &self.namespace, &self.body, mode)
                .await
        };
        match result {
            // `Force=true`: an object that cannot be patched (an immutable field) is deleted
            // and created again, as `kubectl apply --force`.
            Err(ClusterError::Api { code: 422, .. }) if opts.force && !how.dry_run => {
                cluster
                    .delete(kind, &self.namespace, &self.name, Propagation::Foreground)
                    .await?;
                cluster
                    .wait_gone(kind, &self.namespace, &self.name, Duration::from_secs(120))
                    .await?;
                cluster.apply(kind, &self.namespace, &self.body, mode).await
            }
            other => other,
        }
    }
}

/// The namespace `sync` writes an object to: its own, else the default for namespaced kinds;
/// "" for cluster-scoped kinds (a kind not served yet: the scope its CRD in the plan gives).
/// `status` reads objects where this says they are.
pub fn namespace_of(
    plan: &Plan,
    o: &Object,
    kind: Option<&ResolvedKind>,
    default_namespace: &str,
) -> String {
    match kind {
        Some(k) if !k.namespaced => String::new(),
        _ if !o.namespace.is_empty() => o.namespace.to_string(),
        // A kind this sync's CRD defines: the CRD's scope decides.
        None if crd_scope_is_cluster(plan, o) => String::new(),
        _ => default_namespace.to_string(),
    }
}

/// Whether a CRD of this plan defines `o`'s kind as cluster-scoped.
pub fn crd_scope_is_cluster(plan: &Plan, o: &Object) -> bool {
    plan.objects.iter().any(|crd| {
        crd.defines
            .as_ref()
            .is_some_and(|d| d.group == o.group && d.kind == o.kind && d.cluster_scoped)
    })
}
