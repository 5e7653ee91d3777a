// Token + learned position embedding, forward and backward.
#include "trainer/src/cpu/cpu_ops.h"

namespace kiln::trainer::cpu {

// out (B,T,C) = wte[inp[b,t]] (Vp,C) + wpe[pos_offset + t] (maxT,C)
void encoder_forward(float* out, const int32_t* inp, const float* wte, const float* wpe, int B, int T, int C,
                     int pos_offset) {
#pragma omp parallel for schedule(static)
  for (int bt = 0; bt < B * T; bt++) {
    float* o = out + (size_t)bt * C;
    const float* e = wte + (size_t)inp[bt] * C;
    if (wpe) {
      const float* p = wpe + (size_t)(pos_offset + bt % T) * C;
#pragma omp simd
      for (int i = 0; i < C; i++) o[i] = e[i] + p[i];
    } else {
#pragma omp simd
      for (int i = 0; i < C; i++) o[i] = e[i];
    }
  }
}

// Scatter-add by token. Parallel over channel slices (every thread walks all rows for its
// slice), so two rows with the same token never race and the sum order is fixed.
void encoder_backward(float* dwte, float* dwpe, const float* dout, const int32_t* inp, int B, int T, int C) {
  constexpr int kSlice = 16;
  const int slices = (C + kSlice - 1) / kSlice;
#pragma omp parallel for schedule(static)
  for (int s = 0; s < slices; s++) {
    const int c0 = s * kSlice, c1 = c0 + kSlice < C ? c0 + kSlice : C;
    for (int bt = 0; bt < B * T; bt++) {
      const float* d = dout + (size_t)bt * C;
      float* w = dwte + (size_t)inp[bt] * C;
      for (int i = c0; i < c1; i++) w[i] += d[i];
    }
  }
  if (!dwpe) return;
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    float* p = dwpe + (size_t)t * C;
    for (int b = 0; b < B; b++) {
      const float* d = dout + ((size_t)b * T + t) * C;
#pragma omp simd
      for (int i = 0; i < C; i++) p[i] += d[i];
    }
  }
}

}  // namespace kiln::trainer::cpu
