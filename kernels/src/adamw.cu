// The optimizer's device work: the global gradient norm's sum of squares and the AdamW
// update (torch.optim.AdamW's formula, as trainer/src/cpu/adamw.cpp).
#include "kernels/src/cuda_common.cuh"
#include "kernels/src/ops.h"

namespace kiln::kernels::cuda {
using namespace detail;
namespace {

// partial[block] = sum of squares of a fixed grid-stride slice, in double. The grid size is
// a constant (kSumSquaresBlocks), not derived from the device, so the summation order —
// and the clipping factor that depends on it — is the same on every GPU.
__global__ void sum_squares_kernel(double* partial, const float* x, size_t n) {
  __shared__ double warp_sums[32];
  double s = 0.0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    s += (double)x[i] * x[i];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    double t = 0.0;
    for (int w = 0; w < (int)blockDim.x / 32; w++) t += warp_sums[w];
    partial[blockIdx.x] = t;
  }
}

__global__ void adamw_kernel(float* params, const float* grads, float* m, float* v, size_t n, float lr, float beta1,
                             float beta2, float eps, float decay, float step_size, float sqrt_bc2, float grad_scale) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const float g = grads[i] * grad_scale;
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = params[i] * decay - step_size * mi / (sqrtf(vi) / sqrt_bc2 + eps);
  }
}
}  // namespace

double sum_squares(cudaStream_t stream, const float* x, size_t n, double* partial, double* host_partial) {
  if (!n) return 0.0;
  sum_squares_kernel<<<kSumSquaresBlocks, 512, 0, stream>>>(partial, x, n);
  check_launch("sum_squares");
  check(cudaMemcpyAsync(host_partial, partial, kSumSquaresBlocks * sizeof(double), cudaMemcpyDeviceToHost, stream),
        "sum_squares: copying partial sums");
  check(cudaStreamSynchronize(stream), "sum_squares");
  double total = 0.0;
  for (int i = 0; i < kSumSquaresBlocks; i++) total += host_partial[i];
  return total;
}

void adamw_update(cudaStream_t stream, float* params, const float* grads, float* m, float* v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float bc1, float bc2, float grad_scale) {
  if (!n) return;
  adamw_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      params, grads, m, v, n, lr, beta1, beta2, eps, 1.0f - lr * weight_decay, lr / bc1, sqrtf(bc2), grad_scale);
  check_launch("adamw_update");
}

}  // namespace kiln::kernels::cuda
