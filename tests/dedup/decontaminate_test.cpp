#include <gtest/gtest.h>

#include <filesystem>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "dedup/decontaminate.h"

namespace kiln::dedup {
namespace {
namespace fs = std::filesystem;

TEST(Decontaminate, DropsDocumentsSharingA13GramAndReportsItems) {
  auto dir = fs::temp_directory_path() / "kiln-dedup-decontam";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string eval = (dir / "eval.jsonl").string();
  write_file(eval,
             "{\"id\":\"q1\",\"split\":\"test\",\"question\":\"Which gas do green plants take in from the air to "
             "make their own food during photosynthesis?\",\"choices\":[\"oxygen\",\"carbon dioxide\"],\"label\":1}\n"
             "{\"id\":\"q2\",\"ctx\":\"A man is standing on a ladder.\",\"endings\":[\"He paints the ceiling of "
             "the old barn with a long roller and a bucket of white paint.\",\"He falls.\"]}\n"
             "{\"id\":\"q3\",\"question\":\"Too short to match.\"}\n");
  DecontaminationOptions o;
  o.eval_paths = {eval};
  auto stage = Decontaminator::open(o);
  EXPECT_EQ(stage->num_items(), 3u);

  Document copied;  // q1's question inside a longer text, different case and punctuation
  copied.id = "doc-1";
  copied.source_path = "x";
  copied.text = "Quiz time! WHICH gas do green plants take in from the air, to make their own food during "
                "photosynthesis? Answer below.";
  Verdict v = stage->process(copied, nullptr);
  EXPECT_FALSE(v.kept());
  EXPECT_EQ(v.reason, "eval_overlap");
  EXPECT_EQ(*copied.attribute("eval_overlap"), "[\"q1\"]");

  Document across;  // q2: n-gram spanning ctx and the first ending
  across.id = "doc-2";
  across.source_path = "x";
  across.source_offset = 10;
  across.text = "a man is standing on a ladder he paints the ceiling of the old barn today";
  EXPECT_FALSE(stage->process(across, nullptr).kept());

  Document clean;
  clean.text = "Plants are green. The barn is old. Nothing here overlaps with thirteen words in a row.";
  EXPECT_TRUE(stage->process(clean, nullptr).kept());

  EXPECT_EQ(stage->num_items_matched(), 2u);
  std::string report = stage->report_jsonl();
  EXPECT_NE(report.find("\"id\":\"q1\",\"docs_matched\":1,\"first_doc\":\"doc-1\""), std::string::npos) << report;
  EXPECT_NE(report.find("\"id\":\"q2\""), std::string::npos);

  o.action = ContaminationAction::kMark;
  auto marker = Decontaminator::open(o);
  Document again = copied;
  EXPECT_TRUE(marker->process(again, nullptr).kept());
  EXPECT_NE(again.attribute("eval_overlap"), nullptr);
}

TEST(Decontaminate, BadEvalLineNamesFileAndLine) {
  auto dir = fs::temp_directory_path() / "kiln-dedup-decontam-bad";
  fs::create_directories(dir);
  std::string eval = (dir / "bad.jsonl").string();
  write_file(eval, "{\"id\":1}\nnot json\n");
  DecontaminationOptions o;
  o.eval_paths = {eval};
  try {
    Decontaminator::open(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::dedup
