#!/bin/bash
# kiln train under `mpirun -np 2` with -b 2 per rank must follow the one-process run with
# -b 4: same losses step by step (up to float summation order), one log, one checkpoint —
# for next-token training, masked-LM and SFT (where ranks hold different numbers of
# positions with a target, so their losses are weighted by those counts).
#   train_mpi_test.sh KILN MPIEXEC TEXT.txt.zst
set -euo pipefail
kiln=$1 mpiexec=$2 text=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
zstd -dc "$text" | head -c 100000 > text.txt
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
flags=()
[[ "$("$mpiexec" --version 2>&1)" == *"Open MPI"* ]] && flags=(--oversubscribe)

# SFT examples of varied lengths: prompts (no loss) and responses (loss) differ per row.
for i in $(seq 1 40); do
  printf '{"prompt":"Question %d: what follows %s?","response":"%s and then some %d"}\n' \
    "$i" "$(head -c $((i * 7 % 23 + 5)) text.txt | tr -dc 'a-z ')" "$(printf 'x%.0s' $(seq 1 $((i % 9 + 1))))" "$i"
done > sft.jsonl

compare() {  # name, args...
  local name=$1; shift
  local common=(--steps 8 --n-layer 2 --n-head 2 --n-embd 32 --block-size 32 --warmup 2 -j 1)
  "$kiln" train "$@" "${common[@]}" -b 4 --log "$name-one.csv" -o "$name-one.kiln" > "$name-one.out" 2>&1 ||
    { cat "$name-one.out"; echo "FAIL: $name, 1 process"; exit 1; }
  "$mpiexec" "${flags[@]}" -np 2 "$kiln" train "$@" "${common[@]}" -b 2 --log "$name-two.csv" -o "$name-two.kiln" \
    > "$name-two.out" 2>&1 || { cat "$name-two.out"; echo "FAIL: $name, mpirun"; exit 1; }
  grep -q "data parallel: 2 ranks (mpi" "$name-two.out" || { cat "$name-two.out"; echo "FAIL: $name not data parallel"; exit 1; }
  [ "$(grep -c '^steps 8' "$name-two.out")" = 1 ] ||
    { cat "$name-two.out"; echo "FAIL: $name: expected one summary (rank 0 only)"; exit 1; }
  # Column 2 is the loss: equal to 1e-5 relative at every step.
  paste -d, <(cut -d, -f1,2 "$name-one.csv") <(cut -d, -f2 "$name-two.csv") | awk -F, -v name="$name" 'NR > 1 {
      a = $2; b = $3; d = a - b; if (d < 0) d = -d;
      if (d > 1e-5 * (a < 0 ? -a : a)) { printf "FAIL: %s step %s loss %s (1 process) vs %s (2 ranks)\n", name, $1, a, b; bad = 1 }
    } END { exit bad }'
  echo "$name: losses of 8 steps equal for 1 process (B=4) and 2 ranks (B=2 each)"
}

compare next-token --data text.txt --val-fraction 0
compare masked-lm --data text.txt --val-fraction 0 --objective masked-lm --vocab-size 257
compare sft --sft sft.jsonl
compare zero1 --data text.txt --val-fraction 0 --zero1
grep -q "data parallel: 2 ranks (mpi, ZeRO-1)" zero1-two.out || { cat zero1-two.out; echo "FAIL: not ZeRO-1"; exit 1; }

# ZeRO-1 checkpoints gather every rank's optimizer shard, and a resumed sharded run hands
# each rank its shard back: 4 steps + resume + 4 steps = 8 steps, byte for byte (a constant
# learning rate after warmup, since the cosine decay is stretched over --steps).
zero1=(--data text.txt --val-fraction 0 --zero1 --n-layer 2 --n-head 2 --n-embd 32 --block-size 32 --warmup 2 -j 1 -b 2
       --lr 1e-3 --min-lr 1e-3)
"$mpiexec" "${flags[@]}" -np 2 "$kiln" train "${zero1[@]}" --steps 8 -o straight.kiln > straight.out 2>&1 ||
  { cat straight.out; echo "FAIL: ZeRO-1 straight"; exit 1; }
"$mpiexec" "${flags[@]}" -np 2 "$kiln" train "${zero1[@]}" --steps 4 -o half.kiln > half.out 2>&1 ||
  { cat half.out; echo "FAIL: ZeRO-1 first half"; exit 1; }
"$mpiexec" "${flags[@]}" -np 2 "$kiln" train "${zero1[@]}" --steps 8 --resume half.kiln -o resumed.kiln > resumed.out 2>&1 ||
  { cat resumed.out; echo "FAIL: ZeRO-1 resume"; exit 1; }
cmp resumed.kiln straight.kiln || { echo "FAIL: ZeRO-1 resumed checkpoint differs from the straight run"; exit 1; }
echo "zero1: 4 steps + resume + 4 steps = 8 steps, byte-identical checkpoints"

# A rank that fails ends the whole job (MPI_Abort from kiln's main) instead of leaving the
# other rank waiting in a collective: rank 1 gets a missing data file, rank 0 a good one.
set +e
timeout 120 "$mpiexec" "${flags[@]}" -np 2 bash -c '
  data=text.txt; [ "${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" = 1 ] && data=missing.txt
  exec "$0" train --data "$data" --val-fraction 0 --steps 4 --n-layer 1 --n-head 2 --n-embd 16 --block-size 16 -b 2 -j 1 -o abort.kiln
' "$kiln" > abort.out 2>&1
rc=$?
set -e
[ "$rc" != 124 ] || { cat abort.out; echo "FAIL: the job hung after one rank failed"; exit 1; }
[ "$rc" != 0 ] || { cat abort.out; echo "FAIL: the job succeeded although a rank failed"; exit 1; }
grep -q "missing.txt" abort.out || { cat abort.out; echo "FAIL: the failing rank's error is not shown"; exit 1; }
echo "a failing rank ends the job (exit $rc) and its error is shown"

