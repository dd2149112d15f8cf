//! Reading references out of objects: pod templates, RBAC bindings, custom resources and the
//! explicit `depends-on` annotations.

use serde_json::Value;
use std::fmt;

use crate::model::known::is_builtin_group;
use crate::model::{Object, ObjectRef};

/// How much of the dependency has to be in place first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Strength {
    /// It only has to exist: an earlier wave, or an earlier kind group of the same step.
    Exists,
    /// It has to be healthy: a strictly earlier wave.
    Ready,
}

/// What a dependency points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Object(ObjectRef),
    /// The CustomResourceDefinition that defines `group`/`kind`.
    CrdFor {
        group: String,
        kind: String,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Object(r) => r.fmt(f),
            Target::CrdFor { group, kind } => {
                write!(f, "CustomResourceDefinition for {kind}.{group}")
            }
        }
    }
}

/// One thing an object needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub target: Target,
    pub strength: Strength,
    pub reason: String,
    pub field: String,
    /// Whether a target missing from the input is worth reporting as external.
    pub report_external: bool,
}

fn core(kind: &str, namespace: &str, name: &str) -> Target {
    Target::Object(ObjectRef {
        group: Some(String::new()),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
    })
}

/// `group/Kind` a CRD defines.
pub fn crd_defines(o: &Object) -> Option<(String, String)> {
    if o.kind != "CustomResourceDefinition" || o.group != "apiextensions.k8s.io" {
        return None;
    }
    let spec = o.value.get("spec")?;
    Some((
        spec.get("group")?.as_str()?.to_string(),
        spec.get("names")?.get("kind")?.as_str()?.to_string(),
    ))
}

/// The pod spec of a workload and the field path leading to it.
pub fn pod_spec(o: &Object) -> Option<(&Value, &'static str)> {
    let v = &o.value;
    match o.kind.as_str() {
        "Pod" => Some((v.get("spec")?, "spec")),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => Some((
            v.get("spec")?.get("template")?.get("spec")?,
            "spec.template.spec",
        )),
        "CronJob" => Some((
            v.get("spec")?
                .get("jobTemplate")?
                .get("spec")?
                .get("template")?
                .get("spec")?,
            "spec.jobTemplate.spec.template.spec",
        )),
        _ => None,
    }
}

fn items(v: Option<&Value>) -> impl Iterator<Item = (usize, &Value)> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// Everything `o` needs, in field order.
pub fn dependencies(o: &Object) -> Vec<Dependency> {
    let mut out = Vec::new();
    let ns = o.namespace.as_str();
    let mut push = |target: Target, strength, reason: String, field: String, report_external| {
        out.push(Dependency {
            target,
            strength,
            reason,
            field,
            report_external,
        });
    };
    if !ns.is_empty() {
        push(
            core("Namespace", "", ns),
            Strength::Exists,
            format!("lives in Namespace/{ns}"),
            "metadata.namespace".into(),
            false,
        );
    }
    if let Some((spec, base)) = pod_spec(o) {
        pod_dependencies(spec, base, ns, &mut push);
    }
    match o.kind.as_str() {
        "RoleBinding" | "ClusterRoleBinding" if o.group == "rbac.authorization.k8s.io" => {
            if let (Some(kind), Some(name)) = (
                str_at(&o.value, &["roleRef", "kind"]),
                str_at(&o.value, &["roleRef", "name"]),
            ) {
                let role_ns = if kind == "Role" { ns } else { "" };
                let target = Target::Object(ObjectRef {
                    group: Some("rbac.authorization.k8s.io".into()),
                    kind: kind.into(),
                    namespace: role_ns.into(),
                    name: name.into(),
                });
                push(
                    target,
                    Strength::Exists,
                    format!("binds {kind}/{name}"),
                    "roleRef.name".into(),
                    kind == "Role",
                );
            }
            for (i, s) in items(o.value.get("subjects")) {
                if str_at(s, &["kind"]) == Some("ServiceAccount") {
                    if let Some(name) = str_at(s, &["name"]) {
                        let sns = str_at(s, &["namespace"]).unwrap_or(ns);
                        push(
                            core("ServiceAccount", sns, name),
                            Strength::Exists,
                            format!("binds ServiceAccount/{name}"),
                            format!("subjects[{i}].name"),
                            false,
                        );
                    }
                }
            }
        }
        _ => {}
    }
    if !is_builtin_group(&o.group) {
        push(
            Target::CrdFor {
                group: o.group.clone(),
                kind: o.kind.clone(),
            },
            Strength::Exists,
            format!("is a {} defined by a CRD", o.kind),
            "kind".into(),
            false,
        );
    }
    for r in &o.annotations.depends_on {
        push(
            Target::Object(r.clone()),
            Strength::Ready,
            format!("depends on {r} (annotation)"),
            "metadata.annotations".into(),
            true,
        );
    }
    out
}

