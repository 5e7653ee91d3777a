#include "filters/toxicity.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "corpus/error.h"
#include "filters/basic.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

class ToxicityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (fs::temp_directory_path() / ("kiln_lexicon_" + std::to_string(::getpid()) + ".json")).string();
    std::ofstream(path_) << R"({"en": ["ass", "cunt", "2 girls 1 cup", "b!tch"], "de": ["dödel", "arsch"],
                               "zh": ["乳", "性"], "ja": ["sm", "グロ", "エロ"]})";
  }
  void TearDown() override { fs::remove(path_); }
  ToxicityLexicon lexicon(std::vector<std::string> lists) {
    ToxicityLexiconOptions o;
    o.lexicon_path = path_;
    o.lists = std::move(lists);
    return ToxicityLexicon(o);
  }
  std::string path_;
};

TEST_F(ToxicityTest, WholeWordsOnly) {
  auto en = lexicon({"en"});
  EXPECT_EQ(en.match("The assassin passed the class in Scunthorpe.").total, 0u);
  EXPECT_EQ(en.match("What an ASS! ass-hat, (ass)").total, 3u);
  EXPECT_EQ(en.match("the 2 Girls, 1 cup video").total, 1u);  // multi-word entry across punctuation
  EXPECT_EQ(en.match("b tch and b!tch").total, 2u);           // the entry is cut like text
  EXPECT_EQ(en.match("").total, 0u);
}

TEST_F(ToxicityTest, UnicodeCaseAndBoundaries) {
  auto de = lexicon({"de"});
  EXPECT_EQ(de.match("So ein DÖDEL.").total, 1u);           // Unicode lowercasing
  EXPECT_EQ(de.match("Dödelei und Arschloch").total, 0u);    // longer words do not match
  EXPECT_EQ(de.match("«arsch»").total, 1u);                  // non-ASCII punctuation is a boundary
}

TEST_F(ToxicityTest, UnspacedScriptsMatchSubstringsMinusC4Allowlist) {
  auto zh = lexicon({"zh", "ja"});
  ToxicityMatches m = zh.match("她的乳房检查，性别平等。エロ本とSMS");
  EXPECT_EQ(m.per_list[0], 1u);  // 乳 inside 乳房; 性 is on C4's allowlist
  EXPECT_EQ(m.per_list[1], 1u);  // エロ; "sm" is allowlisted for ja (it would hit "SMS")
}

TEST_F(ToxicityTest, ScoreReasonAndStage) {
  auto all = lexicon({"*"});
  EXPECT_EQ(all.lists().size(), 4u);
  ToxicityMatches m = all.match("you ass you arsch");
  EXPECT_EQ(m.total, 2u);
  EXPECT_EQ(m.words, 4u);
  EXPECT_DOUBLE_EQ(m.score(), 0.5);

  StageRegistry registry;
  register_filters_stages(registry);
  Document doc;
  doc.text = "one two three four five six seven eight nine ass";
  auto any = registry.make("toxicity_lexicon", StageConfig::from_key_values("lexicon=" + path_));
  EXPECT_EQ(any->process(doc, nullptr).reason, "toxic_words_en");
  auto lenient = registry.make("toxicity_lexicon", StageConfig::from_key_values("max_score=0.1,lexicon=" + path_));
  EXPECT_TRUE(lenient->process(doc, nullptr).kept());  // 1 match in 10 words is not above 0.1
  auto tag = registry.make("toxicity_lexicon", StageConfig::from_key_values("mode=tag,lexicon=" + path_));
  EXPECT_TRUE(tag->process(doc, nullptr).kept());
  EXPECT_EQ(*doc.attribute("toxicity_lexicon"), R"({"matches":1,"words":10,"score":0.1,"reason":"toxic_words_en"})");
  EXPECT_THROW(registry.make("toxicity_lexicon", StageConfig::parse("lists = [\"xx\"]\nlexicon = \"" + path_ + "\"", "t")),
               Error);
}

TEST(ToxicityShipped, LoadsAllLists) {
  ToxicityLexiconOptions o;
  o.lists = {"*"};
  ToxicityLexicon lexicon(o);
  EXPECT_EQ(lexicon.lists().size(), 28u);
  EXPECT_EQ(lexicon.match("The committee will publish its report on the budget next week.").total, 0u);
}

}  // namespace
}  // namespace kiln
