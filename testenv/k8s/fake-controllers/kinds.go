package main

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The values of the `test.waves/fail` label the status writers know. Any other value is taken
// as `degraded` (and logged).
const (
	failDegraded = "degraded" // the failing status of the real controller (Degraded health)
	failStuck    = "stuck"    // no status at all, ever (health stays Progressing / None)
)

// variant: what to write for one object.
type variant struct {
	fail    string // "", failDegraded (failStuck never gets here)
	message string // annotation test.waves/message, else "" (each kind has its own default)
	now     string // RFC 3339, for timestamps
}

func variantOf(obj *unstructured.Unstructured) variant {
	fail := obj.GetLabels()[failLabel]
	switch fail {
	case "", failDegraded, failStuck:
	default:
		fail = failDegraded
	}
	return variant{
		fail:    fail,
		message: obj.GetAnnotations()[messageAnnot],
		now:     time.Now().UTC().Format(time.RFC3339),
	}
}

// msg: the message of a failing status: the annotation's, else the default.
func (v variant) msg(def string) string {
	if v.message != "" {
		return v.message
	}
	return def
}

// kindRule: the status a kind's controller writes.
type kindRule struct {
	group, kind string
	// builtin: the resource of a built-in kind (watched from the start); nil for custom
	// resources (watched once their CRD is established).
	builtin *schema.GroupVersionResource
	// status: the status to merge into the object's, or nil to write nothing.
	status func(obj *unstructured.Unstructured, v variant) map[string]any
}

func lookupKind(group, kind string) *kindRule {
	for i := range kindTable {
		if kindTable[i].group == group && kindTable[i].kind == kind {
			return &kindTable[i]
		}
	}
	return nil
}

func gvr(group, version, resource string) *schema.GroupVersionResource {
	return &schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

var kindTable = []kindRule{
	{group: "networking.k8s.io", kind: "Ingress", builtin: gvr("networking.k8s.io", "v1", "ingresses"), status: loadBalancer},
	{group: "", kind: "Service", builtin: gvr("", "v1", "services"), status: serviceLoadBalancer},
	{group: "autoscaling", kind: "HorizontalPodAutoscaler", builtin: gvr("autoscaling", "v2", "horizontalpodautoscalers"), status: hpa},
	{group: "cert-manager.io", kind: "Certificate", status: certificate},
	{group: "cert-manager.io", kind: "Issuer", status: issuer},
	{group: "cert-manager.io", kind: "ClusterIssuer", status: issuer},
	{group: "rabbitmq.com", kind: "RabbitmqCluster", status: rabbitmqCluster},
	{group: "rabbitmq.com", kind: "Queue", status: rabbitmqTopology},
	{group: "rabbitmq.com", kind: "Exchange", status: rabbitmqTopology},
	{group: "rabbitmq.com", kind: "Binding", status: rabbitmqTopology},
	{group: "rabbitmq.com", kind: "User", status: rabbitmqTopology},
	{group: "rabbitmq.com", kind: "Vhost", status: rabbitmqTopology},
	{group: "rabbitmq.com", kind: "Permission", status: rabbitmqTopology},
	{group: "rabbitmq.com", kind: "Policy", status: rabbitmqTopology},
	{group: "rabbitmq.com", kind: "Shovel", status: rabbitmqTopology},
	{group: "redis.redis.opstreelabs.in", kind: "Redis", status: redis},
	{group: "redis.redis.opstreelabs.in", kind: "RedisCluster", status: redis},
	{group: "postgresql.cnpg.io", kind: "Cluster", status: cnpgCluster},
}

// condition: a status condition; observedGeneration only when generation >= 0 (the kinds
// whose conditions are metav1.Condition).
func condition(typ, status, reason, message string, generation int64, now string) map[string]any {
	c := map[string]any{
		"type": typ, "status": status, "reason": reason, "message": message,
		"lastTransitionTime": now,
	}
	if generation >= 0 {
		c["observedGeneration"] = generation
	}
	return c
}

func conditions(cs ...map[string]any) []any {
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = c
	}
	return out
}

// Ingress: an address, as an ingress controller publishes one. A failing Ingress gets none
// (Argo CD has no Degraded for Ingress: it stays Progressing).
func loadBalancer(_ *unstructured.Unstructured, v variant) map[string]any {
	if v.fail != "" {
		return nil
	}
	return map[string]any{"loadBalancer": map[string]any{
		"ingress": []any{map[string]any{"ip": "127.0.0.1"}},
	}}
}

