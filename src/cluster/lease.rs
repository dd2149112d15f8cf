//! One sync of an app at a time: a `coordination.k8s.io` Lease named after the app's inventory,
//! held (and renewed) while a sync runs. A second sync finds it held and refuses, naming the
//! holder; a lease whose holder stopped renewing (a killed process) expires and is taken over.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};

use super::{Cluster, ClusterError};

/// How long a lease stays valid without renewal.
const DURATION_SECONDS: i32 = 60;
/// How often a running sync renews it.
const RENEW_EVERY: Duration = Duration::from_secs(15);

/// Why a lease could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "another sync of this app is running: {holder} holds Lease {namespace}/{name} (renewed {ago}s ago)"
    )]
    Held {
        namespace: String,
        name: String,
        holder: String,
        ago: i64,
    },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// A held lease; [`SyncLease::release`] gives it back (dropping it only stops the renewal, and
/// the lease then expires).
pub struct SyncLease {
    api: Api<Lease>,
    name: String,
    renew: tokio::task::JoinHandle<()>,
}

/// The Lease's name for an app's inventory `app`.
pub fn lease_name(app: &str) -> String {
    let name = format!("kubectl-waves-{app}");
    name.chars().take(253).collect()
}

fn now() -> MicroTime {
    MicroTime(Timestamp::now())
}

impl Cluster {
    /// Takes the sync lease of `app` in `namespace` for `holder`. `Ok(None)` when the namespace
    /// does not exist yet (this sync creates it, so nothing else can be syncing into it).
    pub async fn acquire_sync_lease(
        &self,
        namespace: &str,
        app: &str,
        holder: &str,
    ) -> Result<Option<SyncLease>, LeaseError> {
        let api: Api<Lease> = Api::namespaced(self.client.clone(), namespace);
        let name = lease_name(app);
        let spec = LeaseSpec {
            holder_identity: Some(holder.to_string()),
            lease_duration_seconds: Some(DURATION_SECONDS),
            acquire_time: Some(now()),
            renew_time: Some(now()),
            ..LeaseSpec::default()
        };
        let fresh = Lease {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.to_string()),
                ..ObjectMeta::default()
            },
            spec: Some(spec.clone()),
        };
        match api.create(&PostParams::default(), &fresh).await {
            Ok(_) => {}
            Err(e) => {
                let e = ClusterError::from(e);
                if e.is_not_found() {
                    return Ok(None);
                }
                if !e.is_conflict() {
                    return Err(e.into());
                }
                // It exists: refuse while it is current, take it over once expired.
                let live = api.get(&name).await.map_err(ClusterError::from)?;
                let live_spec = live.spec.clone().unwrap_or_default();
                let renewed = live_spec
                    .renew_time
                    .as_ref()
                    .or(live_spec.acquire_time.as_ref())
                    .map(|t| t.0);
                let ago = renewed
                    .map(|t| Timestamp::now().as_second() - t.as_second())
                    .unwrap_or(i64::MAX);
                let valid = i64::from(live_spec.lease_duration_seconds.unwrap_or(DURATION_SECONDS));
                if ago < valid {
                    return Err(LeaseError::Held {
                        namespace: namespace.to_string(),
                        name,
                        holder: live_spec.holder_identity.unwrap_or_else(|| "?".into()),
                        ago,
                    });
                }
                let mut taken = live;
                taken.spec = Some(spec);
                // The resourceVersion makes this a compare-and-swap: two takers, one wins.
                api.replace(&name, &PostParams::default(), &taken)
                    .await
                    .map_err(ClusterError::from)?;
            }
        }
        let renew_api = api.clone();
        let renew_name = name.clone();
        let renew = tokio::spawn(async move {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                let Ok(mut lease) = renew_api.get(&renew_name).await else {
                    continue;
                };
                if let Some(spec) = lease.spec.as_mut() {
                    spec.renew_time = Some(now());
                }
                let _ = renew_api
                    .replace(&renew_name, &PostParams::default(), &lease)
                    .await;
            }
        });
        Ok(Some(SyncLease { api, name, renew }))
    }
}

impl SyncLease {
    /// Stops renewing and deletes the lease.
    pub async fn release(self) {
        self.renew.abort();
        let _ = self.api.delete(&self.name, &DeleteParams::default()).await;
    }
}

impl Drop for SyncLease {
    fn drop(&mut self) {
        self.renew.abort();
    }
}
