//! Reading references out of objects: pod templates (Secrets, ConfigMaps, volumes, the
//! ServiceAccount, Service DNS names in env values and args), RBAC bindings, PVCs, Ingresses and
//! routes, webhooks, APIServices, HPAs, PDBs, custom resources and the explicit `depends-on`
//! annotations. Pure: one object at a time; [`super::resolve`] matches them to the input.

use serde::Serialize;
use serde_json::Value;
use std::fmt;

use super::dns::{self, Context};
use super::selector::Selector;
use crate::model::known::is_builtin_group;
use crate::model::{Object, ObjectRef, group_of};

/// How much of the dependency has to be in place first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Strength {
    /// It only has to exist: an earlier wave, or an earlier kind group of the same step.
    Exists,
    /// It has to be healthy: a strictly earlier wave.
    Ready,
}

/// What kind of reference an edge comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EdgeKind {
    /// The object's Namespace.
    Namespace,
    /// The ServiceAccount a pod runs as.
    ServiceAccount,
    /// A binding that grants the pod's ServiceAccount its permissions.
    Permissions,
    /// A Secret read through env, envFrom, a volume or a projected volume.
    Secret,
    /// A ConfigMap read through env, envFrom, a volume or a projected volume.
    ConfigMap,
    /// An `imagePullSecrets` entry.
    ImagePullSecret,
    /// A PersistentVolumeClaim mounted as a volume.
    Volume,
    /// The StorageClass of a PVC or of a StatefulSet's volume claim template.
    StorageClass,
    /// The Role or ClusterRole of a binding.
    RoleRef,
    /// A ServiceAccount subject of a binding.
    Subject,
    /// The CustomResourceDefinition of a custom resource.
    Crd,
    /// The IngressClass of an Ingress.
    IngressClass,
    /// A backend Service of an Ingress or route, and the workloads behind it.
    Backend,
    /// A Service reached by its DNS name, and the workloads behind it.
    Dns,
    /// The Service of an admission webhook, and the workloads behind it.
    Webhook,
    /// The Service of an APIService, and the workloads behind it.
    ApiService,
    /// The target of a HorizontalPodAutoscaler.
    ScaleTarget,
    /// The workloads a PodDisruptionBudget selects.
    DisruptionBudget,
    /// `kubectl-waves.io/depends-on` or `config.kubernetes.io/depends-on`.
    DependsOn,
    /// An object that another one creates at run time (`kubectl-waves.io/produces`).
    Produced,
    /// A Secret or ConfigMap named in a custom resource's spec.
    Reference,
}

impl EdgeKind {
    /// The short name used in JSON and graphs.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Namespace => "namespace",
            EdgeKind::ServiceAccount => "serviceAccount",
            EdgeKind::Permissions => "permissions",
            EdgeKind::Secret => "secret",
            EdgeKind::ConfigMap => "configMap",
            EdgeKind::ImagePullSecret => "imagePullSecret",
            EdgeKind::Volume => "volume",
            EdgeKind::StorageClass => "storageClass",
            EdgeKind::RoleRef => "roleRef",
            EdgeKind::Subject => "subject",
            EdgeKind::Crd => "crd",
            EdgeKind::IngressClass => "ingressClass",
            EdgeKind::Backend => "backend",
            EdgeKind::Dns => "dns",
            EdgeKind::Webhook => "webhook",
            EdgeKind::ApiService => "apiService",
            EdgeKind::ScaleTarget => "scaleTarget",
            EdgeKind::DisruptionBudget => "disruptionBudget",
            EdgeKind::DependsOn => "dependsOn",
            EdgeKind::Produced => "produces",
            EdgeKind::Reference => "reference",
        }
    }
}

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// The long-running workloads whose pods the Service `namespace/service` selects.
    Backends {
        namespace: String,
        service: String,
    },
    /// The long-running workloads in `namespace` whose pods `selector` selects.
    Selected {
        namespace: String,
        selector: Selector,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Object(r) => r.fmt(f),
            Target::CrdFor { group, kind } => {
                write!(f, "CustomResourceDefinition for {kind}.{group}")
            }
            Target::Backends { namespace, service } => {
                write!(f, "the workloads behind Service/{namespace}/{service}")
            }
            Target::Selected {
                namespace,
                selector,
            } => write!(f, "the workloads in {namespace} selected by {selector}"),
        }
    }
}

