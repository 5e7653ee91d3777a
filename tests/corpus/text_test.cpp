// UTF-8 repair and JSON string output against CPython's behaviour (fixture made by
// scripts/fixtures/corpus/make_text_fixtures.py).
#include <gtest/gtest.h>
#include <simdjson.h>

#include "corpus/text.h"
#include "test_util.h"

namespace kiln {
namespace {

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(char(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

struct Case {
  std::string input, repaired, json_utf8, json_ascii;
};

std::vector<Case> load_cases() {
  std::vector<Case> cases;
  simdjson::dom::parser parser;
  std::istringstream lines(testing::slurp(testing::data_path("corpus/text_cases.jsonl")));
  std::string line;
  while (std::getline(lines, line)) {
    simdjson::dom::element e = parser.parse(line);
    cases.push_back({unhex(std::string_view(e["input_hex"])), unhex(std::string_view(e["repaired_hex"])),
                     std::string(std::string_view(e["json_utf8"])), std::string(std::string_view(e["json_ascii"]))});
  }
  return cases;
}

TEST(Text, RepairMatchesPythonDecodeReplace) {
  auto cases = load_cases();
  ASSERT_EQ(cases.size(), 20u);
  for (const auto& c : cases) {
    EXPECT_EQ(repair_utf8(c.input), c.repaired) << "input hex of case: " << c.json_ascii;
    EXPECT_EQ(is_valid_utf8(c.input), c.input == c.repaired);
    EXPECT_TRUE(is_valid_utf8(repair_utf8(c.input)));
  }
}

TEST(Text, JsonStringMatchesPythonJsonDumps) {
  for (const auto& c : load_cases()) {
    std::string utf8, ascii;
    append_json_string(utf8, c.repaired);
    append_json_string(ascii, c.repaired, /*ascii_only=*/true);
    EXPECT_EQ(utf8, c.json_utf8);
    EXPECT_EQ(ascii, c.json_ascii);
  }
}

TEST(Text, JsonStringRoundTripsThroughParser) {
  simdjson::dom::parser parser;
  for (const auto& c : load_cases()) {
    for (bool ascii : {false, true}) {
      std::string json;
      append_json_string(json, c.repaired, ascii);
      std::string_view back;
      ASSERT_EQ(parser.parse(json).get_string().get(back), simdjson::SUCCESS) << json;
      EXPECT_EQ(back, c.repaired);
    }
  }
}

}  // namespace
}  // namespace kiln
