// Private helpers of the quality rule sets: per-thread scratch, a first-position table,
// attribute JSON and option parsing.
#pragma once

#define XXH_INLINE_ALL  // short keys (words, lines): no call through the shared library
#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/error.h"
#include "corpus/stage.h"
#include "filters/quality.h"
#include "filters/text_analysis.h"

namespace kiln::quality_detail {

inline uint64_t hash_bytes(std::string_view s) { return XXH3_64bits(s.data(), s.size()); }

// A string of at most 7 bytes as one integer: its bytes, little end first, and its length
// in the top byte, so that two such strings are equal exactly when their codes are (and
// no code is 0). Most words are this short (the Gopher stop words are).
constexpr size_t kShortBytes = 7;
inline uint64_t short_code(std::string_view s) {
  uint64_t v = uint64_t(s.size()) << 56;
  for (size_t k = 0; k < s.size(); ++k) v |= uint64_t(static_cast<unsigned char>(s[k])) << (8 * k);
  return v;
}

// short_code of a string of at most 7 bytes inside a text that ends at `end`: one
// 8-byte load where the text has room for it.
inline uint64_t short_code_in(std::string_view w, const char* end) {
  if constexpr (std::endian::native == std::endian::little) {
    if (end - w.data() >= 8) {
      uint64_t v;
      std::memcpy(&v, w.data(), 8);
      return (v & ((uint64_t(1) << (8 * w.size())) - 1)) | uint64_t(w.size()) << 56;
    }
  }
  return short_code(w);
}

// A word's table key. Words of at most 7 bytes (most of them) are their own key, the
// short code: equal keys are equal words. Longer words get a hash with the top byte set
// to 0xFF (no short code has it), which a caller must confirm by comparing bytes.
inline uint64_t word_key(std::string_view w, const char* end) {
  return w.size() > kShortBytes ? hash_bytes(w) | 0xFFull << 56 : short_code_in(w, end);
}
inline bool is_exact_word_key(uint64_t key) { return (key >> 56) <= kShortBytes; }

// Byte equality without a library call for short strings.
inline bool same_bytes(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.size() > 16) return a == b;
  for (size_t k = 0; k < a.size(); ++k)
    if (a[k] != b[k]) return false;
  return true;
}

// Open-addressing map from a 64-bit key to the position where the key was first added,
// its "id". Used for exact identity: when keys are hashes of strings, the caller passes
// an equality test of the strings behind two positions, which is asked on every key
// match, so two different strings sharing a hash are still told apart (a collision costs
// one more probe, never a wrong answer). When keys are the strings' identities themselves
// (a pair of ids), the test is `always_equal`.
class FirstPositionTable {
 public:
  static constexpr auto always_equal = [](uint32_t) { return true; };
  // Empties the table in O(1) (a new generation) and makes room for `expected` keys; it
  // grows past that when needed (a guess too small costs a rehash, one too large costs
  // cache misses: a sparse table spreads its keys over more memory).
  void reset(size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    start(cap);
    size_ = 0;
  }
  // The id of `key`: the position it was first added with, or `position` if it is new.
  // `same(id)` says whether the item at `id` equals the one at `position`.
  template <class Same>
  uint32_t add(uint64_t key, uint32_t position, Same&& same) {
    size_t i = slot_of(key);
    while (true) {
      Slot& s = slots_[i];
      if (s.generation != generation_) {
        s = Slot{key, position, generation_};
        if (++size_ * 2 > mask_ + 1) grow();
        return position;
      }
      if (s.key == key && same(s.first)) return s.first;
      i = (i + 1) & mask_;
    }
  }
  // Brings the slot of a key that will be added soon into the cache: a document's table
  // can outgrow L2, and its probes are random.
  void prefetch(uint64_t key) const { __builtin_prefetch(&slots_[slot_of(key)]); }

