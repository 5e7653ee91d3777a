// Softmax cross-entropy over the first V of Vp logit columns, forward and backward.
//
// A block per row (N = B*T rows of Vp = 50304 at GPT-2 scale). Forward reads the row once:
// each thread keeps an online max and sum over its columns (the FlashAttention recurrence),
// then the block combines them. Backward rewrites the row in place with
// dloss * (softmax - onehot), recomputing softmax from the saved lse, so the (N,Vp)
// probabilities are never stored separately — the logits buffer becomes dlogits, as the
// CPU backend does. llm.c fuses the same two steps into one kernel run in the backward
// pass; here they stay two ops because the Backend table separates them (the loss is known
// before backward is called).
#include "kernels/src/cuda_common.cuh"
#include "kernels/src/ops.h"

namespace kiln::kernels::cuda {
using namespace detail;
namespace {
constexpr int kThreads = 512;

__global__ void crossentropy_forward_kernel(float* losses, float* lse, const float* logits, const int32_t* targets,
                                            int V, int Vp) {
  __shared__ float shared[32];
  const int n = blockIdx.x;
  const float* x = logits + (size_t)n * Vp;
  float m = -INFINITY, s = 0.0f;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    const float xi = x[i];
    if (xi > m) {
      s = s * expf(m - xi) + 1.0f;
      m = xi;
    } else {
      s += expf(xi - m);
    }
  }
  const float row_max = block_max(m, shared);
  const float total = block_sum(m == -INFINITY ? 0.0f : s * expf(m - row_max), shared);
  if (threadIdx.x == 0) {
    const float l = row_max + logf(total);
    lse[n] = l;
    losses[n] = targets[n] < 0 ? 0.0f : l - x[targets[n]];
  }
}

__global__ void crossentropy_backward_kernel(float* logits, const float* lse, const int32_t* targets, float dloss,
                                             int V, int Vp) {
  const int n = blockIdx.x, target = targets[n];
  float* x = logits + (size_t)n * Vp;
  const float l = lse[n];
  for (int i = threadIdx.x; i < Vp; i += blockDim.x) {
    float g = 0.0f;
    if (target >= 0 && i < V) g = dloss * (expf(x[i] - l) - (i == target ? 1.0f : 0.0f));
    x[i] = g;
  }
}
}  // namespace

void crossentropy_forward(cudaStream_t stream, float* losses, float* lse, const float* logits,
                          const int32_t* targets, int N, int V, int Vp) {
  if (N <= 0) return;
  crossentropy_forward_kernel<<<N, kThreads, 0, stream>>>(losses, lse, logits, targets, V, Vp);
  check_launch("crossentropy_forward");
}

void crossentropy_backward(cudaStream_t stream, float* logits, const float* lse, const int32_t* targets, float dloss,
                           int N, int V, int Vp) {
  if (N <= 0) return;
  crossentropy_backward_kernel<<<N, kThreads, 0, stream>>>(logits, lse, targets, dloss, V, Vp);
  check_launch("crossentropy_backward");
}

}  // namespace kiln::kernels::cuda
