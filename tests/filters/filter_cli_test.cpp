// `kiln filter` end to end: stages from --stage flags, counts in stats.json, tag-mode
// attributes in the output.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>

namespace kiln {
namespace {

namespace fs = std::filesystem;

int run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

TEST(FilterCli, StagesFromFlags) {
  fs::path out = fs::temp_directory_path() / ("kiln_filter_cli_" + std::to_string(::getpid()));
  fs::remove_all(out);
  std::string sample = std::string(KILN_TEST_DATA_DIR) + "/filters/quality_sample.jsonl.zst";
  ASSERT_EQ(run(std::string(KILN_BINARY) + " filter " + sample + " -o " + out.string() +
                " --stage gopher_quality --stage fineweb:mode=tag -j 2"),
            0);
  simdjson::dom::parser parser;
  simdjson::dom::element stats;
  ASSERT_EQ(parser.load((out / "stats.json").string()).get(stats), simdjson::SUCCESS);
  // 69 of the 171 documents fail Gopher quality (as in quality_golden.jsonl); FineWeb only tags.
  EXPECT_EQ(uint64_t(stats["docs_read"]), 171u);
  EXPECT_EQ(uint64_t(stats["docs_kept"]), 102u);
  EXPECT_EQ(uint64_t(stats["stages"].at(0)["reasons"]["gopher_enough_stop_words"]["docs"]), 37u);
  EXPECT_EQ(uint64_t(stats["stages"].at(1)["docs_dropped"]), 0u);
  std::string kept = out.string() + "/part-00000-0000.jsonl.zst";
  EXPECT_EQ(run("zstd -dc " + kept + " | grep -q '\"attributes\":{\"fineweb\":{\"lines\"'"), 0);

  EXPECT_NE(run(std::string(KILN_BINARY) + " filter " + sample + " -o " + out.string() + " --stage no_such_stage"), 0);
  EXPECT_NE(run(std::string(KILN_BINARY) + " filter " + sample + " -o " + out.string() + " --stage c4:bogus=1"), 0);
  fs::remove_all(out);
}

}  // namespace
}  // namespace kiln
