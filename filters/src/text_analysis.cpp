#include "filters/text_analysis.h"

#include <utf8proc.h>

#include <array>
#include <cstring>
#include <string>

namespace kiln {

namespace {

// Character classes of ASCII, computed once: 0 other, 1 space, 2 punct/symbol, 3 letter.
enum : uint8_t { kOther = 0, kSpace = 1, kPunct = 2, kLetter = 3, kIdeo = 4 };

constexpr std::array<uint8_t, 128> make_ascii_classes() {
  std::array<uint8_t, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 9 && c <= 13) || (c >= 28 && c <= 32)) t[c] = kSpace;
    else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) t[c] = kLetter;
    else if (c >= 0x21 && c <= 0x7E && !(c >= '0' && c <= '9')) t[c] = kPunct;  // !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
    else t[c] = kOther;
  }
  return t;
}
constexpr auto kAsciiClasses = make_ascii_classes();

// Per byte: 2 an ASCII letter, 1 another ASCII byte that is neither space nor punctuation
// (digits, controls), 0 anything else (space, punctuation, non-ASCII).
constexpr std::array<uint8_t, 256> make_ascii_word_bytes() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 128; ++c) t[c] = kAsciiClasses[c] == kLetter ? 2 : kAsciiClasses[c] == kOther ? 1 : 0;
  return t;
}
constexpr auto kAsciiWordBytes = make_ascii_word_bytes();

constexpr bool ascii_spaces_agree() {
  for (int c = 0; c < 128; ++c)
    if ((kAsciiClasses[c] == kSpace) != is_ascii_space(static_cast<unsigned char>(c))) return false;
  return true;
}
static_assert(ascii_spaces_agree(), "is_ascii_space (text_analysis.h) and the class table disagree");

uint8_t classify(char32_t cp) {
  if (cp < 0x80) return kAsciiClasses[cp];
  if (is_ideograph(cp)) return kIdeo;
  if (cp == 0x85) return kSpace;
  switch (utf8proc_category(utf8proc_int32_t(cp))) {
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return kSpace;
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return kLetter;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
    case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
      return kPunct;
    default:
      return kOther;
  }
}

}  // namespace

bool is_ideograph(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) ||    // CJK Unified Ideographs
         (cp >= 0x3400 && cp <= 0x4DBF) ||    // Extension A
         (cp >= 0x20000 && cp <= 0x3FFFF) ||  // Extensions B-H, compatibility supplement
         (cp >= 0xF900 && cp <= 0xFAFF) ||    // Compatibility Ideographs
         (cp >= 0x3041 && cp <= 0x3096) ||    // Hiragana letters (not the U+3099-309C marks)
         (cp >= 0x309D && cp <= 0x309F) ||    // Hiragana iteration marks, digraph
         (cp >= 0x30A1 && cp <= 0x30FA) ||    // Katakana letters (not ・ U+30FB, which is Po)
         (cp >= 0x30FC && cp <= 0x30FF) ||    // prolonged sound mark, iteration marks
         (cp >= 0x31F0 && cp <= 0x31FF) ||    // Katakana phonetic extensions
         (cp >= 0xFF66 && cp <= 0xFF9F);      // halfwidth Katakana
}

namespace text_detail {
bool is_non_ascii_space(char32_t cp) { return classify(cp) == kSpace; }
}  // namespace text_detail
bool is_punct_or_symbol(char32_t cp) { return classify(cp) == kPunct; }

char32_t text_detail::next_non_ascii_code_point(std::string_view s, size_t& i) {
  utf8proc_int32_t cp;
  utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                                        utf8proc_ssize_t(s.size() - i), &cp);
  if (n <= 0) {
    ++i;
    return 0xFFFD;
  }
  i += size_t(n);
  return char32_t(cp);
}

