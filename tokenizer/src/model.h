// The immutable model behind a Tokenizer, and the hash tables its hot loops use.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace kiln::tokenizer::detail {

// A fast hash for short byte strings (pieces are mostly under 16 bytes): 8 bytes at a
// time, multiply-xorshift mixing. Good enough for linear probing; not for adversaries.
inline uint64_t hash_bytes(std::string_view bytes) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xff51afd7ed558ccdULL);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0x94d049bb133111ebULL;
    h ^= h >> 29;
  }
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 32);
}

// a == b for strings of equal length n (short: word compares, no library call).
inline bool equal_bytes(const char* a, const char* b, size_t n) {
  while (n >= 8) {
    uint64_t x, y;
    std::memcpy(&x, a, 8);
    std::memcpy(&y, b, 8);
    if (x != y) return false;
    a += 8;
    b += 8;
    n -= 8;
  }
  while (n--) {
    if (*a++ != *b++) return false;
  }
  return true;
}

// (left id, right id) -> (rank, merged id). Open addressing, linear probing, power-of-two
// size, load factor <= 1/2, 16-byte slots. The empty key is ~0 (no token id is 2^32-1).
class PairMap {
 public:
  struct Value {
    uint32_t rank;
    uint32_t id;
  };
  void reserve(size_t n);
  // Inserts or overwrites.
  void set(uint32_t a, uint32_t b, Value v);
  const Value* find(uint32_t a, uint32_t b) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = (uint64_t(a) << 32) | b;
    for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.value;
      if (s.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);
  static uint64_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
  }
  void grow();
  // Key and value side by side: a lookup touches one cache line.
  struct Slot {
    uint64_t key;
    Value value;
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// Token bytes -> id. Open addressing over hashes; the bytes live in the model's token list.
class BytesMap {
 public:
  void build(const std::vector<std::string>& tokens, const std::vector<uint8_t>& used);
  // Returns ~0u when absent.
  uint32_t find(std::string_view bytes) const;

 private:
  std::vector<uint64_t> hashes_;
  std::vector<uint32_t> ids_;
  const std::vector<std::string>* tokens_ = nullptr;
  size_t mask_ = 0;
};

struct Model {
  Pattern pattern = Pattern::kGpt2;
  MergeRule rule = MergeRule::kRanks;
  HfModelOptions hf;
  bool whole_piece_first = true;  // kRanks always; kMerges when hf.ignore_merges

  std::vector<std::string> tokens;  // id -> bytes of ordinary tokens
  std::vector<uint8_t> used;        // id -> 1 if `tokens[id]` is a token
  size_t num_tokens = 0;
  BytesMap token_ids;
  PairMap pairs;
  std::vector<std::pair<uint32_t, uint32_t>> merge_list;  // kMerges, rank order
  uint32_t byte_ids[256];
  bool byte_known[256];
  uint32_t unk_id = ~0u;

  std::vector<SpecialToken> specials;  // sorted by content length, longest first
  bool special_first_byte[256] = {};
  uint32_t vocab_size = 0;

  // Distinguishes models for per-thread piece caches (an address can be reused).
  uint64_t serial = next_serial();
  static uint64_t next_serial() {
    static std::atomic<uint64_t> n{1};
    return n++;
  }

  // Fills token_ids, byte ids, special tables and vocab_size from tokens/used/specials.
  void finish();
};

}  // namespace kiln::tokenizer::detail
