//! Service, Ingress, PersistentVolumeClaim, HorizontalPodAutoscaler, APIService and Argo
//! Workflow, as gitops-engine `health_service.go`, `health_ingress.go`, `health_pvc.go`,
//! `health_hpa.go`, `health_apiservice.go` and `health_argo.go`.

use serde_json::Value;

use super::super::Health;
use super::super::object::{Cond, Gvk, annotation, arr_at, conditions, str_at};
use super::unsupported;

/// Service: only type LoadBalancer is checked; it needs `status.loadBalancer.ingress`.
pub(crate) fn service(obj: &Value, gvk: Gvk<'_>) -> Health {
    if gvk.version != "v1" {
        return unsupported("Service", gvk);
    }
    if str_at(obj, &["spec", "type"]) == "LoadBalancer"
        && arr_at(obj, &["status", "loadBalancer", "ingress"]).is_empty()
    {
        return Health::progressing(
            "Waiting for the load balancer to get an address (status.loadBalancer.ingress is empty)",
        );
    }
    Health::healthy("")
}

/// Ingress (extensions and networking.k8s.io, any version): Healthy once the ingress
/// controller published an address in `status.loadBalancer.ingress`.
pub(crate) fn ingress(obj: &Value, _gvk: Gvk<'_>) -> Health {
    if arr_at(obj, &["status", "loadBalancer", "ingress"]).is_empty() {
        return Health::progressing(
            "Waiting for the ingress controller to publish an address (status.loadBalancer.ingress is empty)",
        );
    }
    Health::healthy("")
}

/// PersistentVolumeClaim: Bound → Healthy, Pending → Progressing, Lost → Degraded, else
/// Unknown.
pub(crate) fn pvc(obj: &Value, gvk: Gvk<'_>) -> Health {
    if gvk.version != "v1" {
        return unsupported("PersistentVolumeClaim", gvk);
    }
    match str_at(obj, &["status", "phase"]) {
        "Bound" => Health::healthy(""),
        "Pending" => Health::progressing("Waiting for the claim to be bound"),
        "Lost" => Health::degraded("The claim lost its volume"),
        "" => Health::unknown("status.phase is not set"),
        phase => Health::unknown(format!("unknown claim phase {phase:?}")),
    }
}

/// APIService (v1, v1beta1): the `Available` condition; True → Healthy, otherwise
/// Progressing; absent → Progressing "Waiting to be processed".
pub(crate) fn apiservice(obj: &Value, gvk: Gvk<'_>) -> Health {
    if !matches!(gvk.version, "v1" | "v1beta1") {
        return unsupported("APIService", gvk);
    }
    match conditions(obj).find(|c| c.type_ == "Available") {
        Some(c) => {
            let message = format!("{}: {}", c.reason, c.message);
            if c.is_true() {
                Health::healthy(message)
            } else {
                Health::progressing(message)
            }
        }
        None => Health::progressing("Waiting to be processed"),
    }
}

/// Argo Workflow (argoproj.io, any version): by `status.phase`.
pub(crate) fn workflow(obj: &Value, _gvk: Gvk<'_>) -> Health {
    let message = str_at(obj, &["status", "message"]);
    match str_at(obj, &["status", "phase"]) {
        "" | "Pending" | "Running" => Health::progressing(message),
        "Succeeded" => Health::healthy(message),
        "Failed" | "Error" => Health::degraded(message),
        _ => Health::unknown(message),
    }
}

const HPA_WAITING: &str = "Waiting to Autoscale";

/// HorizontalPodAutoscaler: autoscaling/v2 reads `status.conditions`, autoscaling/v1 the
/// `autoscaling.alpha.kubernetes.io/conditions` annotation. A failing condition (AbleToScale
/// FailedGetScale/FailedUpdateScale, ScalingActive FailedGet*Metric,
/// FailedComputeMetricsReplicas, InvalidSelector) → Degraded; AbleToScale or ScalingLimited
/// True → Healthy; else Progressing "Waiting to Autoscale".
pub(crate) fn hpa(obj: &Value, gvk: Gvk<'_>) -> Health {
    match gvk.version {
        "v2" => check_hpa_conditions(conditions(obj).collect()),
        "v1" => {
            let Some(text) = annotation(obj, "autoscaling.alpha.kubernetes.io/conditions") else {
                return Health::progressing(HPA_WAITING);
            };
            // As Go's json.Unmarshal into []hpaCondition: `null` is no conditions, a null
            // entry an empty condition, anything else that is not an object an error.
            let parsed: Vec<Value> = match serde_json::from_str::<Option<Vec<Value>>>(text) {
                Ok(v) => v.unwrap_or_default(),
                Err(e) => {
                    return Health::unknown(format!(
                        "failed to convert conditions annotation to typed: {e}"
                    ));
                }
            };
            if let Some(bad) = parsed.iter().find(|c| !(c.is_object() || c.is_null())) {
                return Health::unknown(format!(
                    "failed to convert conditions annotation to typed: expected a condition object, got {bad}"
                ));
            }
            // Go's encoding/json matches field names case-insensitively.
            let field = |c: &'_ Value, name: &str| -> String {
                c.as_object()
                    .and_then(|m| {
                        m.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                            .and_then(|(_, v)| v.as_str())
                    })
                    .unwrap_or("")
                    .to_string()
            };
            let owned: Vec<[String; 4]> = parsed
                .iter()
                .map(|c| {
                    [
                        field(c, "type"),
                        field(c, "status"),
                        field(c, "reason"),
                        field(c, "message"),
                    ]
                })
                .collect();
            let conds = owned
                .iter()
                .map(|[t, s, r, m]| Cond {
                    type_: t,
                    status: s,
                    reason: r,
                    message: m,
                    observed_generation: None,
                })
                .collect();
            check_hpa_conditions(conds)
        }
        _ => unsupported("HPA", gvk),
    }
}

fn check_hpa_conditions(conds: Vec<Cond<'_>>) -> Health {
    if conds.is_empty() {
        return Health::progressing(HPA_WAITING);
    }
    let degraded = |c: &Cond<'_>| {
        matches!(
            (c.type_, c.reason),
            ("AbleToScale", "FailedGetScale" | "FailedUpdateScale")
                | (
                    "ScalingActive",
                    "FailedGetResourceMetric"
                        | "FailedGetObjectMetric"
                        | "FailedGetPodsMetric"
                        | "FailedGetExternalMetric"
                        | "FailedComputeMetricsReplicas"
                        | "InvalidSelector"
                )
        )
    };
    if let Some(c) = conds.iter().find(|c| degraded(c)) {
        return Health::degraded(c.message);
    }
    if let Some(c) = conds
        .iter()
        .find(|c| matches!(c.type_, "AbleToScale" | "ScalingLimited") && c.is_true())
    {
        return Health::healthy(c.message);
    }
    Health::progressing(HPA_WAITING)
}
