// Rotary position embedding (RoFormer), rotate-half layout as in GPT-NeoX and Llama: within
// each head, channel i < hs/2 pairs with i + hs/2 and the pair turns by pos * 10000^(-2i/hs).
#include <cmath>
#include <vector>

#include "trainer/src/cpu/cpu_ops.h"

namespace kiln::trainer::cpu {
namespace {
// Rotates q and k of every head of qkv (B,T,3C) by +angle (sign 1) or -angle (sign -1).
void rotate(float* qkv, int B, int T, int C, int NH, int pos_offset, float sign) {
  const int hs = C / NH, half = hs / 2;
  std::vector<float> cos_t((size_t)T * half), sin_t((size_t)T * half);  // (T, hs/2)
  for (int t = 0; t < T; t++)
    for (int i = 0; i < half; i++) {
      const float freq = 1.0f / std::pow(10000.0f, (float)(2 * i) / (float)hs);
      const float angle = (float)(pos_offset + t) * freq;
      cos_t[(size_t)t * half + i] = std::cos(angle);
      sin_t[(size_t)t * half + i] = sign * std::sin(angle);
    }
#pragma omp parallel for schedule(static)
  for (int bt = 0; bt < B * T; bt++) {
    const float* c = cos_t.data() + (size_t)(bt % T) * half;
    const float* s = sin_t.data() + (size_t)(bt % T) * half;
    for (int part = 0; part < 2; part++)  // q, then k
      for (int h = 0; h < NH; h++) {
        float* x = qkv + (size_t)bt * 3 * C + part * C + h * hs;
#pragma omp simd
        for (int i = 0; i < half; i++) {
          const float x1 = x[i], x2 = x[i + half];
          x[i] = x1 * c[i] - x2 * s[i];
          x[i + half] = x2 * c[i] + x1 * s[i];
        }
      }
  }
}
}  // namespace

void rope_forward(float* qkv, int B, int T, int C, int NH, int pos_offset) { rotate(qkv, B, T, C, NH, pos_offset, 1.0f); }
void rope_backward(float* dqkv, int B, int T, int C, int NH) { rotate(dqkv, B, T, C, NH, 0, -1.0f); }

}  // namespace kiln::trainer::cpu
