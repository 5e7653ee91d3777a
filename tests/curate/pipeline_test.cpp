// The pipeline runtime: determinism across thread counts, accounting, rejects, resume.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "curate/pipeline.h"
#include "filters/basic.h"
#include "test_util.h"

namespace kiln {
namespace {

using testing::TempDir;

// Inputs with good documents, short ones, a malformed line, non-UTF-8, duplicate ids.
std::vector<std::string> make_inputs(const TempDir& dir, int files, int docs_per_file) {
  std::vector<std::string> paths;
  for (int f = 0; f < files; ++f) {
    std::string body;
    for (int d = 0; d < docs_per_file; ++d) {
      int words = (d * 37 + f * 11) % 90;
      std::string text;
      for (int w = 0; w < words; ++w) text += "word" + std::to_string((w * d + f) % 13) + (w % 9 == 8 ? "\\n" : " ");
      body += "{\"id\":\"f" + std::to_string(f) + "-" + std::to_string(d) + "\",\"text\":\"" + text +
              "\",\"meta\":{\"n\":" + std::to_string(d) + "}}\n";
      if (d == 5) body += "{\"id\":\"broken\",\"text\":\n";
      if (d == 9) body += "{\"id\":\"latin1\",\"text\":\"caf\xE9\"}\n";
    }
    std::string path = dir.path("in/part" + std::to_string(f) + ".jsonl.zst");
    std::filesystem::create_directories(dir.path("in"));
    write_file(path, body);
    paths.push_back(path);
  }
  return paths;
}

std::vector<std::unique_ptr<Stage>> make_stages() {
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(make_normalize({}));
  LengthOptions length;
  length.min_words = 20;
  length.max_words = 80;
  stages.push_back(make_length_filter(length));
  return stages;
}

PipelineOptions options_for(const std::string& out, int threads) {
  PipelineOptions o;
  o.output_dir = out;
  o.threads = threads;
  o.batch_docs = 7;  // many small batches: stresses ordering
  o.shard_bytes = 4000;
  return o;
}

// Every file of an output tree (minus timings) as one string, for byte comparisons.
std::string tree_bytes(const std::string& dir) {
  std::string all;
  for (const auto& f : testing::list_files(dir)) {
    if (f == "stats.json" || f.starts_with(".kiln")) continue;  // hold timings
    all += "== " + f + "\n" + testing::slurp(dir + "/" + f);
  }
  return all;
}

TEST(Pipeline, OutputIsByteIdenticalForAnyThreadCount) {
  TempDir dir;
  auto inputs = make_inputs(dir, 3, 200);
  auto stages = make_stages();
  std::string reference;
  for (int threads : {1, 2, 4, 8}) {
    std::string out = dir.path("out" + std::to_string(threads));
    RunStats stats = run_pipeline(inputs, stages, options_for(out, threads));
    std::string bytes = tree_bytes(out);
    if (reference.empty()) {
      reference = bytes;
      EXPECT_GT(stats.output_shards.size(), 3u) << "expected several shards per input";
    } else {
      EXPECT_EQ(bytes, reference) << "threads=" << threads;
    }
  }
}

TEST(Pipeline, EveryDocumentIsAccountedFor) {
  TempDir dir;
  auto inputs = make_inputs(dir, 2, 100);
  auto stages = make_stages();
  RunStats stats = run_pipeline(inputs, stages, options_for(dir.path("out"), 2));
  EXPECT_EQ(stats.docs_read, 2u * (100 + 2));  // + one malformed and one latin-1 line per file
  EXPECT_EQ(stats.docs_read, stats.docs_kept + stats.docs_rejected);
  EXPECT_EQ(stats.read_rejects.at("malformed_json").docs, 2u);
  EXPECT_EQ(stats.read_rejects.count("invalid_utf8"), 0u);  // repaired by default

  // Kept + rejected documents on disk equal what was read.
  uint64_t kept_lines = 0, rejected_lines = 0;
  for (auto& shard : stats.output_shards) {
    std::string text = read_file(dir.path("out/" + shard));
    kept_lines += uint64_t(std::count(text.begin(), text.end(), '\n'));
  }
  for (auto& shard : stats.reject_shards) {
    std::string text = read_file(dir.path("out/" + shard));
    rejected_lines += uint64_t(std::count(text.begin(), text.end(), '\n'));
    EXPECT_NE(text.find("\"reject\":{\"stage\":"), std::string::npos);
  }
  EXPECT_EQ(kept_lines, stats.docs_kept);
  EXPECT_EQ(rejected_lines, stats.docs_rejected);
  const StageStats& length = stats.stages[1];
  EXPECT_EQ(length.name, "length");
  EXPECT_EQ(length.docs_dropped, length.reasons.at("too_few_words").docs + length.reasons.at("too_many_words").docs);

  // stats.json on disk says the same.
  RunStats on_disk = RunStats::from_json(read_file(dir.path("out/stats.json")));
  EXPECT_EQ(on_disk.docs_kept, stats.docs_kept);
  EXPECT_EQ(on_disk.stages[1].reasons.at("too_few_words").docs, length.reasons.at("too_few_words").docs);
}

TEST(Pipeline, StrictModeStopsAtTheFirstMalformedLine) {
  TempDir dir;
  auto inputs = make_inputs(dir, 1, 20);
  auto stages = make_stages();
  PipelineOptions o = options_for(dir.path("out"), 2);
  o.strict = true;
  try {
    run_pipeline(inputs, stages, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("part0.jsonl.zst:7: malformed JSON"), std::string::npos) << e.what();
  }
}

// A stage that simulates a crash: it throws once its countdown reaches zero.
class CrashAfter final : public Stage {
 public:
  explicit CrashAfter(std::atomic<int>* countdown) : countdown_(countdown) {}
  std::string_view name() const override { return "crash"; }
  Verdict process(Document&, StageState*) const override {
    if (countdown_->fetch_sub(1) == 0) throw std::runtime_error("simulated kill");
    return Verdict::keep();
  }

