// Decontamination: find training documents that share an n-gram (default 13 words, as
// in the GPT-3 paper) with any item of an evaluation set, drop or mark them, and report
// which eval items were hit.
//
// An eval item's text is every string value of its JSON record (and every string in
// its arrays) except the `skip_fields`, joined with spaces in field order, normalized
// like the documents (lowercase, punctuation removed, whitespace collapsed). An item
// shorter than n words contributes its whole text as one n-gram, which a document only
// matches if it is itself that short text.
//
//   DecontaminationOptions options;
//   options.eval_paths = {"eval/hellaswag.jsonl"};
//   auto stage = Decontaminator::open(options);      // builds the n-gram index
//   run_pipeline(inputs, stages, pipeline);           // stage drops "eval_overlap"
//   write_file("out/decontamination.jsonl", stage->report_jsonl());
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "corpus/stage.h"
#include "dedup/normalize.h"

namespace kiln::dedup {

enum class ContaminationAction {
  kDrop,  // drop the document, reason "eval_overlap"
  kMark,  // keep it with attribute eval_overlap: [eval ids]
};

struct DecontaminationOptions {
  std::vector<std::string> eval_paths;  // JSONL files (.zst/.gz fine)
  int ngram = 13;                       // words; GPT-3 (Brown et al. 2020) used 13
  NormalizeOptions normalize = {true, true, true, false};
  std::vector<std::string> skip_fields = {"id", "split", "label", "ind", "source"};
  std::string id_field = "id";  // item id in reports; file:line when missing
  ContaminationAction action = ContaminationAction::kDrop;
};

struct EvalItem {
  std::string file;
  std::string id;
};

class Decontaminator final : public Stage {
 public:
  // Reads every eval file and indexes its n-grams. Throws Error naming file and line
  // on a line that is not a JSON object.
  static std::unique_ptr<Decontaminator> open(const DecontaminationOptions& options);
  std::string_view name() const override { return "decontaminate"; }
  Verdict process(Document& doc, StageState* state) const override;

  size_t num_items() const { return items_.size(); }
  size_t num_ngrams() const { return index_.size(); }
  // One JSON line per eval item that matched: {"file","id","docs_matched","first_doc"}
  // ordered by file and line. first_doc is the match with the smallest (source path,
  // offset), so the report does not depend on thread scheduling.
  std::string report_jsonl() const;
  uint64_t num_items_matched() const;

 private:
  struct Match {
    uint64_t docs = 0;
    std::string first_path;
    uint64_t first_offset = 0;
    std::string first_id;
  };
  DecontaminationOptions options_;
  std::vector<EvalItem> items_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> index_;  // n-gram hash → items
  mutable std::mutex mutex_;
  mutable std::map<uint32_t, Match> matches_;
};

}  // namespace kiln::dedup
