// LayerNorm and RMSNorm, forward and backward (contracts in trainer/backend.h).
//
// Forward: one warp per row (C/32 channels per lane), mean and variance in two passes over
// the row (it is in L1 for the second), as the CPU reference computes them.
//
// Backward, deterministic without atomics: rows are cut into fixed chunks of kChunkRows.
//   kernel 1, a block per chunk: each warp takes rows of the chunk, reduces the row's two
//     means with shuffles and writes dinp (+=); then the block's threads take channels and
//     sum norm*dout and dout over the chunk's rows in row order into partial (chunks, 2C).
//   kernel 2, threads over channels: dweight/dbias += the chunks' partials in chunk order.
// llm.c instead adds into shared memory and then global memory with atomics: one kernel,
// but the float sum order (and so the last bits of every weight) changes run to run, which
// would break bit-exact resume. The second pass over a chunk's rows hits L2 (a 64-row chunk
// of inp and dout at C = 768 is 400 KB).
#include "kernels/src/cuda_common.cuh"
#include "kernels/src/ops.h"

namespace kiln::kernels::cuda {
using namespace detail;
namespace {
constexpr float kEps = 1e-5f;
constexpr int kRowsPerBlock = 8;   // forward: warps per block, one row each
constexpr int kChunkRows = 64;     // backward: rows per partial
constexpr int kBackwardThreads = 256;

__global__ void layernorm_forward_kernel(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                                         const float* bias, int N, int C) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= N) return;
  const float* x = inp + (size_t)row * C;
  float s = 0.0f;
  for (int i = lane; i < C; i += 32) s += x[i];
  const float m = warp_sum(s) / C;
  float v = 0.0f;
  for (int i = lane; i < C; i += 32) v += (x[i] - m) * (x[i] - m);
  const float r = rsqrtf(warp_sum(v) / C + kEps);
  float* o = out + (size_t)row * C;
  for (int i = lane; i < C; i += 32) o[i] = (x[i] - m) * r * weight[i] + bias[i];
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = r;
  }
}

__global__ void rmsnorm_forward_kernel(float* out, float* rstd, const float* inp, const float* weight, int N, int C) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= N) return;
  const float* x = inp + (size_t)row * C;
  float ss = 0.0f;
  for (int i = lane; i < C; i += 32) ss += x[i] * x[i];
  const float r = rsqrtf(warp_sum(ss) / C + kEps);
  float* o = out + (size_t)row * C;
  for (int i = lane; i < C; i += 32) o[i] = x[i] * r * weight[i];
  if (lane == 0) rstd[row] = r;
}

// Kernel 1 of the LayerNorm backward; partial (chunks, [dweight | dbias]).
__global__ void layernorm_backward_chunk_kernel(float* dinp, float* partial, const float* dout, const float* inp,
                                                const float* weight, const float* mean, const float* rstd, int N,
                                                int C) {
  const int row0 = blockIdx.x * kChunkRows, rows = min(kChunkRows, N - row0);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  for (int r = warp; r < rows; r += warps) {
    const size_t off = (size_t)(row0 + r) * C;
    const float m = mean[row0 + r], s = rstd[row0 + r];
    float a = 0.0f, b = 0.0f;  // sum dnorm, sum dnorm*norm
    for (int i = lane; i < C; i += 32) {
      const float dnorm = weight[i] * dout[off + i];
      a += dnorm;
      b += dnorm * (inp[off + i] - m) * s;
    }
    a = warp_sum(a) / C;
    b = warp_sum(b) / C;
    for (int i = lane; i < C; i += 32) {
      const float norm = (inp[off + i] - m) * s, dnorm = weight[i] * dout[off + i];
      dinp[off + i] += (dnorm - a - norm * b) * s;
    }
  }
  float* pw = partial + (size_t)blockIdx.x * 2 * C;
  for (int i = threadIdx.x; i < C; i += blockDim.x) {
    float w = 0.0f, b = 0.0f;
    for (int r = 0; r < rows; r++) {
      const size_t off = (size_t)(row0 + r) * C + i;
      const float d = dout[off];
      w += (inp[off] - mean[row0 + r]) * rstd[row0 + r] * d;
      b += d;
    }
    pw[i] = w;
    pw[C + i] = b;
  }
}

