#!/usr/bin/env bash
# Times `kubectl waves plan` on a generated tree of 10,000 objects in 1,000 files and prints
# wall time and peak memory, next to a peer doing less work in the same script: PyYAML
# reading the same files (parse only, no order, no lint). Ratios, not timed assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=${TREE:-target/bench-tree}
rm -rf "$tree"
python3 bench/gen_tree.py "$tree" 1000 10
cargo build --release --quiet
bin=target/release/kubectl-waves

measure() { # prints "seconds max_rss_kb" of a command, best of 5
  local best=999999 rss=0
  for _ in 1 2 3 4 5; do
    local out t m
    /usr/bin/time -o target/bench-time.txt -f "%e %M" "$@" >/dev/null 2>&1
    out=$(tail -1 target/bench-time.txt)
    t=${out% *} m=${out#* }
    if awk "BEGIN{exit !($t < $best)}"; then best=$t; rss=$m; fi
  done
  echo "$best $rss"
}

read -r ours ours_rss < <(measure "$bin" plan "$tree" -o json)
printf 'kubectl-waves plan (10,000 objects, 1,000 files): %ss, peak %s MB\n' "$ours" "$((ours_rss / 1024))"
if python3 -c 'import yaml' 2>/dev/null; then
  read -r peer peer_rss < <(measure python3 -c '
import sys, glob, yaml
loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
n = 0
for f in sorted(glob.glob(sys.argv[1] + "/*.yaml")):
    with open(f) as fh:
        n += sum(1 for _ in yaml.load_all(fh, Loader=loader))
' "$tree")
  printf 'peer: PyYAML parse only (%s loader):            %ss, peak %s MB\n' "$(python3 -c 'import yaml; print("C" if hasattr(yaml, "CSafeLoader") else "pure-Python")')" "$peer" "$((peer_rss / 1024))"
  awk -v a="$ours" -v b="$peer" 'BEGIN{ if (a > 0) printf "ratio: kubectl-waves plan is %.1fx the speed of the parse-only peer\n", b / a }'
fi
