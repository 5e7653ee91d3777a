// Rebalancing a corpus over one attribute (language, source, topic, quality bucket,
// demographic group) and counterfactual augmentation.
//
// The representation report counts documents and units (bytes or tokens) per value of the
// attribute. Rebalancing then writes a corpus whose shares follow a target:
//   - explicit shares ("en=0.5,de=0.3,fr=0.2"; groups not named are dropped), or
//   - temperature sampling, p(g) ∝ n(g)^(1/τ) (τ = 1 keeps the shares, larger flattens),
// with UniMax's cap: no group is repeated more than max_repeats times; what a capped
// group cannot take is shared among the others in proportion to their target. Documents
// are chosen as in mixtures (whole repeats, then a seeded subset), copy k of each going to
// <output>/epoch-<k>/. Deterministic for any thread count.
//
//   BalanceOptions o;
//   o.attribute = "lang";
//   o.temperature = 3.3;
//   BalanceResult r = run_balance(expand_inputs({"out/tagged"}), o);
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "curate/mix.h"

namespace kiln {

struct BalanceOptions {
  std::string attribute;                 // attribute name; "attr.member" reads an object member
  std::map<std::string, double> target;  // explicit shares (normalised); or empty with temperature
  double temperature = 0;                // > 0: p ∝ n^(1/τ) over the groups found
  double max_repeats = 4;                // UniMax cap on copies of any document group
  MixUnit unit = MixUnit::kBytes;        // tokens need `encoder` in run_balance
  uint64_t budget = 0;                   // units in the output; 0 = as many as the input holds
  uint64_t seed = 0;
  std::string output_dir;                // empty = report only, write nothing
  ReaderOptions reader;
  int threads = 0;
  std::function<void(const ProgressInfo&)> on_progress;  // each pass's progress (see PipelineOptions)
};

struct BalanceGroup {
  std::string value;  // "(missing)" for documents without the attribute
  uint64_t docs_before = 0, units_before = 0;
  double share_before = 0, target_share = 0, share_after = 0;
  uint64_t units_after = 0, docs_after = 0;
  double repeats = 0;  // units_after / units_before
  bool capped = false;
};

struct BalanceResult {
  std::vector<BalanceGroup> groups;  // by value
  uint64_t units_before = 0, units_after = 0;
  std::string to_text() const;       // target next to achieved, per group
  std::string to_json() const;
};

// Parses "en=0.5,de=0.3". Throws Error.
std::map<std::string, double> parse_shares(const std::string& text);

// Target shares after applying the UniMax cap: share(g) ≤ max_repeats × units(g) / budget.
// Exposed for tests; `shares` and `units` are indexed alike.
std::vector<double> cap_shares(const std::vector<double>& shares, const std::vector<uint64_t>& units, uint64_t budget,
                               double max_repeats, std::vector<bool>* capped);

BalanceResult run_balance(const std::vector<std::string>& inputs, const BalanceOptions& options,
                          const TextEncoder* encoder = nullptr);

// ---- counterfactual augmentation -----------------------------------------------------

// Swaps gendered terms ("he" ↔ "she", "men" ↔ "women", "father's" ↔ "mother's") keeping
// each word's case pattern (he → she, He → She, HE → SHE). Pairs come from a text list,
// one "a b" pair per line ('#' comments). Limits, by design: one-to-many words are
// mapped one way only ("her" → "his"; "his" → "her"), names are left as they are, and
// grammatical gender in other languages is not handled.
class TermSwapper {
 public:
  explicit TermSwapper(const std::vector<std::pair<std::string, std::string>>& pairs);
  static TermSwapper from_list(std::string_view text, const std::string& source);
  static TermSwapper english_gender();  // the built-in list (curate/data/gender_pairs.txt)
  // Returns the swapped text and, in *swaps, how many words changed.
  std::string swap(std::string_view text, size_t* swaps = nullptr) const;

 private:
  std::map<std::string, std::string> map_;  // lower-case word → replacement
};

}  // namespace kiln
