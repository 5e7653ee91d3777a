#include "corpus/text.h"

#include <simdjson.h>

#include <cstdint>

namespace kiln {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there are not
// a valid sequence. On failure *maximal_subpart is the length of the maximal subpart
// (the longest prefix that could still start a valid sequence, at least 1).
size_t valid_sequence_length(std::string_view s, size_t i, size_t* maximal_subpart) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  *maximal_subpart = 1;
  if (b0 < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  for (size_t k = 1; k < need; ++k) {
    if (i + k >= s.size()) return 0;
    unsigned char b = byte(i + k);
    unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return 0;
    *maximal_subpart = k + 1;
  }
  return need;
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) { return simdjson::validate_utf8(bytes.data(), bytes.size()); }

std::string repair_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + 16);
  size_t i = 0;
  while (i < bytes.size()) {
    size_t subpart;
    size_t n = valid_sequence_length(bytes, i, &subpart);
    if (n > 0) {
      out.append(bytes.data() + i, n);
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      i += subpart;
    }
  }
  return out;
}

void append_json_string(std::string& out, std::string_view s, bool ascii_only) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run_start = 0;  // copy runs of bytes that need no escaping in one append
  auto flush = [&](size_t end) { out.append(s.data() + run_start, end - run_start); };
  auto append_u = [&](uint32_t unit) {
    char buf[6] = {'\\', 'u', kHex[(unit >> 12) & 15], kHex[(unit >> 8) & 15], kHex[(unit >> 4) & 15],
                   kHex[unit & 15]};
    out.append(buf, 6);
  };
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    // ascii_only also escapes DEL, as Python's json.dumps does.
    if (c >= 0x20 && c != '"' && c != '\\' && (c < 0x7F || !ascii_only))
      continue;
    flush(i);
    if (c >= 0x80) {  // ascii_only: decode one code point
      uint32_t cp;
      size_t len;
      if (c >= 0xF0) {
        cp = c & 0x07, len = 4;
      } else if (c >= 0xE0) {
        cp = c & 0x0F, len = 3;
      } else {
        cp = c & 0x1F, len = 2;
      }
      for (size_t k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        append_u(0xD800 + (cp >> 10));
        append_u(0xDC00 + (cp & 0x3FF));
      } else {
        append_u(cp);
      }
      i += len - 1;
    } else {
      switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        default: append_u(c);  // other control characters and DEL
      }
    }
    run_start = i + 1;
  }
  flush(s.size());
  out.push_back('"');
}

std::string json_quote(std::string_view utf8) {
  std::string out;
  append_json_string(out, utf8);
  return out;
}

}  // namespace kiln
