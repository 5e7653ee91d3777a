// Softmax cross-entropy over the first V of Vp logit columns (the rest is vocabulary padding).
#include <cmath>
#include <limits>

#include "trainer/src/cpu/cpu_ops.h"

namespace kiln::trainer::cpu {

// losses (N), lse (N) <- logits (N,Vp), targets (N); target < 0 = ignored (loss 0)
void crossentropy_forward(float* losses, float* lse, const float* logits, const int32_t* targets, int N, int V,
                          int Vp) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    const float* x = logits + (size_t)n * Vp;
    float m = -std::numeric_limits<float>::infinity();
    for (int i = 0; i < V; i++) m = x[i] > m ? x[i] : m;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < V; i++) s += exp_approx(x[i] - m);
    lse[n] = m + std::log(s);
    losses[n] = targets[n] < 0 ? 0.0f : lse[n] - x[targets[n]];
  }
}

// logits (N,Vp) <- dloss * (softmax - onehot), in place
void crossentropy_backward(float* logits, const float* lse, const int32_t* targets, float dloss, int N, int V,
                           int Vp) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    float* x = logits + (size_t)n * Vp;
    if (targets[n] < 0) {
      for (int i = 0; i < Vp; i++) x[i] = 0.0f;
      continue;
    }
    const float l = lse[n];
#pragma omp simd
    for (int i = 0; i < V; i++) x[i] = dloss * exp_approx(x[i] - l);
    for (int i = V; i < Vp; i++) x[i] = 0.0f;
    x[targets[n]] -= dloss;
  }
}

}  // namespace kiln::trainer::cpu
