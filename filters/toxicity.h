// Word-list toxicity filter: whole-word matches of multi-language bad-word lists (the
// LDNOOBW lists shipped in filters/data/naughty_words.json, CC BY 4.0), as C4 used the
// English one.
//
// Text and list entries are cut the same way into lowercased words (maximal runs of
// Unicode letters, marks and digits), and an entry matches a run of whole words: "ass"
// does not match "assassin", "cunt" not "Scunthorpe", "2 girls 1 cup" matches "2 Girls, 1
// cup". Lists of languages written without spaces (ja, th, zh) match as substrings, as C4
// did, minus C4's allowlist of common subwords (ja: sm, グロ, 女の子; zh: 性).
//
// score = matches / words (filters/text_analysis.h words). A document whose score is above
// `max_score` is dropped with reason "toxic_words_<list>" naming the list with the most
// matches; the default 0 drops any match (C4's rule).
//
//   ToxicityLexiconOptions o;
//   o.lists = {"en", "de"};
//   ToxicityLexicon lexicon(o);
//   ToxicityMatches m = lexicon.match("What the hell");   // m.total, m.per_list
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/stage.h"
#include "filters/quality.h"

namespace kiln {

struct ToxicityLexiconOptions {
  std::string lexicon_path;               // JSON {"list": ["entry", ...]}; "" = the shipped lists
  std::vector<std::string> lists = {"en"};// which lists; {"*"} = all of them
  FilterMode mode = FilterMode::kDrop;
  double max_score = 0;                   // matches per word above this drop the document
};

struct ToxicityMatches {
  uint64_t total = 0;
  uint64_t words = 0;
  std::vector<uint64_t> per_list;  // parallel to ToxicityLexicon::lists()
  double score() const { return words ? double(total) / double(words) : 0.0; }
};

class ToxicityLexicon {
 public:
  // Throws Error naming the file for an unreadable lexicon or an unknown list.
  explicit ToxicityLexicon(const ToxicityLexiconOptions& options);
  ~ToxicityLexicon();
  ToxicityMatches match(std::string_view text) const;  // thread-safe
  const std::vector<std::string>& lists() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string default_toxicity_lexicon_path();  // filters/data/naughty_words.json of the source tree
std::unique_ptr<Stage> make_toxicity_lexicon_stage(const ToxicityLexiconOptions& options);
void register_toxicity_stages(StageRegistry& registry);

}  // namespace kiln
