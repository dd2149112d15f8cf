//! Pod health, as gitops-engine `health_pod.go`, with messages that name the cause.

use serde::Serialize;
use serde_json::Value;

use super::super::Health;
use super::super::object::{
    Gvk, annotation, arr_at, as_int, condition, get, int_at, is_hook, opt_int, opt_str, str_at,
};
use super::unsupported;

/// A container that is stuck waiting (image pull, crash loop, bad config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerProblem {
    /// Container name.
    pub container: String,
    /// Whether it is an init container.
    pub init: bool,
    /// `state.waiting.reason`, e.g. `CreateContainerConfigError`.
    pub reason: String,
    /// `state.waiting.message`, e.g. `secret "backend-credentials" not found`.
    pub message: String,
    /// `lastState.terminated`: reason and exit code of the previous run, if any.
    pub last_exit: Option<(String, i64)>,
}

impl std::fmt::Display for ContainerProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let which = if self.init {
            "init container"
        } else {
            "container"
        };
        write!(f, "{which} {:?}: {}", self.container, self.reason)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some((reason, code)) = &self.last_exit {
            if reason.is_empty() {
                write!(f, " (last exit code {code})")?;
            } else {
                write!(f, " (last exit: {reason}, code {code})")?;
            }
        }
        Ok(())
    }
}

/// Argo CD's test for a waiting container in error: the reason starts with `Err` or ends
/// with `Error` or `BackOff` (ImagePullBackOff, CrashLoopBackOff, ErrImagePull,
/// CreateContainerConfigError, CreateContainerError, RunContainerError, ...).
fn is_error_reason(reason: &str) -> bool {
    reason.starts_with("Err") || reason.ends_with("Error") || reason.ends_with("BackOff")
}

fn problem_of(status: &Value, init: bool, also: fn(&str) -> bool) -> Option<ContainerProblem> {
    let reason = opt_str(status, &["state", "waiting", "reason"])?;
    if !(is_error_reason(reason) || also(reason)) {
        return None;
    }
    let last_exit = get(status, &["lastState", "terminated"]).map(|t| {
        (
            str_at(t, &["reason"]).to_string(),
            t.get("exitCode").and_then(as_int).unwrap_or(0),
        )
    });
    Some(ContainerProblem {
        container: str_at(status, &["name"]).to_string(),
        init,
        reason: reason.to_string(),
        message: str_at(status, &["state", "waiting", "message"]).to_string(),
        last_exit,
    })
}

/// The containers (init containers first) of a Pod that are waiting in an error state:
/// ImagePullBackOff, ErrImagePull, InvalidImageName, CrashLoopBackOff,
/// CreateContainerConfigError, CreateContainerError, RunContainerError, ... `sync` uses it to
/// fail fast on a hook's pod; the message names the cause (e.g. the missing Secret).
pub fn container_problems(pod: &Value) -> Vec<ContainerProblem> {
    let also = |r: &str| r == "InvalidImageName";
    let init = arr_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .filter_map(|s| problem_of(s, true, also));
    let regular = arr_at(pod, &["status", "containerStatuses"])
        .iter()
        .filter_map(|s| problem_of(s, false, also));
    init.chain(regular).collect()
}

