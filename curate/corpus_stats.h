// Corpus statistics: what `kiln stats` prints. Counts, bytes, and histograms of document
// length, read with the same readers and on all cores like a curate run.
//
//   CorpusStats s = compute_corpus_stats(expand_inputs({"out/"}), ReaderOptions{}, 0);
//   std::cout << s.to_json();
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "corpus/reader.h"
#include "curate/pipeline.h"

namespace kiln {

struct CorpusStats {
  RunStats run;  // docs read, unreadable records by reason, skipped WARC records
  uint64_t chars = 0;
  uint64_t words = 0;
  uint64_t lines = 0;
  uint64_t min_chars = 0, max_chars = 0;
  LengthHistogram chars_histogram;
  LengthHistogram words_histogram;
  std::string to_json() const;
  std::string to_text() const;  // a table for terminals
};

CorpusStats compute_corpus_stats(const std::vector<std::string>& inputs, const ReaderOptions& reader, int threads);

}  // namespace kiln
