//! Offline structural checks of built-in kinds: what the apiserver would refuse before any
//! sync starts (WAVES207: a value of the wrong type, such as a string where an integer is
//! required; WAVES208: a required field missing, such as a Deployment's `spec.selector`).
//!
//! Each object of a built-in `apiVersion`/`kind` is decoded into its `k8s-openapi` type; the
//! decoder's path names the field, and the document's lines give its `path:line`. Those types
//! fill a missing required field with its default, so required fields are checked from a list
//! of the ones the apiserver insists on ([`missing_required`]). Only what
//! the apiserver rejects as well is reported: a number is accepted where a quantity is
//! expected (`cpu: 1`), as the apiserver does; unknown fields are left to the apiserver's
//! field validation (a warning there by default).

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::Segment;

use crate::diagnostics::{Code, Diagnostic};
use crate::model::Source;

/// A structural problem: the code, the field's path and what is wrong.
struct Problem {
    code: Code,
    path: Vec<Segment>,
    message: String,
}

/// Decodes `value` as `T`, turning numbers into strings where a quantity is expected (the
/// apiserver accepts both), and reports the first problem.
fn decode<T: DeserializeOwned>(value: &Value) -> Option<Problem> {
    // Most objects decode as they are: only a failure (or a `status` to drop) needs a copy
    // to change.
    if value.get("status").is_none() && serde_path_to_error::deserialize::<_, T>(value).is_ok() {
        return None;
    }
    let mut value = value.clone();
    // The apiserver ignores `status` on create and apply (a subresource); so do we.
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
    }
    // Each round fixes one quantity written as a number; a manifest has few.
    for _ in 0..64 {
        let error = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(_) => return None,
            Err(e) => e,
        };
        let path: Vec<Segment> = error.path().iter().cloned().collect();
        let message = error.inner().to_string();
        let number = message.starts_with("invalid type: integer")
            || message.starts_with("invalid type: floating point");
        if number && is_quantity(&path) && stringify(&mut value, &path) {
            continue;
        }
        let code = if message.starts_with("missing field") {
            Code::MissingRequiredField
        } else {
            Code::WrongFieldType
        };
        return Some(Problem {
            code,
            path,
            message,
        });
    }
    None
}

fn key(k: &str) -> Segment {
    Segment::Map { key: k.to_string() }
}

/// The path of the pod template's spec in an object of `kind` (empty for a Pod).
fn pod_spec_path(kind: &str) -> Option<Vec<&'static str>> {
    Some(match kind {
        "Pod" => vec!["spec"],
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            vec!["spec", "template", "spec"]
        }
        "CronJob" => vec!["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

/// The first required field (that the apiserver refuses to do without) missing from `value`.
fn missing_required(value: &Value, kind: &str) -> Option<Problem> {
    let at = |path: &[&str]| -> Option<&Value> {
        path.iter()
            .try_fold(value, |v, k| v.get(*k))
            .filter(|v| !v.is_null())
    };
    let missing = |parent: &[&str], field: &str| Problem {
        code: Code::MissingRequiredField,
        path: parent.iter().map(|k| key(k)).collect(),
        message: format!("missing field `{field}`"),
    };
    let mut required: Vec<(Vec<&str>, &str)> = Vec::new();
    match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => {
            required.push((vec!["spec"], "selector"));
            required.push((vec!["spec"], "template"));
        }
        "Job" => required.push((vec!["spec"], "template")),
        "CronJob" => {
            required.push((vec!["spec"], "schedule"));
            required.push((vec!["spec"], "jobTemplate"));
        }
        "RoleBinding" | "ClusterRoleBinding" => required.push((vec![], "roleRef")),
        "HorizontalPodAutoscaler" => {
            required.push((vec!["spec"], "scaleTargetRef"));
            required.push((vec!["spec"], "maxReplicas"));
        }
        _ => {}
    }
    if matches!(
        kind,
        "Deployment"
            | "StatefulSet"
            | "DaemonSet"
            | "ReplicaSet"
            | "Job"
            | "CronJob"
            | "Pod"
            | "Service"
            | "HorizontalPodAutoscaler"
    ) {
        required.insert(0, (vec![], "spec"));
    }
    for (parent, field) in &required {
        if at(parent).is_some() && at(&[parent.as_slice(), &[field]].concat()).is_none() {
            return Some(missing(parent, field));
        }
    }
    if let Some(spec) = pod_spec_path(kind)
        && let Some(pod) = at(&spec)
    {
        let containers = pod.get("containers").and_then(Value::as_array);
        if containers.is_none_or(|c| c.is_empty()) {
            return Some(missing(&spec, "containers"));
        }
        for list in ["initContainers", "containers"] {
            for (i, c) in pod
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if c.get("name")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    let mut path: Vec<Segment> = spec.iter().map(|k| key(k)).collect();
                    path.push(key(list));
                    path.push(Segment::Seq { index: i });
                    return Some(Problem {
                        code: Code::MissingRequiredField,
                        path,
                        message: "missing field `name`".into(),
                    });
                }
            }
        }
    }
    if kind == "Service" {
        let ports = at(&["spec", "ports"]).and_then(Value::as_array);
        for (i, p) in ports.into_iter().flatten().enumerate() {
            if p.get("port").is_none_or(Value::is_null) {
                return Some(Problem {
                    code: Code::MissingRequiredField,
                    path: vec![key("spec"), key("ports"), Segment::Seq { index: i }],
                    message: "missing field `port`".into(),
                });
            }
        }
    }
    None
}