fn pod_dependencies(
    spec: &Value,
    base: &str,
    ns: &str,
    push: &mut impl FnMut(Target, Strength, String, String, bool),
) {
    if let Some(sa) =
        str_at(spec, &["serviceAccountName"]).or_else(|| str_at(spec, &["serviceAccount"]))
    {
        push(
            core("ServiceAccount", ns, sa),
            Strength::Exists,
            format!("runs as ServiceAccount/{sa}"),
            format!("{base}.serviceAccountName"),
            sa != "default",
        );
    }
    for (i, s) in items(spec.get("imagePullSecrets")) {
        if let Some(name) = str_at(s, &["name"]) {
            push(
                core("Secret", ns, name),
                Strength::Exists,
                format!("pulls images with Secret/{name}"),
                format!("{base}.imagePullSecrets[{i}].name"),
                true,
            );
        }
    }
    for group in ["initContainers", "containers", "ephemeralContainers"] {
        for (c, container) in items(spec.get(group)) {
            let at = format!("{base}.{group}[{c}]");
            for (e, env) in items(container.get("env")) {
                for (key, kind) in [("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")] {
                    if let Some(name) = str_at(env, &["valueFrom", key, "name"]) {
                        if env["valueFrom"][key]["optional"].as_bool() == Some(true) {
                            continue; // the container starts without it
                        }
                        push(
                            core(kind, ns, name),
                            Strength::Exists,
                            format!("reads {kind}/{name} (env)"),
                            format!("{at}.env[{e}].valueFrom.{key}.name"),
                            true,
                        );
                    }
                }
            }
            for (e, from) in items(container.get("envFrom")) {
                for (key, kind) in [("secretRef", "Secret"), ("configMapRef", "ConfigMap")] {
                    if let Some(name) = str_at(from, &[key, "name"]) {
                        if from[key]["optional"].as_bool() == Some(true) {
                            continue;
                        }
                        push(
                            core(kind, ns, name),
                            Strength::Exists,
                            format!("reads {kind}/{name} (envFrom)"),
                            format!("{at}.envFrom[{e}].{key}.name"),
                            true,
                        );
                    }
                }
            }
        }
    }
    for (v, vol) in items(spec.get("volumes")) {
        let at = format!("{base}.volumes[{v}]");
        if let Some(name) = str_at(vol, &["secret", "secretName"])
            .filter(|_| vol["secret"]["optional"].as_bool() != Some(true))
        {
            push(
                core("Secret", ns, name),
                Strength::Exists,
                format!("mounts Secret/{name}"),
                format!("{at}.secret.secretName"),
                true,
            );
        }
        if let Some(name) = str_at(vol, &["configMap", "name"])
            .filter(|_| vol["configMap"]["optional"].as_bool() != Some(true))
        {
            push(
                core("ConfigMap", ns, name),
                Strength::Exists,
                format!("mounts ConfigMap/{name}"),
                format!("{at}.configMap.name"),
                true,
            );
        }
        if let Some(name) = str_at(vol, &["persistentVolumeClaim", "claimName"]) {
            push(
                core("PersistentVolumeClaim", ns, name),
                Strength::Exists,
                format!("mounts PersistentVolumeClaim/{name}"),
                format!("{at}.persistentVolumeClaim.claimName"),
                true,
            );
        }
        for (s, source) in items(vol.get("projected").and_then(|p| p.get("sources"))) {
            for (key, kind) in [("secret", "Secret"), ("configMap", "ConfigMap")] {
                if let Some(name) = str_at(source, &[key, "name"])
                    .filter(|_| source[key]["optional"].as_bool() != Some(true))
                {
                    push(
                        core(kind, ns, name),
                        Strength::Exists,
                        format!("mounts {kind}/{name} (projected)"),
                        format!("{at}.projected.sources[{s}].{key}.name"),
                        true,
                    );
                }
            }
        }
    }
}