/// One thing an object needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub target: Target,
    pub strength: Strength,
    pub kind: EdgeKind,
    pub reason: String,
    pub field: String,
    /// Whether a target missing from the input is worth reporting as external.
    pub report_external: bool,
}

fn core(kind: &str, namespace: &str, name: &str) -> Target {
    object("", kind, namespace, name)
}

fn object(group: &str, kind: &str, namespace: &str, name: &str) -> Target {
    Target::Object(ObjectRef {
        group: Some(group.into()),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
    })
}

/// `group/Kind` a CRD defines.
pub fn crd_defines(o: &Object) -> Option<(String, String)> {
    let crd = o.defines.as_ref()?;
    Some((crd.group.clone(), crd.kind.clone()))
}

/// The pod spec of a workload (`v`, the value of `o`) and the field path leading to it.
pub fn pod_spec<'v>(o: &Object, v: &'v Value) -> Option<(&'v Value, &'static str)> {
    match o.kind.as_str() {
        "Pod" => Some((v.get("spec")?, "spec")),
        "Rollout" if o.group != "argoproj.io" => None,
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController"
        | "Rollout" => Some((
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

/// Whether `o` is a long-running workload that a Service can route to: a Deployment,
/// StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Pod or Argo Rollout that is not
/// a hook (Jobs and hooks finish; they serve nobody).
pub fn serves_pods(o: &Object) -> bool {
    let rollout = o.kind == "Rollout" && o.group == "argoproj.io";
    !o.is_hook()
        && (is_builtin_group(&o.group) || rollout)
        && matches!(
            o.kind.as_str(),
            "Pod"
                | "Deployment"
                | "StatefulSet"
                | "DaemonSet"
                | "ReplicaSet"
                | "ReplicationController"
                | "Rollout"
        )
}

/// The pod labels of a workload that [`serves_pods`], from `v`, the value of `o`: `None` for
/// an object that does not serve, `Some(None)` for one without pod labels.
pub fn serving_pod_labels<'v>(
    o: &Object,
    v: &'v Value,
) -> Option<Option<&'v serde_json::Map<String, Value>>> {
    if !serves_pods(o) {
        return None;
    }
    let metadata = if o.kind == "Pod" {
        v.get("metadata")
    } else {
        v.get("spec")
            .and_then(|s| s.get("template"))
            .and_then(|t| t.get("metadata"))
    };
    Some(
        metadata
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object),
    )
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

/// Collects the dependencies of one object.
struct Deps<'a> {
    out: Vec<Dependency>,
    ns: &'a str,
}

impl Deps<'_> {
    fn push(
        &mut self,
        target: Target,
        strength: Strength,
        kind: EdgeKind,
        reason: String,
        field: String,
        report_external: bool,
    ) {
        self.out.push(Dependency {
            target,
            strength,
            kind,
            reason,
            field,
            report_external,
        });
    }

    /// A Service (`Exists`, reported when missing) and the workloads behind it.
    fn service(
        &mut self,
        namespace: &str,
        name: &str,
        (kind, to_service, to_workloads): (EdgeKind, Strength, Strength),
        reason: String,
        field: String,
        report_external: bool,
    ) {
        self.push(
            core("Service", namespace, name),
            to_service,
            kind,
            reason.clone(),
            field.clone(),
            report_external,
        );
        self.push(
            Target::Backends {
                namespace: namespace.into(),
                service: name.into(),
            },
            to_workloads,
            kind,
            reason,
            field,
            false,
        );
    }

    /// Service DNS names in a string: `Exists` to the Service, `Ready` to its workloads.
    fn dns(&mut self, text: &str, context: Context, field: String) {
        for name in dns::service_names(text, context) {
            let ns = name.namespace.unwrap_or(self.ns).to_string();
            self.service(
                &ns,
                name.service,
                (EdgeKind::Dns, Strength::Exists, Strength::Ready),
                format!(
                    "reaches Service/{ns}/{} by DNS name ({})",
                    name.service, name.text
                ),
                field.clone(),
                name.qualified,
            );
        }
    }
}

