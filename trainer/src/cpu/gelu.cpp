// GELU, tanh approximation (GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
// tanh is tanh_approx (cpu_ops.h): with glibc's scalar tanhf these two loops were 40% of a
// training step of the small benchmark model.
#include <cmath>

#include "trainer/src/cpu/cpu_ops.h"

namespace kiln::trainer::cpu {
namespace {
constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2/pi)
}

void gelu_forward(float* out, const float* inp, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) {
    const float x = inp[i];
    out[i] = 0.5f * x * (1.0f + tanh_approx(kGeluScale * (x + 0.044715f * x * x * x)));
  }
}

void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) {
    const float x = inp[i];
    const float t = tanh_approx(kGeluScale * (x + 0.044715f * x * x * x));
    const float dt = (1.0f - t * t) * kGeluScale * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] = (0.5f * (1.0f + t) + 0.5f * x * dt) * dout[i];
  }
}

}  // namespace kiln::trainer::cpu
