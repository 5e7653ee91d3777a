#!/bin/bash
# kiln dedup benchmark: per-step and end-to-end throughput at 1 and 2 threads, peak RSS,
# against (a) the physical floor of reading the same input (zstd -dc; kiln cat) and
# (b) the Python + numpy reference of the same algorithm, whose clusters must equal
# kiln's before any number is printed.
#
#   benchmarks/dedup/run.sh BUILD_DIR [CORPUS.jsonl.zst] [REPEATS]
#   benchmarks/dedup/run.sh build /work/shared/data/web/docs/20newsgroups_bydate_train.jsonl.zst 5
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR [CORPUS] [REPEATS]}
corpus=${2:-/work/shared/data/web/docs/20newsgroups_bydate_train.jsonl.zst}
repeats=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
kiln=$build/kiln
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
text_bytes=$(zstd -dc "$corpus" | /usr/bin/python3 -c 'import sys,json; print(sum(len(json.loads(l)["text"].encode()) for l in sys.stdin if l.strip()))')
docs=$(zstd -dc "$corpus" | grep -c .)
echo "corpus: $corpus ($docs docs, $((text_bytes / 1000000)) MB of text), median of $repeats runs"
echo "load average at start: $(cut -d" " -f1-3 /proc/loadavg) (other jobs share these cores; see README)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores; kernel: $("$build"/tests/dedup/dedup_test --gtest_filter=MinHash.FastPathEqualsReference 2>/dev/null | sed -n 's/.*kernel: //p')"

# 1. Check before timing: kiln and the numpy reference find the same clusters.
"$kiln" dedup "$corpus" -o "$tmp/check" -j 2 > /dev/null
/usr/bin/python3 "$here/reference_minhash.py" "$corpus" --clusters "$tmp/check/clusters.jsonl" | tee "$tmp/ref.txt"

# 2. Floors: decompress only; read + parse + write with no stages (kiln convert).
for i in $(seq "$repeats"); do /usr/bin/time -f %e zstd -dc "$corpus" 2>&1 >/dev/null | tail -1; done | median > "$tmp/zstd"
for i in $(seq "$repeats"); do
  rm -rf "$tmp/conv"; /usr/bin/time -f %e "$kiln" convert "$corpus" -o "$tmp/conv" -j 1 2>&1 >/dev/null | tail -1
done | median > "$tmp/convert"

# 3. Per-step, one thread.
"$build/benchmarks/dedup/bench_dedup" "$corpus" --repeat "$repeats"

# 4. Whole kiln dedup (signatures + LSH + clustering + filter pass writing shards).
# MB/s per CPU-second (user + sys) is the per-core rate; it holds up when other jobs
# share the machine, which wall-clock rates do not.
printf '\n%-44s %8s %9s %8s %9s %10s\n' "end to end (median)" "wall s" "docs/s" "MB/s" "peak RSS" "MB/cpu-s"
row() { awk -v n="$1" -v s="$2" -v d="$docs" -v b="$text_bytes" -v m="$3" -v c="$4" \
        'BEGIN {printf "%-44s %8.2f %9.0f %8.1f %7.0fMB %10s\n", n, s, d/s, b/1e6/s, m/1024, (c > 0 ? sprintf("%.1f", b/1e6/c) : "-")}'; }
row "zstd -dc (decompress only)" "$(cat "$tmp/zstd")" 0 0
row "kiln convert -j1 (read, parse, write)" "$(cat "$tmp/convert")" 0 0
for verify in 0 0.8; do
  for j in 1 2; do
    : > "$tmp/t"; : > "$tmp/m"; : > "$tmp/c"
    for i in $(seq "$repeats"); do
      rm -rf "$tmp/out"
      /usr/bin/time -f "%e %M %U %S" -o "$tmp/tm" "$kiln" dedup "$corpus" -o "$tmp/out" -j "$j" --verify "$verify" > /dev/null
      cut -d' ' -f1 "$tmp/tm" >> "$tmp/t"; cut -d' ' -f2 "$tmp/tm" >> "$tmp/m"
      awk '{print $3 + $4}' "$tmp/tm" >> "$tmp/c"
    done
    row "kiln dedup -j$j --verify $verify" "$(median < "$tmp/t")" "$(median < "$tmp/m")" "$(median < "$tmp/c")"
  done
done
sig=$(sed -n 's/.*band keys \([0-9.]*\)s.*/\1/p' "$tmp/ref.txt")
row "python+numpy reference -j1 (signatures only)" "$sig" 0 0