/// Everything `o` needs, in field order.
pub fn dependencies(o: &Object) -> Vec<Dependency> {
    let ns = o.namespace.as_str();
    let mut d = Deps {
        out: Vec::new(),
        ns,
    };
    if !ns.is_empty() {
        d.push(
            core("Namespace", "", ns),
            Strength::Exists,
            EdgeKind::Namespace,
            format!("lives in Namespace/{ns}"),
            "metadata.namespace".into(),
            false,
        );
    }
    let value = o.value();
    if let Some((spec, base)) = pod_spec(o, &value) {
        pod_dependencies(spec, base, &mut d);
    }
    let builtin = is_builtin_group(&o.group);
    if builtin {
        builtin_dependencies(o, &value, &mut d);
    } else {
        d.push(
            Target::CrdFor {
                group: o.group.to_string(),
                kind: o.kind.to_string(),
            },
            Strength::Exists,
            EdgeKind::Crd,
            format!("is a {} defined by a CRD", o.kind),
            "kind".into(),
            false,
        );
        custom_dependencies(o, &value, &mut d);
    }
    for r in &o.annotations.depends_on {
        d.push(
            Target::Object(r.clone()),
            Strength::Ready,
            EdgeKind::DependsOn,
            format!("depends on {r} (annotation)"),
            "metadata.annotations".into(),
            true,
        );
    }
    d.out
}

