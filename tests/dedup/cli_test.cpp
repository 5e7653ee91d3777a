// The kiln dedup verbs end to end through the binary: plan, document dedup, lines,
// decontam.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "corpus/stream.h"

namespace {
namespace fs = std::filesystem;

std::string run(const std::string& args, int* status = nullptr) {
  std::string command = std::string(KILN_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  int rc = pclose(pipe);
  if (status) *status = rc;
  return out;
}

template <class... Args>
std::string cat_args(const Args&... args) {
  std::string s;
  ((s += args), ...);
  return s;
}

std::string scratch(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("kiln-dedup-cli-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

TEST(DedupCli, PlanPrintsTheSCurve) {
  std::string out = run("dedup plan --bands 14 --rows 8");
  EXPECT_NE(out.find("14 bands x 8 rows = 112 permutations"), std::string::npos) << out;
  EXPECT_NE(out.find("P = 0.5 at s = 0.685"), std::string::npos) << out;
  EXPECT_NE(out.find(" 0.80  0.9235"), std::string::npos) << out;
}

TEST(DedupCli, DocumentsLinesDecontam) {
  std::string dir = scratch("all");
  int status = 0;
  std::string out = run(cat_args("dedup ", KILN_TEST_DATA_DIR "/dedup/near_dups.jsonl.zst -o ", dir,
                                 "/docs --verify 0.8 -j 2"), &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("removing 46 exact + 39 near duplicates"), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(dir + "/docs/clusters.jsonl"));

  kiln::write_file(dir + "/in.jsonl",
                   "{\"id\":\"a\",\"text\":\"menu\\nreal text one\"}\n{\"id\":\"b\",\"text\":\"menu\\nreal text two\"}\n");
  out = run(cat_args("dedup lines ", dir, "/in.jsonl -o ", dir, "/lines"), &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("1 distinct lines seen more than 1 times"), std::string::npos) << out;

  kiln::write_file(dir + "/eval.jsonl",
                   "{\"id\":\"e1\",\"text\":\"one two three four five six seven eight nine ten eleven twelve "
                   "thirteen\"}\n");
  kiln::write_file(dir + "/train.jsonl",
                   "{\"id\":\"t1\",\"text\":\"zero one two three four five six seven eight nine ten eleven twelve "
                   "thirteen fourteen\"}\n{\"id\":\"t2\",\"text\":\"clean\"}\n");
  out = run(cat_args("dedup decontam ", dir, "/train.jsonl -o ", dir, "/clean --eval ", dir, "/eval.jsonl"), &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("eval items matched: 1"), std::string::npos) << out;
  std::string report = kiln::read_file(dir + "/clean/decontamination.jsonl");
  EXPECT_NE(report.find("\"id\":\"e1\",\"docs_matched\":1,\"first_doc\":\"t1\""), std::string::npos) << report;
}

}  // namespace
