// Shard writing and reject records.
#include <gtest/gtest.h>

#include "corpus/stream.h"
#include "corpus/writer.h"
#include "test_util.h"

namespace kiln {
namespace {

TEST(ShardWriter, RollsAtBatchBoundariesWithStableNames) {
  testing::TempDir dir;
  ShardWriter writer(dir.path("part-00000"), ".jsonl.zst", 100);
  std::string expected_first, expected_second;
  for (int i = 0; i < 5; ++i) {
    std::string plain = std::string(40, char('a' + i)) + "\n", encoded;
    compress_append(Compression::kZstd, 3, plain, encoded);
    writer.write(encoded, plain.size());
    (i < 3 ? expected_first : expected_second) += plain;  // 3 × 41 bytes ≥ 100: roll after the third
  }
  auto shards = writer.commit();
  ASSERT_EQ(shards, (std::vector<std::string>{dir.path("part-00000-0000.jsonl.zst"), dir.path("part-00000-0001.jsonl.zst")}));
  EXPECT_EQ(read_file(shards[0]), expected_first);
  EXPECT_EQ(read_file(shards[1]), expected_second);
}

TEST(Writer, RejectedAndUnreadableRecordsKeepEverything) {
  Document doc;
  doc.fields = {{"id", "\"d1\""}, {"text", ""}};
  doc.text = "body";
  std::string out;
  append_rejected_jsonl(doc, "text", "length", "too_few_words", out);
  EXPECT_EQ(out, "{\"id\":\"d1\",\"text\":\"body\",\"reject\":{\"stage\":\"length\",\"reason\":\"too_few_words\"}}\n");

  Record bad;
  bad.doc.source_path = "in.jsonl";
  bad.doc.source_line = 7;
  bad.doc.source_offset = 120;
  bad.raw = "{\"text\": oops";
  bad.reject_reason = "malformed_json";
  bad.reject_message = "in.jsonl:7: malformed JSON";
  out.clear();
  append_unreadable_jsonl(bad, out);
  EXPECT_EQ(out,
            "{\"reject\":{\"stage\":\"read\",\"reason\":\"malformed_json\",\"file\":\"in.jsonl\",\"line\":7,"
            "\"offset\":120,\"message\":\"in.jsonl:7: malformed JSON\"},\"raw\":\"{\\\"text\\\": oops\"}\n");
}

}  // namespace
}  // namespace kiln
