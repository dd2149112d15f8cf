package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// statusWriters watches the kinds of kindTable and writes their status. Built-in kinds are
// watched from the start; a custom resource kind from when its CustomResourceDefinition is
// Established (and no longer once it is deleted), through its storage version.
type statusWriters struct {
	client dynamic.Interface
	queue  workqueue.TypedRateLimitingInterface[objectKey]
	delays *delays

	mu      sync.Mutex
	watched map[schema.GroupKind]*watchedKind
	ctx     context.Context
}

type objectKey struct {
	gk        schema.GroupKind
	namespace string
	name      string
}

func (k objectKey) String() string {
	if k.namespace == "" {
		return fmt.Sprintf("%s %s", k.gk, k.name)
	}
	return fmt.Sprintf("%s %s/%s", k.gk, k.namespace, k.name)
}

type watchedKind struct {
	kind *kindRule
	gvr  schema.GroupVersionResource
	// statusSubresource: write through /status (else the whole object is patched).
	statusSubresource bool
	informer          cache.SharedIndexInformer
	stop              context.CancelFunc
}

var crdGVR = schema.GroupVersionResource{
	Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions",
}

func newStatusWriters(client dynamic.Interface) *statusWriters {
	return &statusWriters{
		client: client,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[objectKey](),
			workqueue.TypedRateLimitingQueueConfig[objectKey]{Name: "status"}),
		delays:  newDelays(),
		watched: map[schema.GroupKind]*watchedKind{},
	}
}

func (w *statusWriters) run(ctx context.Context, workers int) {
	w.mu.Lock()
	w.ctx = ctx
	for i := range kindTable {
		k := &kindTable[i]
		if k.builtin != nil {
			w.watchLocked(k, *k.builtin, true)
		}
	}
	w.mu.Unlock()

	crds := dynamicinformer.NewFilteredDynamicInformer(w.client, crdGVR, "", 0, cache.Indexers{}, nil).Informer()
	mustHandle(crds, cache.ResourceEventHandlerFuncs{
		AddFunc:    w.onCRD,
		UpdateFunc: func(_, o any) { w.onCRD(o) },
		DeleteFunc: w.onCRDDeleted,
	})
	go crds.RunWithContext(ctx)
	log.Printf("status writers: watching built-in kinds and CustomResourceDefinitions")
	runWorkers(ctx, workers, w.queue, w.sync)

	w.mu.Lock()
	for gk, wk := range w.watched {
		wk.stop()
		delete(w.watched, gk)
	}
	w.mu.Unlock()
}

// watchLocked starts an informer for gvr (w.mu held), replacing one for another version.
func (w *statusWriters) watchLocked(k *kindRule, gvr schema.GroupVersionResource, subresource bool) {
	gk := schema.GroupKind{Group: k.group, Kind: k.kind}
	if old, ok := w.watched[gk]; ok {
		if old.gvr == gvr && old.statusSubresource == subresource {
			return
		}
		old.stop()
	}
	ctx, stop := context.WithCancel(w.ctx)
	inf := dynamicinformer.NewFilteredDynamicInformer(w.client, gvr, "", 0, cache.Indexers{}, nil).Informer()
	enqueue := func(obj any) {
		key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err != nil {
			return
		}
		ns, name, err := cache.SplitMetaNamespaceKey(key)
		if err != nil {
			return
		}
		w.queue.Add(objectKey{gk: gk, namespace: ns, name: name})
	}
	mustHandle(inf, cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue,
	})
	w.watched[gk] = &watchedKind{kind: k, gvr: gvr, statusSubresource: subresource, informer: inf, stop: stop}
	go inf.RunWithContext(ctx)
	log.Printf("status writers: watching %s", gvr)
}

func (w *statusWriters) onCRD(obj any) {
	crd, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	k := lookupKind(group, kind)
	if k == nil || !conditionTrue(crd, "Established") {
		return
	}
	version, subresource := crdVersion(crd)
	if version == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() != nil {
		return
	}
	w.watchLocked(k, schema.GroupVersionResource{Group: group, Version: version, Resource: plural}, subresource)
}

