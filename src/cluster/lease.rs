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
    /// The holder whose lease this sync took over because its process is gone.
    pub taken_over_from: Option<String>,
}

/// This machine's name, as the holder identity gives it.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into())
}

/// Who holds the lease: `kubectl-waves sync ID on HOST (pid N)`.
pub fn holder_identity(sync_id: &str) -> String {
    format!(
        "kubectl-waves sync {sync_id} on {} (pid {})",
        host_name(),
        std::process::id()
    )
}

/// Whether `holder` names a sync on this machine whose process no longer runs (killed with
/// SIGKILL, or its machine rebooted): its lease need not be waited out. A reused pid only
/// makes this say "alive", the safe answer.
pub fn holder_is_gone(holder: &str, host: &str) -> bool {
    let Some(rest) = holder.strip_prefix("kubectl-waves sync ") else {
        return false;
    };
    let Some((_, place)) = rest.split_once(" on ") else {
        return false;
    };
    let Some((holder_host, pid)) = place.rsplit_once(" (pid ") else {
        return false;
    };
    let Some(pid) = pid.strip_suffix(')').and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    holder_host == host
        && pid != std::process::id()
        && cfg!(target_os = "linux")
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
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
        let mut taken_over_from = None;
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
                let previous = live_spec.holder_identity.clone().unwrap_or_default();
                let gone = holder_is_gone(&previous, &host_name());
                if ago < valid && !gone {
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
                if ago < valid {
                    taken_over_from = Some(previous);
                }
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
        Ok(Some(SyncLease {
            api,
            name,
            renew,
            taken_over_from,
        }))
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

#[cfg(test)]
mod tests {
    use super::holder_is_gone;

    #[test]
    fn only_a_holder_on_this_host_whose_process_is_gone_is_gone() {
        // pid 0 never names a process under /proc, and is not ours.
        let dead = "kubectl-waves sync abc on box-1 (pid 0)";
        if cfg!(target_os = "linux") {
            assert!(holder_is_gone(dead, "box-1"));
        }
        assert!(!holder_is_gone(dead, "box-2"), "another host: cannot tell");
        let me = format!(
            "kubectl-waves sync abc on box-1 (pid {})",
            std::process::id()
        );
        assert!(!holder_is_gone(&me, "box-1"));
        let alive = "kubectl-waves sync abc on box-1 (pid 1)";
        assert!(!holder_is_gone(alive, "box-1"));
        assert!(!holder_is_gone("someone else", "box-1"));
        assert!(!holder_is_gone(
            "kubectl-waves sync abc on box-1 (pid x)",
            "box-1"
        ));
    }
}
