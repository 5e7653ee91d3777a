// Recipes: parsing, validation with line numbers, stage construction.
#include <gtest/gtest.h>

#include "corpus/error.h"
#include "curate/recipe.h"

namespace kiln {
namespace {

std::string error_of(const std::string& toml) {
  try {
    parse_recipe(toml, "r.toml", default_stage_registry());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Recipe, ParsesInputsOutputRunAndStages) {
  Recipe r = parse_recipe(R"(
[input]
paths = ["a/*.jsonl", "b/"]
text_field = "content"
utf8 = "reject"
max_record_bytes = "1M"

[output]
dir = "out/x"
shard_size = "64M"
compression = "gzip"

[run]
threads = 3
strict = true

[[stage]]
type = "normalize"
nfc = false

[[stage]]
type = "length"
min_words = 50
)",
                          "r.toml", default_stage_registry());
  EXPECT_EQ(r.inputs, (std::vector<std::string>{"a/*.jsonl", "b/"}));
  EXPECT_EQ(r.pipeline.reader.text_field, "content");
  EXPECT_EQ(r.pipeline.reader.utf8, Utf8Policy::kReject);
  EXPECT_EQ(r.pipeline.reader.max_record_bytes, 1u << 20);
  EXPECT_EQ(r.pipeline.output_dir, "out/x");
  EXPECT_EQ(r.pipeline.shard_bytes, 64u << 20);
  EXPECT_EQ(r.pipeline.compression, Compression::kGzip);
  EXPECT_EQ(r.pipeline.threads, 3);
  EXPECT_TRUE(r.pipeline.strict);
  ASSERT_EQ(r.stages.size(), 2u);
  EXPECT_EQ(r.stages[0]->name(), "normalize");
  EXPECT_EQ(r.stages[1]->name(), "length");
}

TEST(Recipe, UnknownKeysAreErrorsWithLineNumbers) {
  EXPECT_EQ(error_of("[input]\npaths = [\"x\"]\ntext_feild = \"t\"\n"), "r.toml:3:1: unknown key 'text_feild' in [input]");
  EXPECT_EQ(error_of("[input]\npaths = [\"x\"]\n\n[[stage]]\ntype = \"length\"\nmin_wrods = 3\n"),
            "r.toml:6:1: unknown option 'min_wrods' for stage 'length'");
  EXPECT_EQ(error_of("[inptu]\npaths = 1\n").rfind("r.toml:1:1: unknown section 'inptu'", 0), 0u);
}

TEST(Recipe, WrongTypesAndUnknownStagesNameTheLine) {
  EXPECT_EQ(error_of("[input]\npaths = [\"x\"]\n[[stage]]\ntype = \"length\"\nmin_words = \"fifty\"\n"),
            "r.toml:5:13: option 'min_words' must be an integer");
  EXPECT_EQ(error_of("[input]\npaths = [\"x\"]\n[[stage]]\ntype = \"lenght\"\n").rfind("r.toml:4:8: unknown stage 'lenght'", 0),
            0u);
  EXPECT_EQ(error_of("[input]\npaths = [\"x\"\n").rfind("r.toml:2:", 0), 0u);  // TOML syntax error
  EXPECT_EQ(error_of("[output]\ndir = \"o\"\n"), "r.toml: [input] paths is missing: name at least one input");
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

TEST(StageConfig, CommandLineOptionsKeepListsWhole) {
  StageConfig c = StageConfig::from_key_values("languages=[\"eng\",\"deu\"],min_confidence=0.5,model=a,b=\"x,y\"");
  EXPECT_EQ(c.get_strings("languages", {}), (std::vector<std::string>{"eng", "deu"}));
  EXPECT_DOUBLE_EQ(c.get_double("min_confidence", 0), 0.5);
  EXPECT_EQ(c.get_string("model", ""), "a");
  EXPECT_EQ(c.get_string("b", ""), "x,y");
  StageConfig one = StageConfig::from_key_values("languages=eng");
  EXPECT_EQ(one.get_strings("languages", {}), (std::vector<std::string>{"eng"}));  // a bare string is a list of one
}

}  // namespace
}  // namespace kiln
