// Document readers: JSONL field preservation, bad lines, UTF-8 policy, long lines, WARC.
#include <gtest/gtest.h>

#include "corpus/error.h"
#include "corpus/reader.h"
#include "corpus/stream.h"
#include "corpus/writer.h"
#include "test_util.h"

namespace kiln {
namespace {

using testing::TempDir;

std::vector<Record> read_all(const std::string& path, const ReaderOptions& options = {}) {
  auto reader = DocumentReader::open(path, options);
  std::vector<Record> records;
  Record r;
  while (reader->next(r)) {
    DocumentReader::decode(r, options);
    records.push_back(std::move(r));
  }
  return records;
}

TEST(JsonlReader, KeepsEveryFieldVerbatimAndInOrder) {
  TempDir dir;
  // Odd but valid JSON: numbers in several spellings, nesting, escapes, a big integer,
  // the text field in the middle, unicode escapes with a surrogate pair.
  std::string input =
      "{\"url\":\"http://x\",\"n\":1.50,\"e\":-2E+3,\"big\":123456789012345678901234567890,"
      "\"text\":\"caf\\u00e9 \\ud83d\\ude00\\n\\\"q\\\"\",\"meta\":{\"a\":[1,{\"b\":null}],\"t\":true},"
      "\"id\":\"doc-1\"}\n"
      "{\"id\":42,\"text\":\"\"}\n";
  std::string path = dir.path("in.jsonl");
  testing::spit(path, input);
  auto records = read_all(path);
  ASSERT_EQ(records.size(), 2u);
  ASSERT_FALSE(records[0].rejected()) << records[0].reject_message;
  EXPECT_EQ(records[0].doc.text, "caf\xC3\xA9 \xF0\x9F\x98\x80\n\"q\"");
  EXPECT_EQ(records[0].doc.id, "doc-1");
  EXPECT_EQ(records[1].doc.id, "42");
  EXPECT_EQ(*records[0].doc.field("big"), "123456789012345678901234567890");
  EXPECT_EQ(*records[0].doc.field("meta"), "{\"a\":[1,{\"b\":null}],\"t\":true}");

  // Written back, every field except the (re-escaped) text is byte-identical and in place.
  std::string out;
  append_jsonl(records[0].doc, "text", out);
  EXPECT_EQ(out,
            "{\"url\":\"http://x\",\"n\":1.50,\"e\":-2E+3,\"big\":123456789012345678901234567890,"
            "\"text\":\"caf\xC3\xA9 \xF0\x9F\x98\x80\\n\\\"q\\\"\",\"meta\":{\"a\":[1,{\"b\":null}],\"t\":true},"
            "\"id\":\"doc-1\"}\n");
  out.clear();
  append_jsonl(records[1].doc, "text", out);
  EXPECT_EQ(out, "{\"id\":42,\"text\":\"\"}\n");
}

TEST(JsonlReader, ChoosesTextAndIdFieldsByName) {
  TempDir dir;
  std::string path = dir.path("in.jsonl.zst");
  write_file(path, "{\"content\":\"hello\",\"text\":\"not this\",\"doc_id\":\"a\"}\n");
  ReaderOptions options;
  options.text_field = "content";
  options.id_field = "doc_id";
  auto records = read_all(path, options);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].doc.text, "hello");
  EXPECT_EQ(records[0].doc.id, "a");
  EXPECT_EQ(*records[0].doc.field("text"), "\"not this\"");
}

TEST(JsonlReader, AttributesRoundTrip) {
  TempDir dir;
  std::string path = dir.path("in.jsonl");
  testing::spit(path, "{\"text\":\"x\",\"attributes\":{\"lang\":\"en\",\"score\":0.5}}\n");
  auto records = read_all(path);
  ASSERT_EQ(records[0].doc.attributes.size(), 2u);
  records[0].doc.set_attribute("score", "0.75");
  std::string out;
  append_jsonl(records[0].doc, "text", out);
  EXPECT_EQ(out, "{\"text\":\"x\",\"attributes\":{\"lang\":\"en\",\"score\":0.75}}\n");
}