// Service of type LoadBalancer: an address, as a cloud's service controller does.
func serviceLoadBalancer(obj *unstructured.Unstructured, v variant) map[string]any {
	if typ, _, _ := unstructured.NestedString(obj.Object, "spec", "type"); typ != "LoadBalancer" {
		return nil
	}
	return loadBalancer(obj, v)
}

// HorizontalPodAutoscaler (autoscaling/v2): settled at minReplicas with a metric read; failing:
// the metrics cannot be read (ScalingActive False FailedGetResourceMetric).
func hpa(obj *unstructured.Unstructured, v variant) map[string]any {
	replicas, found, _ := unstructured.NestedInt64(obj.Object, "spec", "minReplicas")
	if !found || replicas < 1 {
		replicas = 1
	}
	status := map[string]any{
		"observedGeneration": obj.GetGeneration(),
		"currentReplicas":    replicas,
		"desiredReplicas":    replicas,
	}
	if v.fail == "" {
		status["conditions"] = conditions(
			condition("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size", -1, v.now),
			condition("ScalingActive", "True", "ValidMetricFound",
				"the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)", -1, v.now),
			condition("ScalingLimited", "False", "DesiredWithinRange", "the desired count is within the acceptable range", -1, v.now),
		)
	} else {
		status["conditions"] = conditions(
			condition("AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale", -1, v.now),
			condition("ScalingActive", "False", "FailedGetResourceMetric", v.msg(
				"the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: "+
					"unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"), -1, v.now),
		)
	}
	return status
}

// cert-manager.io Certificate: issued (Ready True) with validity times; failing: the issuance
// failed (Issuing False, Ready False).
func certificate(obj *unstructured.Unstructured, v variant) map[string]any {
	gen := obj.GetGeneration()
	if v.fail == "" {
		now, _ := time.Parse(time.RFC3339, v.now)
		return map[string]any{
			"conditions": conditions(
				condition("Ready", "True", "Ready", "Certificate is up to date and has not expired", gen, v.now)),
			"notBefore":              v.now,
			"notAfter":               now.Add(90 * 24 * time.Hour).Format(time.RFC3339),
			"renewalTime":            now.Add(60 * 24 * time.Hour).Format(time.RFC3339),
			"revision":               int64(1),
			"failedIssuanceAttempts": nil,
			"lastFailureTime":        nil,
		}
	}
	message := v.msg("The certificate request has failed to complete and will be retried: " +
		"Failed to wait for order resource to become ready: order is in \"invalid\" state")
	return map[string]any{
		"conditions": conditions(
			condition("Issuing", "False", "Failed", message, gen, v.now),
			condition("Ready", "False", "DoesNotExist", message, gen, v.now)),
		"failedIssuanceAttempts": int64(1),
		"lastFailureTime":        v.now,
	}
}

// cert-manager.io Issuer and ClusterIssuer: Ready, or not (a CA issuer without its key pair).
func issuer(obj *unstructured.Unstructured, v variant) map[string]any {
	gen := obj.GetGeneration()
	if v.fail == "" {
		return map[string]any{"conditions": conditions(
			condition("Ready", "True", "KeyPairVerified", "Signing CA verified", gen, v.now))}
	}
	return map[string]any{"conditions": conditions(
		condition("Ready", "False", "ErrGetKeyPair", v.msg(
			"Error getting keypair for CA issuer: secrets \"ca-key-pair\" not found"), gen, v.now))}
}

