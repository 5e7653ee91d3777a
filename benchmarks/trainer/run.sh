#!/bin/bash
# kiln's CPU training step vs PyTorch (Debian python3-torch, CPU) on the same model shape,
# in the same run, alternating the two, repeated; prints every run's JSON line and a summary
# of medians. PyTorch runs with OpenBLAS (libopenblas0-pthread) through LD_LIBRARY_PATH,
# leaving the system's libblas.so.3 alternative alone; set TORCH_BLAS=default to use that.
#
#   benchmarks/trainer/run.sh [BUILD_DIR] [small|large|all] [REPEATS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
which=${2:-small}
repeats=${3:-3}
bench=$build/benchmarks/trainer/train_step_bench
[ -x "$bench" ] || { echo "build train_step_bench first (cmake --build $build --target train_step_bench)" >&2; exit 1; }
# kiln with bf16 matmuls too where the CPU has AVX512-BF16 (oneDNN's brgemm), else fp32 only.
bf16=0
grep -qw avx512_bf16 /proc/cpuinfo && bf16=1
blas_env=(env LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread)
[ "${TORCH_BLAS:-openblas}" = default ] && blas_env=(env)

run_config() {  # name, flags, steps
  local name=$1 flags=$2 steps=$3
  for threads in 1 2; do
    for r in $(seq "$repeats"); do
      OMP_NUM_THREADS=$threads "$bench" $flags --threads "$threads" --steps "$steps" --warmup 2
      if [ "$bf16" = 1 ]; then
        OMP_NUM_THREADS=$threads "$bench" $flags --threads "$threads" --steps "$steps" --warmup 2 --bf16
      fi
      "${blas_env[@]}" OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
        /usr/bin/python3 "$here/torch_step.py" $flags --threads "$threads" --steps "$steps" --warmup 2
    done
  done
}

{
  if [ "$which" = small ] || [ "$which" = all ]; then
    run_config small "--layers 4 --heads 4 --embd 128 --seq 64 --batch 12 --vocab 65" 20
  fi
  if [ "$which" = large ] || [ "$which" = all ]; then
    run_config large "--layers 6 --heads 6 --embd 384 --seq 256 --batch 8 --vocab 50304" 3
  fi
} | tee /dev/stderr | /usr/bin/python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in sys.stdin if l.startswith("{")]
groups = {}
for r in rows:
    groups.setdefault((r["L"], r["C"], r["T"], r["B"], r["V"], r["threads"], r["impl"].split()[0]), []).append(r)
print("\n| L | C | T | B | V | threads | kiln | ms/step | torch ms/step | kiln / torch | kiln best | torch best | kiln CPU ms/step | torch CPU ms/step | CPU ratio |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for key in sorted({k[:6] for k in groups}):
    t = groups.get(key + ("torch",), [])
    for impl in ("kiln", "kiln-bf16"):
        k = groups.get(key + (impl,), [])
        if not k or not t: continue
        km = statistics.median(r["ms_per_step"] for r in k); tm = statistics.median(r["ms_per_step"] for r in t)
        kb = min(r["min_ms"] for r in k); tb = min(r["min_ms"] for r in t)
        kc = statistics.median(r["cpu_ms_per_step"] for r in k); tc = statistics.median(r["cpu_ms_per_step"] for r in t)
        print("| %d | %d | %d | %d | %d | %d | %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %.1f | %.2f |"
              % (key + (impl, km, tm, km / tm, kb, tb, kc, tc, kc / tc)))
'
