package main

import (
	"context"
	"fmt"
	"log"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

const (
	// Set by the scheduler on a claim of a WaitForFirstConsumer class once it picked a node.
	selectedNodeAnnot = "volume.kubernetes.io/selected-node"
	// The class of a claim, before spec.storageClassName existed (still honoured).
	betaClassAnnot = "volume.beta.kubernetes.io/storage-class"
	// Who provisioned a volume: the PV controller leaves the deletion of a Released volume
	// with reclaim policy Delete to the provisioner named here (us).
	provisionedByAnnot = "pv.kubernetes.io/provisioned-by"
)

// provisioner makes a PersistentVolume for each Pending claim whose StorageClass exists,
// whatever the class's provisioner is, and deletes the volumes it made once they are Released
// (reclaim policy Delete). The volume is pre-bound to the claim (spec.claimRef); the PV
// controller of kube-controller-manager then binds the claim to it, as it does for an external
// provisioner's volumes.
type provisioner struct {
	client  kubernetes.Interface
	factory informers.SharedInformerFactory
	claims  corelisters.PersistentVolumeClaimLister
	volumes corelisters.PersistentVolumeLister
	classes storagelisters.StorageClassLister
	queue   workqueue.TypedRateLimitingInterface[string]
	dir     string
	delays  *delays
}

func newProvisioner(client kubernetes.Interface, dir string) *provisioner {
	factory := informers.NewSharedInformerFactory(client, 0)
	p := &provisioner{
		client:  client,
		factory: factory,
		claims:  factory.Core().V1().PersistentVolumeClaims().Lister(),
		volumes: factory.Core().V1().PersistentVolumes().Lister(),
		classes: factory.Storage().V1().StorageClasses().Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "provisioner"}),
		dir:    dir,
		delays: newDelays(),
	}
	onClaim := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			p.queue.Add("claim/" + key)
		}
	}
	onVolume := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			p.queue.Add("volume/" + key)
		}
	}
	// A class that appears (or changes) may let Pending claims of it be provisioned.
	onClass := func(obj any) {
		class, ok := obj.(*storagev1.StorageClass)
		if !ok {
			return
		}
		claims, err := p.claims.List(labels.Everything())
		if err != nil {
			return
		}
		for _, c := range claims {
			if c.Status.Phase == corev1.ClaimPending && classOf(c) == class.Name {
				p.queue.Add("claim/" + c.Namespace + "/" + c.Name)
			}
		}
	}
	mustHandle(factory.Core().V1().PersistentVolumeClaims().Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc: onClaim, UpdateFunc: func(_, o any) { onClaim(o) }, DeleteFunc: onClaim,
	})
	mustHandle(factory.Core().V1().PersistentVolumes().Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc: onVolume, UpdateFunc: func(_, o any) { onVolume(o) },
	})
	mustHandle(factory.Storage().V1().StorageClasses().Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc: onClass, UpdateFunc: func(_, o any) { onClass(o) },
	})
	return p
}

func mustHandle(inf cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	if _, err := inf.AddEventHandler(h); err != nil {
		log.Fatalf("adding an event handler: %v", err)
	}
}

func (p *provisioner) run(ctx context.Context, workers int) {
	defer p.queue.ShutDown()
	p.factory.Start(ctx.Done())
	for typ, ok := range p.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			log.Printf("provisioner: cache of %v did not sync", typ)
			return
		}
	}
	log.Printf("provisioner: watching claims, volumes and storage classes")
	runWorkers(ctx, workers, p.queue, p.sync)
	p.factory.Shutdown()
}

// runWorkers processes queue items with `workers` goroutines until ctx is done; an item whose
// sync fails is retried with the queue's back-off.
func runWorkers[T comparable](ctx context.Context, workers int, queue workqueue.TypedRateLimitingInterface[T],
	sync func(context.Context, T) error) {
	done := make(chan struct{})
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				item, quit := queue.Get()
				if quit {
					return
				}
				if err := sync(ctx, item); err != nil {
					log.Printf("%v: %v (retrying)", item, err)
					queue.AddRateLimited(item)
				} else {
					queue.Forget(item)
				}
				queue.Done(item)
			}
		}()
	}
	<-ctx.Done()
	queue.ShutDown()
	for range workers {
		<-done
	}
}

