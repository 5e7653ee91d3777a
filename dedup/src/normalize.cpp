#include "dedup/normalize.h"

#include <utf8proc.h>

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

void append_utf8(std::string& out, utf8proc_int32_t c) {
  utf8proc_uint8_t buf[4];
  utf8proc_ssize_t n = utf8proc_encode_char(c, buf);
  out.append(reinterpret_cast<const char*>(buf), size_t(n));
}

}  // namespace

void normalize_text(std::string_view text, const NormalizeOptions& o, std::string& out) {
  out.clear();
  out.reserve(text.size());
  bool pending_space = false;  // a whitespace run seen since the last kept character
  auto emit_space_if_pending = [&] {
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
  };
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char b = p[i];
    if (b < 0x80) {  // ASCII fast path
      ++i;
      if (b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v') {
        if (o.collapse_whitespace) pending_space = true;
        else out += char(b);
        continue;
      }
      if (o.strip_punctuation && ((b >= '!' && b <= '/') || (b >= ':' && b <= '@') || (b >= '[' && b <= '`') ||
                                  (b >= '{' && b <= '~'))) {
        // ASCII punctuation and symbols: Python's string.punctuation, as datatrove strips it.
        continue;
      }
      emit_space_if_pending();
      if (o.digits_to_zero && b >= '0' && b <= '9') b = '0';
      else if (o.lowercase && b >= 'A' && b <= 'Z') b = b + 32;
      out += char(b);
      continue;
    }
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t len = utf8proc_iterate(p + i, utf8proc_ssize_t(n - i), &c);
    if (len <= 0) {  // invalid UTF-8 (readers repair it first); keep the byte
      emit_space_if_pending();
      out += char(b);
      ++i;
      continue;
    }
    i += size_t(len);
    if (is_unicode_space(c)) {
      if (o.collapse_whitespace) pending_space = true;
      else append_utf8(out, c);
      continue;
    }
    utf8proc_category_t category = utf8proc_category(c);
    if (o.strip_punctuation && is_punct_category(category)) continue;
    emit_space_if_pending();
    if (o.digits_to_zero && category == UTF8PROC_CATEGORY_ND) c = '0';
    else if (o.lowercase) c = utf8proc_tolower(c);
    append_utf8(out, c);
  }
}

}  // namespace kiln::dedup