// rabbitmq.com RabbitmqCluster: all replicas ready and reconciled, with its default user;
// failing: the reconcile fails (ReconcileSuccess False), no replica ready.
func rabbitmqCluster(obj *unstructured.Unstructured, v variant) map[string]any {
	name, ns := obj.GetName(), obj.GetNamespace()
	status := map[string]any{"observedGeneration": obj.GetGeneration()}
	if v.fail == "" {
		status["conditions"] = conditions(
			condition("AllReplicasReady", "True", "AllPodsAreReady", "", -1, v.now),
			condition("ClusterAvailable", "True", "AtLeastOneEndpointAvailable", "", -1, v.now),
			condition("NoWarnings", "True", "NoWarnings", "", -1, v.now),
			condition("ReconcileSuccess", "True", "Success", "Finish reconciling", -1, v.now),
		)
		status["defaultUser"] = map[string]any{
			"secretReference": map[string]any{
				"name": name + "-default-user", "namespace": ns,
				"keys": map[string]any{"username": "username", "password": "password"},
			},
			"serviceReference": map[string]any{"name": name, "namespace": ns},
		}
		status["binding"] = map[string]any{"name": name + "-default-user"}
		return status
	}
	status["conditions"] = conditions(
		condition("AllReplicasReady", "False", "NotAllPodsReady", fmt.Sprintf("0/%d pods are ready", replicasOf(obj)), -1, v.now),
		condition("ClusterAvailable", "False", "NoEndpointsAvailable", "The service has no endpoints available", -1, v.now),
		condition("NoWarnings", "True", "NoWarnings", "", -1, v.now),
		condition("ReconcileSuccess", "False", "Error", v.msg(
			"Failed to reconcile the StatefulSet: persistentvolumeclaims \"persistence-"+name+"-server-0\" is forbidden: exceeded quota"), -1, v.now),
	)
	return status
}

func replicasOf(obj *unstructured.Unstructured) int64 {
	n, found, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
	if !found {
		return 1
	}
	return n
}

// rabbitmq.com topology kinds (Queue, User, Permission, ...): created in RabbitMQ
// (Ready True SuccessfulCreateOrUpdate); failing: FailedCreateOrUpdate.
func rabbitmqTopology(obj *unstructured.Unstructured, v variant) map[string]any {
	status := map[string]any{"observedGeneration": obj.GetGeneration()}
	if v.fail == "" {
		status["conditions"] = conditions(condition("Ready", "True", "SuccessfulCreateOrUpdate", "", -1, v.now))
		if obj.GetKind() == "User" {
			status["credentials"] = map[string]any{"name": obj.GetName() + "-user-credentials"}
			status["username"] = obj.GetName()
		}
		return status
	}
	cluster, _, _ := unstructured.NestedString(obj.Object, "spec", "rabbitmqClusterReference", "name")
	status["conditions"] = conditions(condition("Ready", "False", "FailedCreateOrUpdate", v.msg(
		fmt.Sprintf("failed to connect to RabbitmqCluster %q: dial tcp: connection refused", cluster)), -1, v.now))
	return status
}

// redis.redis.opstreelabs.in Redis and RedisCluster: state Ready; failing: state Failed.
func redis(obj *unstructured.Unstructured, v variant) map[string]any {
	if v.fail == "" {
		return map[string]any{"state": "Ready", "reason": obj.GetKind() + " is ready"}
	}
	return map[string]any{"state": "Failed", "reason": v.msg(obj.GetKind() + " pods are not ready: CrashLoopBackOff")}
}

// postgresql.cnpg.io Cluster (CloudNativePG): all instances ready (phase "Cluster in healthy
// state", Ready True). Failing: Ready False, plus the standard kstatus condition Stalled True,
// which CloudNativePG does not write, so that a generic health check (ours: kstatus) says
// Degraded rather than Progressing.
func cnpgCluster(obj *unstructured.Unstructured, v variant) map[string]any {
	name, gen := obj.GetName(), obj.GetGeneration()
	instances, found, _ := unstructured.NestedInt64(obj.Object, "spec", "instances")
	if !found || instances < 1 {
		instances = 1
	}
	names := make([]any, instances)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", name, i+1)
	}
	status := map[string]any{
		"instances":      instances,
		"instanceNames":  names,
		"currentPrimary": name + "-1",
		"targetPrimary":  name + "-1",
		"writeService":   name + "-rw",
		"readService":    name + "-r",
	}
	if v.fail == "" {
		status["phase"] = "Cluster in healthy state"
		status["readyInstances"] = instances
		status["conditions"] = conditions(condition("Ready", "True", "ClusterIsReady", "Cluster is Ready", gen, v.now))
		return status
	}
	message := v.msg("Unable to create required cluster objects")
	status["phase"] = message
	status["readyInstances"] = int64(0)
	status["conditions"] = conditions(
		condition("Ready", "False", "ClusterIsNotReady", "Cluster Is Not Ready", gen, v.now),
		condition("Stalled", "True", "Failed", message, gen, v.now),
	)
	return status
}
