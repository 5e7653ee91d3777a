// `kiln tokenizer` end to end: train, encode (text, JSONL, bin), decode, info, errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include <cstdio>
#include <cstdlib>

#include "corpus/stream.h"
#include "fixtures.h"
#include "tokenizer/tokenizer.h"

namespace kiln::tokenizer {
namespace {

// A directory of this test process's own: ctest runs tests of this binary in parallel
// processes, which must not share output files.
std::string scratch() {
  static const std::string dir = [] {
    std::string d = ::testing::TempDir() + "/kiln-tokenizer-cli-" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

std::string run(const std::string& args, int* status = nullptr) {
  const std::string out = scratch() + "/kiln_out.txt";
  const int rc = std::system((std::string(KILN_BINARY) + " " + args + " > " + out + " 2>&1").c_str());
  if (status) *status = rc;
  return read_file(out);
}

TEST(TokenizerCli, TrainEncodeDecodeInfo) {
  const std::string dir = scratch();
  const std::string corpus = testing::data_path("corpus_shakespeare.txt.zst");
  int rc = 0;
  run("tokenizer train " + corpus + " --vocab-size 800 --special '<|endoftext|>' -o " + dir + "/tok.json", &rc);
  ASSERT_EQ(rc, 0);
  const std::string info = run("tokenizer info " + dir + "/tok.json");
  EXPECT_NE(info.find("\"vocab_size\":800"), std::string::npos) << info;
  EXPECT_NE(info.find("\"<|endoftext|>\":0"), std::string::npos) << info;

  // A text file is one document; ids decode back to the same bytes.
  const std::string text = testing::text("udhr");
  write_file(dir + "/in.txt", text);
  run("tokenizer encode -t " + dir + "/tok.json " + dir + "/in.txt -o " + dir + "/ids.txt", &rc);
  ASSERT_EQ(rc, 0);
  run("tokenizer decode -t " + dir + "/tok.json " + dir + "/ids.txt -o " + dir + "/back.txt", &rc);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(read_file(dir + "/back.txt"), text);

  // JSONL in, JSONL out, and back.
  write_file(dir + "/docs.jsonl", "{\"id\":\"a\",\"text\":\"Hello<|endoftext|>\"}\n{\"id\":\"b\",\"text\":\"world\"}\n");
  const std::string err = run("tokenizer encode -t " + dir + "/tok.json " + dir + "/docs.jsonl", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find("'<|endoftext|>'"), std::string::npos) << err;
  run("tokenizer encode -t " + dir + "/tok.json " + dir + "/docs.jsonl --allow-special '<|endoftext|>' --ids-format jsonl -o " +
          dir + "/ids.jsonl",
      &rc);
  ASSERT_EQ(rc, 0);
  const std::string ids = read_file(dir + "/ids.jsonl");
  EXPECT_EQ(ids.rfind("{\"id\":\"a\",\"ids\":[", 0), 0u) << ids;
  EXPECT_NE(ids.find(",0]}"), std::string::npos) << ids;
  const std::string back = run("tokenizer decode -t " + dir + "/tok.json " + dir + "/ids.jsonl");
  EXPECT_NE(back.find("{\"id\":\"a\",\"text\":\"Hello<|endoftext|>\"}"), std::string::npos) << back;
  EXPECT_NE(back.find("{\"id\":\"b\",\"text\":\"world\"}"), std::string::npos) << back;

  // Binary ids with an end-of-text id after each document.
  run("tokenizer encode -t " + dir + "/tok.json " + dir + "/docs.jsonl --special-mode text --ids-format bin --append-id 0 -o " +
          dir + "/ids.bin",
      &rc);
  ASSERT_EQ(rc, 0);
  const std::string bin = read_file(dir + "/ids.bin");
  ASSERT_EQ(bin.size() % 4, 0u);
  EXPECT_EQ(bin.substr(bin.size() - 4), std::string("\0\0\0\0", 4));
}

TEST(TokenizerCli, LongTextStreamsInPiecesWithIdenticalIds) {
  // > 4 MB so that encode cuts the file into pieces; the ids must equal encoding it whole.
  const std::string dir = scratch();
  std::string big;
  const std::string english = testing::text("english"), adversarial = testing::text("adversarial");
  while (big.size() < (size_t(9) << 20)) big += english + adversarial;
  write_file(dir + "/big.txt", big);
  const std::string ranks = testing::data_path("ranks/cl100k_base.subset.tiktoken.zst");
  int rc = 0;
  run("tokenizer encode -t " + ranks + " --pattern cl100k_base --special-mode text " + dir + "/big.txt -o " + dir +
          "/big.ids",
      &rc);
  ASSERT_EQ(rc, 0);
  EncodeOptions as_text;
  as_text.special = SpecialMode::kAsText;
  std::string want;
  for (uint32_t id : Tokenizer::from_tiktoken_file(ranks, Pattern::kCl100k).encode(big, as_text)) {
    want += (want.empty() ? "" : " ") + std::to_string(id);
  }
  EXPECT_TRUE(read_file(dir + "/big.ids") == want + "\n");
  run("tokenizer decode -t " + ranks + " --pattern cl100k_base " + dir + "/big.ids -o " + dir + "/big.back", &rc);
  ASSERT_EQ(rc, 0);
  EXPECT_TRUE(read_file(dir + "/big.back") == big);
}

TEST(TokenizerCli, HelpAndErrors) {
  int rc = 0;
  EXPECT_NE(run("tokenizer train --help", &rc).find("example:"), std::string::npos);
  EXPECT_EQ(rc, 0);
  const std::string err = run("tokenizer frobnicate", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find("unknown sub-command 'frobnicate'"), std::string::npos) << err;
  EXPECT_NE(run("tokenizer info /nonexistent/x.tiktoken --pattern gpt2", &rc).find("/nonexistent/x.tiktoken"), std::string::npos);
  EXPECT_NE(rc, 0);
}

}  // namespace
}  // namespace kiln::tokenizer
