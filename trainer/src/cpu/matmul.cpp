// Linear layers through oneDNN's sgemm (fp32, row-major, its JIT AVX2/AVX-512 kernels).
//
// Tried first: dnnl::matmul primitives. They need a primitive per shape (cached by shape)
// and memory descriptors per call; dnnl_sgemm reaches the same kernels with none of that.
#include <oneapi/dnnl/dnnl.h>

#include <cstring>

#include "corpus/error.h"
#include "trainer/src/cpu/cpu_ops.h"

namespace kiln::trainer::cpu {

void sgemm(char ta, char tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc) {
  if (dnnl_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) != dnnl_success)
    throw Error(cat("oneDNN sgemm failed (", M, "x", N, "x", K, ")"));
}

// out (N,OC) = inp (N,C) @ weight (OC,C)^T + bias (OC)
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC) {
  if (bias) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) std::memcpy(out + (size_t)n * OC, bias, sizeof(float) * OC);
  }
  sgemm('N', 'T', N, OC, C, 1.0f, inp, C, weight, C, bias ? 1.0f : 0.0f, out, OC);
}

// dinp (N,C) = dout (N,OC) @ weight (OC,C); dweight (OC,C) += dout^T @ inp; dbias (OC) += sum_n dout
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int C, int OC) {
  if (dinp) sgemm('N', 'N', N, C, OC, 1.0f, dout, OC, weight, C, 0.0f, dinp, C);
  sgemm('T', 'N', OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
  if (!dbias) return;
  constexpr int kSlice = 64;  // columns per task; each task sums all rows for its columns
  const int slices = (OC + kSlice - 1) / kSlice;
#pragma omp parallel for schedule(static)
  for (int s = 0; s < slices; s++) {
    const int o0 = s * kSlice, width = o0 + kSlice < OC ? kSlice : OC - o0;
    float acc[kSlice] = {};
    for (int n = 0; n < N; n++) {
      const float* d = dout + (size_t)n * OC + o0;
#pragma omp simd
      for (int i = 0; i < width; i++) acc[i] += d[i];
    }
    for (int i = 0; i < width; i++) dbias[o0 + i] += acc[i];
  }
}

}  // namespace kiln::trainer::cpu
