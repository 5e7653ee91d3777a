// The kiln binary end to end: help for every verb, curate on the shipped sample, cat, stats.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include "corpus/stream.h"
#include "corpus/token_store.h"
#include "curate/run_stats.h"
#include "test_util.h"

namespace kiln {
namespace {

struct Result {
  int status;
  std::string out;
};

// Runs kiln from the repository root, where the sample recipe's relative paths resolve.
Result run(const std::string& args) {
  std::string root = std::filesystem::path(KILN_SAMPLE_DIR).parent_path().parent_path().string();
  std::string command = "cd '" + root + "' && " + std::string(KILN_BINARY) + " " + args + " 2>&1";
  Result r{0, ""};
  FILE* p = ::popen(command.c_str(), "r");
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  r.status = WEXITSTATUS(::pclose(p));
  return r;
}

TEST(Cli, EveryVerbHasHelpWithAnExample) {
  Result top = run("--help");
  ASSERT_EQ(top.status, 0);
  std::istringstream lines(top.out);
  std::string line;
  int verbs = 0;
  bool in_verbs = false;
  while (std::getline(lines, line)) {
    if (line == "verbs:") {
      in_verbs = true;
      continue;
    }
    if (!in_verbs || line.size() < 3 || line[0] != ' ') continue;
    std::string verb = line.substr(2, line.find(' ', 2) - 2);
    Result help = run(verb + " --help");
    EXPECT_EQ(help.status, 0) << verb;
    EXPECT_NE(help.out.find("usage: kiln " + verb), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("example:"), std::string::npos) << verb;
    ++verbs;
  }
  EXPECT_GE(verbs, 5);
  EXPECT_EQ(run("no-such-verb").status, 2);
}

TEST(Cli, CurateRunsTheSampleRecipeAndResumes) {
  testing::TempDir dir;
  std::string sample = KILN_SAMPLE_DIR;
  Result first = run("curate " + sample + "/recipe.toml -o " + dir.path("out"));
  ASSERT_EQ(first.status, 0) << first.out;
  EXPECT_NE(first.out.find("report:    " + dir.path("out") + "/report.html"), std::string::npos) << first.out;
  EXPECT_TRUE(std::filesystem::exists(dir.path("out/stats.json")));
  std::string report = testing::slurp(dir.path("out/report.html"));
  EXPECT_NE(report.find("<svg"), std::string::npos);
  Result again = run("curate " + sample + "/recipe.toml -o " + dir.path("out"));
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("already done, resumed"), std::string::npos);
}

TEST(Cli, CatPrintsJsonlAndStatsCounts) {
  std::string wet = std::string(KILN_SAMPLE_DIR) + "/whirlwind.warc.wet.gz";
  Result cat = run("cat " + wet);
  ASSERT_EQ(cat.status, 0) << cat.out;
  EXPECT_TRUE(cat.out.starts_with("{\"id\":\"<urn:uuid:")) << cat.out.substr(0, 100);
  Result stats = run("stats " + wet + " --json");
  ASSERT_EQ(stats.status, 0) << stats.out;
  EXPECT_NE(stats.out.find("\"docs\":1,"), std::string::npos) << stats.out;
}

TEST(Cli, BadInputIsAClearErrorAndExitCode) {
  Result missing = run("stats /nonexistent/x.jsonl");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("kiln stats: error: /nonexistent/x.jsonl: no input files match"), std::string::npos)
      << missing.out;
  Result bad_flag = run("stats --no-such-flag x");
  EXPECT_EQ(bad_flag.status, 1);
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// A 1 GiB line must not be buffered: kiln reads the file, rejects the line as too long and
// keeps the documents around it, with a peak resident size far below the line's size.
TEST(Cli, OneGigabyteLineIsRejectedInBoundedMemory) {
  testing::TempDir dir;
  std::string path = dir.path("huge.jsonl.zst");
  {
    std::string head = "{\"text\":\"before\"}\n{\"text\":\"", tail = "\"}\n{\"text\":\"after\"}\n";
    std::string chunk(1 << 20, 'a');
    AtomicFile file(path);
    auto frame = [&](std::string_view bytes) {
      std::string encoded;
      compress_append(Compression::kZstd, 1, bytes, encoded);
      file.write(encoded);
    };
    frame(head);
    for (int i = 0; i < 1024; ++i) frame(chunk);
    frame(tail);
    file.commit();
  }
  // Run kiln as a child and read its peak RSS from wait4, against the peak of the same
  // command on a tiny file (what the binary and its libraries cost before any data; an
  // address-space ulimit would count the CUDA libraries kiln maps at start).
  auto peak_kib = [&](const std::string& input, const std::string& out_path) {
    pid_t pid = ::fork();
    if (pid == 0) {
      if (!std::freopen(out_path.c_str(), "w", stdout)) ::_exit(126);
      ::execl(KILN_BINARY, KILN_BINARY, "stats", input.c_str(), "--json", "-j2", "--max-record-size", "1M", (char*)nullptr);
      ::_exit(127);
    }
    int status = 0;
    struct rusage usage {};
    EXPECT_EQ(::wait4(pid, &status, 0, &usage), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return long(usage.ru_maxrss);
  };
  std::string tiny = dir.path("tiny.jsonl");
  testing::spit(tiny, "{\"text\":\"x\"}\n");
  long baseline = peak_kib(tiny, dir.path("tiny.json"));
  long peak = peak_kib(path, dir.path("out.json"));
  std::string out = testing::slurp(dir.path("out.json"));
  EXPECT_NE(out.find("\"docs\":2,\"docs_unreadable\":1,"), std::string::npos) << out;
  EXPECT_NE(out.find("\"too_long\":{\"docs\":1,"), std::string::npos) << out;
  EXPECT_LT(peak - baseline, 128L * 1024) << "a 1 GiB line raised peak RSS from " << baseline / 1024 << " to "
                                          << peak / 1024 << " MiB";
}

TEST(Cli, CatReadsStdin) {
  testing::TempDir dir;
  testing::spit(dir.path("in.jsonl"), "{\"text\":\"from stdin\",\"k\":[1, 2]}\n");
  Result r = run("cat - < " + dir.path("in.jsonl"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "{\"text\":\"from stdin\",\"k\":[1, 2]}\n");
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// The data path end to end: curate → train a tokenizer → pack → verify → export; then a
// flipped byte makes verify name the shard and block.
TEST(Cli, CurateTrainTokenizerPackVerifyExport) {
  testing::TempDir dir;
  std::string out = dir.path("curated"), tok = dir.path("tok.json"), store = dir.path("store");
  ASSERT_EQ(run("curate " + std::string(KILN_SAMPLE_DIR) + "/recipe.toml -o " + out).status, 0);
  Result train = run("tokenizer train " + out + " --vocab-size 1024 --special '<|endoftext|>' -o " + tok);
  ASSERT_EQ(train.status, 0) << train.out;
  Result pack = run("pack " + out + " -t " + tok + " -o " + store + " --val-fraction 0.1 --block-tokens 2048");
  ASSERT_EQ(pack.status, 0) << pack.out;
  uint64_t kept = RunStats::from_json(read_file(out + "/stats.json")).docs_kept;
  EXPECT_NE(pack.out.find("documents: " + std::to_string(kept) + " read, 0 unreadable"), std::string::npos) << pack.out;
  Result verify = run("store verify " + store);
  EXPECT_EQ(verify.status, 0) << verify.out;
  Result exported = run("store export " + store + " --format nanogpt -o " + dir.path("train.bin"));
  ASSERT_EQ(exported.status, 0) << exported.out;
  TokenStore s = TokenStore::open(store);
  EXPECT_EQ(std::filesystem::file_size(dir.path("train.bin")), 2 * s.num_tokens(Split::kTrain));

  // The trainer reads the store directly, its validation split included.
  Result train_model = run("train --data " + store + " --steps 3 --n-layer 1 --n-head 2 --n-embd 32 --block-size 16 -b 2"
                           " --vocab-size 1024 --warmup 1 -j 1 -o " + dir.path("m.kiln"));
  ASSERT_EQ(train_model.status, 0) << train_model.out;
  EXPECT_NE(train_model.out.find("validation tokens"), std::string::npos) << train_model.out;
  EXPECT_NE(train_model.out.find("val loss"), std::string::npos) << train_model.out;

  // Streaming from the store resumes exactly: 2 steps + resume to 4 = 4 steps straight.
  std::string tiny = " --n-layer 1 --n-head 2 --n-embd 32 --block-size 16 -b 2 --vocab-size 1024 --warmup 1 -j 1 --val-every 0";
  ASSERT_EQ(run("train --data " + store + tiny + " --steps 4 -o " + dir.path("straight.kiln")).status, 0);
  ASSERT_EQ(run("train --data " + store + tiny + " --steps 2 -o " + dir.path("half.kiln")).status, 0);
  ASSERT_EQ(run("train --data " + store + tiny + " --steps 4 --resume " + dir.path("half.kiln") + " -o " +
                dir.path("resumed.kiln")).status, 0);
  EXPECT_EQ(testing::slurp(dir.path("resumed.kiln")), testing::slurp(dir.path("straight.kiln")));

  // Document masking takes the store's own EOT, and changes what is learned (documents
  // average ~2,800 tokens here: 128 windows of 64 tokens per step, several cross an end).
  std::string wide = " --n-layer 1 --n-head 2 --n-embd 32 --block-size 64 -b 128 --vocab-size 1024 --warmup 1 -j 1 --val-every 0";
  ASSERT_EQ(run("train --data " + store + wide + " --steps 2 -o " + dir.path("wide.kiln")).status, 0);
  Result masked = run("train --data " + store + wide + " --steps 2 --mask-documents -o " + dir.path("masked.kiln"));
  ASSERT_EQ(masked.status, 0) << masked.out;
  EXPECT_TRUE(testing::slurp(dir.path("masked.kiln")) != testing::slurp(dir.path("wide.kiln")))
      << "--mask-documents changed nothing";

  // --backend cuda trains on a GPU where there is one, and says clearly why not elsewhere.
  Result cuda = run("train --data " + store + " --steps 1 --n-layer 1 --n-head 2 --n-embd 32 --block-size 16 -b 2"
                    " --vocab-size 1024 --backend cuda -o " + dir.path("g.kiln"));
  if (cuda.status != 0) {
    EXPECT_NE(cuda.out.find("kiln train: error: CUDA backend"), std::string::npos) << cuda.out;
  }

  std::string shard = store + "/" + s.manifest().train[0].path;
  std::string bytes = testing::slurp(shard);
  bytes[5000] = char(bytes[5000] ^ 1);
  testing::spit(shard, bytes);
  Result bad = run("store verify " + store);
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("bad block: " + shard + ": block "), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace kiln
