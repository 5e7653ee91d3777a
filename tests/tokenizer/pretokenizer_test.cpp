// The hand-written pre-tokenizer against PCRE2 running the split patterns themselves, on
// the real texts and on random strings over an alphabet of the characters each rule of
// the patterns cares about.
#include <gtest/gtest.h>

#include <random>

#include "fixtures.h"
#include "tokenizer/pretokenizer.h"

#ifdef KILN_HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

namespace kiln::tokenizer {
namespace {

#ifdef KILN_HAVE_PCRE2

// \s spelled out as Unicode White_Space: PCRE2's own \s leaves out U+0085.
#define WS "\\t\\n\\x{0B}\\f\\r\\x{85}\\p{Z}"
const char* const kGpt2Oracle =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])|[" WS "]+";
const char* const kCl100kOracle =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*|[" WS
    "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+";
const char* const kO200kOracle =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|\\p{N}{1,3}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n/]*|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+";
#undef WS

class Oracle {
 public:
  explicit Oracle(const char* pattern) {
    int err;
    PCRE2_SIZE offset;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err,
                          &offset, nullptr);
    if (!code_) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      ADD_FAILURE() << "pcre2_compile at " << offset << ": " << msg;
    }
    data_ = pcre2_match_data_create_from_pattern(code_, nullptr);
  }
  ~Oracle() {
    pcre2_match_data_free(data_);
    pcre2_code_free(code_);
  }
  // Pieces as the regex's find-iterator yields them; an unmatched byte is an error.
  std::vector<std::string_view> split(std::string_view text) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < text.size()) {
      const int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), i, PCRE2_ANCHORED,
                                 data_, nullptr);
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data_);
      if (rc < 0 || ov[1] <= i) {
        ADD_FAILURE() << "oracle: no match at byte " << i;
        return out;
      }
      out.emplace_back(text.data() + i, ov[1] - i);
      i = ov[1];
    }
    return out;
  }

 private:
  pcre2_code* code_ = nullptr;
  pcre2_match_data* data_ = nullptr;
};

std::string show(const std::vector<std::string_view>& pieces) {
  std::string s;
  for (auto p : pieces) {
    s += "[";
    for (unsigned char c : p) {
      if (c < 0x20) {
        char buf[8];
        snprintf(buf, sizeof buf, "\\x%02x", c);
        s += buf;
      } else {
        s += static_cast<char>(c);
      }
    }
    s += "]";
  }
  return s;
}

struct Case {
  Pattern pattern;
  const char* oracle;
};
const Case kCases[] = {{Pattern::kGpt2, kGpt2Oracle},
                       {Pattern::kCl100k, kCl100kOracle},
                       {Pattern::kO200k, kO200kOracle}};

void expect_same(Oracle& oracle, Pattern pattern, std::string_view text, const std::string& label) {
  const auto want = oracle.split(text);
  const auto got = pretokenize(pattern, text);
  if (want != got) {
    // Report the first differing piece with some context.
    size_t k = 0;
    while (k < want.size() && k < got.size() && want[k] == got[k]) ++k;
    const size_t at = k < want.size() ? size_t(want[k].data() - text.data()) : text.size();
    ADD_FAILURE() << pattern_name(pattern) << " on " << label << " differs at byte " << at << ": oracle "
                  << show({want.begin() + k, want.begin() + std::min(want.size(), k + 3)}) << " kiln "
                  << show({got.begin() + k, got.begin() + std::min(got.size(), k + 3)});
  }
}

TEST(Pretokenizer, MatchesPcre2OnRealText) {
  for (const Case& c : kCases) {
    Oracle oracle(c.oracle);
    for (const std::string& name : testing::text_names()) {
      const std::string t = testing::text(name);
      expect_same(oracle, c.pattern, t, name);
    }
  }
}

