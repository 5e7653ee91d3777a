#!/bin/bash
# kiln train under `mpirun -np 2` with -b 2 per rank must follow the one-process run with
# -b 4: same losses step by step (up to float summation order), one log, one checkpoint.
#   train_mpi_test.sh KILN MPIEXEC TEXT.txt.zst
set -euo pipefail
kiln=$1 mpiexec=$2 text=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
zstd -dc "$text" | head -c 100000 > text.txt
args=(--data text.txt --steps 8 --n-layer 2 --n-head 2 --n-embd 32 --block-size 32 --warmup 2 --val-fraction 0 -j 1)
"$kiln" train "${args[@]}" -b 4 --log one.csv -o one.kiln > one.out 2>&1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
flags=()
[[ "$("$mpiexec" --version 2>&1)" == *"Open MPI"* ]] && flags=(--oversubscribe)
"$mpiexec" "${flags[@]}" -np 2 "$kiln" train "${args[@]}" -b 2 --log two.csv -o two.kiln > two.out 2>&1 ||
  { cat two.out; echo "FAIL: mpirun"; exit 1; }
grep -q "data parallel: 2 ranks (mpi)" two.out || { cat two.out; echo "FAIL: not data parallel"; exit 1; }
[ "$(grep -c '^steps 8' two.out)" = 1 ] || { cat two.out; echo "FAIL: expected one summary (rank 0 only)"; exit 1; }
# Column 2 is the loss: equal to 1e-5 relative at every step.
paste -d, one.csv two.csv | awk -F, 'NR > 1 {
    a = $2; b = $9; d = a - b; if (d < 0) d = -d;
    if (d > 1e-5 * (a < 0 ? -a : a)) { printf "FAIL: step %s loss %s (1 process) vs %s (2 ranks)\n", $1, a, b; bad = 1 }
  } END { exit bad }'
echo "losses of 8 steps equal for 1 process (B=4) and 2 ranks (B=2 each)"
