// Byte-pair merging of one piece: repeatedly merge the adjacent pair of lowest rank,
// leftmost first, until no adjacent pair has a rank.
//
// Short pieces (the vast majority) use tiktoken's direct loop over a small rank array:
// O(n^2) lookups but n is a word. Longer pieces use a min-heap of (rank, position) over a
// linked list of symbols: each merge pushes at most two entries, stale entries are checked
// on pop, so a piece of n bytes costs O(n log n) and long runs without spaces (minified
// code, base64, DNA) cannot go quadratic.
#pragma once

#include <cstdint>
#include <vector>

#include "tokenizer/src/model.h"

namespace kiln::tokenizer::detail {

// Counts the work done, for tests that bound it on adversarial input.
struct BpeCounters {
  uint64_t lookups = 0;      // pair-table lookups
  uint64_t heap_pushes = 0;  // heap entries pushed (long pieces)
  uint64_t merges = 0;
};

// Pieces longer than this use the heap.
inline constexpr size_t kBpeHeapThreshold = 64;

// Merges the symbol ids in place.
void bpe_merge(const PairMap& pairs, std::vector<uint32_t>& ids, BpeCounters* counters = nullptr);
// The plain reference: rescans every adjacent pair after each merge. O(n^2); tests only.
void bpe_merge_reference(const PairMap& pairs, std::vector<uint32_t>& ids);

}  // namespace kiln::tokenizer::detail
