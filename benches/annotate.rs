//! `annotate` at scale: dependency graph + layering for 10,000 objects (target < 0.5 s), and
//! `--write` of a proposal touching 1,000 files (target < 1 s).
//!
//! The generated app has 250 namespaces of 40 objects: Namespace, ServiceAccount, Role,
//! RoleBinding, ConfigMap, Secret, a Sync-hook Job that `produces` a Secret, 15 Services and
//! 15 Deployments where each Deployment reaches the previous one by DNS name (a chain 15 waves
//! deep) and reads the ConfigMap, the Secret and the produced Secret, an HPA, a PDB and an
//! Ingress. About 100,000 edges.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use kubectl_waves::annotate::{self, Options, write};
use kubectl_waves::infer;
use kubectl_waves::manifest::{self, InputFile};

const NAMESPACES: usize = 250;
const CHAIN: usize = 15;

fn namespace_file(n: usize) -> String {
    let ns = format!("team-{n}");
    let mut out = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n---\n\
apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: {ns}\n---\n\
apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: app\n  namespace: {ns}\nrules: []\n---\n\
apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: app\n  namespace: {ns}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: app}}\nsubjects: [{{kind: ServiceAccount, name: app, namespace: {ns}}}]\n---\n\
apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {ns}\ndata:\n  UPSTREAM: \"svc-0.{ns}:8080\"\n---\n\
apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: {ns}\nstringData: {{PASSWORD: x}}\n---\n\
apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: make-token\n  namespace: {ns}\n  annotations:\n    argocd.argoproj.io/hook: Sync\n    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation\n    kubectl-waves.io/produces: Secret/token\nspec:\n  backoffLimit: 1\n  template:\n    spec:\n      serviceAccountName: app\n      restartPolicy: Never\n      containers: [{{name: make, image: kubectl}}]\n"
    );
    for i in 0..CHAIN {
        let upstream = if i == 0 {
            String::new()
        } else {
            format!(
                "\n            - name: UPSTREAM_URL\n              value: \"http://svc-{}.{ns}.svc.cluster.local:8080\"",
                i - 1
            )
        };
        out.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\n  namespace: {ns}\nspec:\n  selector: {{app: app-{i}}}\n  ports: [{{port: 8080}}]\n---\n\
apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  namespace: {ns}\nspec:\n  selector: {{matchLabels: {{app: app-{i}}}}}\n  template:\n    metadata:\n      labels: {{app: app-{i}, team: t{n}}}\n    spec:\n      serviceAccountName: app\n      containers:\n        - name: app\n          image: app:1\n          args: [\"serve\", \"--listen=:8080\"]\n          envFrom: [{{configMapRef: {{name: settings}}}}, {{secretRef: {{name: db}}}}]\n          env:\n            - name: TOKEN\n              valueFrom: {{secretKeyRef: {{name: token, key: t}}}}{upstream}\n"
        ));
    }
    let last = CHAIN - 1;
    out.push_str(&format!(
        "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: app\n  namespace: {ns}\nspec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: app-{last}}}\n  maxReplicas: 3\n---\n\
apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: app\n  namespace: {ns}\nspec:\n  minAvailable: 1\n  selector: {{matchLabels: {{app: app-{last}}}}}\n---\n\
apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: app\n  namespace: {ns}\nspec:\n  rules:\n    - http:\n        paths:\n          - {{path: /, pathType: Prefix, backend: {{service: {{name: svc-{last}, port: {{number: 8080}}}}}}}}\n"
    ));
    out
}

fn graph_and_layering(c: &mut Criterion) {
    let files: Vec<InputFile> = (0..NAMESPACES)
        .map(|n| InputFile {
            display: format!("team-{n}.yaml").into(),
            text: namespace_file(n),
            json: false,
        })
        .collect();
    let loaded = manifest::parse_files(&files);
    assert!(
        loaded.diagnostics.is_empty(),
        "{:?}",
        loaded.diagnostics.first()
    );
    let objects = loaded.objects;
    assert_eq!(objects.len(), 10_000);
    let resolved = infer::resolve(&objects);
    let analysis = annotate::analyze(&objects, &resolved, Options::default()).expect("no cycle");
    let deepest = analysis.suggestions.iter().map(|s| s.suggested).max();
    assert_eq!(
        deepest,
        Some(CHAIN as i64 + 1),
        "the chain plus the PDB after it"
    );
    eprintln!("{} objects, {} edges", objects.len(), resolved.edges.len());

    let mut group = c.benchmark_group("annotate-10k-objects");
    group.sample_size(10);
    group.bench_function("graph (infer::resolve)", |b| {
        b.iter(|| black_box(infer::resolve(&objects)))
    });
    group.bench_function("layering (annotate::analyze)", |b| {
        b.iter(|| black_box(annotate::analyze(&objects, &resolved, Options::default())))
    });
    group.bench_function("graph + layering", |b| {
        b.iter(|| {
            let resolved = infer::resolve(&objects);
            black_box(annotate::analyze(&objects, &resolved, Options::default()))
        })
    });
    group.finish();
}

/// 1,000 files of 10 objects; in each, the Deployment reaching its neighbour moves to wave 1.
fn write_files(c: &mut Criterion) {
    let file = |n: usize| {
        let ns = format!("w{n}");
        let mut out = String::from("# generated for the annotate --write benchmark\n");
        for i in 0..4 {
            out.push_str(&format!(
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n  namespace: {ns}\n  labels: {{app: a}}\ndata:\n  key: \"value {i}\"  # a comment\n"
            ));
        }
        out.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: api, namespace: {ns}}}\nspec: {{selector: {{app: api}}}}\n---\n\
apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: {ns}\nspec:\n  template:\n    metadata: {{labels: {{app: api}}}}\n    spec: {{containers: [{{name: api, image: api}}]}}\n---\n\
apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\n  annotations:\n    team: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: web\n          env: [{{name: API, value: \"http://api.{ns}.svc:8080\"}}]\n"
        ));
        for i in 0..3 {
            out.push_str(&format!(
                "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s{i}\n  namespace: {ns}\nstringData: {{k: v}}\n"
            ));
        }
        out
    };
    let texts: Vec<(String, String)> = (0..1000)
        .map(|n| (format!("f{n:04}.yaml"), file(n)))
        .collect();
    let mut group = c.benchmark_group("annotate-write-1000-files");
    group.sample_size(10);
    group.bench_function("--write (edit, verify, atomic replace)", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                for (name, text) in &texts {
                    std::fs::write(dir.path().join(name), text).expect("write");
                }
                let input = manifest::Input::Paths(vec![dir.path().to_path_buf()]);
                let a = annotate::run(&input, Options::default()).expect("annotate");
                let edits = write::planned_edits(a.objects(), &a.analysis);
                assert_eq!(edits.len(), 1000);
                (dir, edits)
            },
            |(dir, edits)| {
                let written = write::write_files(&edits);
                assert!(written.iter().all(|w| matches!(w.result, Ok(true))));
                (dir, written)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, graph_and_layering, write_files);
criterion_main!(benches);