TEST(JsonlReader, MalformedLinesAreRejectedWithFileLineAndParserMessage) {
  TempDir dir;
  std::string path = dir.path("bad.jsonl");
  testing::spit(path,
                "{\"text\":\"ok 1\"}\n"
                "{\"text\":\"unterminated}\n"
                "[1,2,3]\n"
                "{\"text\":\"ok 2\"} trailing\n"
                "{\"text\":12}\n"
                "{\"other\":\"no text\"}\n"
                "{\"text\":\"ok 3\",\"n\":12x}\n"
                "\n"
                "{\"text\":\"ok 4\"}");  // no final newline
  auto records = read_all(path);
  ASSERT_EQ(records.size(), 8u);  // the blank line is not a record
  std::vector<std::string> reasons;
  for (auto& r : records) reasons.push_back(r.reject_reason);
  EXPECT_EQ(reasons, (std::vector<std::string>{"", "malformed_json", "malformed_json", "malformed_json",
                                               "text_not_string", "missing_text_field", "malformed_json", ""}));
  EXPECT_EQ(records[1].reject_message.rfind(path + ":2: malformed JSON", 0), 0u) << records[1].reject_message;
  EXPECT_EQ(records[3].doc.source_line, 4u);
  EXPECT_EQ(records[7].doc.text, "ok 4");
  EXPECT_EQ(records[7].doc.source_line, 9u);
}

TEST(JsonlReader, InvalidUtf8IsRepairedOrRejectedByPolicy) {
  TempDir dir;
  std::string path = dir.path("latin1.jsonl");
  testing::spit(path, "{\"text\":\"caf\xE9 au lait\"}\n");
  auto repaired = read_all(path);
  ASSERT_FALSE(repaired[0].rejected());
  EXPECT_EQ(repaired[0].doc.text, "caf\xEF\xBF\xBD au lait");
  ReaderOptions reject;
  reject.utf8 = Utf8Policy::kReject;
  auto rejected = read_all(path, reject);
  EXPECT_EQ(rejected[0].reject_reason, "invalid_utf8");
  EXPECT_NE(rejected[0].reject_message.find(path + ":1"), std::string::npos);
}

TEST(JsonlReader, OverlongLineIsRejectedInBoundedMemoryAndReadingGoesOn) {
  TempDir dir;
  std::string path = dir.path("long.jsonl.zst");
  std::string huge = "{\"text\":\"" + std::string(3 << 20, 'a') + "\"}\n";
  write_file(path, "{\"text\":\"before\"}\n" + huge + "{\"text\":\"after\"}\n");
  ReaderOptions options;
  options.max_record_bytes = 1 << 16;
  auto records = read_all(path, options);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].doc.text, "before");
  EXPECT_EQ(records[1].reject_reason, "too_long");
  EXPECT_NE(records[1].reject_message.find(std::to_string(huge.size() - 1) + " bytes"), std::string::npos)
      << records[1].reject_message;
  EXPECT_EQ(records[1].raw.size(), size_t(1 << 16));  // only the prefix was kept
  EXPECT_EQ(records[2].doc.text, "after");
  EXPECT_EQ(records[2].doc.source_line, 3u);
}

TEST(WarcReader, WetConversionRecordsBecomeDocumentsWithMetadata) {
  auto records = read_all(testing::data_path("../../data/sample/whirlwind.warc.wet.gz"));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].skipped_type, "warcinfo");
  const Document& doc = records[1].doc;
  EXPECT_EQ(*doc.field("url"), "\"https://an.wikipedia.org/wiki/Escopete\"");
  EXPECT_EQ(*doc.field("date"), "\"2024-05-18T01:58:10Z\"");
  EXPECT_EQ(*doc.field("warc_type"), "\"conversion\"");
  EXPECT_EQ(doc.id, "<urn:uuid:ba729a40-ff84-4085-8d48-0a5b2ee0c42d>");
  EXPECT_TRUE(doc.text.starts_with("Escopete - Biquipedia, a enciclopedia libre\n"));
}

