// The immutable model behind a Tokenizer, and the hash tables its hot loops use.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace kiln::tokenizer::detail {

uint64_t hash_bytes(std::string_view bytes);

// (left id, right id) -> (rank, merged id). Open addressing, linear probing, power-of-two
// size, load factor <= 1/2. The empty key is ~0 (no token id is 2^32-1).
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
    if (keys_.empty()) return nullptr;
    const uint64_t key = (uint64_t(a) << 32) | b;
    for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
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
  std::vector<uint64_t> keys_;
  std::vector<Value> values_;
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
