// Hand-written matchers for the three split patterns. Each function follows its regex's
// alternatives in order; the comments name the alternative and the backtracking it needs.
#include "tokenizer/pretokenizer.h"

#include "corpus/error.h"
#include "tokenizer/src/unicode_class.h"

namespace kiln::tokenizer {

using detail::kLetter;
using detail::kLowerSet;
using detail::kNumber;
using detail::kSpace;
using detail::kUpperSet;

namespace {

constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// As npm tiktoken 1.0.22 and tiktoken < 0.8 write it.
constexpr std::string_view kCl100kRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// tiktoken >= 0.8 writes cl100k with possessive quantifiers and a \s++$ alternative placed
// before \s*[\r\n]; that is NOT the same language: at the end of the text, "\n " is one
// piece there but "\n", " " here. kiln follows npm tiktoken and does not accept that spelling.
constexpr std::string_view kO200kRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// A read-only cursor over the text with the class of the character at each position.
struct Text {
  const unsigned char* s;
  size_t n;
  const uint8_t* table;

  // Class and length of the character at i (i < n).
  uint8_t at(size_t i, size_t& len) const {
    if (s[i] < 0x80) {
      len = 1;
      return table[s[i]];
    }
    const uint32_t cp = detail::decode_utf8(s + i, n - i, len);
    return table[cp];
  }
  uint8_t cls(size_t i) const {
    size_t len;
    return at(i, len);
  }
  size_t len(size_t i) const {
    size_t len;
    at(i, len);
    return len;
  }
  // End of the run of characters whose class has any bit of `mask`, from i.
  size_t run(size_t i, uint8_t mask) const {
    while (i < n) {
      if (s[i] < 0x80) {  // ASCII fast path
        if (!(table[s[i]] & mask)) break;
        ++i;
        continue;
      }
      size_t l;
      if (!(at(i, l) & mask)) break;
      i += l;
    }
    return i;
  }
  // End of the run of "other" characters ([^\s\p{L}\p{N}]), from i.
  size_t run_other(size_t i) const {
    while (i < n) {
      if (s[i] < 0x80) {
        if (table[s[i]] & (kLetter | kNumber | kSpace)) break;
        ++i;
        continue;
      }
      size_t l;
      if (at(i, l) & (kLetter | kNumber | kSpace)) break;
      i += l;
    }
    return i;
  }
  bool is_other(size_t i) const { return i < n && !(cls(i) & (kLetter | kNumber | kSpace)); }
  bool is_newline(size_t i) const { return s[i] == '\r' || s[i] == '\n'; }
};

// The three whitespace alternatives shared by cl100k and o200k, at a whitespace char:
//   \s*[\r\n]+   the longest prefix of the run that ends in \r or \n (\s* backtracks from
//                the whole run to the last newline; [\r\n]+ then takes that one char);
//   \s+(?!\S)    the whole run at the end of the text, else the run less its last char;
//   \s+          the single char when the run is one char followed by a non-space.
size_t whitespace_end(const Text& t, size_t i, bool newline_rule) {
  const size_t k = t.run(i, kSpace);
  if (newline_rule) {
    for (size_t p = k; p > i; --p) {
      if (t.is_newline(p - 1)) return p;
    }
  }
  if (k == t.n) return k;
  size_t last = k - 1;  // start of the run's last character (UTF-8 continuation bytes skipped)
  while (last > i && (t.s[last] & 0xC0) == 0x80) --last;
  return last > i ? last : k;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d) at i (t.s[i] == '\''): end of the match or 0. Case-insensitive
// matching uses simple case folding, under which U+017F LATIN SMALL LETTER LONG S equals 's'.
size_t contraction_end(const Text& t, size_t i, bool ignore_case) {
  const size_t j = i + 1;
  if (j >= t.n) return 0;
  auto lower = [&](unsigned char c) -> unsigned char {
    return ignore_case && c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c + 32) : c;
  };
  const unsigned char c = lower(t.s[j]);
  if (c == 's' || c == 't' || c == 'm' || c == 'd') return j + 1;
  if (ignore_case && t.s[j] == 0xC5 && j + 1 < t.n && t.s[j + 1] == 0xBF) return j + 2;  // 'ſ
  if (j + 1 < t.n) {
    const unsigned char d = lower(t.s[j + 1]);
    if ((c == 'r' && d == 'e') || (c == 'v' && d == 'e') || (c == 'l' && d == 'l')) return j + 2;
  }
  return 0;
}

size_t gpt2_end(const Text& t, size_t i) {
  if (t.s[i] == '\'') {
    if (size_t e = contraction_end(t, i, false)) return e;
  }
  // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': the optional space only helps when the
  // class follows it (without it the alternative would have to start at a space).
  const size_t j = t.s[i] == ' ' && i + 1 < t.n ? i + 1 : i;
  size_t len;
  const uint8_t c = t.at(j, len);
  if (c & kLetter) return t.run(j + len, kLetter);
  if (c & kNumber) return t.run(j + len, kNumber);
  if (!(c & kSpace)) return t.run_other(j + len);
  // j == i + 1 only when s[i] is a space, and then this is the space run from i.
  return whitespace_end(t, i, false);
}

size_t cl100k_end(const Text& t, size_t i) {
  if (t.s[i] == '\'') {
    if (size_t e = contraction_end(t, i, true)) return e;
  }
  size_t len;
  const uint8_t c = t.at(i, len);
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c & kLetter) return t.run(i + len, kLetter);
  if (!(c & kNumber) && !t.is_newline(i) && i + len < t.n && (t.cls(i + len) & kLetter)) {
    return t.run(i + len, kLetter);
  }
  // \p{N}{1,3}
  if (c & kNumber) {
    size_t e = i + len;
    for (int k = 1; k < 3 && e < t.n; ++k) {
      size_t l;
      if (!(t.at(e, l) & kNumber)) break;
      e += l;
    }
    return e;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  size_t j = i;
  if (t.s[i] == ' ' && t.is_other(i + 1)) j = i + 1;
  if (t.is_other(j)) {
    size_t e = t.run_other(j);
    while (e < t.n && t.is_newline(e)) ++e;
    return e;
  }
  return whitespace_end(t, i, true);
}

// o200k's two letter alternatives from `start`:
//   alt 1  U* W+ C?   U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], W = [\p{Ll}\p{Lm}\p{Lo}\p{M}]
//   alt 2  U+ W* C?   C = (?i:'s|'t|'re|'ve|'m|'ll|'d)
// Alt 1: U* takes its longest run, then gives characters back until one in W follows; W+
// then runs greedily. Returns 0 when the alternative fails from `start`.
size_t o200k_letters1(const Text& t, size_t start) {
  const size_t u = t.run(start, kUpperSet);
  size_t e = 0;
  if (u < t.n && (t.cls(u) & kLowerSet)) {
    e = t.run(u, kLowerSet);
  } else {
    // Backtrack U*: the last character of the run that is also in W starts W+, which is
    // that one character (a later one in W would have been found first).
    for (size_t p = start; p < u;) {
      size_t l;
      if (t.at(p, l) & kLowerSet) e = p + l;
      p += l;
    }
    if (e == 0) return 0;
  }
  if (e < t.n && t.s[e] == '\'') {
    if (size_t c = contraction_end(t, e, true)) return c;
  }
  return e;
}

size_t o200k_letters2(const Text& t, size_t start) {
  const size_t u = t.run(start, kUpperSet);
  if (u == start) return 0;
  const size_t e = t.run(u, kLowerSet);
  if (e < t.n && t.s[e] == '\'') {
    if (size_t c = contraction_end(t, e, true)) return c;
  }
  return e;
}

size_t o200k_end(const Text& t, size_t i) {
  size_t len;
  const uint8_t c = t.at(i, len);
  // [^\r\n\p{L}\p{N}]? first takes the character when it can, then retries without it.
  const bool prefix = !(c & (kLetter | kNumber)) && !t.is_newline(i);
  if (prefix && i + len < t.n) {
    if (size_t e = o200k_letters1(t, i + len)) return e;
  }
  if (size_t e = o200k_letters1(t, i)) return e;
  if (prefix && i + len < t.n) {
    if (size_t e = o200k_letters2(t, i + len)) return e;
  }
  if (size_t e = o200k_letters2(t, i)) return e;
  // \p{N}{1,3}
  if (c & kNumber) {
    size_t e = i + len;
    for (int k = 1; k < 3 && e < t.n; ++k) {
      size_t l;
      if (!(t.at(e, l) & kNumber)) break;
      e += l;
    }
    return e;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
  size_t j = i;
  if (t.s[i] == ' ' && t.is_other(i + 1)) j = i + 1;
  if (t.is_other(j)) {
    size_t e = t.run_other(j);
    while (e < t.n && (t.is_newline(e) || t.s[e] == '/')) ++e;
    return e;
  }
  return whitespace_end(t, i, true);
}

}  // namespace

std::string_view pattern_name(Pattern pattern) {
  switch (pattern) {
    case Pattern::kGpt2: return "gpt2";
    case Pattern::kCl100k: return "cl100k_base";
    case Pattern::kO200k: return "o200k_base";
  }
  return "?";
}

Pattern parse_pattern(std::string_view name) {
  if (name == "gpt2" || name == "r50k_base" || name == "p50k_base") return Pattern::kGpt2;
  if (name == "cl100k_base" || name == "cl100k") return Pattern::kCl100k;
  if (name == "o200k_base" || name == "o200k") return Pattern::kO200k;
  throw Error(cat("unknown split pattern '", name, "': expected gpt2, cl100k_base or o200k_base"));
}

std::string_view pattern_regex(Pattern pattern) {
  switch (pattern) {
    case Pattern::kGpt2: return kGpt2Regex;
    case Pattern::kCl100k: return kCl100kRegex;
    case Pattern::kO200k: return kO200kRegex;
  }
  return {};
}

std::optional<Pattern> pattern_from_regex(std::string_view regex) {
  if (regex == kGpt2Regex) return Pattern::kGpt2;
  if (regex == kCl100kRegex) return Pattern::kCl100k;
  if (regex == kO200kRegex) return Pattern::kO200k;
  return std::nullopt;
}

size_t pretoken_end(Pattern pattern, std::string_view text, size_t begin) {
  const Text t{reinterpret_cast<const unsigned char*>(text.data()), text.size(), detail::unicode_class_table()};
  switch (pattern) {
    case Pattern::kGpt2: return gpt2_end(t, begin);
    case Pattern::kCl100k: return cl100k_end(t, begin);
    case Pattern::kO200k: return o200k_end(t, begin);
  }
  return text.size();
}

void pretokenize(Pattern pattern, std::string_view text, std::vector<std::string_view>& pieces) {
  const Text t{reinterpret_cast<const unsigned char*>(text.data()), text.size(), detail::unicode_class_table()};
  size_t i = 0;
  while (i < text.size()) {
    size_t e;
    switch (pattern) {
      case Pattern::kGpt2: e = gpt2_end(t, i); break;
      case Pattern::kCl100k: e = cl100k_end(t, i); break;
      default: e = o200k_end(t, i); break;
    }
    pieces.emplace_back(text.data() + i, e - i);
    i = e;
  }
}

std::vector<std::string_view> pretokenize(Pattern pattern, std::string_view text) {
  std::vector<std::string_view> pieces;
  pretokenize(pattern, text, pieces);
  return pieces;
}

}  // namespace kiln::tokenizer
