//! Checks for operators' custom resources where Argo CD embeds a Lua script
//! (argo-cd `resource_customizations/<group>/<Kind>/health.lua`), written here in Rust with
//! the scripts' statuses and messages. Where a script would raise a Lua error on a missing
//! field (Argo CD then says Unknown), these answer what the missing field means instead; each
//! such case is listed in `../README.md` under "Deviations".
//!
//! One file per project; [`lookup`] is reached from `bundled::lookup` for kinds it does not
//! know itself.

mod cnpg;
mod crossplane;
mod flux;
mod keda;
mod rollout;
mod secrets;
mod strimzi;

use super::bundled::{BundledRule, rule};

/// A rule that compares `metadata.generation` with `status.observedGeneration` itself (its
/// controller stops updating the status in a state the rule reports first, e.g. suspended).
const fn rule_with_generation(
    assess: fn(&serde_json::Value) -> super::Health,
) -> Option<BundledRule> {
    Some(BundledRule {
        assess,
        always_assesses: true,
        checks_generation: true,
    })
}

/// The rule for an operator's group/kind, as Argo CD picks its embedded script: the exact
/// `group/Kind` directory first, then the wildcard directories (`_.crossplane.io/_`,
/// `_.upbound.io/_`).
pub(crate) fn lookup(group: &str, kind: &str) -> Option<BundledRule> {
    match (group, kind) {
        ("argoproj.io", "Rollout") => rule_with_generation(rollout::rollout),
        ("postgresql.cnpg.io", "Cluster") => rule_with_generation(cnpg::cluster),
        ("external-secrets.io", "ExternalSecret") => rule(secrets::external_secret),
        ("bitnami.com", "SealedSecret") => rule(secrets::sealed_secret),
        ("keda.sh", "ScaledObject") => rule(keda::scaled_object),
        ("kafka.strimzi.io", "Kafka") => rule(strimzi::kafka),
        ("helm.toolkit.fluxcd.io", "HelmRelease") => rule_with_generation(flux::helm_release),
        ("kustomize.toolkit.fluxcd.io", "Kustomization") => {
            rule_with_generation(flux::kustomization)
        }
        ("pkg.crossplane.io", "Provider") => rule(crossplane::provider),
        ("stacks.crossplane.io", "ClusterStackInstall") => rule(crossplane::cluster_stack_install),
        (
            "cloudfront.aws.crossplane.io"
            | "iam.aws.crossplane.io"
            | "rds.aws.crossplane.io"
            | "route53.aws.crossplane.io"
            | "s3.aws.crossplane.io",
            _,
        ) if crossplane::legacy_aws_noun(group, kind).is_some() => rule(crossplane::legacy_aws),
        _ if group.ends_with(".crossplane.io") && group.len() > ".crossplane.io".len() => {
            rule(crossplane::crossplane)
        }
        _ if group.ends_with(".upbound.io") && group.len() > ".upbound.io".len() => {
            rule(crossplane::upbound)
        }
        _ => None,
    }
}
