//! Discovery: which resource serves an `apiVersion` + `kind`, and whether it is namespaced.

use std::collections::HashMap;

use kube::Client;
use kube::discovery::{ApiGroup, ApiResource, Discovery, Scope};

use super::Result;

/// A kind the cluster serves.
#[derive(Debug, Clone)]
pub struct ResolvedKind {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// Every (apiVersion, kind) the cluster serves.
#[derive(Debug, Default)]
pub struct Kinds {
    by_version_kind: HashMap<(String, String), ResolvedKind>,
    /// (group, kind) → the group's preferred version of it.
    by_group_kind: HashMap<(String, String), ResolvedKind>,
}

impl Kinds {
    /// Full discovery: aggregated (two requests) where the server has it, else per group.
    pub async fn discover(client: &Client) -> Result<Kinds> {
        let discovery = match Discovery::new(client.clone()).run_aggregated().await {
            Ok(d) => d,
            Err(_) => Discovery::new(client.clone()).run().await?,
        };
        let mut kinds = Kinds::default();
        for group in discovery.groups() {
            kinds.add_group(group);
        }
        Ok(kinds)
    }

    /// Discovery of one group, e.g. after its CRD became Established.
    pub async fn discover_group(client: &Client, group: &str) -> Result<Kinds> {
        let mut kinds = Kinds::default();
        let found = kube::discovery::group(client, group).await?;
        kinds.add_group(&found);
        Ok(kinds)
    }

    fn add_group(&mut self, group: &ApiGroup) {
        for (resource, caps) in group.recommended_resources() {
            if resource.plural.contains('/') {
                continue;
            }
            self.by_group_kind.insert(
                (resource.group.clone(), resource.kind.clone()),
                ResolvedKind {
                    namespaced: caps.scope == Scope::Namespaced,
                    resource,
                },
            );
        }
        for version in group.versions() {
            for (resource, caps) in group.versioned_resources(version) {
                // Subresources (`pods/log`) have no kind of their own to apply.
                if resource.plural.contains('/') {
                    continue;
                }
                let key = (resource.api_version.clone(), resource.kind.clone());
                self.by_version_kind.insert(
                    key,
                    ResolvedKind {
                        namespaced: caps.scope == Scope::Namespaced,
                        resource,
                    },
                );
            }
        }
    }

    /// Every served `group/version` and `group/version/Kind` (core: `v1`, `v1/Pod`), sorted:
    /// what Argo CD passes to `helm template --api-versions` so that charts see the cluster's
    /// `.Capabilities.APIVersions`.
    pub fn api_versions(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .by_version_kind
            .keys()
            .flat_map(|(version, kind)| [version.clone(), format!("{version}/{kind}")])
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Adds what `other` found, replacing older entries.
    pub fn merge(&mut self, other: Kinds) {
        self.by_version_kind.extend(other.by_version_kind);
        self.by_group_kind.extend(other.by_group_kind);
    }

    /// The preferred version's resource for `group`/`kind`.
    pub fn resolve_group_kind(&self, group: &str, kind: &str) -> Option<ResolvedKind> {
        self.by_group_kind
            .get(&(group.to_string(), kind.to_string()))
            .cloned()
    }

    /// The kinds a user's word names, as `kubectl get` reads it: a kind (`Job`), a plural
    /// (`jobs`) or a singular (`job`), case-insensitive, optionally qualified by the group
    /// (`Workflow.argoproj.io`, `jobs.batch`). One entry per group that serves it, in the
    /// preferred version, core group first.
    pub fn find(&self, word: &str) -> Vec<ResolvedKind> {
        let word = word.to_ascii_lowercase();
        let mut found: Vec<ResolvedKind> = self
            .by_group_kind
            .values()
            .filter(|k| {
                let r = &k.resource;
                let names = [r.kind.to_ascii_lowercase(), r.plural.to_ascii_lowercase()];
                names.iter().any(|n| {
                    *n == word || (!r.group.is_empty() && word == format!("{n}.{}", r.group))
                })
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            (!a.resource.group.is_empty(), &a.resource.group)
                .cmp(&(!b.resource.group.is_empty(), &b.resource.group))
        });
        found
    }

    /// The resource for `apiVersion`/`kind`.
    pub fn resolve(&self, api_version: &str, kind: &str) -> Option<ResolvedKind> {
        self.by_version_kind
            .get(&(api_version.to_string(), kind.to_string()))
            .cloned()
    }
}
