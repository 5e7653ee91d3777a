#include <gtest/gtest.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <random>

#include "dedup/union_find.h"

namespace kiln::dedup {
namespace {

TEST(ConcurrentUnionFind, RootsAreSmallestMemberForAnyThreadCount) {
  const uint64_t n = 20000;
  std::mt19937_64 rng(9);
  std::vector<std::pair<uint64_t, uint64_t>> edges;
  for (int i = 0; i < 15000; ++i) edges.push_back({rng() % n, rng() % n});
  // Serial oracle: naive labels, relabelled to the smallest member.
  std::vector<uint64_t> label(n);
  for (uint64_t i = 0; i < n; ++i) label[i] = i;
  bool changed = true;
  while (changed) {
    changed = false;
    for (auto [a, b] : edges) {
      uint64_t m = std::min(label[a], label[b]);
      if (label[a] != m || label[b] != m) label[a] = label[b] = m, changed = true;
    }
  }
  for (int threads : {1, 2, 8}) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    ConcurrentUnionFind uf(n);
    tbb::parallel_for(size_t(0), edges.size(), [&](size_t i) { uf.unite(edges[i].first, edges[i].second); });
    uf.flatten();
    for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(uf.parent(i), label[i]) << "threads " << threads << " element " << i;
  }
}

}  // namespace
}  // namespace kiln::dedup
