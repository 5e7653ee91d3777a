// Per-code-point classes the split patterns test, built once from utf8proc's tables.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln::tokenizer::detail {

enum : uint8_t {
  kLetter = 1,     // \p{L}
  kUpperSet = 2,   // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]  (o200k)
  kLowerSet = 4,   // [\p{Ll}\p{Lm}\p{Lo}\p{M}]        (o200k)
  kNumber = 8,     // \p{N}
  kSpace = 16,     // \s = White_Space
};

// One byte per code point, 0x110000 entries; index 0x110000 is the class of an invalid byte.
const uint8_t* unicode_class_table();

// Decodes one UTF-8 character at s[0..n) (n >= 1). Returns its code point and sets `len`;
// an invalid or truncated sequence yields 0x110000 with len = 1.
inline uint32_t decode_utf8(const unsigned char* s, size_t n, size_t& len) {
  const unsigned char c = s[0];
  if (c < 0x80) { len = 1; return c; }
  if (c >= 0xC2 && c <= 0xDF) {
    if (n >= 2 && (s[1] & 0xC0) == 0x80) { len = 2; return ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu); }
  } else if (c >= 0xE0 && c <= 0xEF) {
    if (n >= 3 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
      const uint32_t cp = ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
      if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) { len = 3; return cp; }
    }
  } else if (c >= 0xF0 && c <= 0xF4) {
    if (n >= 4 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80) {
      const uint32_t cp = ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
      if (cp >= 0x10000 && cp <= 0x10FFFF) { len = 4; return cp; }
    }
  }
  len = 1;
  return 0x110000;
}

}  // namespace kiln::tokenizer::detail