func (w *statusWriters) onCRDDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	crd, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	gk := schema.GroupKind{Group: group, Kind: kind}
	w.mu.Lock()
	defer w.mu.Unlock()
	if wk, ok := w.watched[gk]; ok && wk.kind.builtin == nil {
		wk.stop()
		delete(w.watched, gk)
		log.Printf("status writers: CRD of %s deleted; no longer watching it", gk)
	}
}

// crdVersion: the storage version if served, else the first served one; and whether that
// version has the status subresource.
func crdVersion(crd *unstructured.Unstructured) (string, bool) {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	pick := -1
	for i, v := range versions {
		m, _ := v.(map[string]any)
		if served, _ := m["served"].(bool); !served {
			continue
		}
		if storage, _ := m["storage"].(bool); storage || pick < 0 {
			pick = i
			if storage {
				break
			}
		}
	}
	if pick < 0 {
		return "", false
	}
	m, _ := versions[pick].(map[string]any)
	name, _ := m["name"].(string)
	_, subresource, _ := unstructured.NestedMap(m, "subresources", "status")
	return name, subresource
}

func conditionTrue(obj *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			return m["status"] == "True"
		}
	}
	return false
}

func (w *statusWriters) sync(ctx context.Context, key objectKey) error {
	w.mu.Lock()
	wk, ok := w.watched[key.gk]
	w.mu.Unlock()
	if !ok {
		return nil
	}
	storeKey := key.name
	if key.namespace != "" {
		storeKey = key.namespace + "/" + key.name
	}
	item, exists, err := wk.informer.GetStore().GetByKey(storeKey)
	if err != nil {
		return err
	}
	delayKey := key.String()
	if !exists {
		w.delays.forget(delayKey)
		return nil
	}
	obj, ok := item.(*unstructured.Unstructured)
	if !ok || obj.GetDeletionTimestamp() != nil {
		return nil
	}
	v := variantOf(obj)
	if v.fail == failStuck {
		return nil
	}
	delay := delayOf(key.String(), obj.GetLabels(), obj.GetAnnotations(), defaultStatusDelay, defaultFailureDelay)
	if wait := w.delays.remaining(delayKey, string(obj.GetUID()), obj.GetGeneration(), delay); wait > 0 {
		w.queue.AddAfter(key, wait)
		return nil
	}
	want := wk.kind.status(obj, v)
	if want == nil {
		return nil
	}
	current, _, _ := unstructured.NestedMap(obj.Object, "status")
	if covers(current, want) {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"status": want})
	if err != nil {
		return err
	}
	res := w.client.Resource(wk.gvr)
	var ri dynamic.ResourceInterface = res
	if key.namespace != "" {
		ri = res.Namespace(key.namespace)
	}
	var sub []string
	if wk.statusSubresource {
		sub = []string{"status"}
	}
	_, err = ri.Patch(ctx, key.name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager}, sub...)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	outcome := "healthy"
	if v.fail != "" {
		outcome = "failing (" + v.fail + ")"
		if label := obj.GetLabels()[failLabel]; label != v.fail {
			outcome = fmt.Sprintf("failing (%s: label %s=%q is not one of %q, %q)",
				v.fail, failLabel, label, failDegraded, failStuck)
		}
	}
	log.Printf("status writers: %s: wrote a %s status", key, outcome)
	return nil
}

// covers: whether `current` already holds everything in `want` (a nil in `want` meaning
// "absent"), not counting timestamps, which are fixed when first written.
func covers(current, want map[string]any) bool {
	for k, wv := range want {
		cv := current[k]
		switch {
		case wv == nil || cv == nil:
			if (wv == nil) != (cv == nil) {
				return false
			}
		case volatileKeys[k]:
		case !sameValue(cv, wv):
			return false
		}
	}
	return true
}

var volatileKeys = map[string]bool{
	"lastTransitionTime": true, "lastUpdateTime": true, "lastProbeTime": true,
	"notBefore": true, "notAfter": true, "renewalTime": true, "lastFailureTime": true,
}

func sameValue(a, b any) bool {
	switch bv := b.(type) {
	case map[string]any:
		av, ok := a.(map[string]any)
		if !ok {
			return false
		}
		return covers(av, bv)
	case []any:
		av, ok := a.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range bv {
			if !sameValue(av[i], bv[i]) {
				return false
			}
		}
		return true
	case int64, int, float64:
		af, aok := number(a)
		bf, _ := number(b)
		return aok && af == bf
	default:
		return a == b
	}
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}
