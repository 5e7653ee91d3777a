// Basic document stages: length bounds and text normalisation.
//
// The published rule sets (Gopher, C4, FineWeb), language ID, toxicity and PII live in
// their own headers of this library; these two are the ones almost every recipe starts
// with.
//
//   [[stage]]
//   type = "normalize"      # NFC, LF line ends, no BOM, trailing spaces trimmed
//   [[stage]]
//   type = "length"
//   min_words = 50
#pragma once

#include <cstdint>
#include <memory>

#include "corpus/stage.h"

namespace kiln {

struct LengthOptions {
  uint64_t min_chars = 0;           // code points; 0 = no bound
  uint64_t max_chars = 0;           // 0 = no bound
  uint64_t min_words = 0;           // whitespace-separated words
  uint64_t max_words = 0;           // 0 = no bound
};
// Drops with reason "too_short_chars", "too_long_chars", "too_few_words", "too_many_words".
std::unique_ptr<Stage> make_length_filter(const LengthOptions& options);

struct NormalizeOptions {
  bool nfc = true;                   // Unicode NFC (utf8proc)
  bool unify_line_ends = true;       // CRLF and CR → LF
  bool strip_bom = true;             // leading U+FEFF
  bool trim_trailing_spaces = true;  // spaces and tabs at line ends
  uint64_t max_blank_lines = 2;      // longer runs of empty lines are cut to this; 0 = keep all
  bool drop_empty = true;            // a document that ends up empty is dropped ("empty")
};
std::unique_ptr<Stage> make_normalize(const NormalizeOptions& options);

// Counts code points of valid UTF-8 and words separated by Unicode white space.
uint64_t count_code_points(std::string_view utf8);
uint64_t count_words(std::string_view utf8);

class StageRegistry;
// Adds every stage of this library to the registry.
void register_filters_stages(StageRegistry& registry);

}  // namespace kiln
