// Shared by the kernel tests: random tensors and the normalized error every comparison uses.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "trainer/rng.h"

namespace kiln::kernels::testing {

// ||a - b|| / max(||b||, tiny), in double.
inline double normalized_error(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0.0, ref = 0.0;
  for (size_t i = 0; i < a.size() && i < b.size(); i++) {
    const double d = (double)a[i] - b[i];
    diff += d * d;
    ref += (double)b[i] * b[i];
  }
  if (a.size() != b.size()) return INFINITY;
  for (float x : a)
    if (!std::isfinite(x)) return INFINITY;  // NaN (e.g. the poison of an unwritten output) never passes
  return std::sqrt(diff) / std::max(std::sqrt(ref), 1e-30);
}

inline std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
  trainer::Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = scale * rng.normal();
  return v;
}

inline std::vector<int32_t> random_tokens(size_t n, int V, uint64_t seed) {
  trainer::Rng rng(seed);
  std::vector<int32_t> v(n);
  for (int32_t& t : v) t = (int32_t)rng.below(V);
  return v;
}

}  // namespace kiln::kernels::testing
