#include "filters/langid.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "corpus/error.h"
#include "corpus/reader.h"
#include "filters/basic.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

struct Example {
  std::string lang, split, text;
};

// UDHR paragraphs in 12 languages (tests/data/filters/langid_udhr_tiny.jsonl).
std::vector<Example> tiny() {
  std::vector<Example> out;
  ReaderOptions o;
  auto reader = DocumentReader::open(std::string(KILN_TEST_DATA_DIR) + "/filters/langid_udhr_tiny.jsonl", o);
  Record r;
  while (reader->next(r)) {
    DocumentReader::decode(r, o);
    auto unquote = [](const std::string* s) { return s->substr(1, s->size() - 2); };
    out.push_back({unquote(r.doc.field("lang")), unquote(r.doc.field("split")), r.doc.text});
  }
  return out;
}

LangIdModel train_tiny(bool reversed = false) {
  auto rows = tiny();
  if (reversed) std::reverse(rows.begin(), rows.end());
  LangIdTrainer trainer;
  for (auto& e : rows)
    if (e.split == "train") trainer.add(e.lang, e.text);
  return trainer.finish();
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(LangIdFeatures, LowercasedPaddedWordNgrams) {
  std::vector<uint64_t> a, b;
  for_each_langid_ngram("The cat", 1, 4, [&](uint64_t h) { a.push_back(h); });
  for_each_langid_ngram("the, CAT!", 1, 4, [&](uint64_t h) { b.push_back(h); });
  EXPECT_EQ(a, b);  // case and punctuation do not matter
  // " the ": 2-grams " t","th","he","e " (4); 3-grams 3; 4-grams 2; no 1-grams of ASCII letters.
  std::vector<uint64_t> the;
  for_each_langid_ngram("the", 1, 4, [&](uint64_t h) { the.push_back(h); });
  EXPECT_EQ(the.size(), 9u);
  std::vector<uint64_t> ete;
  for_each_langid_ngram("été", 1, 1, [&](uint64_t h) { ete.push_back(h); });
  EXPECT_EQ(ete.size(), 2u);  // é twice; t is ASCII
  std::vector<uint64_t> zh;
  for_each_langid_ngram("人人生而自由", 1, 2, [&](uint64_t h) { zh.push_back(h); });
  EXPECT_EQ(zh.size(), 6u + 7u);  // CJK: one long word of 6 characters
}

TEST(LangId, HeldOutParagraphsOfTwelveLanguages) {
  LangIdModel model = train_tiny();
  EXPECT_EQ(model.labels().size(), 12u);
  int correct = 0, total = 0;
  for (auto& e : tiny()) {
    if (e.split != "test") continue;
    ++total;
    LangIdPrediction p = model.predict(e.text);
    correct += p.label == e.lang;
    EXPECT_EQ(p.label, e.lang) << e.text;
    EXPECT_GT(p.confidence, 0.5) << e.text;
  }
  EXPECT_EQ(total, 24);
  EXPECT_EQ(correct, 24);
}

TEST(LangId, EmptyAndLetterlessTextHasNoLabel) {
  LangIdModel model = train_tiny();
  for (std::string_view t : {"", "12345 !!! ---", "   "}) {
    LangIdPrediction p = model.predict(t);
    EXPECT_EQ(p.label, "");
    EXPECT_EQ(p.confidence, 0.0);
    EXPECT_EQ(p.ngrams, 0u);
  }
}

TEST(LangId, SaveLoadRoundTripAndDeterministicTraining) {
  fs::path dir = fs::temp_directory_path() / ("kiln_langid_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  train_tiny().save((dir / "a.kiln").string());
  train_tiny(/*reversed=*/true).save((dir / "b.kiln").string());
  EXPECT_EQ(read_file(dir / "a.kiln"), read_file(dir / "b.kiln"));  // input order does not matter

  LangIdModel original = train_tiny();
  LangIdModel loaded = LangIdModel::load((dir / "a.kiln").string());
  EXPECT_EQ(loaded.labels(), original.labels());
  EXPECT_EQ(loaded.num_entries(), original.num_entries());
  for (auto& e : tiny()) EXPECT_EQ(loaded.scores(e.text), original.scores(e.text));

  std::string bytes = read_file(dir / "a.kiln");
  std::ofstream((dir / "bad.kiln").string(), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  try {
    LangIdModel::load((dir / "bad.kiln").string());
    FAIL() << "a truncated model loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.kiln"), std::string::npos) << e.what();
  }
  EXPECT_THROW(LangIdModel::load((dir / "missing.kiln").string()), Error);
  fs::remove_all(dir);
}

TEST(LangIdStage, TagAndDropModes) {
  fs::path path = fs::temp_directory_path() / ("kiln_langid_stage_" + std::to_string(::getpid()) + ".kiln");
  train_tiny().save(path.string());
  StageRegistry registry;
  register_filters_stages(registry);
  Document doc;
  doc.text = "All human beings are born free and equal in dignity and rights.";
  auto tag = registry.make("langid", StageConfig::from_key_values("mode=tag,model=" + path.string()));
  EXPECT_TRUE(tag->process(doc, nullptr).kept());
  EXPECT_EQ(*doc.attribute("lang"), "\"eng\"");
  ASSERT_NE(doc.attribute("lang_confidence"), nullptr);

  auto only_fr = registry.make("langid", StageConfig::parse("model = \"" + path.string() + "\"\nlanguages = [\"fra\"]", "t"));
  EXPECT_EQ(only_fr->process(doc, nullptr).reason, "langid_not_wanted");
  doc.text = "Tous les êtres humains naissent libres et égaux en dignité et en droits.";
  EXPECT_TRUE(only_fr->process(doc, nullptr).kept());
  EXPECT_EQ(*doc.attribute("lang"), "\"fra\"");

  auto strict = registry.make("langid", StageConfig::from_key_values("min_confidence=1.0,model=" + path.string()));
  doc.text = "ok";
  EXPECT_EQ(strict->process(doc, nullptr).reason, "langid_low_confidence");
  EXPECT_THROW(registry.make("langid", StageConfig::from_key_values("min_confidence=2,model=" + path.string())), Error);
  // A language the model does not know would drop every document: refused, with the place
  // in the recipe and the labels that look like it ("en" for "eng").
  try {
    registry.make("langid", StageConfig::parse("model = \"" + path.string() + "\"\nlanguages = [\"en\"]", "r.toml"));
    FAIL() << "an unknown language was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("r.toml:2:", 0), 0u) << message;
    EXPECT_NE(message.find("'en' is not one of the model's"), std::string::npos) << message;
    EXPECT_NE(message.find("close: eng"), std::string::npos) << message;
  }
  LangIdStageOptions options;
  options.model_path = path.string();
  options.languages = {"english"};
  EXPECT_THROW(make_langid_stage(options), Error);
  fs::remove(path);
}

TEST(LangIdShippedModel, KnowsCommonLanguages) {
  std::string path = default_langid_model_path();
  if (!fs::exists(path)) GTEST_SKIP() << "no shipped model at " << path;
  LangIdModel model = LangIdModel::load(path);
  EXPECT_GE(model.labels().size(), 400u);
  struct Case {
    const char* text;
    const char* lang;
  } cases[] = {
      {"The committee will publish its report on the budget next week.", "eng"},
      {"Le comité publiera son rapport sur le budget la semaine prochaine.", "fra"},
      {"Der Ausschuss wird seinen Bericht über den Haushalt nächste Woche veröffentlichen.", "deu"},
      {"Комитет опубликует свой доклад о бюджете на следующей неделе.", "rus"},
      {"ستنشر اللجنة تقريرها عن الميزانية الأسبوع المقبل.", "arb"},
  };
  for (auto& c : cases) EXPECT_EQ(model.predict(c.text).label, c.lang) << c.text;
  // UDHR renders the declaration in eight Chinese varieties with nearly the same
  // characters; a short sentence is only expected to land among them.
  std::string_view zh = model.predict("委员会将于下周发表关于预算的报告。").label;
  const std::vector<std::string_view> sinitic = {"cjy", "cmn", "gan", "hak", "hsn", "nan", "wuu", "yue"};
  EXPECT_NE(std::find(sinitic.begin(), sinitic.end(), zh), sinitic.end()) << zh;
}

}  // namespace
}  // namespace kiln
