#!/usr/bin/env bash
# Diff speed on the local control plane (testenv/), against `kubectl diff --server-side` on
# the same files in the same script. Prints times and their ratio, never asserts one.
#
#   bench/diff.sh              # 1,000 objects (ConfigMaps and Secrets in 10 waves)
#   RUNS=5 OBJECTS=2000 bench/diff.sh
#
# The app is synced once, then a tenth of its objects is edited, so both tools dry-run every
# object and find the same 100 changes (exit 1 for both).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
objects=${OBJECTS:-1000}
waves=10

cargo build --release --locked --quiet
bin=$PWD/target/release/kubectl-waves
testenv/build >&2
data=$(mktemp -d)
work=$(mktemp -d)
trap 'testenv/down --data-dir "$data" --purge >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
eval "$(testenv/up --data-dir "$data" --watch-pid $$)"
export PATH="$PWD/target/testenv/bin:$PATH"

write_app() { # $1: the value written into every tenth object
  mkdir -p "$work/app"
  rm -f "$work"/app/*.yaml
  for ((i = 0; i < objects; i++)); do
    w=$((i % waves))
    value="v$i"
    if ((i % 10 == 0)); then value="$1-$i"; fi
    if ((i % 4 == 0)); then
      printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s%d\n  annotations: {argocd.argoproj.io/sync-wave: "%d"}\nstringData: {key: "%s"}\n---\n' "$i" "$w" "$value"
    else
      printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%d\n  annotations: {argocd.argoproj.io/sync-wave: "%d"}\ndata: {key: "%s"}\n---\n' "$i" "$w" "$value"
    fi >>"$work/app/wave-$(printf %02d "$w").yaml"
  done
}

ns=bench-diff
kubectl create namespace "$ns" >/dev/null
write_app first
"$bin" sync "$work/app" -n "$ns" --applyset bench -o json --no-cluster-health-config >/dev/null
write_app second

now() { date +%s.%N; }
best_ours=999999 best_kubectl=999999
for ((r = 1; r <= runs; r++)); do
  t0=$(now)
  set +e
  "$bin" diff "$work/app" -n "$ns" --applyset bench >"$work/ours.txt"
  ours_code=$?
  t1=$(now)
  # The same request sync makes (our field manager, conflicts forced), as kubectl makes it.
  kubectl diff --server-side --force-conflicts --field-manager=kubectl-waves -n "$ns" -R -f "$work/app" >"$work/kubectl.txt"
  kubectl_code=$?
  t2=$(now)
  set -e
  ours=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')
  theirs=$(awk -v a="$t1" -v b="$t2" 'BEGIN{print b - a}')
  printf 'run %d: kubectl waves diff %.3fs (exit %d), kubectl diff --server-side %.3fs (exit %d)\n' \
    "$r" "$ours" "$ours_code" "$theirs" "$kubectl_code" >&2
  best_ours=$(awk -v a="$best_ours" -v b="$ours" 'BEGIN{print (b < a) ? b : a}')
  best_kubectl=$(awk -v a="$best_kubectl" -v b="$theirs" 'BEGIN{print (b < a) ? b : a}')
done

changes=$(grep -c '^  change ' "$work/ours.txt" || true)
echo "== $objects objects in $waves waves, $changes changed, best of $runs"
printf 'kubectl waves diff:          %.3fs\n' "$best_ours"
printf 'kubectl diff --server-side:  %.3fs\n' "$best_kubectl"
awk -v a="$best_ours" -v b="$best_kubectl" 'BEGIN{printf "ratio: kubectl waves diff is %.1fx the speed of kubectl diff\n", b / a}'
