#include "filters/text_analysis.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kiln {
namespace {

std::vector<std::string> words_of(std::string_view text) {
  std::vector<Word> words;
  split_words(text, words);
  std::vector<std::string> out;
  for (auto& w : words) out.emplace_back(text.substr(w.begin, w.end - w.begin));
  return out;
}

TEST(SplitWords, PeelsLeadingAndTrailingPunctuation) {
  EXPECT_EQ(words_of("Hello, world! (don't) stop... e-mail 3.14"),
            (std::vector<std::string>{"Hello", ",", "world", "!", "(", "don't", ")", "stop", "...", "e-mail", "3.14"}));
}

TEST(SplitWords, AllPunctuationPieceIsOneSymbolWord) {
  std::vector<Word> words;
  split_words("a -- ### b", words);
  ASSERT_EQ(words.size(), 4u);
  EXPECT_TRUE(words[1].is_symbol);
  EXPECT_EQ(words[2].chars, 3u);
  EXPECT_TRUE(words[2].is_symbol);
  EXPECT_FALSE(words[0].is_symbol);
}

TEST(SplitWords, IdeographsAreOneWordEachAndKeepTheirBytes) {
  // Chinese and Japanese have no spaces: every Han / kana character is a word; the
  // full-width punctuation around them is split off like ASCII punctuation.
  EXPECT_EQ(words_of("人人生而自由。"), (std::vector<std::string>{"人", "人", "生", "而", "自", "由", "。"}));
  EXPECT_EQ(words_of("すべての人間は、"), (std::vector<std::string>{"す", "べ", "て", "の", "人", "間", "は", "、"}));
  // Mixed: Latin run next to ideographs.
  EXPECT_EQ(words_of("kiln是工具"), (std::vector<std::string>{"kiln", "是", "工", "具"}));
  std::vector<Word> words;
  split_words("自由", words);
  ASSERT_EQ(words.size(), 2u);
  EXPECT_TRUE(words[0].has_letter);
  EXPECT_EQ(words[0].chars, 1u);
  EXPECT_EQ(words[0].end - words[0].begin, 3u);  // one code point, three bytes
}

TEST(SplitWords, OtherScriptsAreWhitespaceWords) {
  // Korean, Arabic, Russian, Hindi: spaced scripts, letters by Unicode category.
  EXPECT_EQ(words_of("모든 인간은"), (std::vector<std::string>{"모든", "인간은"}));
  EXPECT_EQ(words_of("يولد جميع الناس"), (std::vector<std::string>{"يولد", "جميع", "الناس"}));
  EXPECT_EQ(words_of("Все люди рождаются."), (std::vector<std::string>{"Все", "люди", "рождаются", "."}));
  std::vector<Word> words;
  split_words("सभी मनुष्यों को", words);  // Devanagari: vowel signs are marks (Mc/Mn), still one word
  ASSERT_EQ(words.size(), 3u);
  EXPECT_TRUE(words[1].has_letter);
  EXPECT_EQ(words[1].chars, 8u);
}

TEST(SplitWords, UnicodeSpacesSeparateAndDigitsAreNotLetters) {
  // U+3000 ideographic space, U+00A0 no-break space, U+2028 line separator.
  EXPECT_EQ(words_of("a\u3000b\u00a0c\u2028d"), (std::vector<std::string>{"a", "b", "c", "d"}));
  std::vector<Word> words;
  split_words("2024 ½", words);
  ASSERT_EQ(words.size(), 2u);
  EXPECT_FALSE(words[0].has_letter);
  EXPECT_FALSE(words[0].is_symbol);
}

TEST(SplitWords, InvalidUtf8IsOneCharacterNotACrash) {
  std::vector<Word> words;
  split_words(std::string_view("ab\xff" "cd", 5), words);
  ASSERT_EQ(words.size(), 1u);
  EXPECT_EQ(words[0].chars, 5u);
}

TEST(Strip, UnicodeWhiteSpace) {
  EXPECT_EQ(strip_spaces("\u3000 abc \t\u00a0"), "abc");
  EXPECT_EQ(lstrip_spaces("  - x "), "- x ");
  EXPECT_EQ(rstrip_spaces(" x …\u2003"), " x …");
  EXPECT_EQ(strip_spaces(" \n "), "");
}

TEST(SplitLines, LikePythonSplitlinesOnNewlines) {
  std::vector<std::string_view> lines;
  split_lines("a\n\nb\n", lines);
  EXPECT_EQ(lines, (std::vector<std::string_view>{"a", "", "b"}));
  split_lines("", lines);
  EXPECT_TRUE(lines.empty());
  split_lines("x", lines);
  EXPECT_EQ(lines, (std::vector<std::string_view>{"x"}));
}

}  // namespace
}  // namespace kiln
