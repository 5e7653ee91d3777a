// Unicode-aware words and lines, shared by the quality rule sets (Gopher, C4, FineWeb)
// so that every rule counts the same things the same way.
//
// Words follow what datatrove's rules get from NLTK's word_tokenize, without a
// language model: text is cut at Unicode white space (Python's str.isspace set); each
// piece loses its leading and trailing runs of punctuation and symbols (Unicode P* and
// S*), which become words of their own ("end." → "end" "."); Han ideographs, Hiragana
// and Katakana are one word per character, since those scripts put no space between
// words. Inner punctuation stays ("don't", "3.14", "e-mail").
//
//   std::vector<Word> words;
//   split_words("Hello, 世界!", words);   // "Hello" "," "世" "界" "!"
//
// A Python mirror of these rules (scripts/fixtures/filters/quality_reference.py) produces
// the golden decisions the tests compare against.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace kiln {

struct Word {
  uint32_t begin = 0;         // byte offset in the text
  uint32_t end = 0;           // one past the last byte
  uint32_t chars = 0;         // code points
  bool has_letter = false;    // holds a Unicode letter (L*), as Python's str.isalpha
  bool is_symbol = false;     // only punctuation and symbols (P*, S*)
};

// Replaces `out` with the words of `text` (UTF-8; an invalid byte counts as one
// non-letter, non-space character).
void split_words(std::string_view text, std::vector<Word>& out);

// split_words of `text`, reused while consecutive calls on this thread pass the same text
// (the quality stages of one pipeline each ask for the words of the same document). The
// reference stays valid until the next call on this thread.
const std::vector<Word>& cached_words(std::string_view text);

namespace text_detail {
bool is_non_ascii_space(char32_t cp);
char32_t next_non_ascii_code_point(std::string_view s, size_t& i);
}  // namespace text_detail

// Python's str.isspace for one ASCII byte: 9-13 and 28-32.
constexpr bool is_ascii_space(unsigned char b) { return (b >= 9 && b <= 13) || (b >= 28 && b <= 32); }

// Python's str.isspace: ASCII 9-13 and 28-32, U+0085, and categories Zs, Zl, Zp.
// (Inline for ASCII, which most calls are: the per-character loops of the rules.)
inline bool is_unicode_space(char32_t cp) {
  return cp < 0x80 ? is_ascii_space(static_cast<unsigned char>(cp)) : text_detail::is_non_ascii_space(cp);
}
// Unicode categories P* or S* (Python's view of "punctuation" in datatrove's sets).
bool is_punct_or_symbol(char32_t cp);
// Han (CJK Unified Ideographs + extensions, compatibility ideographs), Hiragana, Katakana.
bool is_ideograph(char32_t cp);

// Decodes the code point at s[i] and advances i; invalid bytes decode to U+FFFD, one byte.
inline char32_t next_code_point(std::string_view s, size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    ++i;
    return b;
  }
  return text_detail::next_non_ascii_code_point(s, i);
}

// Python's str.strip/lstrip/rstrip with no arguments (Unicode white space).
std::string_view strip_spaces(std::string_view s);
std::string_view lstrip_spaces(std::string_view s);
std::string_view rstrip_spaces(std::string_view s);

// Lines as Python's str.splitlines() returns them for text whose only line break is
// '\n' (run `normalize` first for CR and CRLF): "a\n" is one line, "" is none.
// Each entry is a view into `text`.
void split_lines(std::string_view text, std::vector<std::string_view>& out);

}  // namespace kiln
