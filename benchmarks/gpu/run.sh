#!/usr/bin/env bash
# The one GPU script (issue 8): run on a GPU machine from the repository root, with the
# bundle that make_bundle.sh built on the build machine carried in .gpu-bundle/:
#
#   benchmarks/gpu/run.sh            # device tool: carry [".gpu-bundle"], timeout_s 600
#
# Stages (each under its own timeout; about 5 minutes in all, at most ~9.5):
#   1. the device: name, driver, clocks (nvidia-smi)
#   2. kernels_test: every CUDA op against the CPU backend on random inputs, determinism,
#      and the GPT's first AdamW steps on both backends                       (<= 150 s);
#      then kernels_nccl_test: NCCL initializes on one GPU (libnccl from the machine's
#      PyTorch wheels; a failure here does not affect the other stages)       (<= 60 s)
#   3. the GPT-2 124M shape's first 3 steps on the CPU and the GPU backend, same weights and
#      batch (B 1, T 1024, tinyshakespeare bytes): the loss curves side by side (<= 150 s)
#   4. GPT-2 124M (12L 12H 768C, T 1024, B 8): first each op timed alone at these shapes
#      (a table of where a step's time goes), then 300 steps, bf16 matmuls: ms/step,
#      tok/s, MFU                                                               (<= 180 s)
#   5. the same with tf32 matmuls, 100 steps                                    (<= 90 s)
# Logs go to $OUT (the device tool brings them back) or ./gpu-out; the summary is printed last.
# KILN_GPU_STAGES="2 4" runs a subset.
set -uo pipefail
root=$(pwd)
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
stages=${KILN_GPU_STAGES:-"1 2 3 4 5"}
bundle_tar=$root/.gpu-bundle/kiln-gpu.tar.xz
if [ ! -f "$bundle_tar" ]; then
  echo "no $bundle_tar: build it on the build machine with benchmarks/gpu/make_bundle.sh and carry .gpu-bundle" >&2
  exit 1
fi
work=$(mktemp -d)
tar -C "$work" -xJf "$bundle_tar"
bundle=$work/kiln-gpu
echo "bundle of commit $(cat "$bundle/COMMIT" 2>/dev/null || echo '?')"
run=$bundle/run.sh  # puts the bundle's and the machine's CUDA libraries on the library path
data=$bundle/data/tinyshakespeare.txt
status=0
stage() {  # stage NAME SECONDS COMMAND...: runs with a timeout, logs to $out/NAME.log
  local name=$1 limit=$2; shift 2
  echo "=== $name (limit ${limit}s)"
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$out/$name.log"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || { echo "=== $name: exit status $rc"; status=1; }
}
for s in $stages; do
  case $s in
    1) stage device 30 nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.total,power.limit --format=csv ;;
    2) stage kernels_test 150 "$run" kernels_test --gtest_color=no
       [ -x "$bundle/bin/kernels_nccl_test" ] && stage kernels_nccl_test 60 "$run" kernels_nccl_test --gtest_color=no ;;
    3) stage compare_cpu 150 "$run" bench_gpu_train --precision fp32 --steps 0 --compare-cpu-steps 3 --compare-batch 1 --tokens "$data" ;;
    4) stage train_bf16 180 "$run" bench_gpu_train --precision bf16 --steps 300 --batch 8 --ops --tokens "$data" ;;
    5) stage train_tf32 90 "$run" bench_gpu_train --precision tf32 --steps 100 --batch 8 --tokens "$data" ;;
  esac
  # On a GPU machine a skipped GPU test is a failure: the binary did not see the device.
  if [ "$s" = 2 ] && grep -q "GPU test skipped" "$out/kernels_test.log" 2>/dev/null; then
    echo "=== kernels_test: FAIL: the tests saw no CUDA device (driver / library path?)"
    status=1
  fi
done
echo
echo "=== summary"
grep -H -E "^\[  (PASSED|FAILED|SKIPPED) +\]" "$out"/kernels_*test.log 2>/dev/null
grep -h "^compare:" "$out/compare_cpu.log" 2>/dev/null
grep -h "^RESULT" "$out"/train_*.log 2>/dev/null
echo "llm.c for scale (published, not run here): see benchmarks/gpu/README.md"
rm -rf "$work"
exit $status
