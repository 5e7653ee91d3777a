// Private: the CPU backend's ops as free functions, one file per op (see trainer/backend.h
// for the contract of each). Parallel with OpenMP, the same thread pool oneDNN's Debian
// build runs its matmuls on (two pools on the same cores would spin against each other).
#pragma once

#include <cstddef>
#include <cstdint>

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

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC);
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int C, int OC);

void attention_forward(float* out, float* lse, const float* qkv, int B, int T, int C, int NH, bool causal);
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse, int B,
                        int T, int C, int NH, bool causal);
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
