#!/usr/bin/env bash
# The one GPU script (issue 8): run on a GPU machine from the repository root, with the
# bundle that make_bundle.sh built on the build machine carried in .gpu-bundle/:
#
#   benchmarks/gpu/run.sh            # device tool: carry [".gpu-bundle"], timeout_s 600
#
# Stages (each under its own timeout; about 3-5 minutes expected, at most ~9.2 if every stage hit its cap):
#   1. the device: name, driver, clocks (nvidia-smi)                           (<= 20 s)
#   2. kernels_test: every CUDA op against the CPU backend on random inputs, determinism,
#      the GPT's first AdamW steps on both backends (<= 90 s); the tensor-core attention
#      and mixed-precision GPT tests in a second process (<= 50 s);
#      then kernels_nccl_test: NCCL initializes on one GPU (libnccl from the machine's
#      PyTorch wheels; a failure here does not affect the other stages)       (<= 30 s)
#   3. the GPT-2 124M shape's first 3 steps on the CPU and the GPU backend, same weights and
#      batch (B 1, T 1024, tinyshakespeare bytes): the loss curves side by side (<= 100 s)
#   4. GPT-2 124M (12L 12H 768C, T 1024, B 8), bf16 matmuls, fp32 attention: first each op
#      timed alone at these shapes (where a step's time goes), then 300 steps: ms/step,
#      tok/s, MFU                                                               (<= 110 s)
#   5. the same with the tensor-core (bf16) attention kernels                  (<= 90 s)
#   6. tf32 matmuls, fp32 attention, 50 steps                                  (<= 60 s)
# Logs go to $OUT (the device tool brings them back) or ./gpu-out; the summary is printed last.
# KILN_GPU_STAGES="2 4" runs a subset.
set -uo pipefail
root=$(pwd)
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
stages=${KILN_GPU_STAGES:-"1 2 3 4 5 6"}
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
    1) stage device 20 nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.total,power.limit --format=csv ;;
    # The tensor-core kernels run in a process of their own: a fault there (they have never
    # run) would poison the CUDA context for every test after it.
    2) stage kernels_test 90 "$run" kernels_test --gtest_color=no --gtest_filter=-*Bf16TensorCores*:*MixedPrecision*
       stage kernels_test_bf16 50 "$run" kernels_test --gtest_color=no --gtest_filter=*Bf16TensorCores*:*MixedPrecision*
       [ -x "$bundle/bin/kernels_nccl_test" ] && stage kernels_nccl_test 30 "$run" kernels_nccl_test --gtest_color=no ;;
    3) stage compare_cpu 100 "$run" bench_gpu_train --precision fp32 --steps 0 --compare-cpu-steps 3 --compare-batch 1 --tokens "$data" ;;
    4) stage train_bf16 110 "$run" bench_gpu_train --precision bf16 --steps 300 --batch 8 --ops --tokens "$data" ;;
    5) stage train_bf16_tc 90 "$run" bench_gpu_train --precision bf16 --attention bf16 --steps 300 --batch 8 --ops --tokens "$data" ;;
    6) stage train_tf32 60 "$run" bench_gpu_train --precision tf32 --steps 50 --batch 8 --tokens "$data" ;;
  esac
  # On a GPU machine a skipped GPU test is a failure: the binary did not see the device.
  if [ "$s" = 2 ] && grep -q "GPU test skipped" "$out/kernels_test.log" 2>/dev/null; then
    echo "=== kernels_test: FAIL: the tests saw no CUDA device (driver / library path?)"
    status=1
  fi
done
echo
echo "=== summary"
grep -H -E "^\[  (PASSED|FAILED|SKIPPED) +\]" "$out"/kernels_*.log 2>/dev/null
grep -h "^compare:" "$out/compare_cpu.log" 2>/dev/null
grep -h "^RESULT" "$out"/train_*.log 2>/dev/null
echo "llm.c for scale (published, not run here): see benchmarks/gpu/README.md"
rm -rf "$work"
exit $status
