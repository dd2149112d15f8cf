//! A real Kubernetes control plane for integration tests (see `testenv/README.md`).
//!
//! One control plane per test binary, started on first use and shared by every test:
//! `testenv/build` (a no-op when the binaries are current), then
//! `testenv/up --data-dir target/testenv/run-<pid> --watch-pid <pid>`. The watchdog that
//! `--watch-pid` starts runs `testenv/down` as soon as this process exits, however it
//! exits, so no process outlives the test binary. With `WAVES_TEST_KUBECONFIG` set, that
//! cluster is used instead and nothing is started.
//!
//! Tests that stop or restart parts of a control plane start one of their own
//! ([`OwnControlPlane`], with `testenv/restart`), never the shared one; it is started locally
//! even with `WAVES_TEST_KUBECONFIG`.
//!
//! A control plane that cannot start fails the test that asked for it, with the logs; it
//! is never skipped (in CI or elsewhere).
//!
//! ```ignore
//! let ns = cluster().ns("deploy").await; // fresh namespace, default ServiceAccount ready
//! let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
//! ```

use std::{
    fmt::Debug,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::{
    Api, Client, Config, Resource,
    api::{ObjectMeta, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::wait::{Condition, await_condition},
};
use serde::{Serialize, de::DeserializeOwned};

/// Environment variable naming the kubeconfig of an existing cluster to test against.
pub const KUBECONFIG_ENV: &str = "WAVES_TEST_KUBECONFIG";

/// The control plane shared by the tests of this binary.
#[derive(Debug)]
pub struct Cluster {
    /// Admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// Data dir (logs, certificates) of the control plane this process started; `None`
    /// when `WAVES_TEST_KUBECONFIG` was used.
    pub data_dir: Option<PathBuf>,
    /// Where `testenv/build` puts kubectl, kube-apiserver, etc.
    pub bin_dir: PathBuf,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// The shared control plane, started on first use. Panics, with the reason and the
/// logs, when it cannot be started.
pub fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(start) {
        Ok(cluster) => cluster,
        Err(message) => panic!("{message}"),
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn testenv_dir() -> PathBuf {
    repo_root().join("target").join("testenv")
}

/// Where `testenv/build` puts kubectl, kube-apiserver, etc. (`WAVES_TESTENV_BIN` overrides).
pub fn bin_dir() -> PathBuf {
    std::env::var_os("WAVES_TESTENV_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| testenv_dir().join("bin"))
}

/// Installs rustls' ring crypto provider (once per process; later calls are no-ops).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn start_hint() -> String {
    if in_ci() {
        "CI=true: a control plane that cannot start fails the tests.".to_string()
    } else {
        "The cluster tests need the local control plane: install Go >= 1.26 and run \
         testenv/build, or point WAVES_TEST_KUBECONFIG at an existing cluster's kubeconfig."
            .to_string()
    }
}

/// `testenv/build` (a no-op when current), once per process; stale data dirs removed first.
fn build_testenv(hint: &str) -> Result<(), String> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            remove_stale_runs();
            let build = Command::new(repo_root().join("testenv/build"))
                .stdin(Stdio::null())
                .stdout(Stdio::inherit())
                .stderr(Stdio::inherit())
                .status()
                .map_err(|e| format!("cannot run testenv/build: {e}"))?;
            if build.success() {
                Ok(())
            } else {
                Err(format!(
                    "testenv/build failed ({build}); its output is above."
                ))
            }
        })
        .clone()
        .map_err(|e| format!("{e}\n{hint}"))
}

fn start() -> Result<Cluster, String> {
    install_crypto_provider();
    if let Some(kubeconfig) = std::env::var_os(KUBECONFIG_ENV).filter(|v| !v.is_empty()) {
        let kubeconfig = PathBuf::from(kubeconfig);
        if !kubeconfig.is_file() {
            return Err(format!(
                "{KUBECONFIG_ENV}={} is not a readable file",
                kubeconfig.display()
            ));
        }
        return Ok(Cluster {
            kubeconfig,
            data_dir: None,
            bin_dir: bin_dir(),
        });
    }

    let hint = start_hint();
    build_testenv(&hint)?;

    let (kubeconfig, data_dir) = up(&format!("run-{}", std::process::id()), &hint)?;
    Ok(Cluster {
        kubeconfig,
        data_dir: Some(data_dir),
        bin_dir: bin_dir(),
    })
}

/// `testenv/up` in a fresh data dir `target/testenv/<name>[-<attempt>]` (`name` starts with
/// `run-<pid>` or `own-<pid>`), watched by this process; the kubeconfig and the data dir.
fn up(name: &str, hint: &str) -> Result<(PathBuf, PathBuf), String> {
    let root = repo_root();
    let pid = std::process::id();
    let started = Instant::now();
    // A start that fails once (seen: etcd gone within its first seconds on a busy machine,
    // with nothing in its log) is tried once more in a fresh data dir; the first failure is
    // kept in the message if the second fails too.
    let mut failures = Vec::new();
    let mut attempt = 0;
    let (data_dir, stdout, stderr) = loop {
        attempt += 1;
        let data_dir = testenv_dir().join(if attempt == 1 {
            name.to_string()
        } else {
            format!("{name}-{attempt}")
        });
        let up = Command::new(root.join("testenv/up"))
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--watch-pid")
            .arg(pid.to_string())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run testenv/up: {e}\n{hint}"))?;
        let stdout = String::from_utf8_lossy(&up.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&up.stderr).into_owned();
        if up.status.success() {
            break (data_dir, stdout, stderr);
        }
        failures.push(format!(
            "testenv/up failed ({}) after {:.1?}:\n{stderr}\n{}",
            up.status,
            started.elapsed(),
            log_tails(&data_dir, 60),
        ));
        if attempt == 2 {
            return Err(format!("{}\n{hint}", failures.join("\n")));
        }
        eprintln!("{}\ntrying once more", failures[0]);
    };
    let kubeconfig = stdout
        .lines()
        .find_map(|l| l.strip_prefix("export KUBECONFIG="))
        .map(|p| PathBuf::from(p.trim()))
        .ok_or_else(|| {
            format!("testenv/up printed no `export KUBECONFIG=` line:\n{stdout}\n{stderr}")
        })?;
    eprintln!(
        "control plane up in {:.1?}: KUBECONFIG={} (logs in {})",
        started.elapsed(),
        kubeconfig.display(),
        data_dir.join("logs").display()
    );
    Ok((kubeconfig, data_dir))
}

/// Data dirs of earlier test runs whose process is gone: stop anything left and remove them.
fn remove_stale_runs() {
    let Ok(entries) = std::fs::read_dir(testenv_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("run-").or_else(|| n.strip_prefix("own-")))
            .and_then(|p| p.split('-').next()?.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = Command::new(repo_root().join("testenv/down"))
            .arg("--data-dir")
            .arg(entry.path())
            .arg("--purge")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A control plane of one test's own (`testenv/up` in `target/testenv/own-<pid>-<n>`), for
/// what must not touch the shared one: stopping and restarting its apiserver or etcd.
/// Stopped and removed when dropped (its logs are printed first if the test failed).
pub struct OwnControlPlane {
    pub cluster: Cluster,
}

impl OwnControlPlane {
    /// Starts one (about 15 s on an idle machine); panics with the logs when it cannot.
    pub fn start() -> OwnControlPlane {
        install_crypto_provider();
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let hint = start_hint();
        let started = build_testenv(&hint).and_then(|()| {
            let n = COUNT.fetch_add(1, Ordering::Relaxed);
            let name = format!("own-{}-{n}", std::process::id());
            up(&name, &hint)
        });
        match started {
            Ok((kubeconfig, data_dir)) => OwnControlPlane {
                cluster: Cluster {
                    kubeconfig,
                    data_dir: Some(data_dir),
                    bin_dir: bin_dir(),
                },
            },
            Err(message) => panic!("{message}"),
        }
    }

    fn data_dir(&self) -> &Path {
        self.cluster
            .data_dir
            .as_deref()
            .expect("an own control plane has a data dir")
    }

    /// `testenv/restart --data-dir DIR ARGS...`; panics with its output when it fails.
    pub fn restart(&self, args: &[&str]) {
        let out = Command::new(repo_root().join("testenv/restart"))
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run testenv/restart");
        assert!(
            out.status.success(),
            "testenv/restart {args:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            log_tails(self.data_dir(), 40)
        );
    }
}

impl Drop for OwnControlPlane {
    fn drop(&mut self) {
        let Some(dir) = self.cluster.data_dir.clone() else {
            return;
        };
        if std::thread::panicking() {
            eprintln!("{}", log_tails(&dir, 40));
        }
        let _ = Command::new(repo_root().join("testenv/down"))
            .arg("--data-dir")
            .arg(&dir)
            .arg("--purge")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The last `lines` lines of the control plane's logs (apiserver, controller-manager, kwok).
pub fn log_tails(data_dir: &Path, lines: usize) -> String {
    let mut out = String::new();
    for name in ["kube-apiserver", "kube-controller-manager", "kwok"] {
        let path = data_dir.join("logs").join(format!("{name}.log"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let all: Vec<&str> = text.lines().collect();
        let tail = &all[all.len().saturating_sub(lines)..];
        out.push_str(&format!(
            "----- last {} lines of {} -----\n{}\n",
            tail.len(),
            path.display(),
            tail.join("\n")
        ));
    }
    out
}

impl Cluster {
    /// A new client for this cluster. Make one per test: a client belongs to the tokio
    /// runtime that created it, and each `#[tokio::test]` has its own.
    pub async fn client(&self) -> Client {
        install_crypto_provider();
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)
            .unwrap_or_else(|e| panic!("reading {}: {e}", self.kubeconfig.display()));
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap_or_else(|e| panic!("loading {}: {e}", self.kubeconfig.display()));
        Client::try_from(config).expect("building a kube client")
    }

    /// The kubectl built by testenv/build (else `kubectl` from PATH), with `KUBECONFIG` set.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(self.kubectl_path());
        cmd.env("KUBECONFIG", &self.kubeconfig);
        cmd
    }

    /// Path of the kubectl that [`Cluster::kubectl`] runs.
    pub fn kubectl_path(&self) -> PathBuf {
        let built = self.bin_dir.join("kubectl");
        if built.is_file() {
            built
        } else {
            PathBuf::from("kubectl")
        }
    }

    /// A guard that prints the tail of the control plane's logs if the test panics.
    pub fn failure_logs(&self) -> FailureLogs {
        FailureLogs {
            data_dir: self.data_dir.clone(),
        }
    }

    /// A fresh namespace named `<prefix>-<unique>`, once its default ServiceAccount exists
    /// (pods are refused before that). Deleted when the returned value is dropped, unless
    /// the test failed; the logs are printed then.
    pub async fn ns(&self, prefix: &str) -> TestNs {
        let logs = self.failure_logs();
        let client = self.client().await;
        let name = unique_name(prefix);
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([("test.waves/smoke".to_string(), "true".to_string())].into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match accounts.get_opt("default").await {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Ok(None) => panic!(
                    "namespace {name}: no default ServiceAccount after 60s \
                     (is kube-controller-manager's serviceaccount controller running?)"
                ),
                Err(e) => panic!("namespace {name}: reading ServiceAccount default: {e}"),
            }
        }
        TestNs {
            client,
            name,
            kubectl: self.kubectl_path(),
            kubeconfig: self.kubeconfig.clone(),
            _logs: logs,
        }
    }
}

/// A DNS-label name `<prefix>-<pid>-<n><time>` that no other test (or earlier run against
/// the same cluster) uses.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let prefix: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(30)
        .collect();
    format!(
        "{}-{}-{n}{:x}",
        prefix.trim_matches('-'),
        std::process::id(),
        nanos & 0xffff
    )
}

/// Prints the tail of the control plane's logs when dropped during a panic.
pub struct FailureLogs {
    data_dir: Option<PathBuf>,
}

impl Drop for FailureLogs {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        match &self.data_dir {
            Some(dir) => eprintln!("{}", log_tails(dir, 40)),
            None => eprintln!("(cluster from {KUBECONFIG_ENV}: no control-plane logs to show)"),
        }
    }
}

/// A namespace of one test, with a client. Dropping it deletes the namespace (in the
/// background) if the test passed, and prints the control plane's logs if it failed.
pub struct TestNs {
    pub client: Client,
    pub name: String,
    kubectl: PathBuf,
    kubeconfig: PathBuf,
    _logs: FailureLogs,
}

impl TestNs {
    /// `Api<K>` in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("namespace {} kept for inspection", self.name);
            return;
        }
        let _ = Command::new(&self.kubectl)
            .env("KUBECONFIG", &self.kubeconfig)
            .args(["delete", "namespace", &self.name, "--wait=false"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Waits until `cond` holds for the object `name` (given `None` once it is gone) and
/// returns it; panics after `timeout` showing the object as it was then.
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    timeout: Duration,
    cond: impl Condition<K>,
) -> Option<K>
where
    K: Clone + Debug + Send + Serialize + DeserializeOwned + Resource + 'static,
{
    match tokio::time::timeout(timeout, await_condition(api.clone(), name, cond)).await {
        Ok(Ok(obj)) => obj,
        Ok(Err(e)) => panic!("waiting for {name} to be {what}: {e}"),
        Err(_) => {
            let now = match api.get_opt(name).await {
                Ok(Some(obj)) => serde_json::to_string_pretty(&obj).unwrap_or_default(),
                Ok(None) => "(not found)".to_string(),
                Err(e) => format!("(cannot read it: {e})"),
            };
            panic!("{name} is not {what} after {timeout:?}; it is now:\n{now}")
        }
    }
}
