// LayerNorm and RMSNorm, forward and backward.
//
// The weight/bias gradients are sums over rows. Rows are cut into fixed chunks of kRows;
// each chunk sums into its own partial row and the partials are added in chunk order, so
// the result does not depend on the thread count's scheduling (bit-exact resume).
#include <cmath>
#include <vector>

#include "trainer/src/cpu/cpu_ops.h"

namespace kiln::trainer::cpu {
namespace {
constexpr int kRows = 32;
constexpr float kEps = 1e-5f;

// dst (C) += sum over chunks of partial (chunks, C); parallel over channels.
void reduce_partials(float* dst, const std::vector<float>& partial, int chunks, int C, int stride, int offset) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < C; i++) {
    float s = 0.0f;
    for (int k = 0; k < chunks; k++) s += partial[(size_t)k * stride + offset + i];
    dst[i] += s;
  }
}
}  // namespace

// out (N,C), mean (N), rstd (N) <- inp (N,C), weight (C), bias (C)
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    const float* x = inp + (size_t)n * C;
    float m = 0.0f;
#pragma omp simd reduction(+ : m)
    for (int i = 0; i < C; i++) m += x[i];
    m /= C;
    float v = 0.0f;
#pragma omp simd reduction(+ : v)
    for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
    const float s = 1.0f / std::sqrt(v / C + kEps);
    float* o = out + (size_t)n * C;
#pragma omp simd
    for (int i = 0; i < C; i++) o[i] = (x[i] - m) * s * weight[i] + bias[i];
    mean[n] = m;
    rstd[n] = s;
  }
}

// dinp (N,C) +=, dweight (C) +=, dbias (C) +=
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C) {
  const int chunks = (N + kRows - 1) / kRows;
  std::vector<float> partial((size_t)chunks * 2 * C, 0.0f);  // (chunks, [dweight | dbias])
#pragma omp parallel for schedule(static)
  for (int k = 0; k < chunks; k++) {
    float* pw = partial.data() + (size_t)k * 2 * C;
    float* pb = pw + C;
    for (int n = k * kRows; n < N && n < (k + 1) * kRows; n++) {
      const float* x = inp + (size_t)n * C;
      const float* d = dout + (size_t)n * C;
      float* dx = dinp + (size_t)n * C;
      const float m = mean[n], s = rstd[n];
      float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
#pragma omp simd reduction(+ : dnorm_mean, dnorm_norm_mean)
      for (int i = 0; i < C; i++) {
        const float norm = (x[i] - m) * s, dnorm = weight[i] * d[i];
        dnorm_mean += dnorm;
        dnorm_norm_mean += dnorm * norm;
      }
      dnorm_mean /= C;
      dnorm_norm_mean /= C;
#pragma omp simd
      for (int i = 0; i < C; i++) {
        const float norm = (x[i] - m) * s, dnorm = weight[i] * d[i];
        pw[i] += norm * d[i];
        pb[i] += d[i];
        dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
      }
    }
  }
  reduce_partials(dweight, partial, chunks, C, 2 * C, 0);
  reduce_partials(dbias, partial, chunks, C, 2 * C, C);
}

// out (N,C), rstd (N) <- inp (N,C), weight (C)
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    const float* x = inp + (size_t)n * C;
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int i = 0; i < C; i++) ss += x[i] * x[i];
    const float s = 1.0f / std::sqrt(ss / C + kEps);
    float* o = out + (size_t)n * C;
#pragma omp simd
    for (int i = 0; i < C; i++) o[i] = x[i] * s * weight[i];
    rstd[n] = s;
  }
}

// y = x*s*w with s = (mean(x^2)+eps)^-1/2:  dx = s*(w*dy) - x * s^3 * mean(x*w*dy)
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int N, int C) {
  const int chunks = (N + kRows - 1) / kRows;
  std::vector<float> partial((size_t)chunks * C, 0.0f);
#pragma omp parallel for schedule(static)
  for (int k = 0; k < chunks; k++) {
    float* pw = partial.data() + (size_t)k * C;
    for (int n = k * kRows; n < N && n < (k + 1) * kRows; n++) {
      const float* x = inp + (size_t)n * C;
      const float* d = dout + (size_t)n * C;
      float* dx = dinp + (size_t)n * C;
      const float s = rstd[n];
      float xwd = 0.0f;
#pragma omp simd reduction(+ : xwd)
      for (int i = 0; i < C; i++) xwd += x[i] * weight[i] * d[i];
      const float c = xwd / C * s * s * s;
#pragma omp simd
      for (int i = 0; i < C; i++) {
        pw[i] += x[i] * s * d[i];
        dx[i] += s * weight[i] * d[i] - x[i] * c;
      }
    }
  }
  reduce_partials(dweight, partial, chunks, C, C, 0);
}

}  // namespace kiln::trainer::cpu
