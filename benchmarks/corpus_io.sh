#!/usr/bin/env bash
# Corpus I/O throughput: read .jsonl.zst → parse → write .jsonl.zst with `kiln convert`
# on 1 and 2 threads, next to the floor `zstd -dc | zstd -c` on the same file in the
# same run. Reports MB/s of uncompressed JSONL, medians of RUNS runs, and the ratios.
#
#   benchmarks/corpus_io.sh [INPUT.jsonl.zst] [RUNS]
#
# Without INPUT it builds ~200 MB of JSONL by repeating data/sample/webdocs.jsonl.zst
# with distinct ids. The output is checked before anything is timed.
set -euo pipefail
cd "$(dirname "$0")/.."
kiln=${KILN:-build/kiln}
runs=${2:-5}
work=$(mktemp -d /tmp/kiln-bench-io.XXXXXX)
trap 'rm -rf "$work"' EXIT

input=${1:-}
if [ -z "$input" ]; then
  input=$work/input.jsonl.zst
  python3 - "$work/input.jsonl" <<'PY'
import json, subprocess, sys
docs = [json.loads(l) for l in subprocess.run(["zstd", "-dc", "data/sample/webdocs.jsonl.zst"],
                                               capture_output=True, check=True).stdout.splitlines()]
size, copy = 0, 0
with open(sys.argv[1], "w", encoding="utf-8") as out:
    while size < 200_000_000:
        for d in docs:
            d = dict(d, id=f"{d['id']}#{copy}")
            line = json.dumps(d, ensure_ascii=False) + "\n"
            out.write(line)
            size += len(line.encode())
        copy += 1
PY
  zstd -q -3 --rm "$work/input.jsonl" -o "$input"
fi
raw_bytes=$(zstd -dc "$input" | wc -c)
echo "input: $input ($(stat -c %s "$input") bytes compressed, $raw_bytes bytes JSONL)"

# Check before timing: kiln's output has every document, unchanged.
"$kiln" convert "$input" -o "$work/check" -j2 --no-rejects >/dev/null
python3 - "$input" "$work/check" <<'PY'
import glob, json, subprocess, sys
def lines(paths):
    for p in paths:
        out = subprocess.run(["zstd", "-dc", p], capture_output=True, check=True).stdout
        yield from out.splitlines()
a = list(lines([sys.argv[1]]))
b = list(lines(sorted(glob.glob(sys.argv[2] + "/part-*.jsonl.zst"))))
assert len(a) == len(b), (len(a), len(b))
for x, y in zip(a[:20000], b[:20000]):
    assert json.loads(x) == json.loads(y)
print(f"check: {len(b)} documents out = in; first {min(len(a), 20000)} equal as JSON")
PY

median() { sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
time_it() {  # prints seconds
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
floor() { zstd -dc "$input" | zstd -3 -c > "$work/floor.zst"; }
kiln_run() { rm -rf "$work/out"; "$kiln" convert "$input" -o "$work/out" -j"$1" --no-rejects; }

declare -A secs
for name in floor kiln1 kiln2; do secs[$name]=""; done
for i in $(seq "$runs"); do
  secs[floor]+="$(time_it floor)"$'\n'
  secs[kiln1]+="$(time_it kiln_run 1)"$'\n'
  secs[kiln2]+="$(time_it kiln_run 2)"$'\n'
done
f=$(printf '%s' "${secs[floor]}" | median)
k1=$(printf '%s' "${secs[kiln1]}" | median)
k2=$(printf '%s' "${secs[kiln2]}" | median)
mbs() { echo "scale=1; $raw_bytes / $1 / 1000000" | bc -l; }
echo "runs: $runs (median seconds)"
printf "%-34s %8.3f s  %8s MB/s\n" "zstd -dc | zstd -3 -c (floor)" "$f" "$(mbs "$f")"
printf "%-34s %8.3f s  %8s MB/s  %5s x floor\n" "kiln convert -j1" "$k1" "$(mbs "$k1")" "$(echo "scale=2; $f / $k1" | bc -l)"
printf "%-34s %8.3f s  %8s MB/s  %5s x floor\n" "kiln convert -j2" "$k2" "$(mbs "$k2")" "$(echo "scale=2; $f / $k2" | bc -l)"
