// Private: the CPU backend's ops as free functions, one file per op (see trainer/backend.h
// for the contract of each). Parallel with OpenMP, the same thread pool oneDNN's Debian
// build runs its matmuls on (two pools on the same cores would spin against each other).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "trainer/backend.h"

namespace kiln::trainer::cpu {

void encoder_forward(float* out, const int32_t* inp, const float* wte, const float* wpe, int B, int T, int C,
                     int pos_offset);
void encoder_backward(float* dwte, float* dwpe, const float* dout, const int32_t* inp, int B, int T, int C);

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C);
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C);
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C);
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int N, int C);

// fp32 C (M,N) = alpha op(A) op(B) + beta C through oneDNN (attention's small products).
void sgemm(char ta, char tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc);

// Linear layers (see Backend::matmul_forward/backward): fp32 sgemm, or with bf16 = true
// operands rounded to bf16 and fp32 accumulation (oneDNN brgemm; throws at construction
// on a CPU without AVX512-BF16/AMX). Holds per-shape primitives and scratch, so one per backend.
class Matmul {
 public:
  explicit Matmul(bool bf16);
  ~Matmul();
  void forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC);
  void backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                int N, int C, int OC);

 private:
  // C (M,N) = op(A) (M,K) @ op(B) (K,N), or += with accumulate; contiguous operands.
  void gemm(char ta, char tb, int M, int N, int K, const float* A, const float* B, bool accumulate, float* C);
  struct Bf16;
  std::unique_ptr<Bf16> bf16_;
};

void attention_forward(float* out, float* lse, const float* qkv, int B, int T, int C, int NH,
                       const AttentionSpan& span);
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse, int B,
                        int T, int C, int NH, const AttentionSpan& span);
void attention_decode(float* out, float* kcache, float* vcache, const float* qkv, int B, int pos, int maxT, int C,
                      int NH);

void rope_forward(float* qkv, int B, int T, int C, int NH, int pos_offset);
void rope_backward(float* dqkv, int B, int T, int C, int NH);

void gelu_forward(float* out, const float* inp, size_t n);
void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n);

void crossentropy_forward(float* losses, float* lse, const float* logits, const int32_t* targets, int N, int V,
                          int Vp);
void crossentropy_backward(float* logits, const float* lse, const int32_t* targets, float dloss, int N, int V,
                           int Vp);

double sum_squares(const float* x, size_t n);
void adamw_update(float* params, const float* grads, float* m, float* v, size_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, float bc1, float bc2, float grad_scale);

// exp(x) that vectorizes inside `omp simd` loops (glibc's expf/tanhf do not without
// -ffast-math): Cephes' expf, range reduction x = n ln2 + r, |r| <= ln2/2, a degree-6
// polynomial for e^r and 2^n from the exponent bits; within 2 ulp of expf over [-87, 88].
// Inputs below -87.3 give ~0 (1e-38), above 88.3 give ~2^127 (no inf).
inline float exp_approx(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  const float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  return e * std::bit_cast<float>(((int32_t)n + 127) << 23);
}
// tanh(x) = 1 - 2 / (e^2x + 1): absolute error ~1e-7 (relative error grows near 0, which
// GELU multiplies by x anyway).
inline float tanh_approx(float x) { return 1.0f - 2.0f / (exp_approx(2.0f * x) + 1.0f); }

// Small vector helpers the ops share (the compiler vectorizes them under -fopenmp-simd).
inline float dot(const float* a, const float* b, int n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}
inline void axpy(float* y, float a, const float* x, int n) {  // y += a * x
#pragma omp simd
  for (int i = 0; i < n; i++) y[i] += a * x[i];
}

}  // namespace kiln::trainer::cpu
