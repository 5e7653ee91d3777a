#include "filters/demographics.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "corpus/error.h"
#include "filters/basic.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

TEST(Demographics, ShippedListsWholeWords) {
  DemographicTagger tagger(DemographicOptions{});
  DemographicCounts c = tagger.count("She met her brother. The shell of Hershey's hermit hen.");
  EXPECT_EQ(tagger.to_json(c), R"({"gender":{"female":2,"male":1}})");
  c = tagger.count("An African-American woman, a NON-BINARY writer and the elderly.");
  // Axes and groups come out in sorted order (TOML tables are maps); overlapping phrases
  // each count ("african-american" is in "black" and contains "african").
  EXPECT_EQ(tagger.to_json(c),
            R"({"age":{"old":1},"ethnicity_nationality":{"african":1,"black":1},"gender":{"female":1,"nonbinary":1}})");
  EXPECT_EQ(tagger.to_json(tagger.count("Nothing to see here.")), "{}");
  std::vector<std::string> axes;
  for (auto& g : tagger.groups())
    if (axes.empty() || axes.back() != g.axis) axes.push_back(g.axis);
  EXPECT_EQ(axes, (std::vector<std::string>{"age", "disability", "ethnicity_nationality", "gender", "religion",
                                            "sexual_orientation"}));
}

TEST(Demographics, CustomListsAxesAndErrors) {
  fs::path path = fs::temp_directory_path() / ("kiln_terms_" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << "[colour]\nred = [\"rot\", \"rouge\"]\nblue = [\"blau\"]\n[size]\nbig = [\"groß\"]\n";
  DemographicOptions o;
  o.terms_path = path.string();
  o.axes = {"size"};
  DemographicTagger only_size(o);
  EXPECT_EQ(only_size.to_json(only_size.count("ROT und GROSS, groß")), R"({"size":{"big":1}})");
  o.axes = {"shape"};
  EXPECT_THROW(DemographicTagger{o}, Error);
  std::ofstream(path) << "[colour]\nred = \"rot\"\n";
  o.axes = {};
  try {
    DemographicTagger bad(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(":2:"), std::string::npos) << e.what();
  }
  fs::remove(path);
}

TEST(Demographics, StageTagsEveryDocument) {
  StageRegistry registry;
  register_filters_stages(registry);
  auto stage = registry.make("demographic_tags", StageConfig::parse("axes = [\"religion\"]", "t"));
  Document doc;
  doc.text = "The rabbi and the imam visited the church.";
  EXPECT_TRUE(stage->process(doc, nullptr).kept());
  EXPECT_EQ(*doc.attribute("demographics"), R"({"religion":{"christian":1,"jewish":1,"muslim":1}})");
}

}  // namespace
}  // namespace kiln