TEST(WarcReader, ResponseRecordsYieldTheHttpBodyAndItsContentType) {
  auto records = read_all(testing::data_path("corpus/warc/whirlwind.warc.gz"));
  int responses = 0;
  for (auto& r : records) {
    if (r.skipped()) continue;
    ++responses;
    EXPECT_EQ(*r.doc.field("warc_type"), "\"response\"");
    EXPECT_EQ(*r.doc.field("content_type"), "\"text/html; charset=UTF-8\"");
    EXPECT_TRUE(r.doc.text.starts_with("<!DOCTYPE html>")) << r.doc.text.substr(0, 80);
  }
  EXPECT_EQ(responses, 1);
}

TEST(WarcReader, ChunkedHttpBodyIsDecoded) {
  auto records = read_all(testing::data_path("corpus/warc/example-iana.org-chunked.warc"));
  int documents = 0;
  for (auto& r : records) {
    if (r.skipped()) continue;
    ++documents;
    EXPECT_TRUE(r.doc.text.starts_with("<!doctype html>")) << r.doc.text.substr(0, 40);
    EXPECT_TRUE(r.doc.text.ends_with("</html>\n")) << r.doc.text.substr(r.doc.text.size() - 40);
  }
  EXPECT_EQ(documents, 1);
}

TEST(WarcReader, WrongContentLengthNamesTheRecordOffset) {
  // cc_net's sample has LF line ends, so its Content-Length values stop short.
  for (auto [file, offset] : {std::pair{"corpus/warc/sample.warc.txt", 0}, std::pair{"corpus/warc/example-trunc.warc", 1197}}) {
    ReaderOptions warc;
    warc.format = InputFormat::kWarc;  // sample.warc.txt would otherwise read as plain text
    try {
      read_all(testing::data_path(file), warc);
      FAIL() << file;
    } catch (const Error& e) {
      std::string message = e.what();
      EXPECT_NE(message.find(std::string(file).substr(12) + ": WARC record at byte " + std::to_string(offset)),
                std::string::npos)
          << message;
      EXPECT_NE(message.find("Content-Length"), std::string::npos) << message;
    }
  }
}

TEST(WarcReader, TruncatedGzipMemberIsAnErrorAfterEarlierRecords) {
  ReaderOptions options;
  auto reader = DocumentReader::open(testing::data_path("corpus/warc/clipped.warc.gz"), options);
  Record r;
  EXPECT_THROW(
      {
        while (reader->next(r)) {
        }
      },
      Error);
}

TEST(ExpandInputs, GlobsAndDirectoriesSortedAndDeduplicated) {
  TempDir dir;
  for (auto name : {"b.jsonl", "a.jsonl", "sub/c.jsonl", "sub/d.txt", "sub/stats.json", "sub/.kiln/done/x.jsonl",
                    "sub/rejects/part-0.jsonl.zst", "sub/report.html"})
    testing::spit(dir.path(name), "{}\n");
  auto files = expand_inputs({dir.path("*.jsonl"), dir.path("sub"), dir.path("a.jsonl")});
  EXPECT_EQ(files, (std::vector<std::string>{dir.path("a.jsonl"), dir.path("b.jsonl"), dir.path("sub/c.jsonl"),
                                             dir.path("sub/d.txt")}));
  EXPECT_THROW(expand_inputs({dir.path("*.parquet")}), Error);
}

TEST(DetectFormat, ByExtensionIgnoringCompression) {
  EXPECT_EQ(detect_format("x.jsonl.zst"), InputFormat::kJsonl);
  EXPECT_EQ(detect_format("CC-MAIN-1.warc.wet.gz"), InputFormat::kWarc);
  EXPECT_EQ(detect_format("x.warc"), InputFormat::kWarc);
  EXPECT_EQ(detect_format("book.txt"), InputFormat::kText);
}

}  // namespace
}  // namespace kiln
