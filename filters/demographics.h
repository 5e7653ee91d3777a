// Demographic mention counts, for balancing and auditing (not for filtering): per
// document, how many words or phrases of each group of each axis (gender, religion,
// ethnicity/nationality, age, disability, sexual orientation) it contains, from editable
// term lists (filters/data/demographic_terms.toml; its header states what the counts do
// and do not mean). Matching is whole-word, Unicode-lowercased, as for the toxicity lists.
//
//   DemographicTagger tagger(DemographicOptions{});        // the shipped lists
//   DemographicCounts c = tagger.count("She met her brother.");
//   tagger.to_json(c);                                      // {"gender":{"female":2,"male":1}}
//
// The `demographic_tags` stage writes {"gender": {"female": 2, "male": 1}, ...} (groups
// with a count of 0 left out; axes and groups in sorted order) as the attribute
// "demographics" and keeps every document. Overlapping phrases each count.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/stage.h"

namespace kiln {

struct DemographicOptions {
  std::string terms_path;         // TOML of [axis] group = ["term", ...]; "" = the shipped lists
  std::vector<std::string> axes;  // only these axes; empty = all in the file
};

struct DemographicCounts {
  std::vector<uint64_t> counts;  // per (axis, group), in DemographicTagger::groups() order (sorted)
};

class DemographicTagger {
 public:
  struct Group {
    std::string axis, name;
  };
  // Throws Error naming the file and line for a malformed list.
  explicit DemographicTagger(const DemographicOptions& options);
  ~DemographicTagger();
  DemographicCounts count(std::string_view text) const;  // thread-safe
  const std::vector<Group>& groups() const;
  // {"axis": {"group": n, ...}, ...} without zero counts; "{}" when nothing matched.
  std::string to_json(const DemographicCounts& counts) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string default_demographic_terms_path();
std::unique_ptr<Stage> make_demographic_stage(const DemographicOptions& options);
void register_demographic_stages(StageRegistry& registry);

}  // namespace kiln
