// Rotary position embedding, rotate-half layout (trainer/src/cpu/rope.cpp): within each head
// channel i < hs/2 pairs with i + hs/2 and the pair turns by pos * 10000^(-2i/hs). A thread
// per (b, t, q|k, head, i); the angle is computed in place (powf, sincosf in full precision:
// positions reach the thousands, where fast __sinf loses digits) rather than read from a
// table — the op is bandwidth-bound either way.
#include "kernels/src/cuda_common.cuh"
#include "kernels/src/ops.h"

namespace kiln::kernels::cuda {
using namespace detail;
namespace {
__global__ void rope_kernel(float* qkv, int B, int T, int C, int NH, int pos_offset, float sign) {
  const int hs = C / NH, half = hs / 2;
  const size_t n = (size_t)B * T * 2 * NH * half;  // pairs
  for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < n; idx += (size_t)gridDim.x * blockDim.x) {
    const int i = idx % half;
    const size_t rest = idx / half;
    const int h = rest % NH;
    const int part = (rest / NH) % 2;  // 0 = q, 1 = k
    const size_t bt = rest / NH / 2;
    const int t = bt % T;
    const float freq = 1.0f / powf(10000.0f, (float)(2 * i) / (float)hs);
    float s, c;
    sincosf((float)(pos_offset + t) * freq, &s, &c);
    s *= sign;
    float* x = qkv + bt * 3 * C + (size_t)part * C + (size_t)h * hs;
    const float x1 = x[i], x2 = x[i + half];
    x[i] = x1 * c - x2 * s;
    x[i + half] = x2 * c + x1 * s;
  }
}
}  // namespace

void rope_forward(cudaStream_t stream, float* qkv, int B, int T, int C, int NH, int pos_offset) {
  const size_t n = (size_t)B * T * C;  // = B*T*2*NH*(hs/2)
  if (!n) return;
  rope_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(qkv, B, T, C, NH, pos_offset, 1.0f);
  check_launch("rope_forward");
}
void rope_backward(cudaStream_t stream, float* dqkv, int B, int T, int C, int NH) {
  const size_t n = (size_t)B * T * C;
  if (!n) return;
  rope_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(dqkv, B, T, C, NH, 0, -1.0f);
  check_launch("rope_backward");
}

}  // namespace kiln::kernels::cuda
