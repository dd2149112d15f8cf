// Command fake-controllers plays, for the local test control plane (see
// ../../README.md), the controllers a real cluster has and testenv does not run:
//
//   - a volume provisioner: every Pending PersistentVolumeClaim whose StorageClass exists
//     (whatever its provisioner) gets a hostPath PersistentVolume pre-bound to it, which
//     kube-controller-manager's persistent-volume binder then binds; released volumes it
//     made are deleted again;
//   - status writers for Ingress and LoadBalancer Services (an address), HorizontalPodAutoscaler
//     (a settled autoscaler) and the custom resources of the operators our fixtures use
//     (cert-manager, RabbitMQ cluster and topology operators, redis-operator, CloudNativePG),
//     writing the status the real controller writes once all is well, or a failing one for
//     objects labelled `test.waves/fail`.
//
// Everything is driven by watches (shared informers); nothing polls.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Labels and annotations that select what the fake controllers do (the same ones the kwok
// stages read on pods).
const (
	failLabel           = "test.waves/fail"
	readyAfterAnnot     = "test.waves/ready-after"
	failAfterAnnot      = "test.waves/fail-after"
	messageAnnot        = "test.waves/message"
	provisionedLabel    = "test.waves/provisioned"
	fieldManager        = "waves-fake-controllers"
	defaultStatusDelay  = time.Second
	defaultVolumeDelay  = 0
	defaultFailureDelay = time.Second
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "admin kubeconfig of the cluster")
	volumeDir := flag.String("volume-dir", "/tmp/waves-testenv-volumes",
		"hostPath prefix of the volumes made (nothing is created there: there is no kubelet)")
	workers := flag.Int("workers", 4, "workers per controller")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	if *kubeconfig == "" {
		log.Fatal("--kubeconfig is required")
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("loading %s: %v", *kubeconfig, err)
	}
	cfg.UserAgent = fieldManager
	cfg.QPS = 200
	cfg.Burst = 400
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		log.Fatalf("client: %v", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		log.Fatalf("dynamic client: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var wg sync.WaitGroup
	run := func(name string, f func(context.Context, int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx, *workers)
			log.Printf("%s: stopped", name)
		}()
	}
	run("provisioner", newProvisioner(typed, *volumeDir).run)
	run("status writers", newStatusWriters(dyn).run)
	log.Printf("started (volumes under %s)", *volumeDir)
	<-ctx.Done()
	log.Printf("stopping")
	wg.Wait()
	os.Exit(0)
}

// delays remembers when each object (at each generation) was first seen, so that the
// `ready-after` / `fail-after` delays count from then, as kwok's stage delays do.
type delays struct {
	mu   sync.Mutex
	seen map[string]seenAt
}

type seenAt struct {
	uid        string
	generation int64
	at         time.Time
}

func newDelays() *delays { return &delays{seen: map[string]seenAt{}} }

// remaining: how long until `delay` has passed since key's object (uid, generation) was first
// seen; 0 or less when it has.
func (d *delays) remaining(key, uid string, generation int64, delay time.Duration) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.seen[key]
	if !ok || s.uid != uid || s.generation != generation {
		s = seenAt{uid: uid, generation: generation, at: time.Now()}
		d.seen[key] = s
	}
	return time.Until(s.at.Add(delay))
}

func (d *delays) forget(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.seen, key)
}

// delayOf reads the delay annotation that applies: `fail-after` for an object labelled
// `test.waves/fail`, else `ready-after`; a value that is not a Go duration is logged and the
// default used.
func delayOf(what string, labels, annotations map[string]string, ready, failing time.Duration) time.Duration {
	name, def := readyAfterAnnot, ready
	if labels[failLabel] != "" {
		name, def = failAfterAnnot, failing
	}
	text, ok := annotations[name]
	if !ok {
		return def
	}
	d, err := time.ParseDuration(text)
	if err != nil || d < 0 {
		log.Printf("%s: annotation %s=%q is not a duration; using %s", what, name, text, def)
		return def
	}
	return d
}
