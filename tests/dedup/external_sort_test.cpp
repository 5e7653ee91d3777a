#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "dedup/external_sort.h"

namespace kiln::dedup {
namespace {

std::string scratch_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("kiln-dedup-test-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

TEST(ExternalSorter, MergesSpilledRunsInOrder) {
  std::string dir = scratch_dir("sort");
  std::mt19937_64 rng(1);
  std::vector<uint64_t> all;
  ExternalSorter<uint64_t> sorter(dir, "x");
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = rng() % 5000;  // many duplicates
    all.push_back(v);
    sorter.push(v);
    if (sorter.buffered_bytes() >= 8000) sorter.spill();  // ~100 runs
  }
  EXPECT_GT(sorter.num_runs(), 90u);
  std::sort(all.begin(), all.end());
  std::vector<uint64_t> got;
  // 64 KB of merge memory: fewer windows than runs, so intermediate passes run too.
  sorter.merge(64 << 10, [&](uint64_t v) { got.push_back(v); });
  EXPECT_EQ(got, all);
  sorter.remove_runs();
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

TEST(ExternalSorter, InMemoryOnlyAndEmpty) {
  std::string dir = scratch_dir("sort-mem");
  ExternalSorter<uint64_t> empty(dir, "e");
  int n = 0;
  empty.merge(1 << 20, [&](uint64_t) { ++n; });
  EXPECT_EQ(n, 0);
  ExternalSorter<uint64_t> mem(dir, "m");
  for (uint64_t v : {5, 3, 9, 3}) mem.push(v);
  std::vector<uint64_t> got;
  mem.merge(1 << 20, [&](uint64_t v) { got.push_back(v); });
  EXPECT_EQ(got, (std::vector<uint64_t>{3, 3, 5, 9}));
}

}  // namespace
}  // namespace kiln::dedup
