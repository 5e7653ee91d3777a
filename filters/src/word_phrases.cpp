#include "filters/src/word_phrases.h"

#include <utf8proc.h>
#include <xxhash.h>

#include <algorithm>
#include <string>

#include "filters/text_analysis.h"

namespace kiln::phrase_detail {

namespace {

bool is_word_cp(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
  auto c = utf8proc_category(utf8proc_int32_t(cp));
  return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) || (c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ND) ||
         c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

void append_utf8(std::string& out, char32_t cp) {
  utf8proc_uint8_t buf[4];
  auto n = utf8proc_encode_char(utf8proc_int32_t(cp), buf);
  out.append(reinterpret_cast<char*>(buf), size_t(n));
}

}  // namespace

// Lowercased words of `text`, as hashes.
void word_hashes(std::string_view text, std::vector<uint64_t>& out) {
  out.clear();
  std::string word;
  auto flush = [&] {
    if (!word.empty()) out.push_back(XXH3_64bits(word.data(), word.size()));
    word.clear();
  };
  size_t i = 0;
  while (i < text.size()) {
    char32_t cp = next_code_point(text, i);
    if (is_word_cp(cp)) append_utf8(word, char32_t(utf8proc_tolower(utf8proc_int32_t(cp))));
    else flush();
  }
  flush();
}

uint64_t combine(uint64_t h, uint64_t w) { return XXH3_64bits_withSeed(&w, sizeof w, h); }

bool PhraseSet::add(std::string_view phrase, uint32_t group) {
  std::vector<uint64_t> hashes;
  word_hashes(phrase, hashes);
  if (hashes.empty()) return false;
  uint64_t h = 0;
  for (uint64_t x : hashes) h = combine(h, x);
  groups_[h] = group;
  if (std::find(lengths_.begin(), lengths_.end(), hashes.size()) == lengths_.end()) {
    lengths_.push_back(hashes.size());
    std::sort(lengths_.begin(), lengths_.end());
  }
  return true;
}

void PhraseSet::count(const std::vector<uint64_t>& words, std::vector<uint64_t>& counts) const {
  for (size_t i = 0; i < words.size(); ++i) {
    uint64_t h = 0;
    size_t len = 0;
    for (size_t want : lengths_) {
      if (i + want > words.size()) break;
      while (len < want) h = combine(h, words[i + len++]);
      auto it = groups_.find(h);
      if (it != groups_.end()) ++counts[it->second];
    }
  }
}

}  // namespace kiln::phrase_detail
