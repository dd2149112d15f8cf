// argocd-sync syncs a folder of manifests into a namespace with Argo CD's own sync engine
// (github.com/argoproj/gitops-engine, the version Argo CD v3.2.0 uses), as a library. The
// differential tests (tests/differential) run it and `kubectl waves sync` on the same input
// in two namespaces of one testenv cluster and compare what the cluster saw.
//
//	argocd-sync --kubeconfig FILE --namespace NS [--app NAME] [--prune=true] [--timeout 3m] PATH...
//
// PATH is a file or a folder (read recursively: *.yaml, *.yml, *.json). The result goes to
// stdout as one JSON object {phase, message, resources: [...]}; exit code 0 when the
// operation Succeeded, 1 when it Failed or Errored, 2 on bad input, 3 on timeout.
//
// It drives the engine the way Argo CD's application controller does (see syncOnce), with the
// options the controller gives it for an Application without sync options (controllerOptions),
// and Argo CD's tracking annotation deciding which live objects belong to the app (so a second
// run prunes what the first run created and the second input lacks). Of what the controller
// passes it leaves out the 2 s delay between waves and the Lua health checks (the engine's
// built-in Go checks only): docs/argocd-differences.md lists what that means for the comparison.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	gosync "sync"
	"time"

	"github.com/argoproj/gitops-engine/pkg/cache"
	"github.com/argoproj/gitops-engine/pkg/sync"
	"github.com/argoproj/gitops-engine/pkg/sync/common"
	"github.com/argoproj/gitops-engine/pkg/utils/kube"
	"github.com/argoproj/gitops-engine/pkg/utils/tracing"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/openapi"
)

// ssaManager is the field manager of the engine's server-side applies: Argo CD's controller
// passes its constant ArgoCDSSAManager (controller/sync.go, sync.WithServerSideApplyManager).
// The engine's own default is "", which the apiserver refuses for an apply patch
// ("fieldManager: Required value"), so without it every ServerSideApply=true object fails.
const ssaManager = "argocd-controller"

// trackingAnnotation is the annotation Argo CD's annotation-based tracking writes:
// "<app>:<group>/<kind>:<namespace>/<name>".
const trackingAnnotation = "argocd.argoproj.io/tracking-id"

