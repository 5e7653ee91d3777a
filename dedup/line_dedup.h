// Line (or paragraph) deduplication, as cc_net does it: lines that occur more than
// `max_count` times across the whole corpus are boilerplate (menus, cookie banners,
// signatures, quoted text) and are removed from every document that has them.
//
// Pass 1 (count_lines) hashes every normalized line (xxh3-64; blank lines are ignored),
// spills the hashes to sorted runs within the memory budget and merges them counting
// repeats; the hashes seen more than max_count times go to <work>/frequent_lines.bin
// (sorted). Pass 2 is the LineDedupFilter stage: it rebuilds each text without those
// lines, records how many it removed (attribute dedup_lines_removed) and drops documents
// left with no text (reason dedup_lines_all_duplicate).
//
//   LineDedupOptions options;
//   options.work_dir = "out/.kiln/lines";
//   LineCountStats counts = count_lines(inputs, options);
//   stages.push_back(LineDedupFilter::open(options));
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "corpus/reader.h"
#include "corpus/stage.h"
#include "dedup/normalize.h"

namespace kiln::dedup {

enum class LineUnit {
  kLine,       // split at '\n'
  kParagraph,  // split at blank lines ("\n\n")
};

struct LineDedupOptions {
  ReaderOptions reader;
  std::string work_dir;  // frequent_lines.bin and spill runs
  LineUnit unit = LineUnit::kLine;
  // Lines seen more than this many times are removed everywhere (all copies). cc_net
  // removes every paragraph seen before; 1 is that rule without an order dependence.
  uint64_t max_count = 1;
  NormalizeOptions normalize = {true, true, false, true};  // cc_net: lowercase, digits → 0
  uint64_t memory_bytes = uint64_t(1) << 30;
  int threads = 0;
};

struct LineCountStats {
  uint64_t docs = 0;
  uint64_t lines = 0;            // non-blank lines counted
  uint64_t distinct_frequent = 0;  // distinct lines seen more than max_count times
  uint64_t lines_frequent = 0;     // occurrences of those lines
  uint64_t runs_spilled = 0;
  double seconds = 0;
  std::string to_json() const;
};

LineCountStats count_lines(const std::vector<std::string>& inputs, const LineDedupOptions& options);

class LineDedupFilter final : public Stage {
 public:
  // Reads <work_dir>/frequent_lines.bin.
  static std::unique_ptr<LineDedupFilter> open(const LineDedupOptions& options);
  std::string_view name() const override { return "dedup_lines"; }
  Verdict process(Document& doc, StageState* state) const override;
  size_t num_frequent() const { return frequent_.size(); }

 private:
  LineDedupOptions options_;
  std::vector<uint64_t> frequent_;  // sorted
};

// The hash pass 1 and the filter give one line (already split, without its '\n').
uint64_t line_hash(std::string_view line, const NormalizeOptions& normalize, std::string& scratch);

}  // namespace kiln::dedup
