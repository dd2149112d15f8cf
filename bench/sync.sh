#!/usr/bin/env bash
# Sync speed on the local control plane (testenv/), against a peer doing the same work in the
# same script: a shell loop of `kubectl apply --server-side` + `kubectl wait` per wave.
# Prints ratios and counts, never asserts a time.
#
#   bench/sync.sh            # 20 waves x 10 ConfigMaps, then the tenant fixture
#   RUNS=5 bench/sync.sh     # best of 5 for the wave case (default 3)
#
# Figures:
#   - wall time of `kubectl waves sync` vs the kubectl loop, and their ratio;
#   - per-wave overhead: for each step, its duration minus the time its objects took to
#     become ready after their apply (ConfigMaps are ready when written, so for them the
#     whole step is overhead: apply round trips + the health gate); median over steps;
#   - API requests per sync, counted in our client (every HTTP request, watches included).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
waves=20
per_wave=10

cargo build --release --locked --quiet
bin=$PWD/target/release/kubectl-waves
testenv/build >&2
data=$(mktemp -d)
trap 'testenv/down --data-dir "$data" --purge >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
work=$(mktemp -d)
eval "$(testenv/up --data-dir "$data" --watch-pid $$)"
export PATH="$PWD/target/testenv/bin:$PATH"

# The app: one file per wave, so the kubectl loop applies exactly one wave at a time.
mkdir -p "$work/app"
for ((w = 0; w < waves; w++)); do
  for ((i = 0; i < per_wave; i++)); do
    cat <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: w$w-c$i
  labels: {bench-wave: "$w"}
  annotations: {argocd.argoproj.io/sync-wave: "$w"}
data: {key: "value $w $i"}
---
EOF
  done >"$work/app/wave-$(printf %02d "$w").yaml"
done

now() { date +%s.%N; }
best_waves=999999 best_loop=999999
for ((r = 1; r <= runs; r++)); do
  ns=bench-waves-$r
  kubectl create namespace "$ns" >/dev/null
  t0=$(now)
  "$bin" sync "$work/app" -n "$ns" -o json --no-cluster-health-config >"$work/events-$r.json"
  t1=$(now)
  ours=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')

  ns=bench-loop-$r
  kubectl create namespace "$ns" >/dev/null
  t0=$(now)
  for f in "$work"/app/wave-*.yaml; do
    w=$(basename "$f" .yaml); w=$((10#${w#wave-}))
    kubectl apply --server-side -n "$ns" -f "$f" >/dev/null
    kubectl wait --for=create configmap -l "bench-wave=$w" -n "$ns" --timeout=60s >/dev/null
  done
  t1=$(now)
  loop=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')
  printf 'run %d: kubectl waves sync %.3fs, kubectl loop %.3fs\n' "$r" "$ours" "$loop" >&2
  best_waves=$(awk -v a="$best_waves" -v b="$ours" 'BEGIN{print (b < a) ? b : a}')
  best_loop=$(awk -v a="$best_loop" -v b="$loop" 'BEGIN{print (b < a) ? b : a}')
done

analyse() { # events.json -> "median_overhead_ms requests steps"
  python3 - "$1" <<'PY'
import json, sys, statistics
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
steps = {}
for e in events:
    s = e.get("step")
    if e["event"] == "stepStarted":
        steps[s] = {"start": e["elapsedMs"], "applied": e["elapsedMs"], "ready": None, "end": None}
    elif e["event"] == "applied" and s in steps:
        steps[s]["applied"] = max(steps[s]["applied"], e["elapsedMs"])
    elif e["event"] == "health" and e.get("done") and s in steps:
        steps[s]["ready"] = max(steps[s]["ready"] or 0, e["elapsedMs"])
    elif e["event"] == "stepFinished" and s in steps:
        steps[s]["end"] = e["elapsedMs"]
overheads = []
for s in steps.values():
    if s["end"] is None:
        continue
    # Time the objects themselves took to become ready after the last apply of the step.
    readiness = max(0, (s["ready"] or s["applied"]) - s["applied"])
    overheads.append(s["end"] - s["start"] - readiness)
final = [e for e in events if e["event"] == "syncFinished"][-1]
print(statistics.median(overheads) if overheads else 0, final["requests"], len(overheads), final["outcome"])
PY
}

read -r overhead requests steps outcome < <(analyse "$work/events-1.json")
objects=$((waves * per_wave))
echo "== $waves waves x $per_wave ConfigMaps ($objects objects), best of $runs"
printf 'kubectl waves sync:                          %.3fs (%s)\n' "$best_waves" "$outcome"
printf 'peer: kubectl apply --server-side + wait loop: %.3fs\n' "$best_loop"
awk -v a="$best_waves" -v b="$best_loop" 'BEGIN{printf "ratio: kubectl waves sync is %.1fx the speed of the kubectl loop\n", b / a}'
printf 'per-wave overhead: %s ms median over %s steps (Argo CD sleeps 2000 ms per wave)\n' "$overhead" "$steps"
printf 'API requests: %s for %s objects (%.2f per object)\n' "$requests" "$objects" "$(awk -v r="$requests" -v o="$objects" 'BEGIN{print r / o}')"

# The tenant fixture: its operators' CRDs and StorageClasses first, as the cluster would have.
echo "== fixtures/tenant-a"
kubectl apply --server-side -f testenv/operators/ >/dev/null
kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
for sc in efs-sc gp3; do
  kubectl apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: $sc}
provisioner: test.waves/hostpath
volumeBindingMode: Immediate
EOF
done
t0=$(now)
if "$bin" sync fixtures/tenant-a -o json --no-cluster-health-config >"$work/tenant.json"; then status=ok; else status="exit $?"; fi
t1=$(now)
read -r overhead requests steps outcome < <(analyse "$work/tenant.json")
tenant_objects=$("$bin" plan fixtures/tenant-a -o json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(len(s["resources"]) for s in d["steps"]))')
printf 'kubectl waves sync fixtures/tenant-a: %.3fs (%s, %s)\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')" "$outcome" "$status"
printf 'per-wave overhead: %s ms median over %s steps\n' "$overhead" "$steps"
printf 'API requests: %s for %s objects\n' "$requests" "$tenant_objects"
