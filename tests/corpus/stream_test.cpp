// Decompressing input streams and atomic output files.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "test_util.h"

namespace kiln {
namespace {

using testing::TempDir;

std::string sample_text(size_t n) {
  std::string s;
  for (size_t i = 0; s.size() < n; ++i) s += "line " + std::to_string(i * 7919 % 100003) + " of some text\n";
  s.resize(n);
  return s;
}

TEST(Stream, SniffsCompressionFromContentNotName) {
  TempDir dir;
  std::string text = sample_text(100000);
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    std::string encoded;
    compress_append(c, 3, text, encoded);
    std::string path = dir.path("misnamed.txt");  // the extension says nothing
    testing::spit(path, encoded);
    auto in = InputStream::open(path);
    EXPECT_EQ(in->compression(), c);
    EXPECT_EQ(read_file(path), text);
  }
}

TEST(Stream, ConcatenatedFramesAndMembersReadAsOneStream) {
  TempDir dir;
  std::string a = sample_text(5000), b = "second part\n", c = sample_text(70000);
  for (Compression comp : {Compression::kGzip, Compression::kZstd}) {
    std::string encoded;
    for (auto* part : {&a, &b, &c}) compress_append(comp, 1, *part, encoded);
    std::string path = dir.path(comp == Compression::kGzip ? "x.gz" : "x.zst");
    testing::spit(path, encoded);
    EXPECT_EQ(read_file(path), a + b + c);
  }
}

TEST(Stream, TruncatedZstdNamesFileAndOffsetAfterDeliveringEarlierBytes) {
  TempDir dir;
  std::string text = sample_text(400000), first, second;
  compress_append(Compression::kZstd, 3, text.substr(0, 200000), first);
  compress_append(Compression::kZstd, 3, text.substr(200000), second);
  std::string path = dir.path("cut.jsonl.zst");
  testing::spit(path, first + second.substr(0, second.size() / 2));
  auto in = InputStream::open(path);
  std::string got;
  char buf[4096];
  try {
    while (size_t n = in->read(buf, sizeof buf)) got.append(buf, n);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("truncated zstd"), std::string::npos) << message;
    EXPECT_NE(message.find("offset " + std::to_string(first.size() + second.size() / 2)), std::string::npos) << message;
  }
  // Everything in the complete first frame was delivered before the error.
  ASSERT_GE(got.size(), 200000u);
  EXPECT_EQ(got, text.substr(0, got.size()));
}

TEST(Stream, TruncatedGzipNamesFileAndOffset) {
  std::string path = testing::data_path("corpus/warc/clipped.warc.gz");
  try {
    read_file(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("clipped.warc.gz"), std::string::npos) << message;
    EXPECT_NE(message.find("truncated gzip"), std::string::npos) << message;
    EXPECT_NE(message.find("offset " + std::to_string(std::filesystem::file_size(path))), std::string::npos) << message;
  }
}

TEST(Stream, CorruptZstdIsAnErrorNotGarbage) {
  TempDir dir;
  std::string encoded;
  compress_append(Compression::kZstd, 3, sample_text(100000), encoded);
  for (size_t i = 100; i < 200; ++i) encoded[i] = char(encoded[i] ^ 0x5a);
  std::string path = dir.path("bad.zst");
  testing::spit(path, encoded);
  EXPECT_THROW(read_file(path), Error);
}

TEST(Stream, MissingFileNamesIt) {
  try {
    InputStream::open("/nonexistent/kiln/file.jsonl");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/kiln/file.jsonl: cannot open"), std::string::npos);
  }
}

TEST(AtomicFile, NothingUnderTheFinalNameUntilCommit) {
  TempDir dir;
  std::string path = dir.path("out.jsonl");
  {
    AtomicFile f(path);
    f.write("partial");
    EXPECT_FALSE(std::filesystem::exists(path));
  }  // destroyed without commit: as if the run was killed
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(testing::list_files(dir.path()).size(), 0u) << "temporary file left behind";
  {
    AtomicFile f(path);
    f.write("complete\n");
    f.commit();
  }
  EXPECT_EQ(testing::slurp(path), "complete\n");
}

}  // namespace
}  // namespace kiln