/// Whether the field at `path` is a `resource.Quantity` (resources, capacities, quotas, sizes).
fn is_quantity(path: &[Segment]) -> bool {
    let keys: Vec<&str> = path
        .iter()
        .filter_map(|s| match s {
            Segment::Map { key } => Some(key.as_str()),
            _ => None,
        })
        .collect();
    match keys.as_slice() {
        [.., "sizeLimit"] => true,
        [.., parent, _] => matches!(
            *parent,
            "limits"
                | "requests"
                | "hard"
                | "capacity"
                | "overhead"
                | "default"
                | "defaultRequest"
                | "max"
                | "min"
                | "maxLimitRequestRatio"
        ),
        _ => false,
    }
}

/// Replaces the number at `path` by its text; false when there is none.
fn stringify(value: &mut Value, path: &[Segment]) -> bool {
    let mut at = value;
    for segment in path {
        at = match segment {
            Segment::Map { key } => match at.get_mut(key.as_str()) {
                Some(v) => v,
                None => return false,
            },
            Segment::Seq { index } => match at.get_mut(*index) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match at {
        Value::Number(n) => {
            *at = Value::String(n.to_string());
            true
        }
        _ => false,
    }
}

/// `spec.template.spec.containers[0].ports[0].containerPort`.
fn dotted(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            _ => {}
        }
    }
    out
}

/// The line of the field at `path` within the document's lines `[from, end)`, or the nearest
/// enclosing field found (indentation-based; for JSON the keys are found the same way).
fn line_of(lines: &[&str], from: usize, end: usize, path: &[Segment]) -> usize {
    let mut line = from;
    for segment in path {
        match segment {
            Segment::Map { key } => {
                let found = super::parse::key_line(lines, line, end, key);
                if found == line && !line_has_key(lines, line, key) {
                    return line;
                }
                line = found;
            }
            Segment::Seq { index } => match list_item(lines, line + 1, end, *index) {
                Some(l) => line = l,
                None => return line,
            },
            _ => return line,
        }
    }
    line
}

fn line_has_key(lines: &[&str], line: usize, key: &str) -> bool {
    lines
        .get(line.wrapping_sub(1))
        .is_some_and(|l| l.contains(&format!("{key}:")) || l.contains(&format!("\"{key}\"")))
}

/// The line of the `index`-th YAML list item (`- `) at the indentation of the first one after
/// `from`.
fn list_item(lines: &[&str], from: usize, end: usize, index: usize) -> Option<usize> {
    let lo = from.saturating_sub(1).min(lines.len());
    let hi = end.saturating_sub(1).clamp(lo, lines.len());
    let mut indent = None;
    let mut seen = 0;
    for (i, l) in lines[lo..hi].iter().enumerate() {
        let trimmed = l.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let width = l.len() - trimmed.len();
        if !trimmed.starts_with("- ") && trimmed != "-" {
            if indent.is_some_and(|w| width < w) {
                return None;
            }
            continue;
        }
        match indent {
            None => indent = Some(width),
            Some(w) if width < w => return None,
            Some(w) if width > w => continue,
            Some(_) => {}
        }
        if seen == index {
            return Some(lo + i + 1);
        }
        seen += 1;
    }
    None
}

macro_rules! typed {
    ($value:expr, $api_version:expr, $kind:expr, { $($av:literal, $k:literal => $t:ty;)* }) => {
        match ($api_version, $kind) {
            $(($av, $k) => decode::<$t>($value),)*
            _ => None,
        }
    };
}

