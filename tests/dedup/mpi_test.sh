#!/bin/bash
# kiln dedup under `mpirun -np 2` (and 3) must write the same bytes as one process: kept
# shards, rejects, clusters.jsonl and removed.bin. Every rank runs the filter pass over
# its own block of inputs, so the shards come from different processes; stats.json is
# merged by rank 0 and must equal one process's apart from timings.
#   mpi_test.sh KILN MPIEXEC FIXTURE.jsonl.zst
set -euo pipefail
kiln=$1 mpiexec=$2 fixture=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# Seven inputs: blocks of 3 + 4 on 2 ranks, 2 + 2 + 3 on 3.
zstd -dc "$fixture" | split -l 60 -d --additional-suffix=.jsonl - part-
# Open MPI refuses root (CI containers) unless told, and wants --oversubscribe on
# machines with fewer cores than ranks; these variables are ignored by other MPIs.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
flags=()
[[ "$("$mpiexec" --version 2>&1)" == *@(Open MPI|OpenRTE|open-mpi)* ]] && flags=(--oversubscribe)
# stats and the data card hold timings and the command line (which names one/ or two/).
list() { (cd "$1" && find . -type f ! -name stats.json ! -name dedup_stats.json ! -name 'report.*' ! -name run.json \
          ! -path './.kiln/*' | sort); }
markers() { (cd "$1/.kiln/done" && ls); }
# stats.json without the keys that hold seconds.
counts() { /usr/bin/python3 -c 'import json, sys
def strip(x):
    if isinstance(x, dict): return {k: strip(v) for k, v in x.items() if "seconds" not in k}
    if isinstance(x, list): return [strip(v) for v in x]
    return x
print(json.dumps(strip(json.load(open(sys.argv[1]))), sort_keys=True))' "$1/stats.json"; }
for run in "0 2" "0.8 2" "0 3"; do
  read -r verify ranks <<< "$run"
  rm -rf one two
  "$kiln" dedup part-*.jsonl -o one -j 2 --verify "$verify" > /dev/null
  "$mpiexec" "${flags[@]}" -np "$ranks" "$kiln" dedup part-*.jsonl -o two -j 1 --verify "$verify" --memory 64K > two.log
  grep -q "dedup index: $ranks MPI ranks" two.log || { cat two.log; echo "FAIL: index not run with $ranks ranks"; exit 1; }
  grep -q "filter pass: $ranks MPI ranks, 7 inputs" two.log || { cat two.log; echo "FAIL: filter pass not distributed"; exit 1; }
  [ "$(list one)" = "$(list two)" ] || { echo "FAIL: different files"; diff <(list one) <(list two); exit 1; }
  [ "$(list one | grep -c 'part-0000[0-6]-')" -ge 7 ] || { echo "FAIL: expected shards for all 7 inputs"; list one; exit 1; }
  for f in $(list one) ./.kiln/dedup/removed.bin; do
    cmp "one/$f" "two/$f" || { echo "FAIL (--verify $verify, $ranks ranks): $f differs"; exit 1; }
  done
  [ "$(markers one)" = "$(markers two)" ] || { echo "FAIL: completion markers differ"; exit 1; }
  [ "$(counts one)" = "$(counts two)" ] || { echo "FAIL: stats.json counts differ"; diff <(counts one) <(counts two); exit 1; }
  echo "verify $verify, $ranks ranks: $(list one | wc -l) output files identical for 1 process and $ranks ranks"
done