/// References of built-in kinds other than pod templates.
fn builtin_dependencies(o: &Object, v: &Value, d: &mut Deps<'_>) {
    let ns = d.ns;
    match o.kind.as_str() {
        "RoleBinding" | "ClusterRoleBinding" if o.group == "rbac.authorization.k8s.io" => {
            if let (Some(kind), Some(name)) = (
                str_at(v, &["roleRef", "kind"]),
                str_at(v, &["roleRef", "name"]),
            ) {
                let role_ns = if kind == "Role" { ns } else { "" };
                d.push(
                    object("rbac.authorization.k8s.io", kind, role_ns, name),
                    Strength::Exists,
                    EdgeKind::RoleRef,
                    format!("binds {kind}/{name}"),
                    "roleRef.name".into(),
                    kind == "Role",
                );
            }
            for (i, s) in items(v.get("subjects")) {
                if str_at(s, &["kind"]) == Some("ServiceAccount")
                    && let Some(name) = str_at(s, &["name"])
                {
                    let sns = str_at(s, &["namespace"]).unwrap_or(ns);
                    d.push(
                        core("ServiceAccount", sns, name),
                        Strength::Exists,
                        EdgeKind::Subject,
                        format!("binds ServiceAccount/{name}"),
                        format!("subjects[{i}].name"),
                        false,
                    );
                }
            }
        }
        "PersistentVolumeClaim" if o.group.is_empty() => {
            if let Some(class) = str_at(v, &["spec", "storageClassName"]) {
                d.push(
                    object("storage.k8s.io", "StorageClass", "", class),
                    Strength::Exists,
                    EdgeKind::StorageClass,
                    format!("provisions from StorageClass/{class}"),
                    "spec.storageClassName".into(),
                    true,
                );
            }
        }
        "StatefulSet" => {
            for (i, t) in items(v.get("spec").and_then(|s| s.get("volumeClaimTemplates"))) {
                if let Some(class) = str_at(t, &["spec", "storageClassName"]) {
                    d.push(
                        object("storage.k8s.io", "StorageClass", "", class),
                        Strength::Exists,
                        EdgeKind::StorageClass,
                        format!("provisions volumes from StorageClass/{class}"),
                        format!("spec.volumeClaimTemplates[{i}].spec.storageClassName"),
                        true,
                    );
                }
            }
        }
        "Ingress" => ingress_dependencies(v, d),
        "HTTPRoute" | "GRPCRoute" | "TCPRoute" | "TLSRoute" | "UDPRoute"
            if o.group == "gateway.networking.k8s.io" =>
        {
            for (r, rule) in items(v.get("spec").and_then(|s| s.get("rules"))) {
                for (b, backend) in items(rule.get("backendRefs")) {
                    let kind = str_at(backend, &["kind"]).unwrap_or("Service");
                    let group = backend.get("group").and_then(Value::as_str).unwrap_or("");
                    if let (Some(name), "Service", "") = (str_at(backend, &["name"]), kind, group) {
                        let sns = str_at(backend, &["namespace"]).unwrap_or(ns);
                        d.service(
                            sns,
                            name,
                            (EdgeKind::Backend, Strength::Exists, Strength::Exists),
                            format!("routes to Service/{sns}/{name}"),
                            format!("spec.rules[{r}].backendRefs[{b}].name"),
                            true,
                        );
                    }
                }
            }
        }
        "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration"
            if o.group == "admissionregistration.k8s.io" =>
        {
            for (i, hook) in items(v.get("webhooks")) {
                if let (Some(sns), Some(name)) = (
                    str_at(hook, &["clientConfig", "service", "namespace"]),
                    str_at(hook, &["clientConfig", "service", "name"]),
                ) {
                    d.service(
                        sns,
                        name,
                        (EdgeKind::Webhook, Strength::Ready, Strength::Ready),
                        format!("sends admission requests to Service/{sns}/{name}"),
                        format!("webhooks[{i}].clientConfig.service.name"),
                        true,
                    );
                }
            }
        }
        "APIService" if o.group == "apiregistration.k8s.io" => {
            if let (Some(sns), Some(name)) = (
                str_at(v, &["spec", "service", "namespace"]),
                str_at(v, &["spec", "service", "name"]),
            ) {
                d.service(
                    sns,
                    name,
                    (EdgeKind::ApiService, Strength::Ready, Strength::Ready),
                    format!("serves its API from Service/{sns}/{name}"),
                    "spec.service.name".into(),
                    true,
                );
            }
        }
        "HorizontalPodAutoscaler" => {
            if let (Some(api_version), Some(kind), Some(name)) = (
                str_at(v, &["spec", "scaleTargetRef", "apiVersion"]),
                str_at(v, &["spec", "scaleTargetRef", "kind"]),
                str_at(v, &["spec", "scaleTargetRef", "name"]),
            ) {
                d.push(
                    object(group_of(api_version), kind, ns, name),
                    Strength::Exists,
                    EdgeKind::ScaleTarget,
                    format!("scales {kind}/{name}"),
                    "spec.scaleTargetRef.name".into(),
                    true,
                );
            }
        }
        "PodDisruptionBudget" => {
            if let Some(selector) =
                Selector::from_label_selector(v.get("spec").and_then(|s| s.get("selector")))
            {
                d.push(
                    Target::Selected {
                        namespace: ns.into(),
                        selector,
                    },
                    Strength::Exists,
                    EdgeKind::DisruptionBudget,
                    "covers the pods of".into(),
                    "spec.selector".into(),
                    false,
                );
            }
        }
        _ => {}
    }
}

/// IngressClass and backend Services of an Ingress (`networking.k8s.io/v1` and the older
/// `serviceName` form).
fn ingress_dependencies(v: &Value, d: &mut Deps<'_>) {
    let ns = d.ns;
    if let Some(class) = str_at(v, &["spec", "ingressClassName"]) {
        d.push(
            object("networking.k8s.io", "IngressClass", "", class),
            Strength::Exists,
            EdgeKind::IngressClass,
            format!("is served by IngressClass/{class}"),
            "spec.ingressClassName".into(),
            true,
        );
    }
    let Some(spec) = v.get("spec") else {
        return;
    };
    let mut backends: Vec<(&Value, String)> = Vec::new();
    for key in ["defaultBackend", "backend"] {
        if let Some(b) = spec.get(key) {
            backends.push((b, format!("spec.{key}")));
        }
    }
    for (r, rule) in items(spec.get("rules")) {
        for (p, path) in items(rule.get("http").and_then(|h| h.get("paths"))) {
            if let Some(b) = path.get("backend") {
                backends.push((b, format!("spec.rules[{r}].http.paths[{p}].backend")));
            }
        }
    }
    for (backend, at) in backends {
        let (name, field) = match (
            str_at(backend, &["service", "name"]),
            str_at(backend, &["serviceName"]),
        ) {
            (Some(n), _) => (n, format!("{at}.service.name")),
            (None, Some(n)) => (n, format!("{at}.serviceName")),
            (None, None) => continue,
        };
        d.service(
            ns,
            name,
            (EdgeKind::Backend, Strength::Exists, Strength::Exists),
            format!("routes to Service/{ns}/{name}"),
            field,
            true,
        );
    }
}