/// The structural problem of one object, if it is of a built-in kind and has one.
pub(crate) fn check(
    value: &Value,
    api_version: &str,
    kind: &str,
    object: &str,
    source: &Source,
    lines: &[&str],
    end: usize,
) -> Option<Diagnostic> {
    use k8s_openapi::api::{
        apps, autoscaling, batch, core, networking, policy, rbac, scheduling, storage,
    };
    let problem = typed!(value, api_version, kind, {
        "v1", "ConfigMap" => core::v1::ConfigMap;
        "v1", "Secret" => core::v1::Secret;
        "v1", "Service" => core::v1::Service;
        "v1", "ServiceAccount" => core::v1::ServiceAccount;
        "v1", "Pod" => core::v1::Pod;
        "v1", "Namespace" => core::v1::Namespace;
        "v1", "PersistentVolumeClaim" => core::v1::PersistentVolumeClaim;
        "v1", "PersistentVolume" => core::v1::PersistentVolume;
        "v1", "LimitRange" => core::v1::LimitRange;
        "v1", "ResourceQuota" => core::v1::ResourceQuota;
        "apps/v1", "Deployment" => apps::v1::Deployment;
        "apps/v1", "StatefulSet" => apps::v1::StatefulSet;
        "apps/v1", "DaemonSet" => apps::v1::DaemonSet;
        "apps/v1", "ReplicaSet" => apps::v1::ReplicaSet;
        "batch/v1", "Job" => batch::v1::Job;
        "batch/v1", "CronJob" => batch::v1::CronJob;
        "networking.k8s.io/v1", "Ingress" => networking::v1::Ingress;
        "networking.k8s.io/v1", "IngressClass" => networking::v1::IngressClass;
        "networking.k8s.io/v1", "NetworkPolicy" => networking::v1::NetworkPolicy;
        "policy/v1", "PodDisruptionBudget" => policy::v1::PodDisruptionBudget;
        "rbac.authorization.k8s.io/v1", "Role" => rbac::v1::Role;
        "rbac.authorization.k8s.io/v1", "ClusterRole" => rbac::v1::ClusterRole;
        "rbac.authorization.k8s.io/v1", "RoleBinding" => rbac::v1::RoleBinding;
        "rbac.authorization.k8s.io/v1", "ClusterRoleBinding" => rbac::v1::ClusterRoleBinding;
        "autoscaling/v2", "HorizontalPodAutoscaler" => autoscaling::v2::HorizontalPodAutoscaler;
        "storage.k8s.io/v1", "StorageClass" => storage::v1::StorageClass;
        "scheduling.k8s.io/v1", "PriorityClass" => scheduling::v1::PriorityClass;
    })
    .or_else(|| {
        let known = matches!(
            api_version,
            "v1" | "apps/v1" | "batch/v1" | "rbac.authorization.k8s.io/v1" | "autoscaling/v2"
        );
        known.then(|| missing_required(value, kind)).flatten()
    })?;
    // Annotation values that are not strings have their own finding (WAVES205).
    if matches!(problem.path.first(), Some(Segment::Map { key }) if key == "metadata")
        && matches!(problem.path.get(1), Some(Segment::Map { key }) if key == "annotations")
    {
        return None;
    }
    let field = dotted(&problem.path);
    let line = line_of(lines, source.line, end, &problem.path);
    let message = match problem.code {
        Code::MissingRequiredField => {
            let missing = problem
                .message
                .strip_prefix("missing field `")
                .and_then(|m| m.split('`').next())
                .unwrap_or(&problem.message);
            let within = if field.is_empty() {
                String::new()
            } else {
                format!("{field}.")
            };
            format!(
                "{kind} needs {within}{missing}: the apiserver refuses the object without it (kubectl apply fails)"
            )
        }
        _ => format!(
            "{field}: {}: the apiserver refuses the object (kubectl apply fails)",
            problem.message
        ),
    };
    Some(Diagnostic::new(
        problem.code,
        &source.at(line),
        object,
        message,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(value: Value, text: &str) -> Option<Diagnostic> {
        let lines: Vec<&str> = text.lines().collect();
        let source = Source::new("app.yaml", 1);
        check(
            &value,
            value["apiVersion"].as_str().unwrap(),
            value["kind"].as_str().unwrap(),
            "X",
            &source,
            &lines,
            lines.len() + 1,
        )
    }

    #[test]
    fn a_deployment_without_selector_is_refused() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: api\n          image: api\n";
        let v = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "api", "image": "api"}]}}}});
        let d = run(v, text).expect("selector missing");
        assert_eq!(d.code, Code::MissingRequiredField);
        assert!(d.message.contains("spec.selector"), "{}", d.message);
        assert_eq!(d.source.line, 5, "the line of spec");
    }

    #[test]
    fn a_string_where_an_integer_is_required_names_the_field_and_line() {
        let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  ports:\n    - name: http\n      port: 80\n    - name: grpc\n      port: \"grpc\"\n";
        let v = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
            "spec": {"ports": [{"name": "http", "port": 80}, {"name": "grpc", "port": "grpc"}]}});
        let d = run(v, text).expect("port is a string");
        assert_eq!(d.code, Code::WrongFieldType);
        assert!(
            d.message
                .starts_with("spec.ports[1].port: invalid type: string"),
            "{}",
            d.message
        );
        assert_eq!(d.source.line, 10);
    }

    #[test]
    fn numbers_are_quantities_where_the_apiserver_takes_them() {
        let v = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "i",
                "resources": {"limits": {"cpu": 1, "memory": 1.5}, "requests": {"cpu": 0.5}}}],
                "volumes": [{"name": "v", "emptyDir": {"sizeLimit": 1024}}]}});
        assert!(run(v, "").is_none());
    }

    #[test]
    fn other_kinds_and_valid_objects_pass() {
        let v = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"port": "x"}});
        assert!(run(v, "").is_none());
        let v = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "creationTimestamp": null},
            "spec": {"selector": {"matchLabels": {"app": "api"}}, "template": {"metadata": {"labels": {"app": "api"}},
            "spec": {"containers": [{"name": "api", "image": "api", "ports": [{"containerPort": 8080}]}]}}}, "status": {}});
        assert!(run(v, "").is_none());
    }
}
