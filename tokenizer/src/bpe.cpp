#include "tokenizer/src/bpe.h"

#include <algorithm>
#include <queue>

namespace kiln::tokenizer::detail {


// ---- PairMap ----------------------------------------------------------------------------

void PairMap::reserve(size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap <<= 1;
  if (cap <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(cap, Slot{kEmpty, Value{}});
  mask_ = cap - 1;
  size_ = 0;
  for (const Slot& s : old) {
    if (s.key != kEmpty) set(uint32_t(s.key >> 32), uint32_t(s.key), s.value);
  }
}

void PairMap::grow() { reserve(std::max<size_t>(16, size_ * 2)); }

void PairMap::set(uint32_t a, uint32_t b, Value v) {
  if (2 * (size_ + 1) > slots_.size()) grow();
  const uint64_t key = (uint64_t(a) << 32) | b;
  for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.key == key) {
      s.value = v;
      return;
    }
    if (s.key == kEmpty) {
      s.key = key;
      s.value = v;
      ++size_;
      return;
    }
  }
}

// ---- BytesMap ---------------------------------------------------------------------------

void BytesMap::build(const std::vector<std::string>& tokens, const std::vector<uint8_t>& used) {
  tokens_ = &tokens;
  size_t n = 0;
  for (uint8_t u : used) n += u;
  size_t cap = 16;
  while (cap < 2 * n) cap <<= 1;
  hashes_.assign(cap, 0);
  ids_.assign(cap, ~0u);
  mask_ = cap - 1;
  for (uint32_t id = 0; id < tokens.size(); ++id) {
    if (!used[id]) continue;
    const uint64_t h = hash_bytes(tokens[id]);
    size_t i = h & mask_;
    while (ids_[i] != ~0u) i = (i + 1) & mask_;
    hashes_[i] = h;
    ids_[i] = id;
  }
}

uint32_t BytesMap::find(std::string_view bytes) const {
  if (ids_.empty()) return ~0u;
  const uint64_t h = hash_bytes(bytes);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const uint32_t id = ids_[i];
    if (id == ~0u) return ~0u;
    if (hashes_[i] == h) {
      const std::string& t = (*tokens_)[id];
      if (t.size() == bytes.size() && equal_bytes(t.data(), bytes.data(), bytes.size())) return id;
    }
  }
}

// ---- merging ----------------------------------------------------------------------------

namespace {

constexpr uint32_t kNoRank = ~0u;

void merge_short(const PairMap& pairs, std::vector<uint32_t>& ids, BpeCounters* counters) {
  const size_t n0 = ids.size();
  uint32_t rank[kBpeHeapThreshold];
  uint32_t merged[kBpeHeapThreshold];
  auto lookup = [&](size_t i) {
    const PairMap::Value* v = pairs.find(ids[i], ids[i + 1]);
    if (counters) ++counters->lookups;
    rank[i] = v ? v->rank : kNoRank;
    merged[i] = v ? v->id : 0;
  };
  for (size_t i = 0; i + 1 < n0; ++i) lookup(i);
  size_t n = n0;
  while (n > 1) {
    uint32_t best = kNoRank;
    size_t at = 0;
    for (size_t i = 0; i + 1 < n; ++i) {
      if (rank[i] < best) {
        best = rank[i];
        at = i;
      }
    }
    if (best == kNoRank) break;
    if (counters) ++counters->merges;
    ids[at] = merged[at];
    // Remove symbol at+1 and pair slot at+1 (the pair to the right of it).
    for (size_t i = at + 1; i + 1 < n; ++i) ids[i] = ids[i + 1];
    for (size_t i = at + 1; i + 2 < n; ++i) {
      rank[i] = rank[i + 1];
      merged[i] = merged[i + 1];
    }
    --n;
    if (at + 1 < n) lookup(at);
    if (at > 0) lookup(at - 1);
  }
  ids.resize(n);
}

struct HeapEntry {
  uint32_t rank;
  uint32_t pos;  // index of the left symbol (stable: symbols are never moved)
  uint32_t left, right, merged;
  // Min-heap on (rank, pos): lowest rank, then leftmost.
  bool operator<(const HeapEntry& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

void merge_long(const PairMap& pairs, std::vector<uint32_t>& ids, BpeCounters* counters) {
  const uint32_t n = static_cast<uint32_t>(ids.size());
  constexpr uint32_t kNone = ~0u;
  std::vector<uint32_t> next(n), prev(n);
  std::vector<uint8_t> alive(n, 1);
  for (uint32_t i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? i + 1 : kNone;
    prev[i] = i > 0 ? i - 1 : kNone;
  }
  std::vector<HeapEntry> storage;
  storage.reserve(n);
  std::priority_queue<HeapEntry> heap(std::less<HeapEntry>(), std::move(storage));
  auto push = [&](uint32_t i) {
    const uint32_t j = next[i];
    if (j == kNone) return;
    const PairMap::Value* v = pairs.find(ids[i], ids[j]);
    if (counters) ++counters->lookups;
    if (!v) return;
    heap.push(HeapEntry{v->rank, i, ids[i], ids[j], v->id});
    if (counters) ++counters->heap_pushes;
  };
  for (uint32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const HeapEntry e = heap.top();
    heap.pop();
    // Stale if the left symbol was consumed or changed, or its right neighbour changed.
    if (!alive[e.pos] || ids[e.pos] != e.left) continue;
    const uint32_t j = next[e.pos];
    if (j == kNone || ids[j] != e.right) continue;
    if (counters) ++counters->merges;
    ids[e.pos] = e.merged;
    alive[j] = 0;
    next[e.pos] = next[j];
    if (next[j] != kNone) prev[next[j]] = e.pos;
    push(e.pos);
    if (prev[e.pos] != kNone) push(prev[e.pos]);
  }
  size_t out = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (alive[i]) ids[out++] = ids[i];
  }
  ids.resize(out);
}

}  // namespace

void bpe_merge(const PairMap& pairs, std::vector<uint32_t>& ids, BpeCounters* counters) {
  if (ids.size() < 2) return;
  if (ids.size() <= kBpeHeapThreshold) {
    merge_short(pairs, ids, counters);
  } else {
    merge_long(pairs, ids, counters);
  }
}

void bpe_merge_reference(const PairMap& pairs, std::vector<uint32_t>& ids) {
  for (;;) {
    uint32_t best = kNoRank, merged = 0;
    size_t at = 0;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      const PairMap::Value* v = pairs.find(ids[i], ids[i + 1]);
      if (v && v->rank < best) {
        best = v->rank;
        merged = v->id;
        at = i;
      }
    }
    if (best == kNoRank) return;
    ids[at] = merged;
    ids.erase(ids.begin() + at + 1);
  }
}

}  // namespace kiln::tokenizer::detail
