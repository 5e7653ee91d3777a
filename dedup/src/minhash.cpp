#include "dedup/minhash.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>

#include "corpus/error.h"

namespace kiln::dedup {

namespace {

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// h mod p for any 64-bit h (p = 2^61 − 1).
inline uint64_t reduce61(uint64_t h) {
  uint64_t x = (h & kMersenne61) + (h >> 61);
  return x >= kMersenne61 ? x - kMersenne61 : x;
}

}  // namespace

void shingle_hashes(std::string_view text, ShingleKind kind, int ngram, std::vector<uint64_t>& out) {
  out.clear();
  if (text.empty() || ngram <= 0) return;
  // (start, end) byte offsets of the units (words or code points) in text order.
  thread_local std::vector<uint32_t> starts, ends;
  starts.clear();
  ends.clear();
  const size_t n = text.size();
  if (kind == ShingleKind::kWords) {
    size_t i = 0;
    while (i < n) {
      while (i < n && is_ascii_space(text[i])) ++i;
      if (i == n) break;
      size_t s = i;
      while (i < n && !is_ascii_space(text[i])) ++i;
      starts.push_back(uint32_t(s));
      ends.push_back(uint32_t(i));
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // continuation byte
      if (!starts.empty()) ends.push_back(uint32_t(i));
      starts.push_back(uint32_t(i));
    }
    ends.push_back(uint32_t(n));
  }
  const size_t units = starts.size();
  if (units == 0) return;
  if (units <= size_t(ngram)) {
    out.push_back(XXH3_64bits(text.data() + starts[0], ends[units - 1] - starts[0]));
    return;
  }
  out.reserve(units - ngram + 1);
  for (size_t i = 0; i + ngram <= units; ++i) {
    uint32_t s = starts[i], e = ends[i + ngram - 1];
    out.push_back(XXH3_64bits(text.data() + s, e - s));
  }
}

MinHasher::MinHasher(const MinHashOptions& o) : bands_(o.bands), rows_(o.rows) {
  if (o.bands <= 0 || o.rows <= 0 || o.bands * o.rows > 4096)
    throw Error(cat("minhash: bands (", o.bands, ") and rows (", o.rows, ") must be positive, at most 4096 permutations"));
  if (o.ngram <= 0) throw Error(cat("minhash: ngram must be positive, not ", o.ngram));
  const int K = o.num_perm();
  uint64_t state = o.seed;
  for (int k = 0; k < K; ++k) {
    // a in [1, p), b in [0, p): rejection keeps them uniform.
    uint64_t a, b;
    do a = splitmix64(state) >> 3; while (a == 0 || a >= kMersenne61);
    do b = splitmix64(state) >> 3; while (b >= kMersenne61);
    a_.push_back(a);
    b_.push_back(b);
    a_lo_.push_back(uint32_t(a));
    a_hi_.push_back(uint32_t(a >> 32));  // < 2^29
  }
}

// Performance notes. π_k(x) needs the 122-bit product a·x reduced mod 2^61 − 1. With
// x = x1·2^32 + x0 and a = a1·2^32 + a0 (x1, a1 < 2^29) the four 32×32→64 products
// reduce without carries because 2^61 ≡ 1:
//   a·x ≡ 8·a1x1 + (mid >> 29) + ((mid & (2^29−1)) << 32) + (lo & p) + (lo >> 61),
//   mid = a1x0 + a0x1 < 2^62, lo = a0x0,
// a sum below 2^63, folded once more. Every step is a 64-bit lane operation, so GCC
// turns the k-loop into vpmuludq/vpaddq/vpsrlq on 4 lanes (AVX2) or 8 (AVX-512).
// Tried: unsigned __int128 per value (signature_reference) — scalar mulx + a 128-bit
// modulo, ~6× slower; datasketch's wrapping uint64 product — not a permutation of Z_p.
void MinHasher::signature(const std::vector<uint64_t>& shingles, uint64_t* __restrict sig) const {
  const int K = num_perm();
  std::fill(sig, sig + K, ~uint64_t(0));
  const uint32_t* __restrict alo = a_lo_.data();
  const uint32_t* __restrict ahi = a_hi_.data();
  const uint64_t* __restrict bb = b_.data();
  constexpr uint64_t P = kMersenne61;
  constexpr uint64_t M29 = (uint64_t(1) << 29) - 1;
  for (uint64_t h : shingles) {
    const uint64_t x = reduce61(h);
    const uint64_t x0 = uint32_t(x), x1 = x >> 32;
    for (int k = 0; k < K; ++k) {
      const uint64_t a0 = alo[k], a1 = ahi[k];
      const uint64_t lo = a0 * x0;
      const uint64_t mid = a1 * x0 + a0 * x1;
      const uint64_t hi = a1 * x1;
      uint64_t v = (lo & P) + (lo >> 61) + ((mid & M29) << 32) + (mid >> 29) + (hi << 3) + bb[k];
      v = (v & P) + (v >> 61);
      v = v >= P ? v - P : v;
      sig[k] = v < sig[k] ? v : sig[k];
    }
  }
}

void MinHasher::signature_reference(const std::vector<uint64_t>& shingles, uint64_t* sig) const {
  const int K = num_perm();
  for (int k = 0; k < K; ++k) {
    uint64_t best = ~uint64_t(0);
    for (uint64_t h : shingles) {
      unsigned __int128 v = (unsigned __int128)a_[k] * (h % kMersenne61) + b_[k];
      best = std::min(best, uint64_t(v % kMersenne61));
    }
    sig[k] = best;
  }
}

void MinHasher::band_keys(const uint64_t* sig, Key128* keys) const {
  for (int j = 0; j < bands_; ++j) {
    XXH128_hash_t h = XXH3_128bits(sig + size_t(j) * rows_, sizeof(uint64_t) * rows_);
    keys[j] = {h.high64, h.low64};
  }
}

double lsh_candidate_probability(double s, int bands, int rows) {
  return 1.0 - std::pow(1.0 - std::pow(s, rows), bands);
}

double lsh_threshold(int bands, int rows) {
  double lo = 0, hi = 1;
  for (int i = 0; i < 60; ++i) {
    double mid = (lo + hi) / 2;
    (lsh_candidate_probability(mid, bands, rows) < 0.5 ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

double jaccard_sorted(const uint64_t* a, size_t na, const uint64_t* b, size_t nb) {
  if (na == 0 && nb == 0) return 1.0;
  size_t i = 0, j = 0, both = 0;
  while (i < na && j < nb) {
    if (a[i] < b[j]) ++i;
    else if (b[j] < a[i]) ++j;
    else ++both, ++i, ++j;
  }
  return double(both) / double(na + nb - both);
}

}  // namespace kiln::dedup
