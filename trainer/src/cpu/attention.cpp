// Multi-head self-attention, memory-efficient: scores are computed a tile of keys at a
// time with an online softmax (running max m and sum l, as in FlashAttention), so nothing
// of size (T,T) is stored. The forward pass keeps lse = m + log(l) per query row; the
// backward pass recomputes each probability as exp(score - lse).
//
// qkv (B,T,3C): q = [0,C), k = [C,2C), v = [2C,3C); head h owns channels [h*hs, (h+1)*hs).
// Work is split over (b, h) pairs; a pair writes only its own slices, so no atomics.
//
// Performance notes. Each (b, h) first copies its keys (and, for backward, values)
// transposed into Kt (hs, T), so the scores of one query against a tile of keys are
// hs vectorized axpys over the tile (s[j] += q[i] * Kt[i][j]) instead of one horizontal
// dot-product reduction per key; exp runs vectorized over the tile (exp_approx). Tried
// first: a dot product per (query, key) pair with glibc expf — 2-3x slower at hs 32.
#include <cmath>
#include <limits>
#include <vector>

#include "trainer/src/cpu/cpu_ops.h"

namespace kiln::trainer::cpu {
namespace {
constexpr int kTile = 64;  // keys per online-softmax step

// Kt (hs, T) <- rows 0..T-1 of x (row stride `stride`), hs channels each.
void transpose_head(float* xt, const float* x, int T, size_t stride, int hs) {
  for (int t = 0; t < T; t++)
    for (int i = 0; i < hs; i++) xt[(size_t)i * T + t] = x[t * stride + i];
}

// s[0..n) = scale * q . Kt[:, j0 + j]
inline void scores(float* s, const float* q, const float* kt, int T, int j0, int n, int hs, float scale) {
  for (int j = 0; j < n; j++) s[j] = 0.0f;
  for (int i = 0; i < hs; i++) {
    const float qi = q[i] * scale;
    const float* k = kt + (size_t)i * T + j0;
#pragma omp simd
    for (int j = 0; j < n; j++) s[j] += qi * k[j];
  }
}

// One query row against keys/values 0..len-1; kt (hs, ldk) transposed keys, v rows with
// stride `stride`. Writes out (hs) and returns the row's log-sum-exp. acc: scratch (hs).
float attend_row(float* out, const float* q, const float* kt, int ldk, const float* v, int len, size_t stride, int hs,
                 float scale, float* acc) {
  float m = -std::numeric_limits<float>::infinity(), l = 0.0f;
  alignas(64) float s[kTile];
  for (int i = 0; i < hs; i++) acc[i] = 0.0f;
  for (int j0 = 0; j0 < len; j0 += kTile) {
    const int n = len - j0 < kTile ? len - j0 : kTile;
    scores(s, q, kt, ldk, j0, n, hs, scale);
    float tile_max = m;
    for (int j = 0; j < n; j++) tile_max = s[j] > tile_max ? s[j] : tile_max;
    const float correction = exp_approx(m - tile_max);  // 0 on the first tile (m = -inf)
    float tile_sum = 0.0f;
#pragma omp simd reduction(+ : tile_sum)
    for (int j = 0; j < n; j++) {
      s[j] = exp_approx(s[j] - tile_max);
      tile_sum += s[j];
    }
    l = l * correction + tile_sum;
#pragma omp simd
    for (int i = 0; i < hs; i++) acc[i] *= correction;
    for (int j = 0; j < n; j++) axpy(acc, s[j], v + (size_t)(j0 + j) * stride, hs);
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
    std::vector<float> acc(hs), kt((size_t)hs * T);
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        const float* base = qkv + (size_t)b * T * C3 + h * hs;
        transpose_head(kt.data(), base + C, T, C3, hs);
        for (int t = 0; t < T; t++) {
          lse[((size_t)b * NH + h) * T + t] =
              attend_row(out + ((size_t)b * T + t) * C + h * hs, base + t * C3, kt.data(), T, base + 2 * C,
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
#pragma omp parallel
  {
    std::vector<float> kt((size_t)hs * T), vt((size_t)hs * T);
    alignas(64) float p[kTile], ds[kTile];
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        const float* base = qkv + (size_t)b * T * C3 + h * hs;
        float* dbase = dqkv + (size_t)b * T * C3 + h * hs;
        for (int t = 0; t < T; t++)
          for (int part = 0; part < 3; part++)
            for (int i = 0; i < hs; i++) dbase[t * C3 + part * C + i] = 0.0f;
        transpose_head(kt.data(), base + C, T, C3, hs);
        transpose_head(vt.data(), base + 2 * C, T, C3, hs);
        const float* row_lse = lse + ((size_t)b * NH + h) * T;
        for (int t = 0; t < T; t++) {
          const float* q = base + t * C3;
          const float* dO = dout + ((size_t)b * T + t) * C + h * hs;
          const float D = dot(dO, out + ((size_t)b * T + t) * C + h * hs, hs);
          float* dq = dbase + t * C3;
          const int len = causal ? t + 1 : T;
          for (int j0 = 0; j0 < len; j0 += kTile) {
            const int n = len - j0 < kTile ? len - j0 : kTile;
            scores(p, q, kt.data(), T, j0, n, hs, scale);
            scores(ds, dO, vt.data(), T, j0, n, hs, 1.0f);  // dout . v_j
            const float l = row_lse[t];
#pragma omp simd
            for (int j = 0; j < n; j++) {
              p[j] = exp_approx(p[j] - l);
              ds[j] = p[j] * (ds[j] - D) * scale;
            }
            for (int j = 0; j < n; j++) {
              float* dk = dbase + (size_t)(j0 + j) * C3 + C;
              axpy(dk + C, p[j], dO, hs);  // dv
              axpy(dq, ds[j], base + (size_t)(j0 + j) * C3 + C, hs);
              axpy(dk, ds[j], q, hs);
            }
          }
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
    std::vector<float> acc(hs), kt((size_t)hs * (pos + 1));
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
      for (int h = 0; h < NH; h++) {
        transpose_head(kt.data(), kcache + (size_t)b * maxT * C + h * hs, pos + 1, C, hs);
        attend_row(out + (size_t)b * C + h * hs, qkv + (size_t)b * 3 * C + h * hs, kt.data(), pos + 1,
                   vcache + (size_t)b * maxT * C + h * hs, pos + 1, C, hs, scale, acc.data());
      }
  }
}

}  // namespace kiln::trainer::cpu
