// The curation pipeline: inputs → reader → stages → sharded output + rejects + stats.
//
// Each input file goes through a TBB parallel_pipeline of batches: a serial reader cuts
// records, workers decode JSON, run every stage, serialise and compress their batch
// (one zstd frame per batch), and a serial writer appends batches in input order. So the
// output is byte-identical for any thread count, and memory is bounded by
// max_batches_in_flight × batch_bytes whatever the input size.
//
// Outputs of input number i are out/part-<i>-<k>.jsonl.zst and
// out/rejects/part-<i>-<k>.jsonl.zst; when all of them are committed, a completion marker
// out/.kiln/done/input-<i>.json records the input's counters. A rerun skips inputs with
// a marker, so a killed run resumes and ends with the same bytes as an uninterrupted one.
//
//   PipelineOptions options;
//   options.output_dir = "out/";
//   RunStats stats = run_pipeline(expand_inputs({"crawl/*.jsonl.zst"}), stages, options);
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "corpus/reader.h"
#include "corpus/stage.h"
#include "corpus/stream.h"
#include "curate/run_stats.h"

namespace kiln {

struct ProgressInfo {
  uint64_t inputs_done = 0, inputs_total = 0;
  uint64_t docs_read = 0, docs_kept = 0;
  uint64_t input_bytes_done = 0, input_bytes_total = 0;  // compressed bytes on disk
  uint64_t text_bytes = 0;
  double seconds = 0;
  bool finished = false;
};

struct PipelineOptions {
  ReaderOptions reader;
  std::string output_dir;  // "-" writes kept documents as plain JSONL to stdout, no markers
  bool discard_output = false;  // count only: write no documents, markers or stats (kiln stats)
  Compression compression = Compression::kZstd;
  int compression_level = 3;                   // zstd 3 (its default) or gzip 6
  uint64_t shard_bytes = uint64_t(256) << 20;  // uncompressed bytes per output shard
  bool write_rejects = true;
  bool resume = true;    // skip inputs whose completion marker exists
  bool strict = false;   // a record rejected at read (malformed JSON, ...) aborts the run
  int threads = 0;       // 0 = all cores
  size_t batch_docs = 1024;                    // records per batch, at most
  uint64_t batch_bytes = uint64_t(4) << 20;    // raw bytes per batch, at most (one frame)
  size_t max_batches_in_flight = 0;            // 0 = 2 × threads
  std::function<void(const ProgressInfo&)> on_progress;  // called ≤ 5×/s from one thread
  // A slice of a larger run (one MPI rank's block of inputs, kiln dedup): inputs[i] is
  // input slice_first_input + i of the whole run in shard and marker names, only this
  // slice's markers are cleared when !resume, and stats.json is left to the caller,
  // which merges the slices' RunStats in input order.
  bool slice = false;
  size_t slice_first_input = 0;
};

// Runs the stages over every input. Throws Error on unusable options or output
// directories, and in strict mode on the first unreadable record or stream error.
// Stream errors of an input (truncated .zst) otherwise end that input early, keep what
// was read, and are listed in RunStats::input_errors.
RunStats run_pipeline(const std::vector<std::string>& inputs, const std::vector<std::unique_ptr<Stage>>& stages,
                      const PipelineOptions& options);

}  // namespace kiln
