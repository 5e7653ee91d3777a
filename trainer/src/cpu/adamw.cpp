// The optimizer's elementwise work: global gradient norm and the AdamW update.
#include <cmath>
#include <vector>

#include "trainer/src/cpu/cpu_ops.h"

namespace kiln::trainer::cpu {

// Fixed chunks summed in order: the same value whatever the thread count.
double sum_squares(const float* x, size_t n) {
  constexpr size_t kChunk = 1 << 14;
  const size_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(chunks);
#pragma omp parallel for schedule(static)
  for (size_t k = 0; k < chunks; k++) {
    const size_t end = (k + 1) * kChunk < n ? (k + 1) * kChunk : n;
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (size_t i = k * kChunk; i < end; i++) s += (double)x[i] * x[i];
    partial[k] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

// torch.optim.AdamW: p *= 1 - lr*wd; p -= (lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps)
void adamw_update(float* params, const float* grads, float* m, float* v, size_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, float bc1, float bc2, float grad_scale) {
  const float step_size = lr / bc1, sqrt_bc2 = std::sqrt(bc2), decay = 1.0f - lr * weight_decay;
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) {
    const float g = grads[i] * grad_scale;
    m[i] = beta1 * m[i] + (1.0f - beta1) * g;
    v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
    params[i] = params[i] * decay - step_size * m[i] / (std::sqrt(v[i]) / sqrt_bc2 + eps);
  }
}

}  // namespace kiln::trainer::cpu