func (p *provisioner) sync(ctx context.Context, item string) error {
	kind, key, _ := strings.Cut(item, "/")
	if kind == "volume" {
		return p.syncVolume(ctx, key)
	}
	return p.syncClaim(ctx, item, key)
}

// classOf is the claim's StorageClass name ("" for none).
func classOf(c *corev1.PersistentVolumeClaim) string {
	if name, ok := c.Annotations[betaClassAnnot]; ok {
		return name
	}
	if c.Spec.StorageClassName != nil {
		return *c.Spec.StorageClassName
	}
	return ""
}

func (p *provisioner) syncClaim(ctx context.Context, item, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	claim, err := p.claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		p.delays.forget(item)
		return nil
	}
	if err != nil {
		return err
	}
	if claim.DeletionTimestamp != nil || claim.Status.Phase != corev1.ClaimPending || claim.Spec.VolumeName != "" {
		return nil
	}
	if claim.Labels[failLabel] != "" {
		return nil // stays Pending, as when no provisioner serves the class
	}
	className := classOf(claim)
	if className == "" {
		return nil // static binding only
	}
	class, err := p.classes.Get(className)
	if apierrors.IsNotFound(err) {
		return nil // enqueued again when the class appears
	}
	if err != nil {
		return err
	}
	node := ""
	if class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer {
		node = claim.Annotations[selectedNodeAnnot]
		if node == "" {
			return nil // the scheduler sets it once a pod using the claim is placed
		}
	}
	what := fmt.Sprintf("PersistentVolumeClaim %s/%s", ns, name)
	delay := delayOf(what, claim.Labels, claim.Annotations, defaultVolumeDelay, defaultVolumeDelay)
	if wait := p.delays.remaining(item, string(claim.UID), claim.Generation, delay); wait > 0 {
		p.queue.AddAfter(item, wait)
		return nil
	}

	pv := p.volumeFor(claim, class, node)
	_, err = p.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{FieldManager: fieldManager})
	switch {
	case apierrors.IsAlreadyExists(err):
		return nil
	case err != nil:
		return fmt.Errorf("creating PersistentVolume %s for %s: %w", pv.Name, what, err)
	}
	log.Printf("provisioner: %s (class %s): made PersistentVolume %s", what, className, pv.Name)
	return nil
}

// volumeFor: a hostPath volume of the claim's size, access modes and volume mode, pre-bound to
// the claim; on a WaitForFirstConsumer class, only usable on the node the scheduler picked.
func (p *provisioner) volumeFor(claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node string) *corev1.PersistentVolume {
	size, ok := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		size = resource.MustParse("1Gi")
	}
	modes := claim.Spec.AccessModes
	if len(modes) == 0 {
		modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		reclaim = *class.ReclaimPolicy
	}
	name := "pvc-" + string(claim.UID)
	hostPathType := corev1.HostPathDirectoryOrCreate
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{provisionedLabel: "true"},
			Annotations: map[string]string{provisionedByAnnot: class.Provisioner},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes: modes,
			VolumeMode:  claim.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{
				APIVersion: "v1",
				Kind:       "PersistentVolumeClaim",
				Namespace:  claim.Namespace,
				Name:       claim.Name,
				UID:        claim.UID,
			},
			StorageClassName:              class.Name,
			PersistentVolumeReclaimPolicy: reclaim,
			MountOptions:                  class.MountOptions,
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: path.Join(p.dir, name), Type: &hostPathType},
			},
		},
	}
	if node != "" {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
			}}}},
		}}
	}
	return pv
}

// syncVolume deletes a volume we made once its claim is gone (phase Released) and its reclaim
// policy is Delete, as a provisioner does.
func (p *provisioner) syncVolume(ctx context.Context, name string) error {
	pv, err := p.volumes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pv.Labels[provisionedLabel] != "true" || pv.DeletionTimestamp != nil ||
		pv.Status.Phase != corev1.VolumeReleased ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return nil
	}
	uid := pv.UID
	err = p.client.CoreV1().PersistentVolumes().Delete(ctx, name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting released PersistentVolume %s: %w", name, err)
	}
	log.Printf("provisioner: deleted released PersistentVolume %s", name)
	return nil
}
