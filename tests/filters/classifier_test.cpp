#include "filters/classifier.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "corpus/error.h"
#include "filters/basic.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

// A small separable task: reviews that praise or complain, with shared filler words.
TextClassifier train_reviews(ClassifierTrainOptions o = {}) {
  const char* pos[] = {"great food and friendly staff", "the service was great", "lovely room, great view",
                       "friendly and helpful people", "a lovely stay, would return", "great value, lovely place"};
  const char* neg[] = {"awful food and rude staff", "the service was awful", "dirty room, noisy street",
                       "rude and unhelpful people", "a terrible stay, never again", "awful value, dirty place"};
  TextClassifierTrainer t(o);
  for (int rep = 0; rep < 5; ++rep)
    for (int i = 0; i < 6; ++i) {
      t.add("pos", pos[i]);
      t.add("neg", neg[i]);
    }
  return t.train();
}

std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Classifier, LearnsSeparableTask) {
  TextClassifier m = train_reviews();
  EXPECT_EQ(m.labels(), (std::vector<std::string>{"neg", "pos"}));  // sorted
  EXPECT_EQ(m.predict("Great staff, lovely food!").label, "pos");
  EXPECT_EQ(m.predict("rude staff and a dirty room").label, "neg");
  auto p = m.probabilities("great");
  EXPECT_NEAR(p[0] + p[1], 1.0, 1e-9);
  EXPECT_GT(p[1], 0.8);
}

// The division-free bucket modulus equals % for every kind of value: random, the edges
// of the 64-bit range, multiples of the divisor and their neighbours.
TEST(Classifier, BucketModulusEqualsRemainder) {
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&] {  // splitmix64
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  const uint64_t max = ~uint64_t(0);
  for (uint64_t d : std::vector<uint64_t>{1, 2, 3, 7, 1000, 2000000, 1u << 21, (1u << 21) - 1, 4294967295u,
                                          4294967296u, 0x123456789abcdefu, max}) {
    const BucketModulus mod(d);
    for (int i = 0; i < 200000; ++i) {
      const uint64_t h = next();
      ASSERT_EQ(mod(h), h % d) << h << " mod " << d;
    }
    for (uint64_t h : std::vector<uint64_t>{0, 1, d - 1, d, d + 1, max, max - 1, (max / d) * d, (max / d) * d - 1})
      ASSERT_EQ(mod(h), h % d) << h << " mod " << d;
  }
}

TEST(Classifier, SaveLoadDeterministicAndInputs) {
  fs::path dir = fs::temp_directory_path() / ("kiln_cls_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ClassifierTrainOptions small;
  small.buckets = 1 << 12;
  train_reviews(small).save((dir / "a.kiln").string());
  train_reviews(small).save((dir / "b.kiln").string());
  EXPECT_EQ(bytes_of(dir / "a.kiln"), bytes_of(dir / "b.kiln"));  // same seed, same bytes
  TextClassifier loaded = TextClassifier::load((dir / "a.kiln").string());
  EXPECT_EQ(loaded.probabilities("lovely view"), train_reviews(small).probabilities("lovely view"));

  std::ofstream(dir / "ft.txt") << "__label__pos great stay\n__label__neg awful stay\n";
  std::ofstream(dir / "js.jsonl") << R"({"label": "pos", "text": "great stay"})" << "\n";
  std::vector<std::string> got;
  for (auto name : {"ft.txt", "js.jsonl"})
    read_labelled((dir / name).string(), "label", "text",
                  [&](std::string_view l, std::string_view t) { got.push_back(std::string(l) + "|" + std::string(t)); });
  EXPECT_EQ(got, (std::vector<std::string>{"pos|great stay", "neg|awful stay", "pos|great stay"}));

  ClassifierEvaluation e = evaluate_classifier(loaded, (dir / "ft.txt").string(), "label", "text");
  EXPECT_EQ(e.docs, 2u);
  EXPECT_EQ(e.correct, 2u);
  EXPECT_DOUBLE_EQ(e.macro_f1, 1.0);

  std::ofstream(dir / "bad.kiln") << "not a model";
  EXPECT_THROW(TextClassifier::load((dir / "bad.kiln").string()), Error);

  StageRegistry registry;
  register_filters_stages(registry);
  auto stage = registry.make(
      "classifier", StageConfig::from_key_values("target=neg,max_score=0.5,attribute=review,model=" + (dir / "a.kiln").string()));
  Document doc;
  doc.text = "awful and rude";
  EXPECT_EQ(stage->process(doc, nullptr).reason, "classifier_neg");
  doc.text = "lovely and great";
  EXPECT_TRUE(stage->process(doc, nullptr).kept());
  EXPECT_EQ(doc.attribute("review")->rfind("{\"label\":\"pos\",\"score\":", 0), 0u) << *doc.attribute("review");
  EXPECT_THROW(registry.make("classifier", StageConfig::from_key_values("target=meh,model=" + (dir / "a.kiln").string())),
               Error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kiln