type resourceResult struct {
	Group     string `json:"group"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Message   string `json:"message"`
	HookType  string `json:"hookType,omitempty"`
	HookPhase string `json:"hookPhase,omitempty"`
	SyncPhase string `json:"syncPhase"`
}

type output struct {
	Phase     string           `json:"phase"`
	Message   string           `json:"message"`
	Resources []resourceResult `json:"resources"`
}

func main() {
	os.Exit(run())
}

func run() int {
	var (
		kubeconfig = flag.String("kubeconfig", "", "kubeconfig of the cluster (required)")
		namespace  = flag.String("namespace", "", "namespace for namespaced objects without one (required)")
		app        = flag.String("app", "", "application name in the tracking annotation (default: the namespace)")
		prune      = flag.Bool("prune", true, "prune live objects of the app that the input lacks")
		timeout    = flag.Duration("timeout", 3*time.Minute, "give up (and terminate the operation) after this long")
		verbose    = flag.Int("v", -1, "engine log verbosity on stderr (-1: no log)")
	)
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: argocd-sync --kubeconfig FILE --namespace NS [--app NAME] [--prune=true] [--timeout 3m] PATH...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *kubeconfig == "" || *namespace == "" || flag.NArg() == 0 {
		flag.Usage()
		return 2
	}
	if *app == "" {
		*app = *namespace
	}
	// client-go and the engine log through klog; keep stderr quiet unless asked.
	log := logr.Discard()
	if *verbose >= 0 {
		log = textlogger.NewLogger(textlogger.NewConfig(textlogger.Verbosity(*verbose)))
	}
	klog.SetLogger(log)

	targets, err := readManifests(flag.Args())
	if err != nil {
		fmt.Fprintf(os.Stderr, "argocd-sync: %v\n", err)
		return 2
	}
	for _, t := range targets {
		track(t, *app, *namespace)
	}

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintf(os.Stderr, "argocd-sync: kubeconfig %s: %v\n", *kubeconfig, err)
		return 2
	}
	// Cluster-wide, as Argo CD's controller watches a cluster: the corpus has Namespaces and
	// CRDs, which a namespaced cache cannot manage.
	clusterCache := cache.NewClusterCache(config,
		cache.SetLogr(log),
		// Keep the manifests of the objects of any app: GetManagedLiveObjs returns only
		// cached manifests.
		cache.SetPopulateResourceInfoHandler(func(un *unstructured.Unstructured, _ bool) (any, bool) {
			app := appOf(un)
			return app, app != ""
		}),
	)
	if err := ensureSynced(clusterCache); err != nil {
		fmt.Fprintf(os.Stderr, "argocd-sync: starting the cluster cache: %v\n", err)
		return 1
	}
	defer clusterCache.Invalidate()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	results, syncErr := syncOnce(ctx, clusterCache, config, log, targets, *app, *namespace, *prune)

	out := output{Phase: string(common.OperationSucceeded), Resources: []resourceResult{}}
	code := 0
	switch {
	case errors.Is(syncErr, context.DeadlineExceeded):
		out.Phase, out.Message, code = "Timeout", fmt.Sprintf("not finished after %s", *timeout), 3
	case syncErr != nil:
		// The engine reports Failed and Error alike as an error "sync operation failed: …".
		out.Phase, out.Message, code = string(common.OperationFailed), syncErr.Error(), 1
	}
	for _, r := range results {
		out.Resources = append(out.Resources, resourceResult{
			Group:     r.ResourceKey.Group,
			Kind:      r.ResourceKey.Kind,
			Namespace: r.ResourceKey.Namespace,
			Name:      r.ResourceKey.Name,
			Status:    string(r.Status),
			Message:   r.Message,
			HookType:  string(r.HookType),
			HookPhase: string(r.HookPhase),
			SyncPhase: string(r.SyncPhase),
		})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "argocd-sync: writing the result: %v\n", err)
		return 1
	}
	return code
}

// ensureSynced loads the cluster cache, trying again for up to 2 min: the cache lists every
// kind discovery names, and a CRD being deleted (by a test running beside this one) is still
// named for a moment after its kind stopped being served; and it reads the apiserver's
// OpenAPI v2 document, which the apiserver rebuilds after every CRD change and, on a loaded
// machine with tests creating CRDs beside this one, sometimes serves slower than the 32 s
// client timeout.
func ensureSynced(clusterCache cache.ClusterCache) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := clusterCache.EnsureSynced()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		clusterCache.Invalidate()
		time.Sleep(250 * time.Millisecond)
	}
}

// syncOnce runs one sync operation to its end the way Argo CD's application controller
// drives the engine: every round reconciles the targets with the app's live objects as the
// cluster cache has them now, builds a sync context from that and the operation's state so
// far (sync.WithInitialState), and calls Sync once; a round runs on every change of an app
// object and at least every second. (gitops-engine's engine.Sync builds one sync context for
// the whole operation: it never sees the hooks it creates complete, and it skips the hooks
// when nothing changed — Argo CD runs them on every sync, and so does kubectl-waves.)
func syncOnce(ctx context.Context, clusterCache cache.ClusterCache, config *rest.Config, log logr.Logger,
	targets []*unstructured.Unstructured, app, namespace string, prune bool,
) ([]common.ResourceSyncResult, error) {
	isManaged := func(r *cache.Resource) bool {
		owner, _ := r.Info.(string)
		return owner == app
	}
	changed := make(chan struct{}, 1)
	unsubscribe := clusterCache.OnResourceUpdated(func(newRes, oldRes *cache.Resource, _ map[kube.ResourceKey]*cache.Resource) {
		res := newRes
		if res == nil {
			res = oldRes
		}
		if isManaged(res) {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	})
	defer unsubscribe()

	kubectl := &discoveryLagKubectl{&kube.KubectlCmd{Log: log, Tracer: tracing.NopTracer{}}, newSyncCRDs(targets)}
	startedAt := metav1.Now()
	phase, message := common.OperationRunning, ""
	var results []common.ResourceSyncResult
	for {
		live, err := clusterCache.GetManagedLiveObjs(targets, isManaged)
		if err != nil {
			return results, fmt.Errorf("reading the live objects: %w", err)
		}
		reconciled := sync.Reconcile(targets, live, namespace, clusterCache)
		// The revision ends up in the names of generateName hooks (its first 7 characters, as
		// of a commit hash): "differential" gives names as long as Argo CD's.
		syncCtx, cleanup, err := sync.NewSyncContext("differential", reconciled, config, config, kubectl,
			namespace, clusterCache.GetOpenAPISchema(), controllerOptions(log, prune, phase, message, results, startedAt)...)
		if err != nil {
			return results, fmt.Errorf("creating the sync context: %w", err)
		}
		syncCtx.Sync()
		phase, message, results = syncCtx.GetState()
		if phase.Completed() {
			cleanup()
			if !phase.Successful() {
				return results, fmt.Errorf("sync operation %s: %s", phase, message)
			}
			return results, nil
		}
		select {
		case <-ctx.Done():
			syncCtx.Terminate()
			cleanup()
			return results, ctx.Err()
		case <-time.After(time.Second):
		case <-changed:
		}
		cleanup()
	}
}

// controllerOptions are the options Argo CD v3.2.0's application controller gives the engine
// (SyncAppState in argo-cd's controller/sync.go) for an Application with no sync options, in
// its order, each with the value it has there. Where the engine's default is that value it is
// passed anyway, so that a change of an engine default cannot change the comparison silently.
// testenv/README.md has them as a table.
func controllerOptions(log logr.Logger, prune bool, phase common.OperationPhase, message string,
	results []common.ResourceSyncResult, startedAt metav1.Time,
) []sync.SyncOpt {
	foreground := metav1.DeletePropagationForeground
	return []sync.SyncOpt{
		sync.WithLogr(log),
		// Not passed: WithHealthOverride. The controller passes its Lua health checks (argocd-cm's
		// resource.customizations and the ones built into Argo CD); argocd-sync has the engine's
		// Go checks only (docs/argocd-differences.md, D5). Argo CD has Lua checks for custom
		// resources (cert-manager, CloudNativePG, …) and two built-in kinds, PodDisruptionBudget
		// and CronJob, which it awaits and argocd-sync does not: timing only, the comparison
		// looks at creations and outcome. For every other kind the engine's Go check is the one
		// Argo CD uses too.
		//
		// Not passed: WithPermissionValidator. The controller checks the AppProject's allowed
		// kinds and destinations; Argo CD's `default` project allows everything, as the engine's
		// default validator does.
		//
		// dryRun false, force false (no --force), skipHooks false (the "hook" sync strategy, the
		// default, and no resource selection). prune is the operation's: `argocd app sync
		// --prune` or `automated.prune: true` make it true; the differential tests sync with
		// --prune on both sides.
		sync.WithOperationSettings(false, prune, false, false),
		sync.WithInitialState(phase, message, results, startedAt),
		// Not passed: WithResourcesFilter. The controller keeps the objects of a selective sync
		// (none here) whose live object is the app's own by its tracking id; every live object
		// reconciled here was selected by that tracking id (isManaged), so the filter would keep
		// everything.
		sync.WithManifestValidation(true), // unless Validate=false on the Application
		// Not passed: WithSyncWaveHook. The controller's hook sleeps 2 s after every wave but
		// the last (ARGOCD_SYNC_WAVE_DELAY): timing only, docs/argocd-differences.md D3.
		sync.WithPruneLast(false),                        // unless PruneLast=true on the Application
		sync.WithResourceModificationChecker(false, nil), // unless ApplyOutOfSyncOnly=true
		sync.WithPrunePropagationPolicy(&foreground),     // unless PrunePropagationPolicy=…
		sync.WithReplace(false),                          // unless Replace=true on the Application
		sync.WithServerSideApply(false),                  // unless ServerSideApply=true on the Application
		sync.WithServerSideApplyManager(ssaManager),
		sync.WithClientSideApplyMigration(true, common.DefaultClientSideApplyMigrationManager),
		// True only when the Application's argocd.argoproj.io/deletion-approved annotation is
		// newer than the operation: Prune=confirm objects wait (none in the corpus).
		sync.WithPruneConfirmed(false),
		sync.WithSkipDryRunOnMissingResource(false),
		// Not passed: WithNamespaceModifier, which the controller adds only with
		// CreateNamespace=true.
	}
}

