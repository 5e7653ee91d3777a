// Mixtures: exact shares, repeats with warnings, determinism for any thread count.
#include <gtest/gtest.h>

#include <filesystem>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "curate/mix.h"
#include "test_util.h"

namespace kiln {
namespace {

using testing::TempDir;

// Source `name` with `docs` documents of varying size in two files.
void write_source(const TempDir& dir, const std::string& name, int docs) {
  std::filesystem::create_directories(dir.path(name));
  for (int f = 0; f < 2; ++f) {
    std::string body;
    for (int d = f; d < docs; d += 2) {
      std::string text(size_t(20 + (d * 53) % 400), char('a' + d % 26));
      body += "{\"id\":\"" + name + std::to_string(d) + "\",\"text\":\"" + text + "\"}\n";
    }
    write_file(dir.path(name + "/part" + std::to_string(f) + ".jsonl.zst"), body);
  }
}

MixOptions options(const TempDir& dir, MixUnit unit, uint64_t budget, const std::string& out, int threads) {
  MixOptions o;
  o.unit = unit;
  o.budget = budget;
  o.seed = 3;
  o.output_dir = dir.path(out);
  o.threads = threads;
  o.max_epochs = 2;
  o.sources = {{"web", {dir.path("web")}, 0.6}, {"books", {dir.path("books")}, 0.25}, {"code", {dir.path("code")}, 0.15}};
  return o;
}

uint64_t count_bytes_written(const std::string& dir, uint64_t* docs) {
  uint64_t bytes = 0;
  *docs = 0;
  for (auto& f : testing::list_files(dir)) {
    if (!f.ends_with(".jsonl.zst")) continue;
    std::string text = read_file(dir + "/" + f);
    size_t pos = 0;
    while ((pos = text.find("\"text\":\"", pos)) != std::string::npos) {
      size_t end = text.find('"', pos + 8);
      bytes += end - pos - 8;
      ++*docs;
      pos = end;
    }
  }
  return bytes;
}

TEST(Mix, AchievedSharesMatchWeightsToATenthOfAPercent) {
  TempDir dir;
  write_source(dir, "web", 400);
  write_source(dir, "books", 100);
  write_source(dir, "code", 30);
  MixResult r = run_mix(options(dir, MixUnit::kBytes, 120000, "mix", 2), nullptr);
  ASSERT_EQ(r.sources.size(), 3u);
  for (auto& s : r.sources) {
    double achieved = double(s.achieved_units) / double(r.achieved_total);
    EXPECT_NEAR(achieved, s.weight_share, 0.001) << s.name;
    EXPECT_LE(s.achieved_units, s.target_units);
    // The files on disk hold exactly what the report says.
    uint64_t docs = 0;
    EXPECT_EQ(count_bytes_written(dir.path("mix/" + s.name), &docs), s.achieved_units) << s.name;
    EXPECT_EQ(docs, s.achieved_docs) << s.name;
  }
  // books (about 22 kB) must repeat to reach 30 kB: a whole epoch, then a subset.
  const MixSourceResult& books = r.sources[1];
  EXPECT_GT(books.epochs, 1.0);
  EXPECT_TRUE(std::filesystem::exists(dir.path("mix/books/epoch-1")));
  ASSERT_EQ(r.warnings.size(), 1u);  // code needs more than max_epochs = 2
  EXPECT_NE(r.warnings[0].find("source 'code' repeats"), std::string::npos) << r.warnings[0];
  EXPECT_TRUE(std::filesystem::exists(dir.path("mix/mix.json")));
}

TEST(Mix, DocumentUnitsAndDeterminismAcrossThreads) {
  TempDir dir;
  write_source(dir, "web", 300);
  write_source(dir, "books", 80);
  write_source(dir, "code", 40);
  std::string reference;
  for (int threads : {1, 2, 4}) {
    std::string out = "mix" + std::to_string(threads);
    MixResult r = run_mix(options(dir, MixUnit::kDocs, 200, out, threads), nullptr);
    EXPECT_EQ(r.sources[0].achieved_docs, 120u);
    EXPECT_EQ(r.sources[1].achieved_docs, 50u);
    EXPECT_EQ(r.sources[2].achieved_docs, 30u);
    std::string bytes;
    for (auto& f : testing::list_files(dir.path(out)))
      if (f.ends_with(".jsonl.zst")) bytes += f + read_file(dir.path(out + "/" + f));
    if (reference.empty()) reference = bytes;
    EXPECT_EQ(bytes, reference) << "threads=" << threads;
  }
}

// The choice depends on the files, not on where they are: the same sources in two
// different folders (as two test processes have) give the same documents, byte for byte.
TEST(Mix, SameFilesElsewhereGiveTheSameMix) {
  TempDir a, b;
  std::vector<std::string> outputs;
  for (const TempDir* dir : {&a, &b}) {
    write_source(*dir, "web", 400);
    write_source(*dir, "books", 100);
    write_source(*dir, "code", 30);
    run_mix(options(*dir, MixUnit::kBytes, 120000, "mix", 2), nullptr);
    std::string bytes;
    for (auto& f : testing::list_files(dir->path("mix")))
      if (f.ends_with(".jsonl.zst")) bytes += f + read_file(dir->path("mix/" + f));
    outputs.push_back(bytes);
  }
  EXPECT_FALSE(outputs[0].empty());
  EXPECT_EQ(outputs[0], outputs[1]);
}

TEST(Mix, RecipeErrorsNameTheLine) {
  try {
    parse_mix_recipe("[mix]\nunit = \"bytes\"\nbudget = 10\noutput = \"o\"\nbudjet = 3\n[[source]]\nname=\"a\"\npaths=[\"x\"]\nweight=1\n",
                     "m.toml");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "m.toml:5:1: unknown key 'budjet' in [mix]");
  }
  EXPECT_THROW(parse_mix_recipe("[mix]\nunit=\"tokens\"\nbudget=5\noutput=\"o\"\n[[source]]\nname=\"a\"\npaths=[\"x\"]\nweight=1\n", "m"),
               Error);  // tokens without a tokenizer
}

}  // namespace
}  // namespace kiln
