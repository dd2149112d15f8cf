#!/usr/bin/env bash
# Peak memory (RSS) of `plan`, `health` and `annotate --write` (with and without `--rewrite`,
# which edits every file) against input size, on folders
# of small ConfigMaps (about 200 bytes each, 1 MB per file): the worst case per byte, as the
# cost of an object is mostly per object. Prints one table row per size and command with the
# peak in MB and its ratio to the input size; never asserts (see docs/reliability.md
# for the figures and the target: a small multiple of the input).
#
#   bench/memory.sh                  # 25, 50 and 100 MB, release build
#   SIZES="10 20" PROFILE=profiling bench/memory.sh   # release code without fat LTO: the
#                                    # same data structures, built in a fraction of the time
#   SIZES="10 20" PROFILE=dev bench/memory.sh         # a debug build
#   BIN=/path/to/kubectl-waves SIZES=10 bench/memory.sh   # another build, e.g. an older one
#   COMMANDS="plan annotate-rewrite" bench/memory.sh       # some of the commands
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${SIZES:-25 50 100}
profile=${PROFILE:-release}
if [ -n "${BIN:-}" ]; then
  bin=$BIN
else
  cargo build --profile "$profile" --locked --quiet
  out=$profile
  [ "$profile" = dev ] && out=debug
  bin=$PWD/target/$out/kubectl-waves
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

make_input() { # $1: directory, $2: megabytes
  mkdir -p "$1"
  python3 - "$1" "$2" <<'PY'
import os, sys
out, mb = sys.argv[1], int(sys.argv[2])
n = 0
for f in range(mb):
    parts, size = [], 0
    while size < 1_000_000:
        text = (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{n:07d}\n"
                f"  annotations:\n    argocd.argoproj.io/sync-wave: \"{n % 20}\"\n"
                f"data:\n  key: value-{n:07d}-abcdefghijklmnopqrstuvwxyz\n---\n")
        parts.append(text); size += len(text); n += 1
    with open(os.path.join(out, f"part-{f:04d}.yaml"), "w") as fh:
        fh.write("".join(parts))
PY
}

measure() { # prints "seconds peak_kb" of a command
  /usr/bin/time -o "$work/time" -f "%e %M" "$@" >/dev/null 2>"$work/err" || {
    code=$?
    [ "$code" -le 3 ] || { cat "$work/err" >&2; exit "$code"; }
  }
  tail -1 "$work/time"
}

printf '%-8s %-22s %10s %10s %8s\n' input command seconds peak_MB ratio
for mb in $sizes; do
  dir=$work/in-$mb
  make_input "$dir" "$mb"
  bytes=$(du -sb "$dir" | cut -f1)
  for cmd in ${COMMANDS:-plan health annotate annotate-rewrite}; do
    case $cmd in
      plan) args=(plan "$dir" -o json) ;;
      health) args=(health "$dir") ;;
      annotate)
        # The waves written are kept: nothing to edit, the analysis alone.
        rm -rf "$work/copy" && cp -r "$dir" "$work/copy"
        args=(annotate "$work/copy" --write) ;;
      annotate-rewrite)
        # Every wave recomputed (to 0): every file edited.
        rm -rf "$work/copy" && cp -r "$dir" "$work/copy"
        args=(annotate "$work/copy" --write --rewrite) ;;
    esac
    read -r secs kb < <(measure "$bin" "${args[@]}")
    printf '%-8s %-22s %10s %10s %8s\n' "${mb}MB" "$cmd" "$secs" "$((kb / 1024))" \
      "$(awk "BEGIN{printf \"%.1fx\", $kb * 1024 / $bytes}")"
  done
  rm -rf "$dir" "$work/copy"
done
