// Golden decisions and statistics of the four quality rule sets on real documents
// (tests/data/filters/quality_sample.jsonl.zst), written by the independent Python
// reference scripts/fixtures/filters/quality_reference.py. The stages run in tag mode,
// so this also checks the attribute JSON they write.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <fstream>
#include <map>

#include "corpus/reader.h"
#include "filters/basic.h"

namespace kiln {
namespace {

const std::string kDir = std::string(KILN_TEST_DATA_DIR) + "/filters/";

void expect_same(simdjson::dom::object want, simdjson::dom::object got, const std::string& where) {
  size_t n_want = 0;
  for (auto field : want) {
    ++n_want;
    std::string key(field.key);
    simdjson::dom::element g;
    ASSERT_EQ(got.at_key(key).get(g), simdjson::SUCCESS) << where << ": missing " << key;
    auto w = field.value;
    if (w.is_null()) {
      EXPECT_TRUE(g.is_null()) << where << " " << key << " = " << g;
    } else if (w.is_string()) {
      EXPECT_EQ(std::string_view(w), std::string_view(g)) << where << " " << key;
    } else {
      double a = double(w), b = double(g);
      EXPECT_LE(std::fabs(a - b), 1e-12 * std::max(1.0, std::fabs(a))) << where << " " << key << ": " << a << " vs " << b;
    }
  }
  size_t n_got = 0;
  for (auto f : got) (void)f, ++n_got;
  EXPECT_EQ(n_want, n_got) << where;
}

TEST(QualityGolden, MatchesPythonReferenceOnRealDocuments) {
  StageRegistry registry;
  register_filters_stages(registry);
  const char* names[] = {"gopher_quality", "gopher_repetition", "c4", "fineweb"};
  std::vector<std::unique_ptr<Stage>> stages;
  for (auto* n : names) stages.push_back(registry.make(n, StageConfig::from_key_values("mode=tag")));

  std::ifstream golden(kDir + "quality_golden.jsonl");
  ASSERT_TRUE(golden) << "missing " << kDir << "quality_golden.jsonl";
  ReaderOptions options;
  auto reader = DocumentReader::open(kDir + "quality_sample.jsonl.zst", options);
  simdjson::dom::parser want_parser, got_parser;
  std::map<std::string, int> dropped;
  Record record;
  int docs = 0;
  std::string line;
  while (reader->next(record)) {
    DocumentReader::decode(record, options);
    ASSERT_FALSE(record.rejected()) << record.reject_message;
    ASSERT_TRUE(std::getline(golden, line)) << "golden file has fewer documents than the sample";
    simdjson::dom::object want;
    ASSERT_EQ(want_parser.parse(line).get(want), simdjson::SUCCESS);
    EXPECT_EQ(std::string_view(want["id"]), record.doc.id);
    for (size_t i = 0; i < stages.size(); ++i) {
      Document doc = record.doc;
      ASSERT_TRUE(stages[i]->process(doc, stages[i]->make_state().get()).kept());
      EXPECT_EQ(doc.text, record.doc.text) << "tag mode edited the text";
      const std::string* attr = doc.attribute(names[i]);
      ASSERT_NE(attr, nullptr);
      simdjson::dom::object got;
      ASSERT_EQ(got_parser.parse(*attr).get(got), simdjson::SUCCESS) << *attr;
      expect_same(want[names[i]], got, record.doc.id + " " + names[i]);
      if (!got["reason"].is_null()) ++dropped[names[i]];
    }
    ++docs;
  }
  EXPECT_FALSE(std::getline(golden, line)) << "golden file has more documents than the sample";
  EXPECT_EQ(docs, 171);
  // The sample exercises every rule set in both directions.
  for (auto* n : names) {
    EXPECT_GT(dropped[n], 5) << n;
    EXPECT_LT(dropped[n], docs - 50) << n;
  }
}

}  // namespace
}  // namespace kiln
