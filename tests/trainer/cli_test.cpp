// kiln train / generate / eval end to end through the binary, on a tiny model.
#include <gtest/gtest.h>

#include <cstdio>

#include "corpus/stream.h"
#include "test_util.h"

namespace {

using kiln::testing::TempDir;

std::string run(const std::string& args, int* status = nullptr) {
  const std::string command = std::string(KILN_BINARY) + " " + args + " 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int rc = ::pclose(p);
  if (status) *status = WEXITSTATUS(rc);
  return out;
}

TEST(TrainerCli, TrainGenerateEval) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 300; i++) text += "To be, or not to be, that is the question.\n";
  kiln::write_file(dir.path("data.txt"), text);
  const std::string model = dir.path("m.kiln"), log = dir.path("log.jsonl");
  int status = 0;
  std::string out = run("train --data " + dir.path("data.txt") + " --n-layer 1 --n-head 2 --n-embd 16 --block-size 32 -b 4 --steps 5 --warmup 1 --val-every 5 --val-batches 2 -j 1 -o " + model + " --log " + log + " --llmc " + dir.path("m.llmc"), &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("step 5/5"), std::string::npos) << out;
  EXPECT_NE(out.find("val"), std::string::npos) << out;
  EXPECT_NE(kiln::read_file(log).find("\"step\":5"), std::string::npos);

  const std::string gen = "generate -m " + model + " -p 'To be' -n 20 --temperature 0.8 --top-k 10 --seed 3 -j 1";
  const std::string a = run(gen, &status);
  ASSERT_EQ(status, 0) << a;
  EXPECT_EQ(a.rfind("To be", 0), 0u) << a;
  EXPECT_EQ(a.size(), 5u + 20u + 1u);
  EXPECT_EQ(run(gen), a);  // seeded

  out = run("eval -m " + dir.path("m.llmc") + " --data " + dir.path("data.txt") + " --max-tokens 500 --log " + log +
                " --json " + dir.path("r.json") + " --html " + dir.path("r.html") + " -j 1",
            &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("\"bits_per_byte\""), std::string::npos) << out;
  EXPECT_NE(kiln::read_file(dir.path("r.html")).find("<svg"), std::string::npos);

  // With a BPE tokenizer (the tokenizer library's fixture): vocabulary from the tokenizer.
  const std::string tok = std::string(KILN_TEST_DATA_DIR) + "/tokenizer/kiln_trained_gpt2.json.zst";
  out = run("train --data " + dir.path("data.txt") + " --tokenizer " + tok +
                " --n-layer 1 --n-head 2 --n-embd 16 --block-size 16 -b 2 --steps 3 --warmup 1 -j 1 -o " +
                dir.path("bpe.kiln"),
            &status);
  ASSERT_EQ(status, 0) << out;
  out = run("generate -m " + dir.path("bpe.kiln") + " --tokenizer " + tok + " -p 'To be' -n 5 -j 1", &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(out.rfind("To be", 0), 0u) << out;
  out = run("eval -m " + dir.path("bpe.kiln") + " --tokenizer " + tok + " --data " + dir.path("data.txt") +
                " --max-tokens 200 -j 1",
            &status);
  ASSERT_EQ(status, 0) << out;

  // Matmul precision on the CPU backend: bf16 where the CPU has it (the checkpoint loads
  // and evaluates like any other), tf32 is a CUDA format and a clear error here.
  const std::string tiny = "train --data " + dir.path("data.txt") +
                           " --n-layer 1 --n-head 2 --n-embd 16 --block-size 16 -b 2 --steps 2 --warmup 1 -j 1 ";
  out = run(tiny + "--matmul bf16 -o " + dir.path("bf16.kiln"), &status);
  if (out.find("AVX512-BF16") == std::string::npos) {
    ASSERT_EQ(status, 0) << out;
    out = run("eval -m " + dir.path("bf16.kiln") + " --data " + dir.path("data.txt") + " --max-tokens 200 -j 1",
              &status);
    ASSERT_EQ(status, 0) << out;
  }
  // Document masking: text lines as documents (newline = token 10 ends each); a text file
  // has no EOT of its own, so --eot is required.
  out = run(tiny + "--mask-documents --eot 10 -o " + dir.path("masked.kiln"), &status);
  EXPECT_EQ(status, 0) << out;
  out = run(tiny + "--mask-documents", &status);
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("needs --eot"), std::string::npos) << out;
  const std::string eval_masked = "eval -m " + dir.path("masked.kiln") + " --data " + dir.path("data.txt") +
                                  " --max-tokens 200 -j 1 --mask-documents";
  out = run(eval_masked + " --eot 10", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("\"bits_per_byte\""), std::string::npos) << out;
  out = run(eval_masked, &status);  // byte-level text: no EOT of its own
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("(--eot)"), std::string::npos) << out;
  out = run(tiny + "--matmul tf32", &status);
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("fp32 or bf16"), std::string::npos) << out;

  out = run("train --data " + dir.path("nope.txt") + " --steps 1", &status);
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("nope.txt"), std::string::npos) << out;
}

}  // namespace
