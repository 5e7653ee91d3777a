// MinHash against its oracles: the __int128 reference implementation, exact Jaccard
// of generated sets, and the S-curve P(s) = 1 − (1 − s^r)^b.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "corpus/error.h"
#include "dedup/minhash.h"
#include "dedup/normalize.h"
#include "dedup/src/normalize_internal.h"

namespace kiln::dedup {
namespace {

TEST(Normalize, FoldsCaseSpacePunctuationDigits) {
  std::string out;
  normalize_text("  Hello,   World 42!\n", {}, out);
  EXPECT_EQ(out, "hello, world 42!");
  normalize_text("  Hello,   World 42!\n", NormalizeOptions::parse("lower,space,punct,digits"), out);
  EXPECT_EQ(out, "hello world 00");
  normalize_text("ÉCOLE — Straße «x»", NormalizeOptions::parse("lower,space,punct"), out);
  EXPECT_EQ(out, "école straße x");
  normalize_text("a\u00a0\u3000b", NormalizeOptions::parse("space"), out);
  EXPECT_EQ(out, "a b");
  normalize_text("A  b", NormalizeOptions::parse("none"), out);
  EXPECT_EQ(out, "A  b");
  normalize_text("\u023a\u023a x", NormalizeOptions::parse("lower"), out);  // 2-byte → 3-byte lowercase
  EXPECT_EQ(out, "\u2c65\u2c65 x");
  normalize_text(std::string_view("a\0b", 3), NormalizeOptions::parse("lower,space,punct"), out);
  EXPECT_EQ(out, std::string("a\0b", 3));
  EXPECT_THROW(NormalizeOptions::parse("lower,bogus"), Error);
}

// The AVX-512 ASCII path (64-byte blocks, eager spaces) against the scalar loop, on
// random mixes of letters, digits, punctuation, every kind of space, NUL, and
// multi-byte code points, at lengths around the block size, for every option set.
TEST(Normalize, VectorPathEqualsScalar) {
  const std::vector<std::string> pieces = {"a", "Z", "q", "7", "0", ",", ".", "!", "'", " ", "  ", "\t", "\n", "\r\n",
                                           "\v", "\f", std::string(1, '\0'), "\x01", "\x02", "é", "É", "\u00a0",
                                           "\u3000", "—", "\u023a", "中", "\u2028", "٣", "Straße", "word", "WORD"};
  std::mt19937_64 rng(7);
  std::string fast, slow;
  for (int t = 0; t < 3000; ++t) {
    std::string text;
    const int target = int(rng() % 200);
    const bool ascii_heavy = t % 3 != 0;
    while (int(text.size()) < target) {
      size_t k = rng() % pieces.size();
      if (ascii_heavy && k >= 16 && rng() % 8) k = rng() % 16;
      text += pieces[k];
    }
    for (int bits = 0; bits < 16; ++bits) {
      NormalizeOptions o{bool(bits & 1), bool(bits & 2), bool(bits & 4), bool(bits & 8)};
      normalize_text(text, o, fast);
      normalize_text_scalar(text, o, slow);
      ASSERT_EQ(fast, slow) << "options " << o.to_string() << " trial " << t;
    }
  }
}

TEST(Shingles, WordAndCharacterNgrams) {
  std::vector<uint64_t> h;
  shingle_hashes("a b c d e f", ShingleKind::kWords, 5, h);
  EXPECT_EQ(h.size(), 2u);
  std::vector<uint64_t> h2;
  shingle_hashes("x a b c d e", ShingleKind::kWords, 5, h2);
  EXPECT_EQ(h2[1], h[0]);  // "a b c d e" hashes alike wherever it is
  shingle_hashes("a b", ShingleKind::kWords, 5, h);
  EXPECT_EQ(h.size(), 1u);  // shorter than one shingle: the whole text
  shingle_hashes("", ShingleKind::kWords, 5, h);
  EXPECT_TRUE(h.empty());
  shingle_hashes("héllo", ShingleKind::kChars, 3, h);
  EXPECT_EQ(h.size(), 3u);  // code points, not bytes: hél, éll, llo
}

// Sets with exactly known Jaccard: `shared` common elements, `only` on each side.
void make_pair(std::mt19937_64& rng, int shared, int only, std::vector<uint64_t>& a, std::vector<uint64_t>& b) {
  a.clear();
  b.clear();
  for (int i = 0; i < shared; ++i) {
    uint64_t x = rng();
    a.push_back(x);
    b.push_back(x);
  }
  for (int i = 0; i < only; ++i) a.push_back(rng()), b.push_back(rng());
}

TEST(MinHash, FastPathEqualsReference) {
  std::printf("[minhash] kernel: %s\n", minhash_kernel_name());
  std::mt19937_64 rng(3);
  for (int perms : {1, 7, 112, 256}) {
    MinHashOptions o;
    o.bands = perms;
    o.rows = 1;
    MinHasher hasher(o);
    std::vector<uint64_t> sh;
    std::vector<uint32_t> fast(perms), ref(perms);
    for (int t = 0; t < 20; ++t) {
      sh.clear();
      int n = int(rng() % 300) + 1;
      for (int i = 0; i < n; ++i) sh.push_back(t == 0 ? ~uint64_t(i) : rng());  // t = 0: values ≥ p
      hasher.signature(sh, fast.data());
      hasher.signature_reference(sh, ref.data());
      ASSERT_EQ(fast, ref) << "perms " << perms << " trial " << t;
    }
  }
}

// The Mersenne fold x = (v & p) + (v >> 61) lands in [p, p + 7] for a few v, where `% p`
// would subtract p once more; every kernel keeps the fold there, as the reference does
// (minhash.cpp, performance notes). Shingles built to hit those v and the top bits.
TEST(MinHash, KernelsAgreeOnFoldEdgeCases) {
  MinHashOptions o;
  MinHasher hasher(o);
  const int K = o.num_perm();
  std::vector<uint64_t> targets = {kMersenne61, kMersenne61 + 1, ~uint64_t(0), ~uint64_t(0) - 3,
                                   (uint64_t(6) << 61) | (kMersenne61 - 5), uint64_t(7) << 61};
  int crafted = 0;
  for (int k = 0; k < K; ++k) {
    const uint64_t a = hasher.multiplier(k), b = hasher.offset(k);
    if ((a & 1) == 0) continue;  // h ↦ a·h + b is invertible mod 2^64 only for odd a
    uint64_t inv = a;            // Newton: each step doubles the correct low bits
    for (int i = 0; i < 6; ++i) inv *= 2 - a * inv;
    ASSERT_EQ(a * inv, 1u);
    for (uint64_t v : targets) {
      std::vector<uint64_t> sh = {(v - b) * inv};
      std::vector<uint32_t> fast(K), ref(K);
      hasher.signature(sh, fast.data());
      hasher.signature_reference(sh, ref.data());
      ASSERT_EQ(fast, ref) << "k " << k << " v " << v;
      uint64_t x = (v & kMersenne61) + (v >> 61);
      ASSERT_EQ(ref[size_t(k)], uint32_t(x));
      ++crafted;
    }
  }
  EXPECT_GT(crafted, 100);
}

// Bit for bit against the numpy reference (benchmarks/dedup/reference_minhash.py, the
// datasketch arithmetic): tests/data/dedup/reference_signatures.jsonl, written by
// scripts/fixtures/dedup/make_reference_signatures.py.
TEST(MinHash, SignaturesMatchNumpyReference) {
  MinHashOptions o;
  MinHasher hasher(o);
  simdjson::dom::parser parser;
  simdjson::dom::document_stream docs;
  ASSERT_EQ(parser.load_many(KILN_TEST_DATA_DIR "/dedup/reference_signatures.jsonl").get(docs), simdjson::SUCCESS);
  std::string norm;
  std::vector<uint64_t> sh;
  std::vector<uint32_t> sig(size_t(o.num_perm()));
  std::vector<Key128> keys(size_t(o.bands));
  int n = 0;
  for (auto doc : docs) {
    std::string_view text;
    ASSERT_EQ(doc["text"].get(text), simdjson::SUCCESS);
    normalize_text(text, o.normalize, norm);
    shingle_hashes(norm, o.shingle, o.ngram, sh);
    hasher.signature(sh, sig.data());
    hasher.band_keys(sig.data(), keys.data());
    size_t k = 0;
    for (auto v : doc["sig"].get_array()) ASSERT_EQ(sig[k++], uint64_t(v.get_uint64())) << "document " << n << " k " << k - 1;
    ASSERT_EQ(k, sig.size());
    size_t j = 0;
    for (auto v : doc["keys"].get_array()) {
      char hex[33];
      std::snprintf(hex, sizeof hex, "%016llx%016llx", (unsigned long long)keys[j].hi, (unsigned long long)keys[j].lo);
      ASSERT_EQ(std::string_view(v.get_string()), std::string_view(hex)) << "document " << n << " band " << j;
      ++j;
    }
    ++n;
  }
  EXPECT_EQ(n, 45);
}

TEST(MinHash, EstimateErrorShrinksAsOneOverSqrtK) {
  // Agreement rate of K values is a binomial mean: σ = sqrt(J(1−J)/K), and the mean
  // absolute error is sqrt(2/π)·σ. Check each K against that and the 1/sqrt(K) trend.
  std::mt19937_64 rng(11);
  const int trials = 300;
  std::vector<double> errors;
  for (int K : {32, 128, 512}) {
    MinHashOptions o;
    o.bands = K;
    o.rows = 1;
    o.seed = 5;
    MinHasher hasher(o);
    std::vector<uint64_t> a, b;
    std::vector<uint32_t> sa(K), sb(K);
    double sum_abs = 0, sum_expected = 0;
    for (int t = 0; t < trials; ++t) {
      int shared = 20 + int(rng() % 200), only = int(rng() % 150);
      double J = double(shared) / (shared + 2 * only);
      make_pair(rng, shared, only, a, b);
      hasher.signature(a, sa.data());
      hasher.signature(b, sb.data());
      int agree = 0;
      for (int k = 0; k < K; ++k) agree += sa[k] == sb[k];
      sum_abs += std::fabs(double(agree) / K - J);
      sum_expected += std::sqrt(2 / M_PI) * std::sqrt(J * (1 - J) / K);
    }
    double mae = sum_abs / trials, expected = sum_expected / trials;
    errors.push_back(mae);
    EXPECT_LT(mae, 1.25 * expected) << "K=" << K;
    EXPECT_GT(mae, 0.75 * expected) << "K=" << K;  // not suspiciously good either
  }
  EXPECT_NEAR(errors[0] / errors[1], 2.0, 0.5);  // K ×4 → error ÷2
  EXPECT_NEAR(errors[1] / errors[2], 2.0, 0.5);
}

TEST(MinHash, CandidateRateFollowsSCurve) {
  MinHashOptions o;  // 14 × 8
  MinHasher hasher(o);
  std::mt19937_64 rng(17);
  const int trials = 400;
  std::vector<uint64_t> a, b;
  std::vector<uint32_t> sa(o.num_perm()), sb(o.num_perm());
  std::vector<Key128> ka(o.bands), kb(o.bands);
  for (double s : {0.3, 0.5, 0.6, 0.7, 0.8, 0.9}) {
    // J = shared / (shared + 2·only) with shared + 2·only = 400.
    int shared = int(std::lround(400 * s));
    int only = (400 - shared) / 2;
    double J = double(shared) / (shared + 2 * only);
    int hits = 0;
    for (int t = 0; t < trials; ++t) {
      make_pair(rng, shared, only, a, b);
      hasher.signature(a, sa.data());
      hasher.signature(b, sb.data());
      hasher.band_keys(sa.data(), ka.data());
      hasher.band_keys(sb.data(), kb.data());
      bool hit = false;
      for (int j = 0; j < o.bands; ++j) hit |= ka[j] == kb[j];
      hits += hit;
    }
    double p = lsh_candidate_probability(J, o.bands, o.rows);
    double sigma = std::sqrt(p * (1 - p) / trials);
    EXPECT_NEAR(double(hits) / trials, p, 4 * sigma + 0.01) << "s=" << J;
  }
}

TEST(MinHash, SCurveNumbers) {
  EXPECT_NEAR(lsh_candidate_probability(0.8, 14, 8), 0.9235, 1e-4);
  EXPECT_NEAR(lsh_threshold(14, 8), 0.685, 1e-3);
  EXPECT_DOUBLE_EQ(lsh_candidate_probability(1.0, 14, 8), 1.0);
  uint64_t a[] = {1, 2, 3, 4}, b[] = {3, 4, 5};
  EXPECT_DOUBLE_EQ(jaccard_sorted(a, 4, b, 3), 2.0 / 5.0);
}

TEST(MinHash, SeedChangesPermutationsDeterministically) {
  MinHashOptions o;
  std::vector<uint64_t> sh = {1, 2, 3, 99, 12345678901234567ull};
  std::vector<uint32_t> s1(o.num_perm()), s2(o.num_perm()), s3(o.num_perm());
  MinHasher(o).signature(sh, s1.data());
  MinHasher(o).signature(sh, s2.data());
  o.seed = 2;
  MinHasher(o).signature(sh, s3.data());
  EXPECT_EQ(s1, s2);
  EXPECT_NE(s1, s3);
}

}  // namespace
}  // namespace kiln::dedup
