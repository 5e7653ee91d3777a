// Exact tests of each rule of the Gopher, C4 and FineWeb rule sets.
#include "filters/quality.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "corpus/error.h"
#include "filters/basic.h"
#include "filters/src/quality_internal.h"
#include "filters/text_analysis.h"

namespace kiln {
namespace {

// n distinct words "word0 word1 ...", plus Gopher stop words so the stop-word rule passes.
std::string prose(int n, const std::string& sep = " ") {
  std::string s = "the cat and the dog";
  for (int i = 0; i < n; ++i) s += sep + "word" + std::to_string(i);
  return s;
}

std::string_view gq(const std::string& text, const GopherQualityOptions& o = {}) {
  GopherQualityStats st;
  return check_gopher_quality(text, o, st);
}

TEST(GopherQuality, ExactStatistics) {
  GopherQualityStats st;
  // Words: The cat sat . - and the # dog ... (10); non-symbol: 6 of 3 chars each.
  EXPECT_EQ(check_gopher_quality("The cat sat.\n- and the #dog...\n", {}, st), "gopher_short_doc");
  EXPECT_EQ(st.words, 10u);
  EXPECT_EQ(st.non_symbol_words, 6u);
  EXPECT_DOUBLE_EQ(st.mean_word_length, 3.0);
  EXPECT_DOUBLE_EQ(st.hash_ratio, 0.1);
  EXPECT_DOUBLE_EQ(st.ellipsis_ratio, 0.1);
  EXPECT_DOUBLE_EQ(st.bullet_lines_ratio, 0.5);
  EXPECT_DOUBLE_EQ(st.ellipsis_lines_ratio, 0.5);
  EXPECT_DOUBLE_EQ(st.alpha_words_ratio, 0.6);
  EXPECT_EQ(st.stop_words, 2u);  // "and", "the"; "The" does not count (case-sensitive, as datatrove)
}

TEST(GopherQuality, EachRule) {
  EXPECT_EQ(gq(prose(45)), "");                    // 50 non-symbol words: the minimum
  EXPECT_EQ(gq(prose(44)), "gopher_short_doc");    // 49
  EXPECT_EQ(gq(prose(44) + " , . ;"), "gopher_short_doc");  // punctuation words do not count
  GopherQualityOptions small;
  small.max_words = 40;
  EXPECT_EQ(gq(prose(45), small), "gopher_long_doc");

  std::string tiny = "the and";
  for (int i = 0; i < 60; ++i) tiny += " ab";
  EXPECT_EQ(gq(tiny), "gopher_below_avg_threshold");
  std::string huge = "the and";
  for (int i = 0; i < 60; ++i) huge += " abcdefghijk" + std::to_string(i);
  EXPECT_EQ(gq(huge), "gopher_above_avg_threshold");

  EXPECT_EQ(gq(prose(60) + std::string(" #tag").append(" #tag #tag #tag #tag #tag #tag #tag #tag #tag")),
            "gopher_too_many_hashes");
  EXPECT_EQ(gq(prose(60) + " \u2026 \u2026 \u2026 \u2026 \u2026 ... ... ... ... ..."), "gopher_too_many_ellipsis");

  std::string bullets;
  for (int i = 0; i < 10; ++i) bullets += "\u2022 the item and word" + std::to_string(i) + " more words here\n";
  EXPECT_EQ(gq(bullets), "gopher_too_many_bullets");
  GopherQualityOptions no_bullets;
  no_bullets.max_bullet_lines_ratio = 0;  // 0 switches a rule off
  EXPECT_EQ(gq(bullets, no_bullets), "");

  std::string trailing;
  for (int i = 0; i < 10; ++i) trailing += "the line and words number" + std::to_string(i) + (i < 4 ? " and so on...\n" : " ends.\n");
  EXPECT_EQ(gq(trailing), "gopher_too_many_end_ellipsis");

  std::string numbers = prose(50);
  for (int i = 0; i < 20; ++i) numbers += " 12345";
  EXPECT_EQ(gq(numbers), "gopher_below_alpha_threshold");  // 55 of 75 words have a letter

  std::string no_stop;
  for (int i = 0; i < 60; ++i) no_stop += "word" + std::to_string(i) + " ";
  EXPECT_EQ(gq(no_stop), "gopher_enough_stop_words");
  GopherQualityOptions custom;
  custom.stop_words = {"word1", "word2"};
  EXPECT_EQ(gq(no_stop, custom), "");
}

TEST(GopherQuality, ChineseIsCountedPerCharacterNotMangled) {
  // 60 ideographs are 60 words of one character: too short on average for Gopher's
  // English thresholds, which is the published rule's behaviour on Chinese.
  std::string zh;
  for (int i = 0; i < 6; ++i) zh += "人人生而自由，在尊严和权利上一律平等。";
  GopherQualityStats st;
  EXPECT_EQ(check_gopher_quality(zh, {}, st), "gopher_below_avg_threshold");
  EXPECT_EQ(st.non_symbol_words, 6u * 17);
  EXPECT_DOUBLE_EQ(st.mean_word_length, 1.0);
  EXPECT_DOUBLE_EQ(st.alpha_words_ratio, 17.0 / 19);  // "，" and "。" are symbol words
}

TEST(GopherRepetition, ExactStatistics) {
  GopherRepetitionStats st;
  EXPECT_EQ(check_gopher_repetition("a b\na b\nc d e", {}, st), "gopher_dup_line_frac");
  EXPECT_EQ(st.chars, 13u);
  EXPECT_EQ(st.paragraphs, 1u);
  EXPECT_DOUBLE_EQ(st.dup_para_frac, 0);
  EXPECT_EQ(st.lines, 3u);
  EXPECT_DOUBLE_EQ(st.dup_line_frac, 1.0 / 3);
  EXPECT_DOUBLE_EQ(st.dup_line_char_frac, 3.0 / 13);
  EXPECT_DOUBLE_EQ(st.top_ngram_char_frac[0], 6.0 / 13);  // "a b" twice
  EXPECT_DOUBLE_EQ(st.top_ngram_char_frac[1], 5.0 / 13);  // all once: the first, "a b a"
  EXPECT_DOUBLE_EQ(st.top_ngram_char_frac[2], 7.0 / 13);  // "a b a b"
  EXPECT_DOUBLE_EQ(st.dup_ngram_char_frac[0], 0);
}

TEST(GopherRepetition, DuplicatedNgramsSkipTheirWords) {
  std::string half;
  for (int i = 0; i < 10; ++i) half += (i ? " w" : "w") + std::to_string(i);
  GopherRepetitionStats st;
  // 20 words of 2 chars, 59 chars. 5-grams: the second half is w0-w4 and w5-w9 again
  // (28 chars); 10-grams: w0..w9 once more (29 chars).
  EXPECT_EQ(check_gopher_repetition(half + " " + half, {}, st), "gopher_top_3_gram");
  EXPECT_DOUBLE_EQ(st.top_ngram_char_frac[0], 10.0 / 59);
  EXPECT_DOUBLE_EQ(st.top_ngram_char_frac[1], 16.0 / 59);
  EXPECT_DOUBLE_EQ(st.dup_ngram_char_frac[0], 28.0 / 59);
  EXPECT_DOUBLE_EQ(st.dup_ngram_char_frac[5], 29.0 / 59);
  GopherRepetitionOptions only_dup;
  for (auto& t : only_dup.max_top_ngram_char_frac) t = 0;
  EXPECT_EQ(check_gopher_repetition(half + " " + half, only_dup, st), "gopher_duplicated_5_n_grams");
}

TEST(GopherRepetition, ParagraphsAndTies) {
  GopherRepetitionStats st;
  // Paragraphs split at 2+ newlines after stripping; "p" repeats twice of four.
  EXPECT_EQ(check_gopher_repetition("\n\np one\n\np one\n\n\np one\n\nlast\n", {}, st), "gopher_dup_para_frac");
  EXPECT_EQ(st.paragraphs, 4u);
  EXPECT_DOUBLE_EQ(st.dup_para_frac, 0.5);
  // Top 2-gram ties: "x y" (first at 0) and "y z" both twice: the first seen wins, 3 chars.
  check_gopher_repetition("x y z x y z", {}, st);
  EXPECT_DOUBLE_EQ(st.top_ngram_char_frac[0], 6.0 / 11);
  EXPECT_EQ(check_gopher_repetition("", {}, st), "");
}

// datatrove's n-gram rules written plainly (n-grams as joined strings in a std::map):
// the oracle for the exact-id scheme of check_gopher_repetition.
struct NaiveNgramStats {
  double top[3] = {};
  double dup[6] = {};
};

NaiveNgramStats naive_ngram_stats(std::string_view text) {
  std::vector<Word> words;
  split_words(text, words);
  std::vector<std::string> w;
  std::vector<uint64_t> chars;  // code points per word
  for (const Word& x : words) {
    w.emplace_back(text.substr(x.begin, x.end - x.begin));
    chars.push_back(x.chars);
  }
  const double total = double(count_code_points(text));
  auto gram = [&](size_t i, size_t n) {
    std::string g = w[i];
    for (size_t k = 1; k < n; ++k) g += " " + w[i + k];
    return g;
  };
  auto gram_chars = [&](size_t i, size_t n) {
    uint64_t c = n - 1;
    for (size_t k = 0; k < n; ++k) c += chars[i + k];
    return c;
  };
  NaiveNgramStats st;
  for (size_t n = 2; n <= 4 && n <= w.size(); ++n) {
    std::map<std::string, std::pair<uint64_t, size_t>> counts;  // count, first position
    for (size_t i = 0; i + n <= w.size(); ++i) {
      auto [it, fresh] = counts.try_emplace(gram(i, n), 0, i);
      ++it->second.first;
    }
    uint64_t best = 0;
    size_t first = 0;
    for (auto& [g, cf] : counts)
      if (cf.first > best || (cf.first == best && cf.second < first)) best = cf.first, first = cf.second;
    st.top[n - 2] = double(gram_chars(first, n) * best) / total;
  }
  for (size_t n = 5; n <= 10 && n <= w.size(); ++n) {
    std::map<std::string, int> unique;
    uint64_t repeated = 0;
    size_t i = 0;
    while (i + n <= w.size()) {
      if (!unique.try_emplace(gram(i, n), 0).second) {
        repeated += gram_chars(i, n);
        i += n;
      } else {
        ++i;
      }
    }
    st.dup[n - 5] = double(repeated) / total;
  }
  return st;
}

TEST(GopherRepetition, NgramsMatchNaiveReference) {
  // Few distinct words and copied stretches, so that n-grams of every order repeat, overlap
  // and tie; multi-byte words, punctuation words and ideographs included.
  const std::vector<std::string> vocab = {"a", "bb", "the", "über", "日", "x.", "(y)", "a-b", "ccc", "ж"};
  std::mt19937 rng(7);
  for (int doc = 0; doc < 400; ++doc) {
    std::vector<std::string> ws;
    size_t len = rng() % 300;
    size_t vocab_size = 1 + rng() % vocab.size();
    while (ws.size() < len) {
      if (ws.size() > 10 && rng() % 4 == 0) {  // copy an earlier stretch
        size_t from = rng() % ws.size(), n = 3 + rng() % 12;
        for (size_t k = 0; k < n && from + k < ws.size(); ++k) ws.push_back(ws[from + k]);
      } else {
        ws.push_back(vocab[rng() % vocab_size]);
      }
    }
    std::string text;
    for (auto& x : ws) text += (text.empty() ? "" : rng() % 8 ? " " : "\n") + x;
    GopherRepetitionStats st;
    check_gopher_repetition(text, {}, st);
    NaiveNgramStats want = naive_ngram_stats(text);
    for (int k = 0; k < 3; ++k) EXPECT_DOUBLE_EQ(st.top_ngram_char_frac[k], want.top[k]) << text << " n=" << k + 2;
    for (int k = 0; k < 6; ++k) EXPECT_DOUBLE_EQ(st.dup_ngram_char_frac[k], want.dup[k]) << text << " n=" << k + 5;
  }
}

TEST(FirstPositionTable, EqualKeysOfDifferentItemsStayApart) {
  // Every item gets the same key, as if all hashes collided: ids still follow the items.
  const std::vector<std::string> items = {"a", "b", "a", "c", "b", "a"};
  quality_detail::FirstPositionTable table;
  table.reset(items.size());
  std::vector<uint32_t> ids;
  for (uint32_t k = 0; k < items.size(); ++k)
    ids.push_back(table.add(42, k, [&](uint32_t j) { return items[j] == items[k]; }));
  EXPECT_EQ(ids, (std::vector<uint32_t>{0, 1, 0, 3, 1, 0}));
}

TEST(FirstPositionTable, WordKeysOfShortWordsAreTheWords) {
  using quality_detail::is_exact_word_key;
  using quality_detail::word_key;
  using namespace std::literals;
  std::string_view text = "abc abcdefg abcdefgh a\0 abc"sv;
  const char* end = text.data() + text.size();
  // The same word read with one 8-byte load (at the start) or byte by byte (near the end).
  EXPECT_EQ(word_key(text.substr(0, 3), end), word_key(text.substr(text.size() - 3), end));
  EXPECT_NE(word_key(text.substr(0, 3), end), word_key(text.substr(0, 2), end));
  EXPECT_NE(word_key(text.substr(20, 1), end), word_key(text.substr(20, 2), end));  // "a" and "a\0"
  EXPECT_TRUE(is_exact_word_key(word_key(text.substr(4, 7), end)));
  EXPECT_FALSE(is_exact_word_key(word_key(text.substr(12, 8), end)));  // 8 bytes: a hash
}

TEST(C4, LineRulesAndSentences) {
  std::string long_word(1001, 'x');
  std::string text =
      "This is a fine sentence. And another one here.\n"
      "No terminal punctuation here\n"
      "Too short.\n"
      "Please enable JavaScript to view this page.\n"
      "This site uses cookies to improve things.\n"
      "Cited claim here.[1] More text[citation needed] ends.[edit]\n"
      "Wait for it...\n"
      "A line with " + long_word + " in it.\n"
      "  One. Two. Three.  \n"
      "function() { return x; }\n";
  C4Stats st;
  std::string cleaned;
  EXPECT_EQ(check_c4(text, {}, st, cleaned), "");
  EXPECT_EQ(cleaned,
            "This is a fine sentence. And another one here.\n"
            "Cited claim here. More text ends.\n"
            "One. Two. Three.");
  EXPECT_EQ(st.lines, 10u);
  EXPECT_EQ(st.lines_kept, 3u);
  EXPECT_EQ(st.lines_no_terminal_punct, 3u);  // the curly-bracket line ends without punctuation: removed, not a page drop
  EXPECT_EQ(st.lines_too_few_words, 1u);
  EXPECT_EQ(st.lines_javascript, 1u);
  EXPECT_EQ(st.lines_policy, 1u);
  EXPECT_EQ(st.lines_too_long_word, 1u);
  EXPECT_EQ(st.sentences, 7u);

  C4Options keep_js;
  keep_js.filter_javascript = false;
  EXPECT_EQ(check_c4(text, keep_js, st, cleaned), "");
  EXPECT_EQ(st.lines_kept, 4u);

  C4Options strict;
  strict.min_sentences = 8;
  EXPECT_EQ(check_c4(text, strict, st, cleaned), "c4_too_few_sentences");
}

TEST(C4, PageRules) {
  C4Stats st;
  std::string cleaned;
  std::string good = "One sentence here. Two sentences here. Three of them now. Four is more. Five ends it.\n";
  EXPECT_EQ(check_c4(good + "Lorem Ipsum dolor sit amet.\n", {}, st, cleaned), "c4_lorem_ipsum");
  EXPECT_EQ(check_c4(good + "Code like { this } is here.\n", {}, st, cleaned), "c4_curly_bracket");
  C4Options lenient;
  lenient.filter_lorem_ipsum = false;
  lenient.filter_curly_bracket = false;
  EXPECT_EQ(check_c4(good + "Code like { this } is here.\n", lenient, st, cleaned), "");
  EXPECT_EQ(check_c4("", {}, st, cleaned), "c4_too_few_sentences");
  C4Options no_min;
  no_min.min_sentences = 0;
  EXPECT_EQ(check_c4("no punctuation", no_min, st, cleaned), "c4_empty");
}

TEST(C4, ChineseKeptByteForByteWhenPunctuationRuleIsOff) {
  std::string zh = "人人生而自由，在尊严和权利上一律平等。\n他们赋有理性和良心，并应以兄弟关系的精神相对待。";
  C4Stats st;
  std::string cleaned;
  // C4's punctuation set is English: Chinese lines end in 。 and are removed.
  EXPECT_EQ(check_c4(zh, {}, st, cleaned), "c4_too_few_sentences");
  EXPECT_EQ(st.lines_no_terminal_punct, 2u);
  C4Options o;
  o.filter_no_terminal_punct = false;
  o.min_words_per_line = 0;
  o.min_sentences = 2;
  EXPECT_EQ(check_c4(zh, o, st, cleaned), "");
  EXPECT_EQ(cleaned, zh);
  EXPECT_EQ(st.sentences, 2u);
}

TEST(CountSentences, SimpleBoundaries) {
  EXPECT_EQ(count_sentences("Hello world. This is it."), 2u);
  EXPECT_EQ(count_sentences("3.14 is pi."), 1u);
  EXPECT_EQ(count_sentences("Wait... what?!"), 2u);
  EXPECT_EQ(count_sentences("一。二。三"), 3u);
  EXPECT_EQ(count_sentences(""), 0u);
  EXPECT_EQ(count_sentences(" . "), 0u);
  EXPECT_EQ(count_sentences("No end"), 1u);
}

std::string fw_line(int i, const char* end = ".") {
  return "This is a reasonably long line of text number " + std::to_string(i) + end + "\n";
}

TEST(FineWeb, EachRule) {
  FineWebStats st;
  EXPECT_EQ(check_fineweb(" \n\t\n", {}, st), "fineweb_empty");

  std::string text;
  for (int i = 0; i < 10; ++i) text += fw_line(i, i == 0 ? "." : "");
  EXPECT_EQ(check_fineweb(text, {}, st), "fineweb_line_punct_ratio");
  EXPECT_DOUBLE_EQ(st.line_punct_ratio, 0.1);
  EXPECT_EQ(st.lines, 10u);

  FineWebOptions zero_ok;
  zero_ok.line_punct_exclude_zero = true;
  std::string none;
  for (int i = 0; i < 10; ++i) none += fw_line(i, "");
  EXPECT_EQ(check_fineweb(none, zero_ok, st), "");  // a ratio of exactly 0 passes

  std::string shorts;
  for (int i = 0; i < 10; ++i) shorts += i < 7 ? "Short line " + std::to_string(i) + ".\n" : fw_line(i);
  EXPECT_EQ(check_fineweb(shorts, {}, st), "fineweb_short_line_ratio");
  EXPECT_DOUBLE_EQ(st.short_line_ratio, 0.7);

  std::string dups;
  for (int i = 0; i < 10; ++i) dups += fw_line(i % 9);  // line 0 twice
  EXPECT_EQ(check_fineweb(dups, {}, st), "fineweb_char_dup_ratio");
  EXPECT_DOUBLE_EQ(st.dup_line_char_ratio, 48.0 / (10 * 48));

  FineWebOptions no_punct;
  no_punct.min_line_punct_ratio = 0;
  std::string list;
  for (int i = 0; i < 10; ++i) list += "Supercalifragilisticexpialidocious" + std::to_string(i) + " extraordinarily\n";
  EXPECT_EQ(check_fineweb(list, no_punct, st), "fineweb_list_ratio");
  EXPECT_DOUBLE_EQ(st.newline_word_ratio, 0.5);
}

TEST(FineWeb, ChinesePassesOnItsOwnPunctuation) {
  std::string zh;
  const char* lines[] = {"人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的精神相对待。",
                         "人人有资格享有本宣言所载的一切权利和自由，不分种族、肤色、性别、语言、宗教、政治。",
                         "人人有权享有生命、自由和人身安全。任何人不得使为奴隶或奴役；一切形式的奴隶制度。"};
  for (auto* l : lines) zh += std::string(l) + "\n";
  FineWebStats st;
  EXPECT_EQ(check_fineweb(zh, {}, st), "");
  EXPECT_DOUBLE_EQ(st.line_punct_ratio, 1.0);
  EXPECT_DOUBLE_EQ(st.short_line_ratio, 0.0);
}

TEST(QualityStages, TagModeWritesStatisticsAndKeeps) {
  StageRegistry registry;
  register_filters_stages(registry);
  auto stage = registry.make("gopher_quality", StageConfig::from_key_values("mode=tag"));
  Document doc;
  doc.text = "Too short.";
  EXPECT_TRUE(stage->process(doc, stage->make_state().get()).kept());
  const std::string* attr = doc.attribute("gopher_quality");
  ASSERT_NE(attr, nullptr);
  EXPECT_NE(attr->find("\"words\":3,"), std::string::npos) << *attr;
  EXPECT_NE(attr->find("\"reason\":\"gopher_short_doc\"}"), std::string::npos) << *attr;

  auto c4 = registry.make("c4", StageConfig::from_key_values("mode=tag"));
  doc.text = "Keep me as I am\nplease";
  EXPECT_TRUE(c4->process(doc, nullptr).kept());
  EXPECT_EQ(doc.text, "Keep me as I am\nplease");  // tag mode never edits text
  EXPECT_NE(doc.attribute("c4")->find("\"reason\":\"c4_too_few_sentences\""), std::string::npos);

  auto fw = registry.make("fineweb", StageConfig::from_key_values("mode=tag"));
  EXPECT_TRUE(fw->process(doc, nullptr).kept());
  EXPECT_NE(doc.attribute("fineweb")->find("\"reason\":"), std::string::npos);
  auto rep = registry.make("gopher_repetition", StageConfig::from_key_values("mode=tag"));
  EXPECT_TRUE(rep->process(doc, nullptr).kept());
  // On a six-word text the most frequent 2-gram, even seen once, is 7 of 22 characters:
  // datatrove's rule (no minimum count) flags it, and so does kiln.
  EXPECT_NE(doc.attribute("gopher_repetition")->find("\"reason\":\"gopher_top_2_gram\""), std::string::npos);
}

TEST(QualityStages, DropModeAndOptions) {
  StageRegistry registry;
  register_filters_stages(registry);
  auto stage = registry.make("gopher_quality", StageConfig::from_key_values("min_words=2,min_stop_words=0"));
  Document doc;
  doc.text = "Short but fine text.";
  EXPECT_TRUE(stage->process(doc, nullptr).kept());
  auto c4 = registry.make("c4", StageConfig::from_key_values("min_sentences=1"));
  doc.text = "A kept sentence here.\nmenu item";
  EXPECT_TRUE(c4->process(doc, c4->make_state().get()).kept());
  EXPECT_EQ(doc.text, "A kept sentence here.");  // drop mode removes lines
  auto rep = registry.make("gopher_repetition", StageConfig::from_key_values("max_top_2_gram_char_frac=0.5"));
  // top 2-gram "A kept" is 6/21 = 0.29: under the raised 0.5; the top 3-gram (15/21) still fires.
  EXPECT_EQ(rep->process(doc, nullptr).reason, "gopher_top_3_gram");

  // Thresholds for the report's attribute histograms follow the options.
  auto fw = registry.make("fineweb", StageConfig::from_key_values("mode=tag,max_short_line_ratio=0.5"));
  auto t = fw->thresholds();
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[1].first, "fineweb.short_line_ratio");
  EXPECT_DOUBLE_EQ(t[1].second, 0.5);
  EXPECT_EQ(rep->thresholds().size(), 13u);

  EXPECT_THROW(registry.make("gopher_quality", StageConfig::from_key_values("min_wrods=2")), Error);
  EXPECT_THROW(registry.make("fineweb", StageConfig::from_key_values("mode=maybe")), Error);
  EXPECT_THROW(registry.make("fineweb", StageConfig::from_key_values("max_short_line_ratio=-1")), Error);
}

}  // namespace
}  // namespace kiln
