#!/usr/bin/env bash
# Run on the BUILD machine (Debian, with nvcc): builds the GPU test and benchmark and packs
# them, with their non-CUDA shared libraries (oneDNN, TBB, ...) and the benchmark's text,
# into .gpu-bundle/kiln-gpu.tar.xz for benchmarks/gpu/run.sh on a GPU machine.
#
#   benchmarks/gpu/make_bundle.sh [BUILD_DIR]       (default: build-cuda)
#
# Then, from a session that has the device tool: run `benchmarks/gpu/run.sh` with carry
# [".gpu-bundle"] (README.md beside this). The bundle is ~15 MB compressed (oneDNN is most
# of it), inside the 64 MiB the device tool carries with the working tree.
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
build=${1:-$root/build-cuda}
shared=${KILN_SHARED_DIR:-$root/../shared}
cmake -S "$root" -B "$build" -G Ninja > /dev/null
# The build is Ninja (configured just above): list its targets with ninja itself.
has_target() { ninja -C "$build" -t targets all 2> /dev/null | grep -q "^$1:"; }
if ! has_target bench_gpu_train; then
  echo "bench_gpu_train is not a target: benchmarks/CMakeLists.txt must add the gpu folder" >&2
  echo "(see benchmarks/gpu/README.md, 'Build wiring')" >&2
  exit 1
fi
targets=(kernels_test bench_gpu_train)
# The NCCL test exists when the toolkit has NCCL (kernels/CMakeLists.txt).
has_target kernels_nccl_test && targets+=(kernels_nccl_test)
cmake --build "$build" -j2 --target "${targets[@]}" kiln_cuda
binaries=()
for t in "${targets[@]}"; do
  binaries+=("$(find "$build/tests/kernels" "$build/benchmarks/gpu" -maxdepth 1 -type f -name "$t" | head -1)")
done
# The CUDA plugin goes beside the binaries, where kernels/src/cuda_loader.cpp looks first.
binaries+=("$build/libkiln_cuda.so")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
"$shared/tools/bundle.sh" "$stage/kiln-gpu" "${binaries[@]}" > /dev/null
strip "$stage/kiln-gpu/bin/"* 2> /dev/null || true
mkdir -p "$stage/kiln-gpu/data"
cp "$shared/data/books/tinyshakespeare.txt" "$stage/kiln-gpu/data/"
git -C "$root" rev-parse HEAD > "$stage/kiln-gpu/COMMIT"
mkdir -p "$root/.gpu-bundle"
tar -C "$stage" -cf - kiln-gpu | xz -T2 -6 > "$root/.gpu-bundle/kiln-gpu.tar.xz"
exclude="$(git -C "$root" rev-parse --git-common-dir)/info/exclude"
mkdir -p "$(dirname "$exclude")"
grep -qxF '/.gpu-bundle/' "$exclude" 2> /dev/null || echo '/.gpu-bundle/' >> "$exclude"
ls -la "$root/.gpu-bundle/kiln-gpu.tar.xz"
