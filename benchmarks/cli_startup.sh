#!/bin/bash
# What a kiln command costs before it does any work: wall time and peak RSS of `kiln cat`
# on a one-line file, against /bin/cat (the floor) and against a kiln command that loads
# the CUDA plugin (libkiln_cuda.so: cuBLAS, cuBLASLt, NCCL) — what every command paid
# while the CUDA code was linked into the binary. Wall time from bash's clock around the
# whole process (so it includes /usr/bin/time's own fork), medians of REPEATS runs.
#
#   benchmarks/cli_startup.sh [BUILD_DIR] [REPEATS]
set -euo pipefail
build=${1:-build}
repeats=${2:-11}
kiln=$build/kiln
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo '{"text":"one line"}' > "$tmp/one.jsonl"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() {  # name, command...
  local name=$1; shift
  : > "$tmp/t"
  for i in $(seq "$repeats"); do
    local t0=$EPOCHREALTIME
    /usr/bin/time -o "$tmp/rss" -f "%M" "$@" > /dev/null 2>&1 || true
    echo "$(echo "$EPOCHREALTIME - $t0" | bc) $(tail -1 "$tmp/rss")" >> "$tmp/t"
  done
  printf "%-44s %8.4f s  %8.1f MB peak RSS\n" "$name" "$(cut -d' ' -f1 "$tmp/t" | median)" \
    "$(cut -d' ' -f2 "$tmp/t" | median | awk '{print $1 / 1024}')"
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); medians of $repeats runs"
measure "/bin/cat (floor)" cat "$tmp/one.jsonl"
measure "kiln cat" "$kiln" cat "$tmp/one.jsonl"
if [ -e "$build/libkiln_cuda.so" ]; then
  # Loads the plugin and stops (no GPU here: a clear error; with one: a 1-step run).
  measure "kiln train --backend cuda (plugin loaded)" "$kiln" train --data "$tmp/one.jsonl" --backend cuda --steps 1 \
    --n-layer 1 --n-head 1 --n-embd 8 --block-size 4 -b 1 -o "$tmp/m.kiln"
fi
