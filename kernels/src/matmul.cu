// The linear layer's non-GEMM parts: the bias gradient and the bias broadcast. The GEMMs
// are cuBLASLt calls (matmul.cpp side lives in cuda_backend.cu with the handle).
//
// bias_backward: dbias (OC) += column sums of dout (N,OC), deterministic: a block per 32
// columns; its 32x32 threads read 32 consecutive columns of a row (one 128-byte line per
// warp), thread row y sums rows y, y+32, ... in order, and the 32 partials are added in
// order. llm.c fuses this into a cuBLASLt epilogue (CUBLASLT_EPILOGUE_BGRADB) in bf16; with
// fp32 gradients accumulated across micro-steps (+=) the epilogue would need a scratch
// buffer and an add anyway. At OC = 768 this launches 24 blocks (of 132 SMs) — a split over
// row ranges with a second pass is the fix if it ever shows in a profile.
#include "kernels/src/cuda_common.cuh"
#include "kernels/src/ops.h"

namespace kiln::kernels::cuda {
using namespace detail;
namespace {
__global__ void bias_backward_kernel(float* dbias, const float* dout, int N, int OC) {
  __shared__ float partial[32][33];
  const int col = blockIdx.x * 32 + threadIdx.x;
  float s = 0.0f;
  if (col < OC)
    for (int n = threadIdx.y; n < N; n += 32) s += dout[(size_t)n * OC + col];
  partial[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && col < OC) {
    float t = 0.0f;
    for (int y = 0; y < 32; y++) t += partial[y][threadIdx.x];
    dbias[col] += t;
  }
}

__global__ void broadcast_rows_kernel(float* out, const float* bias, int N, int OC) {
  const size_t n = (size_t)N * OC;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    out[i] = bias[i % OC];
}
}  // namespace

void bias_backward(cudaStream_t stream, float* dbias, const float* dout, int N, int OC) {
  if (N <= 0 || OC <= 0) return;
  bias_backward_kernel<<<ceil_div(OC, 32), dim3(32, 32), 0, stream>>>(dbias, dout, N, OC);
  check_launch("matmul_backward (bias)");
}

void broadcast_rows(cudaStream_t stream, float* out, const float* bias, int N, int OC) {
  const size_t n = (size_t)N * OC;
  if (!n) return;
  broadcast_rows_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(out, bias, N, OC);
  check_launch("matmul_forward (bias)");
}

}  // namespace kiln::kernels::cuda
