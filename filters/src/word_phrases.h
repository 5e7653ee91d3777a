// Private: whole-word phrase matching shared by the toxicity and demographic lists.
// Text and phrases are cut into lowercased words (maximal runs of Unicode letters, marks
// and numbers), hashed with XXH3; a phrase of n words matches n consecutive words.
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiln::phrase_detail {

// Replaces `out` with the hashes of the lowercased words of `text`.
void word_hashes(std::string_view text, std::vector<uint64_t>& out);
// Order-dependent combination of word hashes into a phrase hash.
uint64_t combine(uint64_t h, uint64_t word_hash);

// Phrases → group id; counts matches per group.
class PhraseSet {
 public:
  // Returns false when the phrase has no words.
  bool add(std::string_view phrase, uint32_t group);
  // Adds the number of matches of each group to counts[group] (counts sized by caller).
  void count(const std::vector<uint64_t>& words, std::vector<uint64_t>& counts) const;
  bool empty() const { return groups_.empty(); }

 private:
  std::unordered_map<uint64_t, uint32_t> groups_;  // phrase hash → group
  std::vector<size_t> lengths_;                    // distinct phrase lengths in words, sorted
};

}  // namespace kiln::phrase_detail
