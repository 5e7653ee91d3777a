// Multi-head self-attention, memory-efficient: scores are computed a tile of keys at a
// time with an online softmax (running max m and sum l, as in FlashAttention), so nothing
// of size (T,T) is stored. The forward pass keeps lse = m + log(l) per query row; the
// backward pass recomputes each probability as exp(score - lse).
//
// qkv (B,T,3C): q = [0,C), k = [C,2C), v = [2C,3C); head h owns channels [h*hs, (h+1)*hs).
// Work is split over (b, h) pairs; a pair writes only its own slices, so no atomics.
//
// Performance notes. Training attention works on (64 query, 64 key) blocks with sgemm
// (FlashAttention-2's loop order on a CPU). Tried before it, per query row: (1) a dot
// product per (query, key) pair with glibc expf; (2) keys transposed to (hs, T) so a row's
// scores are hs vectorized axpys and exp runs vectorized over a tile (2-3x faster than (1)).
// The blocked version reaches sgemm speed for QK^T and PV. Decoding (one query row against
// the cache) still uses (2).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "corpus/error.h"
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

// sgemm (cpu_ops.h) is called inside the (b, h) parallel loop, where oneDNN runs it on the
// calling thread.

namespace {
constexpr int kBlock = 64;  // query rows per block, keys per tile

// The keys each query row sees, [lo, hi) per (b, t): 0..t causal or 0..T-1, narrowed to
// the row's document when span.doc_start is given (checked: 0 <= start <= t, and a
// document either continues from t-1 or starts at t).
struct KeyRanges {
  std::vector<int32_t> lo, hi;
  KeyRanges(const AttentionSpan& span, int B, int T) : lo((size_t)B * T), hi((size_t)B * T) {
    for (int b = 0; b < B; b++) {
      const int32_t* start = span.doc_start ? span.doc_start + (size_t)b * T : nullptr;
      int end = T;  // the next document's start, scanning backwards
      for (int t = T - 1; t >= 0; t--) {
        const size_t i = (size_t)b * T + t;
        lo[i] = start ? start[t] : 0;
        hi[i] = span.causal ? t + 1 : end;
        if (!start) continue;
        if (start[t] < 0 || start[t] > t || (t > 0 && start[t] != t && start[t] != start[t - 1]))
          throw Error(cat("attention: doc_start[", b, ", ", t, "] = ", start[t],
                          " is not a document start at or before position ", t));
        if (start[t] == t) end = t;
      }
    }
  }
};

// Row r's visible part of the tile of n keys starting at j0: [lo, hi), maybe empty.
inline void visible(const KeyRanges& keys, size_t row, int j0, int n, int& lo, int& hi) {
  lo = std::clamp(keys.lo[row] - j0, 0, n);
  hi = std::clamp(keys.hi[row] - j0, 0, n);
}

// The key tiles a block of query rows [row, row + mq) needs: from the tile holding the
// smallest lo to the largest hi.
inline void key_span(const KeyRanges& keys, size_t row, int mq, int& kbegin, int& kend) {
  int lo = keys.lo[row], hi = keys.hi[row];
  for (int r = 1; r < mq; r++) lo = std::min(lo, keys.lo[row + r]), hi = std::max(hi, keys.hi[row + r]);
  kbegin = lo / kBlock * kBlock;
  kend = hi;
}
}  // namespace

// out (B,T,C), lse (B,NH,T) <- qkv (B,T,3C)
//
// FlashAttention-style blocking: for each (b, h) and each block of up to 64 query rows, the
// keys are visited in tiles of 64; S = scale Q K^T and O += P V are small sgemms, and the
// softmax is online across tiles (running row max m and sum l, O rescaled when m grows).
// Memory: a (64,64) score tile and a (64,hs) accumulator per thread. With document
// masking a block skips the tiles none of its rows can see, and a row with nothing visible
// in a tile leaves its running state untouched (its first visible tile may come later).
void attention_forward(float* out, float* lse, const float* qkv, int B, int T, int C, int NH,
                       const AttentionSpan& span) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt((float)hs);
  const int C3 = 3 * C;
  const KeyRanges keys(span, B, T);
