// Published heuristic quality rule sets as pipeline stages: Gopher quality, Gopher
// repetition (Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from
// Training Gopher", arXiv:2112.11446, section A.1.1 and table A1), C4 (Raffel et al. 2020,
// JMLR 21:140, section 2.2, and TFDS c4_utils.py) and FineWeb (Penedo et al. 2024,
// arXiv:2406.17557, section 3.3 and datatrove's FineWebQualityFilter).
//
// Every threshold is an option whose default is the published value, cited where it is
// set. Rule order, counting conventions and reason names follow datatrove's
// implementations (huggingface/datatrove, src/datatrove/pipeline/filters), which the
// FineWeb paper used; filters/README.md lists where kiln differs and why.
//
// Each stage runs in one of two modes: kDrop answers drop with the first failing rule's
// reason; kTag keeps every document and writes its statistics and the reason it would
// have been dropped for (or null) as one JSON object attribute named after the stage, so
// thresholds can be chosen later:
//
//   "attributes": {"gopher_quality": {"words": 412, "mean_word_length": 4.61, ..., "reason": null}}
//
//   GopherQualityOptions o;           // published defaults
//   o.mode = FilterMode::kTag;
//   auto stage = make_gopher_quality_filter(o);
//
//   GopherQualityStats stats;
//   std::string_view reason = check_gopher_quality(text, o, stats);  // "" = passes
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/stage.h"