// discoveryLagKubectl is the engine's kubectl whose applies and creates of an object whose
// kind the apiserver does not serve yet are tried again for up to a minute while that kind's
// CRD is on its way. The engine applies a custom resource after waiting at most 3 s for its
// CRD to be Established, and the apiserver's discovery documents the new kind a moment after
// that, so on a loaded machine the apply can fail with "no matches for kind … ensure CRDs are
// installed first" — a failure Argo CD's users meet as a failed sync and retry. Such an apply
// wrote nothing, so trying it again keeps the order of writes the engine chose and takes the
// race out of the comparison. It is not tried again when nothing will ever serve the kind:
// the sync's own CRD of that kind failed to apply, or the sync has none and the cluster has
// none either; then the engine gets the failure at once, as it would in Argo CD.
type discoveryLagKubectl struct {
	*kube.KubectlCmd
	crds *syncCRDs
}

func (k *discoveryLagKubectl) ManageResources(config *rest.Config, openAPISchema openapi.Resources) (kube.ResourceOperations, func(), error) {
	ops, cleanup, err := k.KubectlCmd.ManageResources(config, openAPISchema)
	if err != nil {
		return nil, nil, err
	}
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return &discoveryLagOps{ops, k.crds, client}, cleanup, nil
}

// syncCRDs are the kinds the sync's own CRDs define, and whether the apply of each kind's CRD
// has failed. It lives as long as the operation: every round's sync context shares it.
type syncCRDs struct {
	mu     gosync.Mutex
	failed map[schema.GroupKind]bool
}

