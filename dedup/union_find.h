// ConcurrentUnionFind: disjoint sets over 0..n-1 that many threads unite at once.
//
// Lock-free (compare-and-swap linking, path halving). A root is always linked under the
// smaller root, so every parent index is ≤ its child and the root of a set is its
// smallest element, whatever order the unions ran in: the final partition and its
// representatives are identical for 1 or 64 threads. That is what makes the cluster
// ids of kiln dedup deterministic.
//
//   ConcurrentUnionFind uf(num_docs);
//   tbb::parallel_for(..., [&](...) { uf.unite(a, b); });
//   uf.flatten();               // after all unions: parent(i) == root(i)
//   uint64_t cluster = uf.parent(i);
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace kiln::dedup {

class ConcurrentUnionFind {
 public:
  explicit ConcurrentUnionFind(uint64_t n) : parent_(n) {
    for (uint64_t i = 0; i < n; ++i) parent_[i].store(i, std::memory_order_relaxed);
  }
  uint64_t size() const { return parent_.size(); }

  uint64_t find(uint64_t x) {
    for (;;) {
      uint64_t p = parent_[x].load(std::memory_order_acquire);
      if (p == x) return x;
      uint64_t g = parent_[p].load(std::memory_order_acquire);
      if (g != p) parent_[x].compare_exchange_weak(p, g, std::memory_order_acq_rel);  // halve
      x = g;
    }
  }

  // True when a and b are (now known to be) in one set. Never wrongly true: sets only grow.
  bool same(uint64_t a, uint64_t b) { return find(a) == find(b); }

  // Merges the sets of a and b; returns true if they were apart.
  bool unite(uint64_t a, uint64_t b) {
    for (;;) {
      a = find(a);
      b = find(b);
      if (a == b) return false;
      if (a < b) std::swap(a, b);  // a: the larger root, linked under the smaller
      uint64_t expected = a;
      if (parent_[a].compare_exchange_strong(expected, b, std::memory_order_acq_rel)) return true;
    }
  }

  // Points every element straight at its root. Call when no union is running.
  void flatten() {
    // Parents are ≤ children, so one ascending pass sees each parent already flattened.
    for (uint64_t i = 0; i < parent_.size(); ++i) {
      uint64_t p = parent_[i].load(std::memory_order_relaxed);
      parent_[i].store(parent_[p].load(std::memory_order_relaxed), std::memory_order_relaxed);
    }
  }
  uint64_t parent(uint64_t i) const { return parent_[i].load(std::memory_order_relaxed); }

 private:
  std::vector<std::atomic<uint64_t>> parent_;  // (n)
};

}  // namespace kiln::dedup
