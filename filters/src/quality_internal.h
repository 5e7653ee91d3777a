// Private helpers of the quality rule sets: per-thread scratch, a flat hash counter,
// attribute JSON and option parsing.
#pragma once

#include <xxhash.h>

#include <algorithm>
#include <charconv>
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

// Open-addressing map from a 64-bit hash to (count, first position). Keys are hashes of
// strings or n-grams; two different strings sharing a 64-bit hash would be counted as
// one (probability about m²/2⁶⁵ for m distinct strings in a document: negligible).
class HashCounter {
 public:
  struct Slot {
    uint64_t key;
    uint32_t count;
    uint32_t first;
    uint32_t generation;  // the slot is empty unless this equals the table's generation
  };
  // Empties the table in O(1) (a new generation) and makes room for `expected` keys.
  void reset(size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    if (cap > slots_.size() || ++generation_ == 0) {
      slots_.assign(std::max(cap, slots_.size()), Slot{0, 0, 0, 0});
      generation_ = 1;
    }
    mask_ = cap - 1;  // use the first `cap` slots: a small document probes a small range
  }
  // Adds one occurrence; returns the slot (count already incremented).
  Slot& add(uint64_t key, uint32_t position) {
    size_t i = (key ^ (key >> 29)) & mask_;
    while (true) {
      Slot& s = slots_[i];
      if (s.generation != generation_) {
        s = Slot{key, 1, position, generation_};
        return s;
      }
      if (s.key == key) {
        ++s.count;
        return s;
      }
      i = (i + 1) & mask_;
    }
  }

 private:
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  uint32_t generation_ = 0;
};

struct Scratch final : StageState {
  std::vector<Word> words;
  std::vector<std::string_view> lines;
  std::vector<uint64_t> word_hashes;
  std::vector<uint64_t> ngram_hashes;
  std::vector<uint64_t> prefix_chars;  // code points of words[0..i)
  HashCounter counter;
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
