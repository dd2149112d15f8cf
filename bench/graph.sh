#!/usr/bin/env bash
# Graph order vs wave order on the local control plane (testenv/), with kwok readiness delays
# (`test.waves/ready-after`): a tenant-like app, three independent workloads behind shared
# Secrets and one slow StatefulSet. Prints, in one run, the wall time of
# `sync --order graph`, of `sync --order waves`, and the critical path (the sum of the delays
# along the longest dependency chain, from `plan --order graph --estimate`). Never asserts a time.
#
#   bench/graph.sh                       # release build, best of 1
#   RUNS=3 bench/graph.sh                # best of 3 per order
#   BIN=target/debug/kubectl-waves bench/graph.sh   # an existing binary, no build
#
# The waves are what an Argo CD user writes for this app: Secrets (wave 0), the database
# (wave 1), the API that needs it and an independent worker (wave 2), the web front (wave 3).
# Wave order waits for each wave; graph order starts the worker and the web front at once and
# the API when the database is ready.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-1}
slow=${SLOW:-12s}
workload=${WORKLOAD:-4s}

if [[ -z ${BIN:-} ]]; then
  cargo build --release --locked --quiet
  bin=$PWD/target/release/kubectl-waves
else
  bin=$(realpath "$BIN")
fi
testenv/build >&2
data=$(mktemp -d)
work=$(mktemp -d)
trap 'testenv/down --data-dir "$data" --purge >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
eval "$(testenv/up --data-dir "$data" --watch-pid $$)"
export PATH="$PWD/target/testenv/bin:$PATH"

deployment() { # name wave depends-on
  local depends=""
  [[ -n $3 ]] && depends=$'\n'"    kubectl-waves.io/depends-on: $3"
  cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
  annotations:
    argocd.argoproj.io/sync-wave: "$2"$depends
spec:
  replicas: 1
  selector: {matchLabels: {app: $1}}
  template:
    metadata:
      labels: {app: $1}
      annotations: {test.waves/ready-after: "$workload"}
    spec:
      containers:
      - name: main
        image: registry.invalid/$1:1
        envFrom:
        - secretRef: {name: app-secrets}
        - secretRef: {name: db-credentials}
---
EOF
}
mkdir -p "$work/app"
{
  for s in app-secrets db-credentials; do
    printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  annotations: {argocd.argoproj.io/sync-wave: "0"}\nstringData: {k: v}\n---\n' "$s"
  done
  cat <<EOF
apiVersion: v1
kind: Service
metadata:
  name: db
  annotations: {argocd.argoproj.io/sync-wave: "1"}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  annotations: {argocd.argoproj.io/sync-wave: "1"}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata:
      labels: {app: db}
      annotations: {test.waves/ready-after: "$slow"}
    spec:
      containers:
      - name: main
        image: registry.invalid/db:1
        envFrom: [{secretRef: {name: db-credentials}}]
---
EOF
  deployment api 2 StatefulSet/db
  deployment worker 2 ""
  deployment web 3 ""
} >"$work/app/app.yaml"

now() { date +%s.%N; }
best() { awk -v a="$1" -v b="$2" 'BEGIN{print (b < a) ? b : a}'; }
best_graph=999999 best_waves=999999
for ((r = 1; r <= runs; r++)); do
  for order in graph waves; do
    ns=bench-$order-$r
    kubectl create namespace "$ns" >/dev/null
    t0=$(now)
    "$bin" sync "$work/app" -n "$ns" --order "$order" --no-cluster-health-config -o json \
      >"$work/events-$order-$r.json"
    t1=$(now)
    took=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')
    printf 'run %d: --order %s %.3fs\n' "$r" "$order" "$took" >&2
    if [[ $order == graph ]]; then best_graph=$(best "$best_graph" "$took"); else best_waves=$(best "$best_waves" "$took"); fi
  done
done

estimate="StatefulSet=$slow,Deployment=$workload"
read -r critical waves_estimate path < <("$bin" plan "$work/app" --order graph \
  --estimate "$estimate" -o json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)["criticalPath"]
print(d["seconds"], d["wavesSeconds"], " -> ".join(d["objects"]))')

printf '\n%-28s %8s\n' "" "seconds"
printf '%-28s %8.3f\n' "sync --order graph" "$best_graph"
printf '%-28s %8.3f\n' "sync --order waves" "$best_waves"
printf '%-28s %8.3f   (%s)\n' "critical path (delays)" "$critical" "$path"
printf '%-28s %8.3f\n' "wave order (sum of delays)" "$waves_estimate"
awk -v g="$best_graph" -v c="$critical" -v w="$best_waves" 'BEGIN{
  printf "graph / critical path: %.2f (goal <= 1.10); graph saves %.1f%% of wave order\n", g / c, 100 * (w - g) / w }'
