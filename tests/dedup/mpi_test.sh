#!/bin/bash
# kiln dedup under `mpirun -np 2` must write the same bytes as one process: kept shards,
# rejects, clusters.jsonl and removed.bin (stats files carry timings and are skipped).
#   mpi_test.sh KILN MPIEXEC FIXTURE.jsonl.zst
set -euo pipefail
kiln=$1 mpiexec=$2 fixture=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# Six inputs, so both ranks get several files.
zstd -dc "$fixture" | split -l 70 -d --additional-suffix=.jsonl - part-
# Open MPI refuses root (CI containers) unless told, and wants --oversubscribe on
# machines with fewer cores than ranks; these variables are ignored by other MPIs.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
flags=()
[[ "$("$mpiexec" --version 2>&1)" == *"Open MPI"* ]] && flags=(--oversubscribe)
for verify in 0 0.8; do
  rm -rf one two
  "$kiln" dedup part-*.jsonl -o one -j 2 --verify "$verify" > /dev/null
  "$mpiexec" "${flags[@]}" -np 2 "$kiln" dedup part-*.jsonl -o two -j 1 --verify "$verify" --memory 64K > two.log
  grep -q "2 MPI ranks" two.log || { cat two.log; echo "FAIL: not run with 2 ranks"; exit 1; }
  # stats and the data card hold timings and the command line (which names one/ or two/).
  list() { (cd "$1" && find . -type f ! -name stats.json ! -name dedup_stats.json ! -name 'report.*' ! -name run.json \
            ! -path './.kiln/*' | sort); }
  [ "$(list one)" = "$(list two)" ] || { echo "FAIL: different files"; diff <(list one) <(list two); exit 1; }
  for f in $(list one) ./.kiln/dedup/removed.bin; do
    cmp "one/$f" "two/$f" || { echo "FAIL (--verify $verify): $f differs"; exit 1; }
  done
  echo "verify $verify: $(list one | wc -l) output files identical for 1 process and 2 ranks"
done
