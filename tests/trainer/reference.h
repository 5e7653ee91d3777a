// Shared by the trainer tests: the PyTorch fixtures and a normalized-error helper.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "corpus/stream.h"

namespace kiln::trainer::testing {

// ||a - b|| / max(||b||, tiny): the error measure every op and model test uses.
inline double normalized_error(const float* a, const float* b, size_t n) {
  double diff = 0.0, ref = 0.0;
  for (size_t i = 0; i < n; i++) {
    diff += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    ref += (double)b[i] * b[i];
  }
  return std::sqrt(diff) / std::max(std::sqrt(ref), 1e-30);
}

inline std::string fixture_path(const std::string& name) { return std::string(KILN_TEST_DATA_DIR) + "/trainer/" + name; }

// <name>_state.bin from scripts/fixtures/trainer/make_gpt_fixture.py.
struct DebugState {
  int B = 0, T = 0, V = 0, Vp = 0, steps = 0;
  std::vector<int32_t> x, y;     // (B,T)
  std::vector<float> logits;     // (B,T,V)
  float loss = 0.0f;
  std::vector<float> grads;      // (num_params)
  std::vector<float> step_losses;  // (steps)
};

inline DebugState read_debug_state(const std::string& name, size_t num_params) {
  const std::string bytes = read_file(fixture_path(name + "_state.bin"));
  int32_t h[256];
  std::memcpy(h, bytes.data(), sizeof h);
  DebugState s;
  s.B = h[2], s.T = h[3], s.V = h[4], s.Vp = h[5], s.steps = h[6];
  const size_t N = (size_t)s.B * s.T;
  size_t off = 1024;
  auto take = [&](auto& v, size_t count) {
    v.resize(count);
    std::memcpy(v.data(), bytes.data() + off, count * sizeof(v[0]));
    off += count * sizeof(v[0]);
  };
  take(s.x, N);
  take(s.y, N);
  take(s.logits, N * s.V);
  std::memcpy(&s.loss, bytes.data() + off, 4);
  off += 4;
  take(s.grads, num_params);
  take(s.step_losses, (size_t)s.steps);
  if (off != bytes.size()) throw std::runtime_error("debug state size mismatch: " + name);
  return s;
}

}  // namespace kiln::trainer::testing