 private:
  // Fibonacci hashing: the top bits of the product depend on every bit of the key (a
  // pair of ids puts its second id in the low half).
  size_t slot_of(uint64_t key) const {
    key ^= key >> 31;
    return size_t((key * 0x9E3779B97F4A7C15ull) >> shift_);
  }

  struct Slot {
    uint64_t key;
    uint32_t first;
    uint32_t generation;  // the slot is empty unless this equals the table's generation
  };
  // Uses the first `cap` slots (a small document probes a small range), emptied.
  void start(size_t cap) {
    shift_ = 64 - std::countr_zero(cap);
    if (cap > slots_.size() || ++generation_ == 0) {
      slots_.assign(std::max(cap, slots_.size()), Slot{0, 0, 0});
      generation_ = 1;
    }
    mask_ = cap - 1;
  }
  // Doubles the capacity at half load, keeping the keys (linear probing stays short).
  void grow() {
    old_.clear();
    for (size_t i = 0; i <= mask_; ++i)
      if (slots_[i].generation == generation_) old_.push_back(slots_[i]);
    start(2 * (mask_ + 1));
    for (const Slot& o : old_) {
      size_t i = slot_of(o.key);
      while (slots_[i].generation == generation_) i = (i + 1) & mask_;
      slots_[i] = Slot{o.key, o.first, generation_};
    }
  }
  std::vector<Slot> slots_;
  std::vector<Slot> old_;  // grow()'s scratch
  size_t size_ = 0;
  size_t mask_ = 0;
  int shift_ = 60;  // 64 - log2(capacity)
  uint32_t generation_ = 0;
};

struct Scratch final : StageState {
  std::vector<Word> words;
  std::vector<std::string_view> lines;
  std::vector<uint32_t> ngram_ids;     // per position: id of the n-gram starting there
  std::vector<uint32_t> shared_positions;  // positions whose n-gram occurs more than once
  std::vector<uint32_t> word_ids;      // per position: first position of the same word
  std::vector<uint32_t> id_counts;     // per id: occurrences
  std::vector<uint8_t> id_seen;        // per id: order n whose scan has met it (5..10)
  std::vector<uint64_t> prefix_chars;  // code points of words[0..i)
  std::vector<uint64_t> word_keys;     // per position: word_key of the word
  FirstPositionTable table;
  std::string cleaned;
  std::string cleaned_lower;  // C4: one line, ASCII-lowercased
};

std::string_view check_gopher_quality(std::string_view text, const GopherQualityOptions& o, GopherQualityStats& st,
                                      Scratch& scratch);
std::string_view check_gopher_repetition(std::string_view text, const GopherRepetitionOptions& o,
                                         GopherRepetitionStats& st, Scratch& scratch);
std::string_view check_c4(std::string_view text, const C4Options& o, C4Stats& st, std::string& cleaned,
                          Scratch& scratch);
std::string_view check_fineweb(std::string_view text, const FineWebOptions& o, FineWebStats& st, Scratch& scratch);

// {"key": value, ...} for tag mode.
class JsonObject {
 public:
  JsonObject() { out_ = "{"; }
  JsonObject& num(std::string_view key, double v) {
    key_(key);
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
    return *this;
  }
  JsonObject& num(std::string_view key, uint64_t v) {
    key_(key);
    out_ += std::to_string(v);
    return *this;
  }
  JsonObject& reason(std::string_view r) {
    key_("reason");
    if (r.empty()) out_ += "null";
    else (out_ += '"').append(r) += '"';  // reasons are ASCII identifiers
    return *this;
  }
  std::string str() { return out_ + "}"; }

 private:
  void key_(std::string_view key) {
    if (out_.size() > 1) out_ += ',';
    (out_ += '"').append(key) += "\":";
  }
  std::string out_;
};

FilterMode parse_mode(const StageConfig& c);
double get_fraction(const StageConfig& c, std::string_view key, double fallback);
uint64_t get_count(const StageConfig& c, std::string_view key, uint64_t fallback);

}  // namespace kiln::quality_detail