namespace kiln {

enum class FilterMode {
  kDrop,  // drop failing documents with the rule's reason
  kTag,   // keep every document; write the statistics and would-be reason as an attribute
};

// ---- Gopher quality (Rae et al. 2021, A.1.1 "Quality filtering") ----------------------
// A threshold of 0 switches its rule off (as None does in datatrove).
struct GopherQualityOptions {
  FilterMode mode = FilterMode::kDrop;
  uint64_t min_words = 50;               // Gopher: "fewer than 50 ... words"; non-symbol words
  uint64_t max_words = 100000;           // Gopher: "more than 100,000 words"
  double min_mean_word_length = 3;       // Gopher: mean word length outside 3 to 10 characters
  double max_mean_word_length = 10;
  double max_symbol_word_ratio = 0.1;    // Gopher: symbol-to-word ratio > 0.1 for '#' or ellipsis
  double max_bullet_lines_ratio = 0.9;   // Gopher: > 90% of lines start with a bullet
  double max_ellipsis_lines_ratio = 0.3; // Gopher: > 30% of lines end with an ellipsis
  double min_alpha_words_ratio = 0.8;    // Gopher: 80% of words contain an alphabetic character
  uint64_t min_stop_words = 2;           // Gopher: at least two of the stop words below
  // Gopher's list; matched case-sensitively against whole words, as datatrove does.
  std::vector<std::string> stop_words = {"the", "be", "to", "of", "and", "that", "have", "with"};
};

struct GopherQualityStats {
  uint64_t words = 0;             // all words, punctuation words included
  uint64_t non_symbol_words = 0;  // words with a character that is not punctuation/symbol
  double mean_word_length = 0;    // code points, over non-symbol words
  double hash_ratio = 0;          // '#' per word
  double ellipsis_ratio = 0;      // ("..." + "…") per word
  double bullet_lines_ratio = 0;  // lines starting (after spaces) with "•" or "-"
  double ellipsis_lines_ratio = 0;// lines ending (before spaces) with "..." or "…"
  double alpha_words_ratio = 0;   // words holding a letter, per word
  uint64_t stop_words = 0;
};

// Reasons, in checking order: gopher_short_doc, gopher_long_doc,
// gopher_below_avg_threshold, gopher_above_avg_threshold, gopher_too_many_hashes,
// gopher_too_many_ellipsis, gopher_too_many_bullets, gopher_too_many_end_ellipsis,
// gopher_below_alpha_threshold, gopher_enough_stop_words (datatrove's name: "not enough").
// Returns the first failing rule's reason or "" and fills every field of `stats`.
std::string_view check_gopher_quality(std::string_view text, const GopherQualityOptions& options,
                                      GopherQualityStats& stats);
std::unique_ptr<Stage> make_gopher_quality_filter(const GopherQualityOptions& options);

// ---- Gopher repetition (Rae et al. 2021, table A1) ------------------------------------
// Fractions are of the document's code points. 0 switches a rule off.
struct GopherRepetitionOptions {
  FilterMode mode = FilterMode::kDrop;
  double max_dup_para_frac = 0.30;       // table A1: duplicate paragraph fraction
  double max_dup_para_char_frac = 0.20;  // duplicate paragraph character fraction
  double max_dup_line_frac = 0.30;       // duplicate line fraction
  double max_dup_line_char_frac = 0.20;  // duplicate line character fraction
  // table A1: top 2-, 3-, 4-gram character fraction.
  double max_top_ngram_char_frac[3] = {0.20, 0.18, 0.16};
  // table A1: duplicate 5- to 10-gram character fraction.
  double max_dup_ngram_char_frac[6] = {0.15, 0.14, 0.13, 0.12, 0.11, 0.10};
};

struct GopherRepetitionStats {
  uint64_t chars = 0;              // code points of the document
  uint64_t paragraphs = 0;         // pieces of the stripped text between runs of ≥ 2 '\n'
  double dup_para_frac = 0;
  double dup_para_char_frac = 0;
  uint64_t lines = 0;              // pieces between runs of '\n'
  double dup_line_frac = 0;
  double dup_line_char_frac = 0;
  double top_ngram_char_frac[3] = {0, 0, 0};      // n = 2, 3, 4
  double dup_ngram_char_frac[6] = {0, 0, 0, 0, 0, 0};  // n = 5..10
};

// Reasons: gopher_dup_para_frac, gopher_dup_para_char_frac, gopher_dup_line_frac,
// gopher_dup_line_char_frac, gopher_top_{2,3,4}_gram, gopher_duplicated_{5..10}_n_grams.
std::string_view check_gopher_repetition(std::string_view text, const GopherRepetitionOptions& options,
                                         GopherRepetitionStats& stats);
std::unique_ptr<Stage> make_gopher_repetition_filter(const GopherRepetitionOptions& options);

// ---- C4 (Raffel et al. 2020, section 2.2; TFDS c4_utils.clean_page) ------------------
// Line rules remove lines; document rules drop the document. Each can be switched off.
struct C4Options {
  FilterMode mode = FilterMode::kDrop;  // kTag leaves the text as it is
  uint64_t max_word_length = 1000;      // c4_utils: lines with a word over 1,000 chars go; 0 = off
  bool remove_citations = true;         // c4_utils: "[1]", "[edit]", "[citation needed]" removed
  bool filter_no_terminal_punct = true; // C4: keep lines ending in . ? ! " (and ') but not "..."
  uint64_t min_words_per_line = 3;      // C4: "at least 3 words"; 0 = off
  bool filter_lorem_ipsum = true;       // C4: drop pages with "lorem ipsum"
  bool filter_javascript = true;        // C4: remove lines with the word "javascript"
  bool filter_curly_bracket = true;     // C4: drop pages with "{"
  bool filter_policy = true;            // c4_utils: remove cookie/terms-of-use/privacy lines
  uint64_t min_sentences = 5;           // C4: drop pages with fewer than 5 sentences; 0 = off
};

struct C4Stats {
  uint64_t lines = 0;
  uint64_t lines_kept = 0;
  uint64_t lines_too_long_word = 0;
  uint64_t lines_no_terminal_punct = 0;
  uint64_t lines_too_few_words = 0;
  uint64_t lines_javascript = 0;
  uint64_t lines_policy = 0;
  uint64_t sentences = 0;  // in kept lines
  uint64_t chars_kept = 0; // code points of the cleaned text
};

// Reasons: c4_lorem_ipsum, c4_curly_bracket, c4_too_few_sentences, c4_empty (every line
// removed while min_sentences is off). `cleaned` gets the kept lines, stripped, joined by
// '\n' (when the document passes).
std::string_view check_c4(std::string_view text, const C4Options& options, C4Stats& stats, std::string& cleaned);
std::unique_ptr<Stage> make_c4_filter(const C4Options& options);

// Sentences of one line, by a rule simpler than NLTK's Punkt (no abbreviation list): a
// sentence ends at a run of . ! ? followed by white space or the end of the line, or at
// a CJK full stop, exclamation or question mark (。！？).
uint64_t count_sentences(std::string_view line);

// ---- FineWeb (Penedo et al. 2024, section 3.3) ----------------------------------------
struct FineWebOptions {
  FilterMode mode = FilterMode::kDrop;
  double min_line_punct_ratio = 0.12;  // FineWeb: drop if < 12% of lines end in punctuation
  bool line_punct_exclude_zero = false;// datatrove: a ratio of exactly 0 passes when set
  double max_short_line_ratio = 0.67;  // FineWeb: drop if > 67% of lines are ≤ 30 chars
  uint64_t short_line_length = 30;
  double max_dup_line_char_ratio = 0.01; // FineWeb: drop if > 1% of chars are in duplicated lines
  double max_newline_word_ratio = 0.3; // FineWeb: drop if > 0.3 '\n' per word ("list_ratio")
  // Line ends that count as terminal punctuation: datatrove's ASCII set plus the full
  // stops, question and exclamation marks of CJK, Devanagari, Arabic, Urdu and Ethiopic,
  // so that non-Latin text is judged by its own punctuation.
  std::vector<std::string> stop_chars = {".", "'", "\"", "!", "?", "。", "！", "？", "｡", "．",
                                         "।", "॥", "؟", "۔", "።", "፧"};
};

struct FineWebStats {
  uint64_t lines = 0;              // non-blank lines
  double line_punct_ratio = 0;
  double short_line_ratio = 0;
  double dup_line_char_ratio = 0;  // of the code points that are not '\n'
  double newline_word_ratio = 0;
};

// Reasons: fineweb_empty, fineweb_line_punct_ratio, fineweb_short_line_ratio,
// fineweb_char_dup_ratio, fineweb_list_ratio.
std::string_view check_fineweb(std::string_view text, const FineWebOptions& options, FineWebStats& stats);
std::unique_ptr<Stage> make_fineweb_filter(const FineWebOptions& options);

class StageRegistry;
// Registers gopher_quality, gopher_repetition, c4, fineweb (called by register_filters_stages).
void register_quality_stages(StageRegistry& registry);

}  // namespace kiln