fn join(problems: &[ContainerProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Pod: with restartPolicy Always (or `argocd.argoproj.io/ignore-restart-policy: "true"` on a
/// non-hook), a regular container waiting in error → Degraded. Then by phase: Pending →
/// Progressing, Succeeded → Healthy, Failed → Degraded; Running: long-running pods are
/// Healthy when Ready, Degraded after a restart, else Progressing; Never/OnFailure pods stay
/// Progressing until they succeed (they are hooks, typically).
pub(crate) fn pod(obj: &Value, gvk: Gvk<'_>) -> Health {
    if gvk.version != "v1" {
        return unsupported("Pod", gvk);
    }
    let ignore_restart_policy =
        annotation(obj, "argocd.argoproj.io/ignore-restart-policy") == Some("true");
    // The API server defaults restartPolicy to Always; a recorded object may omit it.
    let policy = match str_at(obj, &["spec", "restartPolicy"]) {
        "" => "Always",
        p => p,
    };
    let long_running = policy == "Always" || (ignore_restart_policy && !is_hook(obj));
    let pod_message = str_at(obj, &["status", "message"]);
    let containers = arr_at(obj, &["status", "containerStatuses"]);

    if long_running {
        let stuck: Vec<ContainerProblem> = containers
            .iter()
            .filter_map(|s| problem_of(s, false, |_| false))
            .collect();
        if !stuck.is_empty() {
            return Health::degraded(join(&stuck));
        }
    }

    match str_at(obj, &["status", "phase"]) {
        "Pending" => Health::progressing(pending_message(obj, pod_message)),
        "Succeeded" => Health::healthy(pod_message),
        "Failed" => Health::degraded(failed_message(obj, pod_message)),
        "Running" if long_running => {
            if condition(obj, "Ready").is_some_and(|c| c.is_true()) {
                return Health::healthy(pod_message);
            }
            if let Some(restarted) = containers
                .iter()
                .find(|c| get(c, &["lastState", "terminated"]).is_some())
            {
                let message = if pod_message.is_empty() {
                    restart_message(restarted)
                } else {
                    pod_message.to_string()
                };
                return Health::degraded(message);
            }
            let message = if pod_message.is_empty() {
                not_ready_message(containers)
            } else {
                pod_message.to_string()
            };
            Health::progressing(message)
        }
        "Running" if matches!(policy, "OnFailure" | "Never") => {
            let message = if pod_message.is_empty() {
                format!(
                    "Running; a pod with restartPolicy {policy} is healthy once it has succeeded"
                )
            } else {
                pod_message.to_string()
            };
            Health::progressing(message)
        }
        _ => Health::unknown(pod_message),
    }
}

/// Why a pending pod is pending: containers waiting in error, else the pod's message, else
/// an unschedulable PodScheduled condition.
fn pending_message(obj: &Value, pod_message: &str) -> String {
    let problems = container_problems(obj);
    if !problems.is_empty() {
        return join(&problems);
    }
    if !pod_message.is_empty() {
        return pod_message.to_string();
    }
    match condition(obj, "PodScheduled") {
        Some(c) if c.is_false() => c.reason_message(),
        _ => String::new(),
    }
}

/// Argo CD's message for a failed pod: the pod's message, else the first terminated
/// container's message, "OOMKilled", or "container X failed with exit code N".
fn failed_message(obj: &Value, pod_message: &str) -> String {
    if !pod_message.is_empty() {
        return pod_message.to_string();
    }
    let statuses = arr_at(obj, &["status", "initContainerStatuses"])
        .iter()
        .chain(arr_at(obj, &["status", "containerStatuses"]));
    for ctr in statuses {
        let Some(term) = get(ctr, &["state", "terminated"]) else {
            continue;
        };
        let message = str_at(term, &["message"]);
        if !message.is_empty() {
            return message.to_string();
        }
        if str_at(term, &["reason"]) == "OOMKilled" {
            return "OOMKilled".to_string();
        }
        let code = term.get("exitCode").and_then(as_int).unwrap_or(0);
        if code != 0 {
            return format!(
                "container {:?} failed with exit code {code}",
                str_at(ctr, &["name"])
            );
        }
    }
    String::new()
}

fn restart_message(ctr: &Value) -> String {
    let name = str_at(ctr, &["name"]);
    let reason = str_at(ctr, &["lastState", "terminated", "reason"]);
    let code = opt_int(ctr, &["lastState", "terminated", "exitCode"]).unwrap_or(0);
    let restarts = int_at(ctr, &["restartCount"]);
    let reason = if reason.is_empty() {
        "terminated"
    } else {
        reason
    };
    format!(
        "container {name:?} is not ready and has restarted {restarts} time(s); last exit: {reason}, code {code}"
    )
}

fn not_ready_message(containers: &[Value]) -> String {
    let waiting: Vec<&str> = containers
        .iter()
        .filter(|c| c.get("ready").and_then(Value::as_bool) != Some(true))
        .map(|c| str_at(c, &["name"]))
        .collect();
    if waiting.is_empty() {
        "Waiting for the pod to become ready".to_string()
    } else {
        format!(
            "Waiting for containers to become ready: {}",
            waiting.join(", ")
        )
    }
}