#pragma omp parallel
  {
    std::vector<float> S(kBlock * kBlock), O((size_t)kBlock * hs), m(kBlock), l(kBlock);
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        const float* q = qkv + (size_t)b * T * C3 + h * hs;
        const float* k = q + C;
        const float* v = q + 2 * C;
        for (int t0 = 0; t0 < T; t0 += kBlock) {
          const int mq = T - t0 < kBlock ? T - t0 : kBlock;
          const size_t row0 = (size_t)b * T + t0;
          int kbegin, kend;
          key_span(keys, row0, mq, kbegin, kend);
          for (int r = 0; r < mq; r++) m[r] = -std::numeric_limits<float>::infinity(), l[r] = 0.0f;
          for (size_t i = 0; i < O.size(); i++) O[i] = 0.0f;
          for (int j0 = kbegin; j0 < kend; j0 += kBlock) {
            const int n = kend - j0 < kBlock ? kend - j0 : kBlock;
            sgemm('N', 'T', mq, n, hs, scale, q + (size_t)t0 * C3, C3, k + (size_t)j0 * C3, C3, 0.0f, S.data(), kBlock);
            for (int r = 0; r < mq; r++) {
              float* s = S.data() + r * kBlock;
              int lo, hi;
              visible(keys, row0 + r, j0, n, lo, hi);
              if (lo >= hi) {  // nothing of this row's document here: P row 0, state unchanged
                for (int j = 0; j < n; j++) s[j] = 0.0f;
                continue;
              }
              float tile_max = m[r];
              for (int j = lo; j < hi; j++) tile_max = s[j] > tile_max ? s[j] : tile_max;
              const float correction = exp_approx(m[r] - tile_max);  // 0 on the first tile
              float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
              for (int j = lo; j < hi; j++) {
                s[j] = exp_approx(s[j] - tile_max);
                sum += s[j];
              }
              for (int j = 0; j < lo; j++) s[j] = 0.0f;
              for (int j = hi; j < n; j++) s[j] = 0.0f;
              l[r] = l[r] * correction + sum;
              m[r] = tile_max;
              float* o = O.data() + (size_t)r * hs;
#pragma omp simd
              for (int i = 0; i < hs; i++) o[i] *= correction;
            }
            sgemm('N', 'N', mq, hs, n, 1.0f, S.data(), kBlock, v + (size_t)j0 * C3, C3, 1.0f, O.data(), hs);
          }
          for (int r = 0; r < mq; r++) {
            const float inv = 1.0f / l[r];
            float* dst = out + ((size_t)b * T + t0 + r) * C + h * hs;
            const float* o = O.data() + (size_t)r * hs;
#pragma omp simd
            for (int i = 0; i < hs; i++) dst[i] = o[i] * inv;
            lse[((size_t)b * NH + h) * T + t0 + r] = m[r] + std::log(l[r]);
          }
        }
      }
    }
  }
}

// dqkv (B,T,3C) <- dout (B,T,C), per (b, h), query block and key tile, recomputing
// P = exp(S - lse):  dP = dO V^T;  dS = scale P (dP - D) with D_t = dO_t . out_t;
//   dV += P^T dO;  dK += dS^T Q;  dQ += dS K   (five small sgemms per tile)
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse, int B,
                        int T, int C, int NH, const AttentionSpan& span) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt((float)hs);
  const int C3 = 3 * C;
  const KeyRanges keys(span, B, T);
#pragma omp parallel
  {
    std::vector<float> P(kBlock * kBlock), dP(kBlock * kBlock), D(kBlock);
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        const float* q = qkv + (size_t)b * T * C3 + h * hs;
        const float* k = q + C;
        const float* v = q + 2 * C;
        float* dq = dqkv + (size_t)b * T * C3 + h * hs;
        float* dk = dq + C;
        float* dv = dq + 2 * C;
        const float* dO = dout + (size_t)b * T * C + h * hs;
        const float* row_lse = lse + ((size_t)b * NH + h) * T;
        for (int t = 0; t < T; t++)
          for (int part = 0; part < 3; part++)
            for (int i = 0; i < hs; i++) dq[(size_t)t * C3 + part * C + i] = 0.0f;
        for (int t0 = 0; t0 < T; t0 += kBlock) {
          const int mq = T - t0 < kBlock ? T - t0 : kBlock;
          const size_t row0 = (size_t)b * T + t0;
          int kbegin, kend;
          key_span(keys, row0, mq, kbegin, kend);
          for (int r = 0; r < mq; r++)
            D[r] = dot(dO + (size_t)(t0 + r) * C, out + ((size_t)b * T + t0 + r) * C + h * hs, hs);
          for (int j0 = kbegin; j0 < kend; j0 += kBlock) {
            const int n = kend - j0 < kBlock ? kend - j0 : kBlock;
            sgemm('N', 'T', mq, n, hs, scale, q + (size_t)t0 * C3, C3, k + (size_t)j0 * C3, C3, 0.0f, P.data(), kBlock);
            sgemm('N', 'T', mq, n, hs, 1.0f, dO + (size_t)t0 * C, C, v + (size_t)j0 * C3, C3, 0.0f, dP.data(), kBlock);
            for (int r = 0; r < mq; r++) {
              float* p = P.data() + r * kBlock;
              float* ds = dP.data() + r * kBlock;
              int lo, hi;
              visible(keys, row0 + r, j0, n, lo, hi);
              const float l = row_lse[t0 + r], d = D[r];
#pragma omp simd
              for (int j = lo; j < hi; j++) {
                p[j] = exp_approx(p[j] - l);
                ds[j] = scale * p[j] * (ds[j] - d);
              }
              for (int j = 0; j < std::min(lo, n); j++) p[j] = ds[j] = 0.0f;
              for (int j = std::max(hi, lo); j < n; j++) p[j] = ds[j] = 0.0f;
            }
            sgemm('T', 'N', n, hs, mq, 1.0f, P.data(), kBlock, dO + (size_t)t0 * C, C, 1.0f, dv + (size_t)j0 * C3, C3);
            sgemm('T', 'N', n, hs, mq, 1.0f, dP.data(), kBlock, q + (size_t)t0 * C3, C3, 1.0f, dk + (size_t)j0 * C3, C3);
            sgemm('N', 'N', mq, hs, n, 1.0f, dP.data(), kBlock, k + (size_t)j0 * C3, C3, 1.0f, dq + (size_t)t0 * C3, C3);
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
