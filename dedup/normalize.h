// Text normalization applied before hashing, so that copies differing only in case,
// spacing, punctuation or numbers hash alike.
//
//   NormalizeOptions options;            // defaults: lowercase, collapse whitespace
//   options.strip_punctuation = true;
//   std::string out;
//   normalize_text("Hello,   World 42!", options, out);  // "hello world 42"
//
// Works on code points (utf8proc) with an ASCII fast path; input must be valid UTF-8,
// which every kiln reader guarantees (repair or reject).
#pragma once

#include <string>
#include <string_view>

namespace kiln::dedup {

struct NormalizeOptions {
  bool lowercase = true;            // Unicode simple lowercase mapping
  bool collapse_whitespace = true;  // runs of Unicode white space → one ' ', trimmed at both ends
  bool strip_punctuation = false;   // drop Unicode punctuation (categories P*)
  bool digits_to_zero = false;      // every decimal digit (category Nd) → '0'

  // "lower,space,punct,digits" (any subset, "none" for raw bytes). Throws Error on an unknown word.
  static NormalizeOptions parse(std::string_view spec);
  std::string to_string() const;
};

// Writes the normalized form of `text` into `out` (cleared first).
void normalize_text(std::string_view text, const NormalizeOptions& options, std::string& out);

}  // namespace kiln::dedup