/// Custom resources: Traefik routes' Services, and Secrets and ConfigMaps named by a field
/// such as `redisSecret: {name: …}` or `configMapRefs: [{name: …}]` anywhere in `spec`.
fn custom_dependencies(o: &Object, v: &Value, d: &mut Deps<'_>) {
    let Some(spec) = v.get("spec") else {
        return;
    };
    let ns = d.ns;
    if matches!(o.group.as_str(), "traefik.io" | "traefik.containo.us")
        && matches!(
            o.kind.as_str(),
            "IngressRoute" | "IngressRouteTCP" | "IngressRouteUDP"
        )
    {
        for (r, route) in items(spec.get("routes")) {
            for (s, service) in items(route.get("services")) {
                let kind = str_at(service, &["kind"]).unwrap_or("Service");
                if let (Some(name), "Service") = (str_at(service, &["name"]), kind) {
                    let sns = str_at(service, &["namespace"]).unwrap_or(ns);
                    d.service(
                        sns,
                        name,
                        (EdgeKind::Backend, Strength::Exists, Strength::Exists),
                        format!("routes to Service/{sns}/{name}"),
                        format!("spec.routes[{r}].services[{s}].name"),
                        true,
                    );
                }
            }
        }
    }
    let mut path = String::from("spec");
    named_references(spec, &mut path, d, 0);
}

/// Which kind a field name refers to, and whether it holds a list.
fn referenced_kind(key: &str) -> Option<(&'static str, bool)> {
    let k = key.to_ascii_lowercase();
    let ends = |suffixes: &[&str]| suffixes.iter().any(|s| k.ends_with(s));
    if ends(&["secretrefs", "secrets"]) {
        Some(("Secret", true))
    } else if ends(&["secretref", "secretkeyref", "secret"]) {
        Some(("Secret", false))
    } else if ends(&["configmaprefs", "configmaps"]) {
        Some(("ConfigMap", true))
    } else if ends(&["configmapref", "configmapkeyref", "configmap"]) {
        Some(("ConfigMap", false))
    } else {
        None
    }
}

fn named_references(v: &Value, path: &mut String, d: &mut Deps<'_>, depth: usize) {
    if depth > 32 {
        return;
    }
    let len = path.len();
    match v {
        Value::Object(map) => {
            for (key, value) in map {
                path.truncate(len);
                path.push('.');
                path.push_str(key);
                if let Some((kind, list)) = referenced_kind(key) {
                    let mut push = |entry: &Value, field: String| {
                        if let Some(name) = str_at(entry, &["name"]) {
                            let rns = str_at(entry, &["namespace"]).unwrap_or(d.ns).to_string();
                            d.push(
                                core(kind, &rns, name),
                                Strength::Exists,
                                EdgeKind::Reference,
                                format!("reads {kind}/{name} ({})", &field[..field.len() - 5]),
                                field,
                                false,
                            );
                        }
                    };
                    if list {
                        for (i, entry) in items(Some(value)) {
                            push(entry, format!("{path}[{i}].name"));
                        }
                    } else if value.is_object() {
                        push(value, format!("{path}.name"));
                    }
                }
                named_references(value, path, d, depth + 1);
            }
        }
        Value::Array(list) => {
            for (i, value) in list.iter().enumerate() {
                path.truncate(len);
                path.push_str(&format!("[{i}]"));
                named_references(value, path, d, depth + 1);
            }
        }
        _ => {}
    }
    path.truncate(len);
}

/// Service DNS names in a ConfigMap's `data`, as dependencies of whoever reads it; fields are
/// `data.KEY`.
pub fn config_data_dependencies(cm: &Object) -> Vec<Dependency> {
    let mut d = Deps {
        out: Vec::new(),
        ns: cm.namespace.as_str(),
    };
    if let Some(data) = cm.value().get("data").and_then(Value::as_object) {
        for (key, value) in data {
            if let Some(text) = value.as_str() {
                d.dns(text, Context::Value, format!("data.{key}"));
            }
        }
    }
    d.out
}

