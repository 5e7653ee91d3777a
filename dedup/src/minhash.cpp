#include "dedup/minhash.h"

#define XXH_INLINE_ALL  // shingles are ~30 bytes: no call through the shared library
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>
#if defined(__x86_64__)
#include <immintrin.h>
// GCC 12 reports its own _mm512_undefined_*() placeholders inside the intrinsics as
// uninitialized when they are inlined into target("avx512...") functions.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

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

}  // namespace

namespace {

// Word boundaries of `text` (runs of bytes other than ASCII white space) appended to
// starts/ends. 64 bytes at a time: a white-space mask, then word starts (non-space
// after space) and ends (space after non-space) read off with tzcnt.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512bw,bmi"))) void split_words_avx512(std::string_view text,
                                                                        std::vector<uint32_t>& starts,
                                                                        std::vector<uint32_t>& ends) {
  const size_t n = text.size();
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const __m512i space = _mm512_set1_epi8(' '), tab = _mm512_set1_epi8('\t'), four = _mm512_set1_epi8(4);
  uint64_t prev_ws = 1;  // before the text counts as space
  for (size_t i = 0; i < n; i += 64) {
    const size_t len = std::min<size_t>(64, n - i);
    const __mmask64 valid = len == 64 ? ~__mmask64(0) : (__mmask64(1) << len) - 1;
    const __m512i in = _mm512_maskz_loadu_epi8(valid, p + i);
    // ' ' or \t \n \v \f \r (0x09–0x0D); bytes past the end count as space.
    const uint64_t ws = _mm512_cmpeq_epi8_mask(in, space) |
                        _mm512_cmple_epu8_mask(_mm512_sub_epi8(in, tab), four) | ~uint64_t(valid);
    const uint64_t shifted = (ws << 1) | prev_ws;
    uint64_t st = ~ws & shifted, en = ws & ~shifted;
    prev_ws = ws >> 63;
    while (st) {
      starts.push_back(uint32_t(i + size_t(__builtin_ctzll(st))));
      st &= st - 1;
    }
    while (en) {
      ends.push_back(uint32_t(i + size_t(__builtin_ctzll(en))));
      en &= en - 1;
    }
  }
  if (!prev_ws) ends.push_back(uint32_t(n));  // a word runs to the end of a multiple of 64
}
#endif

void split_words_portable(std::string_view text, std::vector<uint32_t>& starts, std::vector<uint32_t>& ends) {
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    while (i < n && is_ascii_space(text[i])) ++i;
    if (i == n) break;
    size_t s = i;
    while (i < n && !is_ascii_space(text[i])) ++i;
    starts.push_back(uint32_t(s));
    ends.push_back(uint32_t(i));
  }
}

bool use_avx512_text() {
#if defined(__x86_64__) && defined(__GNUC__)
  const char* force = std::getenv("KILN_MINHASH_KERNEL");
  if (force && std::string_view(force) != "avx512") return false;
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#else
  return false;
#endif
}

const bool kAvx512Text = use_avx512_text();

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
#if defined(__x86_64__) && defined(__GNUC__)
    if (kAvx512Text) split_words_avx512(text, starts, ends);
    else split_words_portable(text, starts, ends);
#else
    split_words_portable(text, starts, ends);
#endif
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
  out.resize(units - ngram + 1);
  uint64_t* o = out.data();
  const uint32_t *s = starts.data(), *e = ends.data() + ngram - 1;
  for (size_t i = 0; i + ngram <= units; ++i) o[i] = XXH3_64bits(text.data() + s[i], e[i] - s[i]);
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
  }
  // Padded to a multiple of 8 permutations for the vector kernels (a = 1, b = 0 extra).
  a_pad_ = a_;
  b_pad_ = b_;
  while (a_pad_.size() % 8) a_pad_.push_back(1), b_pad_.push_back(0);
}

