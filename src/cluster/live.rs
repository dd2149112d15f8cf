//! Live objects kept current by watches (`kube::runtime::watcher`: relists on 410, resumes
//! after dropped connections, backs off on errors, see `WatchBackoff`). A sync starts the watches a step needs
//! before applying it, then judges the step from this store whenever it changes: no polling.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::watch;

use super::{ResolvedKind, retry};

/// Identity of a live object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LiveKey {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl LiveKey {
    pub fn new(group: &str, kind: &str, namespace: &str, name: &str) -> Self {
        LiveKey {
            group: group.to_string(),
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

impl std::fmt::Display for LiveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::model::display_name(
            &self.kind,
            &self.namespace,
            &self.name,
        ))
    }
}

/// The latest seen version of every watched object, and a change counter to wait on.
#[derive(Clone)]
pub struct LiveStore {
    inner: Arc<Inner>,
}

struct Inner {
    objects: Mutex<HashMap<LiveKey, Value>>,
    changed: watch::Sender<u64>,
    /// The last watch error per watched kind, for messages (`None` once it recovered).
    errors: Mutex<HashMap<String, String>>,
}

impl Default for LiveStore {
    fn default() -> Self {
        LiveStore {
            inner: Arc::new(Inner {
                objects: Mutex::new(HashMap::new()),
                changed: watch::channel(0).0,
                errors: Mutex::new(HashMap::new()),
            }),
        }
    }
}

fn resource_version(object: &Value) -> Option<u64> {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.parse().ok())
}

impl LiveStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LiveKey, Value>> {
        self.inner
            .objects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn notify(&self) {
        self.inner.changed.send_modify(|n| *n += 1);
    }

    /// A receiver that wakes on every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// The object as last seen.
    pub fn get(&self, key: &LiveKey) -> Option<Value> {
        self.lock().get(key).cloned()
    }

    /// Every object of a kind in a namespace (e.g. the pods behind a workload).
    pub fn list(&self, group: &str, kind: &str, namespace: &str) -> Vec<Value> {
        self.lock()
            .iter()
            .filter(|(k, _)| k.group == group && k.kind == kind && k.namespace == namespace)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Records a version of an object (a watch event, or the answer to our own write) unless
    /// a newer one is known. resourceVersions are etcd revisions: comparable in practice.
    pub fn observe(&self, key: LiveKey, object: Value) {
        {
            let mut objects = self.lock();
            if let Some(known) = objects.get(&key)
                && let (Some(old), Some(new)) = (resource_version(known), resource_version(&object))
                && old > new
            {
                return;
            }
            objects.insert(key, object);
        }
        self.notify();
    }

    /// Forgets an object that was deleted (unless a newer version was seen since).
    pub fn forget(&self, key: &LiveKey, deleted: Option<&Value>) {
        {
            let mut objects = self.lock();
            if let (Some(known), Some(deleted)) = (objects.get(key), deleted)
                && let (Some(old), Some(gone)) =
                    (resource_version(known), resource_version(deleted))
                && old > gone
            {
                return;
            }
            objects.remove(key);
        }
        self.notify();
    }

    /// Watch errors that have not recovered yet, as `kind: message`.
    pub fn watch_errors(&self) -> Vec<String> {
        let errors = self
            .inner
            .errors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        errors.iter().map(|(k, e)| format!("{k}: {e}")).collect()
    }

    fn set_error(&self, kind: &str, error: Option<String>) {
        let mut errors = self
            .inner
            .errors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match error {
            Some(e) => errors.insert(kind.to_string(), e),
            None => errors.remove(kind),
        };
    }
}

/// A running watch; dropping it stops the watch.
pub struct WatchHandle {
    task: tokio::task::JoinHandle<()>,
    listed: watch::Receiver<bool>,
}

impl WatchHandle {
    /// Waits until the initial list is in the store (so no later event is missed).
    pub async fn listed(&mut self) {
        let _ = self.listed.wait_for(|done| *done).await;
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The object as a value with its `apiVersion` and `kind`: the items of a list come without
/// them, and health rules and the pods-behind-a-workload lookup need them.
fn typed(mut o: DynamicObject, kind: &ResolvedKind) -> Value {
    if o.types.as_ref().is_none_or(|t| t.kind.is_empty()) {
        o.types = Some(kube::api::TypeMeta {
            api_version: kind.resource.api_version.clone(),
            kind: kind.resource.kind.clone(),
        });
    }
    serde_json::to_value(o).unwrap_or(Value::Null)
}

/// How a broken watch is re-established: kube's default backs off up to 30 s, so after an
/// apiserver restart of 15 s a sync could wait another 30 s before it sees the wave's
/// completion. A sync is one client waiting on a few kinds: it retries sooner, doubling from
/// 0.5 s up to 4 s (with jitter), and starts again from 0.5 s once an event arrives.
#[derive(Debug, Default)]
struct WatchBackoff {
    attempt: u32,
}

impl WatchBackoff {
    const BACKOFF: retry::Backoff = retry::Backoff {
        base: Duration::from_millis(500),
        cap: Duration::from_secs(4),
    };
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = Self::BACKOFF.delay(self.attempt, retry::random_unit());
        self.attempt = self.attempt.saturating_add(1);
        Some(delay)
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.attempt = 0;
    }
}

pub(super) fn spawn_watch(
    api: Api<DynamicObject>,
    kind: ResolvedKind,
    store: LiveStore,
) -> WatchHandle {
    let (listed_tx, listed) = watch::channel(false);
    let group = kind.resource.group.clone();
    let kind_name = kind.resource.kind.clone();
    let task = tokio::spawn(async move {
        let key_of = |o: &DynamicObject| {
            LiveKey::new(
                &group,
                &kind_name,
                o.metadata.namespace.as_deref().unwrap_or(""),
                o.metadata.name.as_deref().unwrap_or(""),
            )
        };
        let mut stream = watcher::watcher(api, watcher::Config::default())
            .backoff(WatchBackoff::default())
            .boxed();
        // Keys seen during a (re)list: anything else of this watch was deleted meanwhile.
        let mut seen: Option<HashSet<LiveKey>> = None;
        let mut before: HashSet<LiveKey> = HashSet::new();
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Init) => seen = Some(HashSet::new()),
                Ok(Event::InitApply(o)) => {
                    let key = key_of(&o);
                    if let Some(seen) = seen.as_mut() {
                        seen.insert(key.clone());
                    }
                    store.observe(key, typed(o, &kind));
                }
                Ok(Event::InitDone) => {
                    let now = seen.take().unwrap_or_default();
                    for gone in before.difference(&now) {
                        store.forget(gone, None);
                    }
                    before = now;
                    store.set_error(&kind_name, None);
                    let _ = listed_tx.send(true);
                }
                Ok(Event::Apply(o)) => {
                    let key = key_of(&o);
                    before.insert(key.clone());
                    store.observe(key, typed(o, &kind));
                }
                Ok(Event::Delete(o)) => {
                    let key = key_of(&o);
                    before.remove(&key);
                    let value = serde_json::to_value(&o).unwrap_or(Value::Null);
                    store.forget(&key, Some(&value));
                }
                Err(e) => store.set_error(&kind_name, Some(e.to_string())),
            }
        }
    });
    WatchHandle { task, listed }
}
