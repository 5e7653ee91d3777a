// Private: what every .cu file of the CUDA backend shares — error checks, launch sizes and
// warp/block reductions.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace kiln::kernels::detail {

// Defined in errors.cpp (host C++): they throw kiln::Error.
[[noreturn]] void throw_error(const char* what, const char* detail);
[[noreturn]] void throw_cuda_error(const char* what, int code, const char* name, const char* message);

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw_cuda_error(what, (int)e, cudaGetErrorName(e), cudaGetErrorString(e));
}
// After a launch: configuration errors (too much shared memory, bad grid) surface here;
// faults inside the kernel surface at the next synchronizing call, named by that call.
inline void check_launch(const char* what) { check(cudaGetLastError(), what); }

inline unsigned ceil_div(size_t a, size_t b) { return (unsigned)((a + b - 1) / b); }

// Grid-stride elementwise launches: enough blocks to fill an H200 (132 SMs x 8 blocks of
// 256) and no more, so huge tensors loop instead of launching millions of blocks.
constexpr int kElementwiseThreads = 256;
inline unsigned elementwise_blocks(size_t n) {
  const unsigned want = ceil_div(n, kElementwiseThreads);
  return want < 132u * 8u ? (want ? want : 1u) : 132u * 8u;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum (or max) over the block; every thread gets the result. `shared` holds >= 32 floats;
// the reduction order is fixed by the block shape, so results repeat run to run.
__device__ __forceinline__ float block_sum(float v, float* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();  // shared may still be read by a previous reduction
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : 0.0f;
  return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v, float* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : -INFINITY;
  return warp_max(v);
}

}  // namespace kiln::kernels::detail
