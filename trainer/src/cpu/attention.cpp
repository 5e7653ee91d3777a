// Multi-head self-attention, memory-efficient: scores are computed a tile of keys at a
// time with an online softmax (running max m and sum l, as in FlashAttention), so nothing
// of size (T,T) is stored. The forward pass keeps lse = m + log(l) per query row; the
// backward pass recomputes each probability as exp(score - lse).
//
// qkv (B,T,3C): q = [0,C), k = [C,2C), v = [2C,3C); head h owns channels [h*hs, (h+1)*hs).
// Work is split over (b, h) pairs; a pair writes only its own slices, so no atomics.
#include <cmath>
#include <limits>
#include <vector>

#include "trainer/src/cpu/cpu_ops.h"

namespace kiln::trainer::cpu {
namespace {
constexpr int kTile = 64;  // keys per online-softmax step

// One query row against keys/values 0..len-1 (row stride `stride` floats). Writes out (hs)
// and returns the row's log-sum-exp. acc is scratch (hs).
float attend_row(float* out, const float* q, const float* k, const float* v, int len, size_t stride, int hs,
                 float scale, float* acc) {
  float m = -std::numeric_limits<float>::infinity(), l = 0.0f;
  float s[kTile];
  for (int i = 0; i < hs; i++) acc[i] = 0.0f;
  for (int j0 = 0; j0 < len; j0 += kTile) {
    const int n = len - j0 < kTile ? len - j0 : kTile;
    float tile_max = m;
    for (int j = 0; j < n; j++) {
      s[j] = dot(q, k + (size_t)(j0 + j) * stride, hs) * scale;
      tile_max = s[j] > tile_max ? s[j] : tile_max;
    }
    const float correction = std::exp(m - tile_max);  // 0 on the first tile (m = -inf)
    l *= correction;
#pragma omp simd
    for (int i = 0; i < hs; i++) acc[i] *= correction;
    for (int j = 0; j < n; j++) {
      const float p = std::exp(s[j] - tile_max);
      l += p;
      axpy(acc, p, v + (size_t)(j0 + j) * stride, hs);
    }
    m = tile_max;
  }
  const float inv = 1.0f / l;
#pragma omp simd
  for (int i = 0; i < hs; i++) out[i] = acc[i] * inv;
  return m + std::log(l);
}
}  // namespace

// out (B,T,C), lse (B,NH,T) <- qkv (B,T,3C)
void attention_forward(float* out, float* lse, const float* qkv, int B, int T, int C, int NH, bool causal) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt((float)hs);
  const size_t C3 = 3 * (size_t)C;
#pragma omp parallel
  {
    std::vector<float> acc(hs);
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        const float* base = qkv + (size_t)b * T * C3 + h * hs;
        for (int t = 0; t < T; t++) {
          lse[((size_t)b * NH + h) * T + t] =
              attend_row(out + ((size_t)b * T + t) * C + h * hs, base + t * C3, base + C, base + 2 * C,
                         causal ? t + 1 : T, C3, hs, scale, acc.data());
        }
      }
    }
  }
}

// dqkv (B,T,3C) <- dout (B,T,C). With P = exp(S - lse) and D_t = dout_t . out_t:
//   dV_j += P_tj dout_t;  dS_tj = P_tj (dout_t . v_j - D_t);  dQ_t += dS_tj k_j scale;  dK_j += dS_tj q_t scale
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse, int B,
                        int T, int C, int NH, bool causal) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt((float)hs);
  const size_t C3 = 3 * (size_t)C;
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < NH; h++) {
      const float* base = qkv + (size_t)b * T * C3 + h * hs;
      float* dbase = dqkv + (size_t)b * T * C3 + h * hs;
      for (int t = 0; t < T; t++)
        for (int part = 0; part < 3; part++)
          for (int i = 0; i < hs; i++) dbase[t * C3 + part * C + i] = 0.0f;
      const float* row_lse = lse + ((size_t)b * NH + h) * T;
      for (int t = 0; t < T; t++) {
        const float* q = base + t * C3;
        const float* dO = dout + ((size_t)b * T + t) * C + h * hs;
        const float D = dot(dO, out + ((size_t)b * T + t) * C + h * hs, hs);
        float* dq = dbase + t * C3;
        const int len = causal ? t + 1 : T;
        for (int j = 0; j < len; j++) {
          const float* k = base + j * C3 + C;
          const float* v = base + j * C3 + 2 * C;
          const float p = std::exp(dot(q, k, hs) * scale - row_lse[t]);
          const float ds = p * (dot(dO, v, hs) - D) * scale;
          axpy(dbase + j * C3 + 2 * C, p, dO, hs);
          axpy(dq, ds, k, hs);
          axpy(dbase + j * C3 + C, ds, q, hs);
        }
      }
    }
  }
}

// kcache, vcache (B,maxT,C) row pos <- k, v of qkv (B,3C); out (B,C) <- q attending rows 0..pos
void attention_decode(float* out, float* kcache, float* vcache, const float* qkv, int B, int pos, int maxT, int C,
                      int NH) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt((float)hs);
  for (int b = 0; b < B; b++)
    for (int i = 0; i < C; i++) {
      kcache[((size_t)b * maxT + pos) * C + i] = qkv[(size_t)b * 3 * C + C + i];
      vcache[((size_t)b * maxT + pos) * C + i] = qkv[(size_t)b * 3 * C + 2 * C + i];
    }
#pragma omp parallel
  {
    std::vector<float> acc(hs);
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
      for (int h = 0; h < NH; h++)
        attend_row(out + (size_t)b * C + h * hs, qkv + (size_t)b * 3 * C + h * hs,
                   kcache + (size_t)b * maxT * C + h * hs, vcache + (size_t)b * maxT * C + h * hs, pos + 1, C, hs,
                   scale, acc.data());
  }
}

}  // namespace kiln::trainer::cpu