TEST(Pretokenizer, MatchesPcre2OnRandomTrickyStrings) {
  // Characters each alternative of the patterns distinguishes: contractions (incl. the
  // case-folded long s), letters of every case class, marks, digits of several scripts,
  // punctuation and '/', every kind of whitespace and newline.
  const std::vector<std::string> alphabet = {
      "'", "s", "S", "t", "T", "l", "L", "v", "e", "E", "r", "R", "d", "m", "M", "a", "Z", "\xC5\xBF" /* ſ */,
      "\xC7\x85" /* ǅ Lt */, "\xCA\xB0" /* ʰ Lm */, "\xE4\xB8\xAD" /* 中 Lo */, "\xCC\x81" /* U+0301 Mn */,
      "\xE0\xA4\xBE" /* U+093E Mc */, "1", "9", "\xD9\xA3" /* ٣ Nd */, "\xE2\x85\xA0" /* Ⅰ Nl */, "\xC2\xBD" /* ½ No */,
      ".", "!", "/", "-", "\xF0\x9F\x98\x80" /* 😀 */, " ", " ", " ", "\t", "\n", "\r", "\x0B", "\xC2\xA0" /* NBSP */,
      "\xC2\x85" /* NEL */, "\xE3\x80\x80" /* U+3000 */, "\xE2\x80\xA8" /* U+2028 */, "\xE2\x80\x8B" /* ZWSP Cf */};
  std::mt19937 rng(42);
  for (const Case& c : kCases) {
    Oracle oracle(c.oracle);
    for (int n = 0; n < 20000; ++n) {
      std::string s;
      const int len = 1 + static_cast<int>(rng() % 12);
      for (int i = 0; i < len; ++i) s += alphabet[rng() % alphabet.size()];
      expect_same(oracle, c.pattern, s, "random string #" + std::to_string(n));
      if (::testing::Test::HasFailure()) return;
    }
  }
}

#else
TEST(Pretokenizer, MatchesPcre2) { GTEST_SKIP() << "built without libpcre2-8 (Debian libpcre2-dev): no oracle"; }
#endif  // KILN_HAVE_PCRE2

TEST(Pretokenizer, GoldenExamples) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(pretokenize(Pattern::kGpt2, "Hello world's  end\n\n"), (V{"Hello", " world", "'s", " ", " end", "\n\n"}));
  EXPECT_EQ(pretokenize(Pattern::kCl100k, "I'LL  go 12345\r\n\tx"), (V{"I", "'LL", " ", " go", " ", "123", "45", "\r\n", "\tx"}));
  EXPECT_EQ(pretokenize(Pattern::kO200k, "HELLOworld's helloWorld a/b//\n"),
            (V{"HELLOworld's", " hello", "World", " a", "/b", "//\n"}));
}

TEST(Pretokenizer, PiecesCoverArbitraryBytes) {
  std::mt19937 rng(7);
  for (Pattern p : {Pattern::kGpt2, Pattern::kCl100k, Pattern::kO200k}) {
    for (int n = 0; n < 2000; ++n) {
      std::string s(1 + rng() % 40, '\0');
      for (char& ch : s) ch = static_cast<char>(rng() % 4 == 0 ? rng() % 256 : "ab 'Z\n1\xC3\xA9"[rng() % 9]);
      std::string joined;
      for (auto piece : pretokenize(p, s)) {
        ASSERT_FALSE(piece.empty());
        joined += piece;
      }
      ASSERT_EQ(joined, s);
    }
  }
}

TEST(Pretokenizer, PatternNamesAndRegexes) {
  for (Pattern p : {Pattern::kGpt2, Pattern::kCl100k, Pattern::kO200k}) {
    EXPECT_EQ(parse_pattern(pattern_name(p)), p);
    EXPECT_EQ(pattern_from_regex(pattern_regex(p)), p);
  }
  EXPECT_FALSE(pattern_from_regex("\\w+").has_value());
  EXPECT_THROW(parse_pattern("llama3"), std::exception);
}

}  // namespace
}  // namespace kiln::tokenizer