fn pod_dependencies(spec: &Value, base: &str, d: &mut Deps<'_>) {
    let ns = d.ns;
    if let Some(sa) =
        str_at(spec, &["serviceAccountName"]).or_else(|| str_at(spec, &["serviceAccount"]))
    {
        d.push(
            core("ServiceAccount", ns, sa),
            Strength::Exists,
            EdgeKind::ServiceAccount,
            format!("runs as ServiceAccount/{sa}"),
            format!("{base}.serviceAccountName"),
            sa != "default",
        );
    }
    for (i, s) in items(spec.get("imagePullSecrets")) {
        if let Some(name) = str_at(s, &["name"]) {
            d.push(
                core("Secret", ns, name),
                Strength::Exists,
                EdgeKind::ImagePullSecret,
                format!("pulls images with Secret/{name}"),
                format!("{base}.imagePullSecrets[{i}].name"),
                true,
            );
        }
    }
    let kind_of = |kind: &str| {
        if kind == "Secret" {
            EdgeKind::Secret
        } else {
            EdgeKind::ConfigMap
        }
    };
    for group in ["initContainers", "containers", "ephemeralContainers"] {
        for (c, container) in items(spec.get(group)) {
            let at = format!("{base}.{group}[{c}]");
            for (e, env) in items(container.get("env")) {
                for (key, kind) in [("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")] {
                    if let Some(name) = str_at(env, &["valueFrom", key, "name"]) {
                        if env["valueFrom"][key]["optional"].as_bool() == Some(true) {
                            continue; // the container starts without it
                        }
                        d.push(
                            core(kind, ns, name),
                            Strength::Exists,
                            kind_of(kind),
                            format!("reads {kind}/{name} (env)"),
                            format!("{at}.env[{e}].valueFrom.{key}.name"),
                            true,
                        );
                    }
                }
                if let Some(value) = env.get("value").and_then(Value::as_str) {
                    d.dns(value, Context::Value, format!("{at}.env[{e}].value"));
                }
            }
            for (e, from) in items(container.get("envFrom")) {
                for (key, kind) in [("secretRef", "Secret"), ("configMapRef", "ConfigMap")] {
                    if let Some(name) = str_at(from, &[key, "name"]) {
                        if from[key]["optional"].as_bool() == Some(true) {
                            continue;
                        }
                        d.push(
                            core(kind, ns, name),
                            Strength::Exists,
                            kind_of(kind),
                            format!("reads {kind}/{name} (envFrom)"),
                            format!("{at}.envFrom[{e}].{key}.name"),
                            true,
                        );
                    }
                }
            }
            for key in ["command", "args"] {
                for (a, arg) in items(container.get(key)) {
                    if let Some(text) = arg.as_str() {
                        d.dns(text, Context::Text, format!("{at}.{key}[{a}]"));
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
            d.push(
                core("Secret", ns, name),
                Strength::Exists,
                EdgeKind::Secret,
                format!("mounts Secret/{name}"),
                format!("{at}.secret.secretName"),
                true,
            );
        }
        if let Some(name) = str_at(vol, &["configMap", "name"])
            .filter(|_| vol["configMap"]["optional"].as_bool() != Some(true))
        {
            d.push(
                core("ConfigMap", ns, name),
                Strength::Exists,
                EdgeKind::ConfigMap,
                format!("mounts ConfigMap/{name}"),
                format!("{at}.configMap.name"),
                true,
            );
        }
        if let Some(name) = str_at(vol, &["persistentVolumeClaim", "claimName"]) {
            d.push(
                core("PersistentVolumeClaim", ns, name),
                Strength::Exists,
                EdgeKind::Volume,
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
                    d.push(
                        core(kind, ns, name),
                        Strength::Exists,
                        kind_of(kind),
                        format!("mounts {kind}/{name} (projected)"),
                        format!("{at}.projected.sources[{s}].{key}.name"),
                        true,
                    );
                }
            }
        }
    }
}
