// Token + learned position embedding, forward and backward.
//
// Backward without atomics: the host (which has the token ids) groups the B*T positions by
// token into a CSR (cuda_backend.cu); a block per distinct token sums its positions' rows of
// dout in position order and adds the sum to that token's row of dwte. Each dwte row is
// written by one block, so the result is the same every run. llm.c's GPT-2 kernel instead
// sorts on the host too ("bucketing" by token and channel slice) for the same reason.
// dwpe: a thread per (t, c) sums over b in order.
#include "kernels/src/cuda_common.cuh"
#include "kernels/src/ops.h"

namespace kiln::kernels::cuda {
using namespace detail;
namespace {

// out (B,T,C) = wte[inp] + wpe[pos_offset + t]
__global__ void encoder_forward_kernel(float* out, const int32_t* inp, const float* wte, const float* wpe, int BT,
                                       int T, int C, int pos_offset) {
  const size_t n = (size_t)BT * C;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const size_t bt = i / C, c = i % C;
    float x = wte[(size_t)inp[bt] * C + c];
    if (wpe) x += wpe[(size_t)(pos_offset + bt % T) * C + c];
    out[i] = x;
  }
}

// Block u: dwte[tokens[u]] += sum over positions[offsets[u] .. offsets[u+1]) of dout rows.
__global__ void encoder_wte_backward_kernel(float* dwte, const float* dout, const int32_t* tokens,
                                            const int32_t* offsets, const int32_t* positions, int C) {
  const int u = blockIdx.x, begin = offsets[u], end = offsets[u + 1];
  float* w = dwte + (size_t)tokens[u] * C;
  for (int c = blockIdx.y * blockDim.x + threadIdx.x; c < C; c += gridDim.y * blockDim.x) {
    float s = 0.0f;
    for (int k = begin; k < end; k++) s += dout[(size_t)positions[k] * C + c];
    w[c] += s;
  }
}

__global__ void encoder_wpe_backward_kernel(float* dwpe, const float* dout, int B, int T, int C) {
  const size_t n = (size_t)T * C;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    float s = 0.0f;
    for (int b = 0; b < B; b++) s += dout[(size_t)b * n + i];
    dwpe[i] += s;
  }
}
}  // namespace

void encoder_forward(cudaStream_t stream, float* out, const int32_t* inp, const float* wte, const float* wpe, int B,
                     int T, int C, int pos_offset) {
  const size_t n = (size_t)B * T * C;
  if (!n) return;
  encoder_forward_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(out, inp, wte, wpe, B * T, T, C,
                                                                                    pos_offset);
  check_launch("encoder_forward");
}

void encoder_backward(cudaStream_t stream, float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                      const int32_t* offsets, const int32_t* positions, int num_unique, int B, int T, int C) {
  if (num_unique > 0) {
    // 256 channels per block (C = 768: 3 blocks per token, so ~10k blocks for a GPT-2 batch).
    const dim3 grid(num_unique, ceil_div(C, 256));
    encoder_wte_backward_kernel<<<grid, 256, 0, stream>>>(dwte, dout, tokens, offsets, positions, C);
    check_launch("encoder_backward (wte)");
  }
  if (dwpe && T > 0) {
    encoder_wpe_backward_kernel<<<elementwise_blocks((size_t)T * C), kElementwiseThreads, 0, stream>>>(dwpe, dout, B, T,
                                                                                                     C);
    check_launch("encoder_backward (wpe)");
  }
}

}  // namespace kiln::kernels::cuda