void split_words(std::string_view text, std::vector<Word>& out) {
  out.clear();
  // The current run of non-space, non-ideograph characters, with where its first
  // non-punctuation character starts and where its last one ends.
  size_t run_begin = 0;
  uint32_t run_chars = 0;
  bool in_run = false;
  size_t first_np = 0, last_np_end = 0;  // byte offsets
  uint32_t lead_chars = 0;               // punct chars before first_np
  uint32_t chars_to_last = 0;            // chars up to and including the last non-punct
  bool any_np = false, letter = false;

  auto flush = [&](size_t run_end) __attribute__((always_inline)) {
    if (!in_run) return;
    in_run = false;
    if (!any_np) {
      out.push_back({uint32_t(run_begin), uint32_t(run_end), run_chars, false, true});
      return;
    }
    if (first_np > run_begin) out.push_back({uint32_t(run_begin), uint32_t(first_np), lead_chars, false, true});
    out.push_back({uint32_t(first_np), uint32_t(last_np_end), chars_to_last - lead_chars, letter, false});
    if (run_end > last_np_end)
      out.push_back({uint32_t(last_np_end), uint32_t(run_end), run_chars - chars_to_last, false, true});
  };

  size_t i = 0;
  const size_t size = text.size();
  while (i < size) {
    size_t at = i;
    uint8_t cls;
    char32_t cp;
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {  // ASCII: one table lookup, no decoding (most web text)
      cp = byte;
      cls = kAsciiClasses[byte];
      ++i;
    } else {
      cp = next_code_point(text, i);
      cls = classify(cp);
    }
    if (cls == kSpace) {
      flush(at);
      continue;
    }
    if (cls == kIdeo) {
      flush(at);
      // Unassigned code points in the ideograph blocks are not letters.
      auto c = utf8proc_category(utf8proc_int32_t(cp));
      bool is_letter = c == UTF8PROC_CATEGORY_LO || c == UTF8PROC_CATEGORY_LM;
      out.push_back({uint32_t(at), uint32_t(i), 1, is_letter, false});
      continue;
    }
    if (!in_run) {
      in_run = true;
      run_begin = at;
      run_chars = 0;
      lead_chars = 0;
      chars_to_last = 0;
      any_np = false;
      letter = false;
    }
    ++run_chars;
    if (cls == kPunct) {
      if (!any_np) ++lead_chars;
    } else {
      if (!any_np) first_np = at;
      any_np = true;
      letter |= cls == kLetter;
      // The ASCII letters, digits and controls that follow (most of a word) change
      // nothing but the counts: take them in one tight loop.
      uint8_t letters = 0;
      while (i < size) {
        uint8_t w = kAsciiWordBytes[static_cast<unsigned char>(text[i])];
        if (!w) break;
        letters |= w;
        ++i;
        ++run_chars;
      }
      letter |= (letters & 2) != 0;
      last_np_end = i;
      chars_to_last = run_chars;
    }
  }
  flush(text.size());
}

std::string_view lstrip_spaces(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t at = i;
    if (!is_unicode_space(next_code_point(s, i))) return s.substr(at);
  }
  return s.substr(s.size());
}

std::string_view rstrip_spaces(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    auto last = static_cast<unsigned char>(s[end - 1]);
    if (last < 0x80) {  // an ASCII byte is always a whole code point
      if (kAsciiClasses[last] != kSpace) break;
      --end;
      continue;
    }
    // Back up over continuation bytes to the lead byte and decode that one code point;
    // if it is not exactly the last one (invalid UTF-8), walk the prefix forward instead.
    size_t start = end - 1;
    while (start > 0 && end - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t i = start;
    char32_t cp = next_code_point(s.substr(0, end), i);
    if (i != end) {
      size_t j = 0, keep = 0;
      std::string_view prefix = s.substr(0, end);
      while (j < prefix.size()) {
        char32_t c = next_code_point(prefix, j);
        if (!is_unicode_space(c)) keep = j;
      }
      return s.substr(0, keep);
    }
    if (!is_unicode_space(cp)) break;
    end = start;
  }
  return s.substr(0, end);
}

std::string_view strip_spaces(std::string_view s) { return rstrip_spaces(lstrip_spaces(s)); }

const std::vector<Word>& cached_words(std::string_view text) {
  // One entry per thread, keyed by the full text (compared with memcmp, so a document
  // edited in place between stages is never served stale words).
  thread_local std::string key;
  thread_local std::vector<Word> words;
  thread_local bool valid = false;
  if (!valid || key.size() != text.size() || std::memcmp(key.data(), text.data(), text.size()) != 0) {
    key.assign(text.data(), text.size());
    split_words(text, words);
    valid = true;
  }
  return words;
}

void split_lines(std::string_view text, std::vector<std::string_view>& out) {
  out.clear();
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    if (nl == std::string_view::npos) {
      out.push_back(text.substr(i));
      break;
    }
    out.push_back(text.substr(i, nl - i));
    i = nl + 1;
  }
}

}  // namespace kiln