__global__ void rmsnorm_backward_chunk_kernel(float* dinp, float* partial, const float* dout, const float* inp,
                                              const float* weight, const float* rstd, int N, int C) {
  const int row0 = blockIdx.x * kChunkRows, rows = min(kChunkRows, N - row0);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  for (int r = warp; r < rows; r += warps) {
    const size_t off = (size_t)(row0 + r) * C;
    const float s = rstd[row0 + r];
    float xwd = 0.0f;
    for (int i = lane; i < C; i += 32) xwd += inp[off + i] * weight[i] * dout[off + i];
    const float c = warp_sum(xwd) / C * s * s * s;
    for (int i = lane; i < C; i += 32) dinp[off + i] += s * weight[i] * dout[off + i] - inp[off + i] * c;
  }
  float* pw = partial + (size_t)blockIdx.x * C;
  for (int i = threadIdx.x; i < C; i += blockDim.x) {
    float w = 0.0f;
    for (int r = 0; r < rows; r++) {
      const size_t off = (size_t)(row0 + r) * C + i;
      w += inp[off] * rstd[row0 + r] * dout[off];
    }
    pw[i] = w;
  }
}

// dst[i] += sum over chunks k of partial[k * stride + i], k in order.
__global__ void reduce_partials_kernel(float* dst, const float* partial, int chunks, int C, int stride) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= C) return;
  float s = 0.0f;
  for (int k = 0; k < chunks; k++) s += partial[(size_t)k * stride + i];
  dst[i] += s;
}
}  // namespace

size_t layernorm_partial_floats(int N, int C) { return (size_t)ceil_div(N, kChunkRows) * 2 * C; }

void layernorm_forward(cudaStream_t stream, float* out, float* mean, float* rstd, const float* inp,
                       const float* weight, const float* bias, int N, int C) {
  if (N <= 0) return;
  layernorm_forward_kernel<<<ceil_div(N, kRowsPerBlock), kRowsPerBlock * 32, 0, stream>>>(out, mean, rstd, inp,
                                                                                          weight, bias, N, C);
  check_launch("layernorm_forward");
}

void layernorm_backward(cudaStream_t stream, float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd, int N, int C,
                        float* partial) {
  if (N <= 0) return;
  const int chunks = (int)ceil_div(N, kChunkRows);
  layernorm_backward_chunk_kernel<<<chunks, kBackwardThreads, 0, stream>>>(dinp, partial, dout, inp, weight, mean,
                                                                          rstd, N, C);
  check_launch("layernorm_backward");
  reduce_partials_kernel<<<ceil_div(C, 256), 256, 0, stream>>>(dweight, partial, chunks, C, 2 * C);
  reduce_partials_kernel<<<ceil_div(C, 256), 256, 0, stream>>>(dbias, partial + C, chunks, C, 2 * C);
  check_launch("layernorm_backward (weight gradients)");
}

void rmsnorm_forward(cudaStream_t stream, float* out, float* rstd, const float* inp, const float* weight, int N,
                     int C) {
  if (N <= 0) return;
  rmsnorm_forward_kernel<<<ceil_div(N, kRowsPerBlock), kRowsPerBlock * 32, 0, stream>>>(out, rstd, inp, weight, N, C);
  check_launch("rmsnorm_forward");
}

void rmsnorm_backward(cudaStream_t stream, float* dinp, float* dweight, const float* dout, const float* inp,
                      const float* weight, const float* rstd, int N, int C, float* partial) {
  if (N <= 0) return;
  const int chunks = (int)ceil_div(N, kChunkRows);
  rmsnorm_backward_chunk_kernel<<<chunks, kBackwardThreads, 0, stream>>>(dinp, partial, dout, inp, weight, rstd, N, C);
  check_launch("rmsnorm_backward");
  reduce_partials_kernel<<<ceil_div(C, 256), 256, 0, stream>>>(dweight, partial, chunks, C, C);
  check_launch("rmsnorm_backward (weight gradient)");
}

}  // namespace kiln::kernels::cuda
