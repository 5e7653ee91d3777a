#include "dedup/normalize.h"

#include <utf8proc.h>

#include <array>
#include <cstdint>

#include "corpus/error.h"

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

}  // namespace

void normalize_text(std::string_view text, const NormalizeOptions& o, std::string& out) {
  const AsciiTable& table = table_for(o);
  // Lowercasing can lengthen a code point (U+023A, 2 bytes → U+2C65, 3 bytes): room for
  // twice the input, trimmed at the end.
  out.resize(text.size() * 2 + 8);
  char* w = out.data();
  char* const begin = w;
  bool pending_space = false;  // a whitespace run seen since the last kept character
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char b = p[i];
    if (b < 0x80) {
      uint8_t a = table.action[b];
      ++i;
      if (a == kSpace) {
        pending_space = true;
      } else if (a != kDrop) {
        if (pending_space && w != begin) *w++ = ' ';
        pending_space = false;
        *w++ = char(a == 0xFF ? b : a);
      }
      continue;
    }
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t len = utf8proc_iterate(p + i, utf8proc_ssize_t(n - i), &c);
    if (len <= 0) {  // invalid UTF-8 (readers repair it first); keep the byte
      if (pending_space && w != begin) *w++ = ' ';
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
    if (pending_space && w != begin) *w++ = ' ';
    pending_space = false;
    w += utf8proc_encode_char(c, reinterpret_cast<utf8proc_uint8_t*>(w));
  }
  out.resize(size_t(w - begin));
}

}  // namespace kiln::dedup