 private:
  std::atomic<int>* countdown_;
};

TEST(Pipeline, RerunAfterAKillResumesAndEndsByteIdentical) {
  TempDir dir;
  auto inputs = make_inputs(dir, 4, 120);
  std::atomic<int> never{1 << 30};
  auto stages = make_stages();
  stages.push_back(std::make_unique<CrashAfter>(&never));
  run_pipeline(inputs, stages, options_for(dir.path("clean"), 2));

  std::atomic<int> countdown{250};  // dies inside the third input
  stages.back() = std::make_unique<CrashAfter>(&countdown);
  EXPECT_THROW(run_pipeline(inputs, stages, options_for(dir.path("killed"), 2)), std::runtime_error);
  EXPECT_TRUE(std::filesystem::exists(dir.path("killed/.kiln/done/input-00000.json")));
  EXPECT_FALSE(std::filesystem::exists(dir.path("killed/.kiln/done/input-00003.json")));

  countdown = 1 << 30;
  RunStats resumed = run_pipeline(inputs, stages, options_for(dir.path("killed"), 2));
  EXPECT_GE(resumed.num_inputs_resumed, 1u);
  EXPECT_EQ(resumed.num_inputs + resumed.num_inputs_resumed, 4u);
  EXPECT_EQ(tree_bytes(dir.path("killed")), tree_bytes(dir.path("clean")));
  RunStats clean = RunStats::from_json(read_file(dir.path("clean/stats.json")));
  EXPECT_EQ(resumed.docs_kept, clean.docs_kept);
  EXPECT_EQ(resumed.docs_rejected, clean.docs_rejected);
  for (auto& f : testing::list_files(dir.path("killed")))
    EXPECT_EQ(f.find(".tmp."), std::string::npos) << "temporary file left: " << f;
}

TEST(Pipeline, TruncatedInputKeepsWhatWasReadAndReportsTheError) {
  TempDir dir;
  std::string body;
  for (int i = 0; i < 3000; ++i) body += "{\"text\":\"document number " + std::to_string(i) + "\"}\n";
  std::string first, second;
  compress_append(Compression::kZstd, 3, body.substr(0, body.size() / 2), first);
  compress_append(Compression::kZstd, 3, body.substr(body.size() / 2), second);
  std::filesystem::create_directories(dir.path("in"));
  std::string path = dir.path("in/cut.jsonl.zst");
  testing::spit(path, first + second.substr(0, 20));
  std::vector<std::unique_ptr<Stage>> none;
  RunStats stats = run_pipeline({path}, none, options_for(dir.path("out"), 2));
  ASSERT_EQ(stats.input_errors.size(), 1u);
  EXPECT_NE(stats.input_errors[0].find("cut.jsonl.zst: truncated zstd"), std::string::npos) << stats.input_errors[0];
  EXPECT_GT(stats.docs_kept, 1000u);  // the complete first frame made it out
  EXPECT_EQ(stats.docs_kept, stats.docs_read);
}

TEST(Pipeline, StdoutModeWritesPlainJsonlAndNoFiles) {
  TempDir dir;
  auto inputs = make_inputs(dir, 1, 10);
  std::vector<std::unique_ptr<Stage>> none;
  PipelineOptions o;
  o.output_dir = "-";
  ::testing::internal::CaptureStdout();
  RunStats stats = run_pipeline(inputs, none, o);
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(uint64_t(std::count(out.begin(), out.end(), '\n')), stats.docs_kept);
  EXPECT_TRUE(out.starts_with("{\"id\":\"f0-0\""));
}

}  // namespace
}  // namespace kiln