func newSyncCRDs(targets []*unstructured.Unstructured) *syncCRDs {
	c := &syncCRDs{failed: map[schema.GroupKind]bool{}}
	for _, t := range targets {
		if gk, ok := definedKind(t); ok {
			c.failed[gk] = false
		}
	}
	return c
}

// definedKind is the kind obj defines, if it is a CRD.
func definedKind(obj *unstructured.Unstructured) (schema.GroupKind, bool) {
	if !kube.IsCRD(obj) {
		return schema.GroupKind{}, false
	}
	group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "kind")
	return schema.GroupKind{Group: group, Kind: kind}, kind != ""
}

// recordApply notes the outcome of an apply (not a dry run) of one of the sync's CRDs.
func (c *syncCRDs) recordApply(obj *unstructured.Unstructured, err error) {
	gk, ok := definedKind(obj)
	if !ok || err == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, own := c.failed[gk]; own {
		c.failed[gk] = true
	}
}

// state says whether the sync has a CRD of kind gk, and whether its apply failed.
func (c *syncCRDs) state(gk schema.GroupKind) (own, failed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	failed, own = c.failed[gk]
	return own, failed
}

type discoveryLagOps struct {
	kube.ResourceOperations
	crds   *syncCRDs
	client dynamic.Interface
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// kindNotServedYet says whether err is the apply of a kind discovery does not list yet.
func kindNotServedYet(err error) bool {
	return err != nil && (meta.IsNoMatchError(err) || strings.Contains(err.Error(), "ensure CRDs are installed first"))
}

// kindOnItsWay says whether some CRD will serve gk: the sync's own one, unless its apply
// failed, or one the cluster has (a CRD created a moment ago, by the test or anyone else). When
// the cluster cannot be asked it says yes: the minute still bounds the wait.
func (o *discoveryLagOps) kindOnItsWay(ctx context.Context, gk schema.GroupKind) bool {
	if own, failed := o.crds.state(gk); own {
		return !failed
	}
	list, err := o.client.Resource(crdResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return true
	}
	for i := range list.Items {
		if defined, ok := definedKind(&list.Items[i]); ok && defined == gk {
			return true
		}
	}
	return false
}

func (o *discoveryLagOps) retryWhileKindNotServed(ctx context.Context, obj *unstructured.Unstructured, call func() (string, error)) (string, error) {
	gk := obj.GroupVersionKind().GroupKind()
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := call()
		if !kindNotServedYet(err) || time.Now().After(deadline) || !o.kindOnItsWay(ctx, gk) {
			return out, err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (o *discoveryLagOps) ApplyResource(ctx context.Context, obj *unstructured.Unstructured, dryRunStrategy cmdutil.DryRunStrategy, force, validate, serverSideApply bool, manager string) (string, error) {
	out, err := o.retryWhileKindNotServed(ctx, obj, func() (string, error) {
		return o.ResourceOperations.ApplyResource(ctx, obj, dryRunStrategy, force, validate, serverSideApply, manager)
	})
	if dryRunStrategy == cmdutil.DryRunNone {
		o.crds.recordApply(obj, err)
	}
	return out, err
}

// CreateResource is what the engine calls instead of ApplyResource for a new object with
// Replace=true.
func (o *discoveryLagOps) CreateResource(ctx context.Context, obj *unstructured.Unstructured, dryRunStrategy cmdutil.DryRunStrategy, validate bool) (string, error) {
	out, err := o.retryWhileKindNotServed(ctx, obj, func() (string, error) {
		return o.ResourceOperations.CreateResource(ctx, obj, dryRunStrategy, validate)
	})
	if dryRunStrategy == cmdutil.DryRunNone {
		o.crds.recordApply(obj, err)
	}
	return out, err
}

// readManifests reads every *.yaml, *.yml and *.json under the paths, in path order.
func readManifests(paths []string) ([]*unstructured.Unstructured, error) {
	var files []string
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".yaml", ".yml", ".json":
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	var all []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		items, err := kube.SplitYAML(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		all = append(all, items...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no manifests under %s", strings.Join(paths, ", "))
	}
	return all, nil
}

// track writes Argo CD's tracking annotation for app on obj.
func track(obj *unstructured.Unstructured, app, defaultNamespace string) {
	ns := obj.GetNamespace()
	if ns == "" {
		ns = defaultNamespace
	}
	gvk := obj.GroupVersionKind()
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[trackingAnnotation] = fmt.Sprintf("%s:%s/%s:%s/%s", app, gvk.Group, gvk.Kind, ns, obj.GetName())
	obj.SetAnnotations(annotations)
}

// appOf is the app named by obj's tracking annotation, or "".
func appOf(obj *unstructured.Unstructured) string {
	id := obj.GetAnnotations()[trackingAnnotation]
	app, _, found := strings.Cut(id, ":")
	if !found {
		return ""
	}
	return app
}