// Performance notes. π_k(h) = low 32 bits of x = (v & p) + (v >> 61), v = a_k·h + b_k
// wrapping mod 2^64: datasketch's and text-dedup's `(a * hv + b) % MERSENNE & MAX_HASH`
// with the modulus as one Mersenne fold. x ≡ v (mod p) and x ≤ p + 7; `% p` would
// subtract p once more when x ≥ p, which needs bits 3..60 of v all ones (probability
// ≤ 2^-58 per value), giving one more in the low 32 bits. benchmarks/dedup/
// reference_minhash.py computes the same fold in numpy and matches kiln bit for bit.
// The low 32 bits of x are those of v + (v >> 61), so an AVX-512 lane needs vpmullq,
// vpaddq (b), vpsrlq, vpaddd and vpminud: the running minimum is a 32-bit unsigned min
// over the 64-bit lanes, whose high halves are never read. a and b stay in registers
// for blocks of up to 8 vectors (64 permutations; K = 112 runs as 2 × 56) while the
// shingles stream from L1.
// Measured on 20 Newsgroups (one Zen 4 core, signature step alone): exact 122-bit
// products mod p in 32-bit limbs (the previous kernel, 21 instructions per 8 lanes)
// ~75–145 MB/s; wrapping product + fold + canonical step via vpminuq 250–270 MB/s,
// via compare-mask + masked subtract ~390 MB/s; fold only (this) ~650 MB/s. AVX2
// emulates vpmullq with 3 vpmuludq: ~0.6× the AVX-512 rate; the portable loop ~0.3×.
namespace {

constexpr uint64_t P61 = kMersenne61;

void signature_portable(const uint64_t* xs, size_t n, const uint64_t* a, const uint64_t* b, int K, uint32_t* sig) {
  for (size_t i = 0; i < n; ++i) {
    const uint64_t h = xs[i];
    for (int k = 0; k < K; ++k) {
      const uint64_t v = a[k] * h + b[k];  // wraps mod 2^64, as numpy's uint64 does
      const uint32_t x = uint32_t((v & P61) + (v >> 61));
      sig[k] = x < sig[k] ? x : sig[k];
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// J vectors of 8 permutations over all shingles; minima in registers.
template <int J>
__attribute__((target("avx512f,avx512dq"))) inline void block_avx512(const uint64_t* xs, size_t n,
                                                                      const uint64_t* a, const uint64_t* b,
                                                                      uint32_t* sig) {
  __m512i s[J];
  for (int j = 0; j < J; ++j) s[j] = _mm512_set1_epi32(-1);
  for (size_t i = 0; i < n; ++i) {
    const __m512i h = _mm512_set1_epi64(int64_t(xs[i]));
    for (int j = 0; j < J; ++j) {
      __m512i v = _mm512_add_epi64(_mm512_mullo_epi64(h, _mm512_loadu_si512(a + 8 * j)),
                                   _mm512_loadu_si512(b + 8 * j));
      // Low 32 bits of the fold (v & p) + (v >> 61) = low 32 bits of v + (v >> 61).
      __m512i x = _mm512_add_epi32(v, _mm512_srli_epi64(v, 61));
      s[j] = _mm512_min_epu32(s[j], x);  // low halves only: the high halves are not read
    }
  }
  for (int j = 0; j < J; ++j)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sig + 8 * j), _mm512_cvtepi64_epi32(s[j]));
}

__attribute__((target("avx512f,avx512dq"))) void signature_avx512(const uint64_t* xs, size_t n, const uint64_t* a,
                                                                   const uint64_t* b, int K, uint32_t* sig) {
  // K is padded to a multiple of 8; blocks of at most 8 vectors, as even as possible.
  const int V = K / 8, blocks = (V + 7) / 8, per = (V + blocks - 1) / blocks;
  for (int v0 = 0; v0 < V; v0 += per) {
    const int J = std::min(per, V - v0);
    const uint64_t *pa = a + 8 * v0, *pb = b + 8 * v0;
    uint32_t* ps = sig + 8 * v0;
    switch (J) {
      case 1: block_avx512<1>(xs, n, pa, pb, ps); break;
      case 2: block_avx512<2>(xs, n, pa, pb, ps); break;
      case 3: block_avx512<3>(xs, n, pa, pb, ps); break;
      case 4: block_avx512<4>(xs, n, pa, pb, ps); break;
      case 5: block_avx512<5>(xs, n, pa, pb, ps); break;
      case 6: block_avx512<6>(xs, n, pa, pb, ps); break;
      case 7: block_avx512<7>(xs, n, pa, pb, ps); break;
      default: block_avx512<8>(xs, n, pa, pb, ps); break;
    }
  }
}

// AVX2 has no 64-bit low multiply: a·h mod 2^64 = a0·h0 + ((a1·h0 + a0·h1) << 32).
__attribute__((target("avx2"))) void signature_avx2(const uint64_t* xs, size_t n, const uint64_t* a,
                                                    const uint64_t* b, int K, uint32_t* sig) {
  constexpr int J = 4;  // 16 permutations per block (K is a multiple of 8)
  for (int k0 = 0; k0 < K; k0 += 4 * J) {
    const int nj = std::min(J, (K - k0) / 4);
    __m256i a0[J], a1[J], bb[J], s[J];
    for (int j = 0; j < nj; ++j) {
      a0[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + k0 + 4 * j));
      a1[j] = _mm256_srli_epi64(a0[j], 32);
      bb[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + k0 + 4 * j));
      s[j] = _mm256_set1_epi32(-1);
    }
    for (size_t i = 0; i < n; ++i) {
      const __m256i h0 = _mm256_set1_epi64x(int64_t(xs[i]));
      const __m256i h1 = _mm256_srli_epi64(h0, 32);
      for (int j = 0; j < nj; ++j) {
        __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(a1[j], h0), _mm256_mul_epu32(a0[j], h1));
        __m256i v = _mm256_add_epi64(_mm256_mul_epu32(a0[j], h0), _mm256_slli_epi64(cross, 32));
        v = _mm256_add_epi64(v, bb[j]);
        s[j] = _mm256_min_epu32(s[j], _mm256_add_epi32(v, _mm256_srli_epi64(v, 61)));
      }
    }
    for (int j = 0; j < nj; ++j) {
      // Low 32 bits of each 64-bit lane: lanes 0, 2, 4, 6 of the 32-bit view.
      __m256i packed = _mm256_permutevar8x32_epi32(s[j], _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(sig + k0 + 4 * j), _mm256_castsi256_si128(packed));
    }
  }
}
#endif

