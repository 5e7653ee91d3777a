#include "dedup/normalize.h"

#include <utf8proc.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#if defined(__x86_64__)
#include <immintrin.h>
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC 12 and _mm512_undefined_*() (see minhash.cpp)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "corpus/error.h"
#include "dedup/src/normalize_internal.h"

namespace kiln::dedup {

NormalizeOptions NormalizeOptions::parse(std::string_view spec) {
  NormalizeOptions o;
  o.lowercase = o.collapse_whitespace = o.strip_punctuation = o.digits_to_zero = false;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string_view::npos) comma = spec.size();
    std::string_view word = spec.substr(start, comma - start);
    if (word == "lower") o.lowercase = true;
    else if (word == "space") o.collapse_whitespace = true;
    else if (word == "punct") o.strip_punctuation = true;
    else if (word == "digits") o.digits_to_zero = true;
    else if (word == "none" || word.empty()) {
    } else {
      throw Error(cat("normalization '", spec, "': unknown word '", word, "' (expected lower, space, punct, digits or none)"));
    }
    start = comma + 1;
  }
  return o;
}

std::string NormalizeOptions::to_string() const {
  std::string s;
  auto add = [&](bool on, const char* w) {
    if (!on) return;
    if (!s.empty()) s += ',';
    s += w;
  };
  add(lowercase, "lower");
  add(collapse_whitespace, "space");
  add(strip_punctuation, "punct");
  add(digits_to_zero, "digits");
  return s.empty() ? "none" : s;
}

