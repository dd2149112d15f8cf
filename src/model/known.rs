//! The one place that lists the annotation keys and values this tool knows.

/// Prefix of Argo CD's annotations.
pub const ARGOCD_PREFIX: &str = "argocd.argoproj.io/";
/// Prefix of this tool's own annotations and labels.
pub const WAVES_PREFIX: &str = "kubectl-waves.io/";

pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
pub const HOOK: &str = "argocd.argoproj.io/hook";
pub const HOOK_DELETE_POLICY: &str = "argocd.argoproj.io/hook-delete-policy";
pub const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
pub const COMPARE_OPTIONS: &str = "argocd.argoproj.io/compare-options";
pub const HELM_HOOK: &str = "helm.sh/hook";
pub const HELM_HOOK_WEIGHT: &str = "helm.sh/hook-weight";
pub const HELM_HOOK_DELETE_POLICY: &str = "helm.sh/hook-delete-policy";
pub const DEPENDS_ON: &str = "kubectl-waves.io/depends-on";
pub const KPT_DEPENDS_ON: &str = "config.kubernetes.io/depends-on";
pub const PRODUCES: &str = "kubectl-waves.io/produces";
pub const TIMEOUT: &str = "kubectl-waves.io/timeout";

/// Every `argocd.argoproj.io/` annotation key that Argo CD documents; anything else under that
/// prefix is a typo Argo CD would ignore without a word.
pub const ARGOCD_KEYS: &[&str] = &[
    "argocd.argoproj.io/sync-wave",
    "argocd.argoproj.io/hook",
    "argocd.argoproj.io/hook-delete-policy",
    "argocd.argoproj.io/sync-options",
    "argocd.argoproj.io/compare-options",
    "argocd.argoproj.io/tracking-id",
    "argocd.argoproj.io/instance",
    "argocd.argoproj.io/ignore-healthcheck",
    "argocd.argoproj.io/ignore-restart-policy",
    "argocd.argoproj.io/ignore-resource-updates",
    "argocd.argoproj.io/ignore-default-links",
    "argocd.argoproj.io/deletion-approved",
    "argocd.argoproj.io/refresh",
    "argocd.argoproj.io/manifest-generate-paths",
    "argocd.argoproj.io/skip-reconcile",
    "argocd.argoproj.io/hydrate",
    "argocd.argoproj.io/hydrate-timestamp",
    "argocd.argoproj.io/installation-id",
    "argocd.argoproj.io/client-side-apply-migration-manager",
    "argocd.argoproj.io/managed-by-url",
    "argocd.argoproj.io/refresh-timestamp",
    "argocd.argoproj.io/application-set-refresh",
];

/// Every `kubectl-waves.io/` annotation key.
pub const WAVES_KEYS: &[&str] = &[DEPENDS_ON, PRODUCES, TIMEOUT];

/// Hook types, as spelled in `argocd.argoproj.io/hook`.
pub const HOOK_TYPES: &[&str] = &[
    "PreSync",
    "Sync",
    "PostSync",
    "SyncFail",
    "Skip",
    "PreDelete",
    "PostDelete",
];

/// Delete policies, as spelled in `argocd.argoproj.io/hook-delete-policy`.
pub const DELETE_POLICIES: &[&str] = &["BeforeHookCreation", "HookSucceeded", "HookFailed"];

/// Per-resource sync options and the values each accepts.
pub const SYNC_OPTION_VALUES: &[(&str, &[&str])] = &[
    ("Prune", &["false", "confirm", "true"]),
    ("Delete", &["false", "confirm", "true"]),
    ("Replace", &["true", "false"]),
    ("Force", &["true", "false"]),
    ("ServerSideApply", &["true", "false"]),
    ("SkipDryRunOnMissingResource", &["true", "false"]),
    ("Validate", &["false", "true"]),
    ("PruneLast", &["true", "false"]),
];

/// Recognised values that change nothing on a resource (they are the defaults).
pub const SYNC_OPTION_NO_EFFECT: &[&str] = &[
    "Replace=false",
    "Force=false",
    "PruneLast=false",
    "Validate=true",
    "SkipDryRunOnMissingResource=false",
];

/// Application-level sync options: flags of `sync`, ignored by Argo CD on a resource.
pub const APP_SYNC_OPTIONS: &[&str] = &[
    "CreateNamespace",
    "ApplyOutOfSyncOnly",
    "RespectIgnoreDifferences",
    "FailOnSharedResource",
    "PrunePropagationPolicy",
];

/// Compare options and the values each accepts (`None`: a bare word).
pub const COMPARE_OPTION_VALUES: &[(&str, Option<&[&str]>)] = &[
    ("IgnoreExtraneous", None),
    ("ServerSideDiff", Some(&["true", "false"])),
    ("IncludeMutationWebhook", Some(&["true"])),
];

/// Helm hook values and what Argo CD makes of them.
pub const HELM_HOOKS: &[&str] = &[
    "pre-install",
    "pre-upgrade",
    "post-install",
    "post-upgrade",
    "pre-delete",
    "post-delete",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
    "test-failure",
    "crd-install",
];

/// Helm delete policies.
pub const HELM_DELETE_POLICIES: &[&str] =
    &["before-hook-creation", "hook-succeeded", "hook-failed"];

/// Kind order inside a step, as Argo CD (after Helm's kind sorter). Kinds not listed come after
/// all of these and rank equal among themselves.
pub const KIND_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// Cluster-scoped kinds served by Kubernetes itself. Argo CD clears `metadata.namespace` on
/// cluster-scoped objects before it orders them; offline we know the scope only of these.
pub const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "VolumeAttributesClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "APIService",
    "IngressClass",
    "PriorityClass",
    "RuntimeClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "CertificateSigningRequest",
    "FlowSchema",
    "PriorityLevelConfiguration",
    "IPAddress",
    "ServiceCIDR",
    "DeviceClass",
    "ResourceSlice",
    "PodSecurityPolicy",
];

/// Whether a kind in a built-in group is known to be cluster-scoped.
pub fn is_builtin_cluster_scoped(group: &str, kind: &str) -> bool {
    is_builtin_group(group) && CLUSTER_SCOPED_KINDS.contains(&kind)
}

/// API groups served by Kubernetes itself; a kind in any other group is a custom resource.
pub fn is_builtin_group(group: &str) -> bool {
    matches!(
        group,
        "" | "apps" | "batch" | "policy" | "autoscaling" | "extensions"
    ) || group.ends_with(".k8s.io")
}
