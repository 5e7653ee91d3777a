// MinHash signatures and LSH band keys.
//
// A document becomes a set of shingles (word n-grams, default 5, or character n-grams),
// each hashed once to 64 bits (xxh3). K = bands × rows hash functions
// π_k(h) = low 32 bits of ((a_k·h + b_k) mod 2^64) mod p, p = 2^61 − 1, a_k, b_k drawn
// from `seed`: the arithmetic of datasketch and text-dedup (a uint64 product that wraps,
// the Mersenne modulus, `& 0xFFFFFFFF`), with the modulus taken as one fold
// (v & p) + (v >> 61), which differs from `% p` for at most one value in 2^58 (minhash.cpp).
// The signature is sig[k] = min over shingles of π_k(h). Two documents agree on sig[k]
// with probability ≈ the Jaccard similarity of their shingle sets, so a band of r rows
// matches with probability s^r and at least one of b bands with P(s) = 1 − (1 − s^r)^b
// (the S-curve; `kiln dedup plan` prints it).
//
// Computed with AVX-512 (vpmullq) or AVX2 kernels picked at run time: see minhash.cpp.
//
//   MinHashOptions options;                 // 5-word shingles, 14 bands × 8 rows
//   MinHasher hasher(options);
//   std::vector<uint64_t> shingles;
//   std::vector<uint32_t> sig(hasher.num_perm());
//   shingle_hashes("the normalized text ...", options.shingle, options.ngram, shingles);
//   hasher.signature(shingles, sig.data());
//   std::vector<Key128> keys(options.bands);
//   hasher.band_keys(sig.data(), keys.data());
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dedup/normalize.h"

namespace kiln::dedup {

inline constexpr uint64_t kMersenne61 = (uint64_t(1) << 61) - 1;

enum class ShingleKind {
  kWords,  // n consecutive words (whitespace-separated after normalization)
  kChars,  // n consecutive code points
};

struct MinHashOptions {
  ShingleKind shingle = ShingleKind::kWords;
  int ngram = 5;    // words (or code points) per shingle; datatrove and FineWeb use 5 words
  int bands = 14;   // b: LSH bands; 14 × 8 puts the S-curve's midpoint at ≈ 0.72
  int rows = 8;     // r: signature values per band
  uint64_t seed = 1;  // draws the permutations; same seed, same signatures
  // Applied before shingling: lowercase, whitespace, punctuation and digits folded, as
  // datatrove's simplify_text does for its MinHash.
  NormalizeOptions normalize = {true, true, true, true};

  int num_perm() const { return bands * rows; }
};

struct Key128 {
  uint64_t hi = 0, lo = 0;
  friend bool operator==(const Key128&, const Key128&) = default;
  friend auto operator<=>(const Key128&, const Key128&) = default;
};

// Appends the 64-bit hash of every shingle of already-normalized `text` to `out`
// (cleared first), in text order, repeats included. A text shorter than one shingle
// yields one shingle of all of it; an empty text yields none.
void shingle_hashes(std::string_view normalized, ShingleKind kind, int ngram, std::vector<uint64_t>& out);

class MinHasher {
 public:
  explicit MinHasher(const MinHashOptions& options);
  int num_perm() const { return int(b_.size()); }

  // sig[k] (K values) = min over shingles of π_k(h); all-ones when there is no shingle.
  void signature(const uint64_t* shingles, size_t n, uint32_t* sig) const;
  void signature(const std::vector<uint64_t>& shingles, uint32_t* sig) const {
    signature(shingles.data(), shingles.size(), sig);
  }
  // The same written plainly (`(a * h + b) % p`, one value at a time): the oracle the
  // vector kernels are tested against.
  void signature_reference(const std::vector<uint64_t>& shingles, uint32_t* sig) const;
  // One 128-bit key per band: xxh3-128 of the band's `rows` signature values (uint32,
  // little-endian).
  void band_keys(const uint32_t* sig, Key128* keys) const;
  // The permutation parameters (for tests and reference implementations).
  uint64_t multiplier(int k) const { return a_[size_t(k)]; }
  uint64_t offset(int k) const { return b_[size_t(k)]; }

 private:
  int bands_, rows_;
  std::vector<uint64_t> a_, b_;          // (K) multipliers in [1, p) and offsets in [0, p)
  std::vector<uint64_t> a_pad_, b_pad_;  // (K rounded up to 8) for the vector kernels
};

// The signature kernel picked for this CPU: "avx512", "avx2" or "portable"
// (KILN_MINHASH_KERNEL=portable|avx2 forces a slower one, for tests and benchmarks).
const char* minhash_kernel_name();

// Probability that a pair with Jaccard similarity s becomes an LSH candidate.
double lsh_candidate_probability(double s, int bands, int rows);
// The similarity where P(s) = 1/2 (the S-curve's midpoint), and the ≈ (1/b)^(1/r) rule of thumb.
double lsh_threshold(int bands, int rows);

// Exact Jaccard similarity of two sorted, de-duplicated hash lists.
double jaccard_sorted(const uint64_t* a, size_t na, const uint64_t* b, size_t nb);

}  // namespace kiln::dedup