namespace {

bool is_unicode_space(utf8proc_int32_t c) {
  if (c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
      c == 0x202F || c == 0x205F || c == 0x3000)
    return true;
  return false;
}

bool is_punct_category(utf8proc_category_t cat) {
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

}  // namespace

namespace {

// What the ASCII fast path does with each byte under one combination of options.
constexpr uint8_t kDrop = 0, kSpace = 1;  // other values: the byte to write
struct AsciiTable {
  uint8_t action[128];
};

AsciiTable make_table(const NormalizeOptions& o) {
  AsciiTable t{};
  for (int c = 0; c < 128; ++c) {
    uint8_t b = uint8_t(c);
    bool space = b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v';
    // ASCII punctuation and symbols: Python's string.punctuation, as datatrove strips it.
    bool punct = (b >= '!' && b <= '/') || (b >= ':' && b <= '@') || (b >= '[' && b <= '`') || (b >= '{' && b <= '~');
    if (space && o.collapse_whitespace) t.action[c] = kSpace;
    else if (punct && o.strip_punctuation) t.action[c] = kDrop;
    else if (o.digits_to_zero && b >= '0' && b <= '9') t.action[c] = '0';
    else if (o.lowercase && b >= 'A' && b <= 'Z') t.action[c] = b + 32;
    else t.action[c] = b;
  }
  // NUL and bytes that map to 0/1 must still be written: mark them for the slow path.
  t.action[0] = 0xFF;
  t.action[1] = 0xFF;
  return t;
}

const AsciiTable& table_for(const NormalizeOptions& o) {
  static const auto tables = [] {
    std::array<AsciiTable, 16> all{};
    for (int bits = 0; bits < 16; ++bits)
      all[size_t(bits)] = make_table({bool(bits & 1), bool(bits & 2), bool(bits & 4), bool(bits & 8)});
    return all;
  }();
  int bits = (o.lowercase ? 1 : 0) | (o.collapse_whitespace ? 2 : 0) | (o.strip_punctuation ? 4 : 0) |
             (o.digits_to_zero ? 8 : 0);
  return tables[size_t(bits)];
}

// ASCII runs 64 bytes at a time (AVX-512 VBMI2), when whitespace is collapsed: each byte
// is mapped through the action table with one vpermi2b, dropped bytes (punctuation)
// squeezed out with vpcompressb, then every space that follows a space (or starts the
// output) squeezed out with a second one. Spaces are written eagerly here, where the
// scalar path defers them ("pending"); a trailing one is trimmed at the end, so the
// output is the same byte for byte (tested against normalize_text_scalar). Stops at the
// first byte ≥ 0x80 or < 2 (the table's "write as is" entries) and returns the bytes
// consumed. `w` needs 64 bytes of slack: whole vectors are stored.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512bw,avx512vbmi,avx512vbmi2,popcnt,bmi"))) size_t normalize_ascii_avx512(
    const unsigned char* p, size_t n, const AsciiTable& t, char*& w, const char* begin) {
  const __m512i lo = _mm512_loadu_si512(t.action), hi = _mm512_loadu_si512(t.action + 64);
  const __m512i one = _mm512_set1_epi8(1), two = _mm512_set1_epi8(2), blank = _mm512_set1_epi8(' ');
  size_t i = 0;
  while (i < n) {
    const size_t len = std::min<size_t>(64, n - i);
    const __mmask64 valid = len == 64 ? ~__mmask64(0) : (__mmask64(1) << len) - 1;
    const __m512i in = _mm512_maskz_loadu_epi8(valid, p + i);
    // Bytes ≥ 0x80 are negative as signed: one signed compare finds them and 0x00, 0x01.
    const uint64_t bad = _mm512_cmplt_epi8_mask(in, two) & valid;
    const size_t take = bad ? size_t(__builtin_ctzll(bad)) : len;
    if (take == 0) break;
    const __mmask64 in_run = take == 64 ? ~__mmask64(0) : (__mmask64(1) << take) - 1;
    const __m512i act = _mm512_permutex2var_epi8(lo, in, hi);  // action[byte & 127]
    const __mmask64 kept = _mm512_test_epi8_mask(act, act) & in_run;  // kDrop = 0
    const __m512i packed = _mm512_maskz_compress_epi8(kept, act);
    const int m = __builtin_popcountll(kept);
    const uint64_t live = m == 64 ? ~uint64_t(0) : (uint64_t(1) << m) - 1;
    const uint64_t sp = _mm512_cmpeq_epi8_mask(packed, one) & live;  // kSpace = 1
    const uint64_t prev_space = (w == begin || w[-1] == ' ') ? 1 : 0;
    const uint64_t out_mask = live & ~(sp & ((sp << 1) | prev_space));
    const __m512i bytes = _mm512_mask_mov_epi8(packed, sp, blank);
    _mm512_storeu_si512(w, _mm512_maskz_compress_epi8(out_mask, bytes));
    w += __builtin_popcountll(out_mask);
    i += take;
    if (take < len) break;
  }
  return i;
}

bool use_avx512_normalize() {
  const char* force = std::getenv("KILN_MINHASH_KERNEL");  // avx2/portable: scalar too
  if (force && std::string_view(force) != "avx512") return false;
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vbmi2");
}
const bool kAvx512Normalize = use_avx512_normalize();
#endif

void normalize_impl(std::string_view text, const NormalizeOptions& o, std::string& out, bool vector) {
  const AsciiTable& table = table_for(o);
  // Lowercasing can lengthen a code point (U+023A, 2 bytes → U+2C65, 3 bytes): room for
  // twice the input, trimmed at the end, plus a vector of slack for the ASCII path.
  out.resize(text.size() * 2 + 64);
  char* w = out.data();
  char* const begin = w;
  bool pending_space = false;  // a whitespace run seen since the last kept character
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  // Spaces the vector path wrote eagerly are the only ' ' in the output when whitespace
  // is collapsed, so `w[-1] != ' '` keeps the scalar path from doubling them.
  const bool collapse = o.collapse_whitespace;
#if defined(__x86_64__) && defined(__GNUC__)
  vector = vector && collapse && kAvx512Normalize;
#else
  vector = false;
#endif
  size_t i = 0, retry_vector_at = 0;
  while (i < n) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (vector && i >= retry_vector_at) {
      if (pending_space && w != begin && w[-1] != ' ') *w++ = ' ';
      pending_space = false;
      size_t used = normalize_ascii_avx512(p + i, n - i, table, w, begin);
      i += used;
      if (i == n) break;
      if (used == 0) retry_vector_at = i + 16;  // non-ASCII text: try again a little later
    }
#endif
    unsigned char b = p[i];
    if (b < 0x80) {
      uint8_t a = table.action[b];
      ++i;
      if (a == kSpace) {
        pending_space = true;
      } else if (a != kDrop) {
        if (pending_space && w != begin && (!collapse || w[-1] != ' ')) *w++ = ' ';
        pending_space = false;
        *w++ = char(a == 0xFF ? b : a);
      }
      continue;
    }
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t len = utf8proc_iterate(p + i, utf8proc_ssize_t(n - i), &c);
    if (len <= 0) {  // invalid UTF-8 (readers repair it first); keep the byte
      if (pending_space && w != begin && (!collapse || w[-1] != ' ')) *w++ = ' ';
      pending_space = false;
      *w++ = char(b);
      ++i;
      continue;
    }
    i += size_t(len);
    if (is_unicode_space(c)) {
      if (o.collapse_whitespace) {
        pending_space = true;
        continue;
      }
    } else {
      utf8proc_category_t category = utf8proc_category(c);
      if (o.strip_punctuation && is_punct_category(category)) continue;
      if (o.digits_to_zero && category == UTF8PROC_CATEGORY_ND) c = '0';
      else if (o.lowercase) c = utf8proc_tolower(c);
    }
    if (pending_space && w != begin && (!collapse || w[-1] != ' ')) *w++ = ' ';
    pending_space = false;
    w += utf8proc_encode_char(c, reinterpret_cast<utf8proc_uint8_t*>(w));
  }
  if (collapse && w != begin && w[-1] == ' ') --w;  // an eager space with nothing after it
  out.resize(size_t(w - begin));
}

}  // namespace

void normalize_text(std::string_view text, const NormalizeOptions& o, std::string& out) {
  normalize_impl(text, o, out, true);
}

void normalize_text_scalar(std::string_view text, const NormalizeOptions& o, std::string& out) {
  normalize_impl(text, o, out, false);
}

}  // namespace kiln::dedup
