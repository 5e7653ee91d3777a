// The trainer's random numbers: one 64-bit state (splitmix64), so a checkpoint stores it as
// one integer and a resumed run draws exactly the numbers the uninterrupted run would have.
#pragma once

#include <cmath>
#include <cstdint>

namespace kiln::trainer {

struct Rng {
  uint64_t state = 0;

  explicit Rng(uint64_t seed = 0) : state(seed) {}
  uint64_t next_u64() {  // splitmix64 (Steele, Lea, Flood 2014)
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 24 random bits (every value exactly representable).
  float uniform() { return (float)(next_u64() >> 40) * (1.0f / 16777216.0f); }
  // Uniform integer in [0, n), n > 0 (multiply-shift; bias < n / 2^64).
  uint64_t below(uint64_t n) { return (uint64_t)(((unsigned __int128)next_u64() * n) >> 64); }
  // Standard normal by Box-Muller (one value per call; the sine branch is discarded).
  float normal() {
    const double u1 = ((next_u64() >> 11) + 1) * (1.0 / 9007199254740993.0);  // (0, 1]
    const double u2 = (next_u64() >> 11) * (1.0 / 9007199254740992.0);
    return (float)(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
};

}  // namespace kiln::trainer