using Kernel = void (*)(const uint64_t*, size_t, const uint64_t*, const uint64_t*, int, uint32_t*);

Kernel pick_kernel() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (const char* force = std::getenv("KILN_MINHASH_KERNEL")) {  // for benchmarks and tests
    std::string_view f(force);
    if (f == "portable") return signature_portable;
    if (f == "avx2" && __builtin_cpu_supports("avx2")) return signature_avx2;
  }
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) return signature_avx512;
  if (__builtin_cpu_supports("avx2")) return signature_avx2;
#endif
  return signature_portable;
}

const Kernel kKernel = pick_kernel();

}  // namespace

const char* minhash_kernel_name() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (kKernel == signature_avx512) return "avx512";
  if (kKernel == signature_avx2) return "avx2";
#endif
  return "portable";
}

void MinHasher::signature(const uint64_t* shingles, size_t n, uint32_t* sig) const {
  const int K = num_perm();
  if (n == 0) {
    std::fill(sig, sig + K, ~uint32_t(0));
    return;
  }
  if (size_t(K) == a_pad_.size()) {
    std::fill(sig, sig + K, ~uint32_t(0));
    kKernel(shingles, n, a_pad_.data(), b_pad_.data(), K, sig);
    return;
  }
  thread_local std::vector<uint32_t> out;
  out.assign(a_pad_.size(), ~uint32_t(0));
  kKernel(shingles, n, a_pad_.data(), b_pad_.data(), int(a_pad_.size()), out.data());
  std::copy(out.begin(), out.begin() + K, sig);
}

void MinHasher::signature_reference(const std::vector<uint64_t>& shingles, uint32_t* sig) const {
  const int K = num_perm();
  for (int k = 0; k < K; ++k) {
    uint32_t best = ~uint32_t(0);
    for (uint64_t h : shingles) {
      const uint64_t v = a_[k] * h + b_[k];
      best = std::min(best, uint32_t(((v & kMersenne61) + (v >> 61)) & 0xFFFFFFFF));
    }
    sig[k] = best;
  }
}

void MinHasher::band_keys(const uint32_t* sig, Key128* keys) const {
  for (int j = 0; j < bands_; ++j) {
    XXH128_hash_t h = XXH3_128bits(sig + size_t(j) * rows_, sizeof(uint32_t) * rows_);
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
