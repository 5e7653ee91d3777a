// Document-level deduplication: exact (xxh3-128 of normalized text) and near-duplicate
// (MinHash-LSH), multi-pass, external-memory, parallel and deterministic.
//
// Pass 1, signatures (build_dedup_index): every input is read in order; workers
// normalize, hash and MinHash each document; a serial stage numbers documents
// (ordinal = position in input order, which fixes every later tie-break), appends
// per-document metadata to docs.bin and pushes one (key, ordinal) record per LSH band
// and one for the exact hash into ExternalSorters that spill sorted runs when the
// memory budget is reached. Completion marker: signatures.done.
//
// Pass 2, clustering (same call): each band's runs are merged (bands in parallel) and
// every group of equal keys unites its documents in a lock-free union-find whose roots
// are the smallest ordinal of each set (so cluster ids do not depend on threads).
// Optionally each candidate pair is verified by the exact Jaccard similarity of the
// shingle sets (shingles.bin). Then each cluster keeps one survivor:
//   highest quality (the `quality_field` number, if set), then longest text (bytes),
//   then smallest ordinal (earliest in input order).
// Writes <output>/clusters.jsonl, <output>/dedup_stats.json and <work>/removed.bin.
// Completion marker: clusters.done.
//
// Pass 3, filter: DedupFilter is a Stage that drops the removed documents (keyed by
// input file and byte offset, so the same reader settings must be used) with reason
// dedup_exact_duplicate, dedup_url_duplicate or dedup_near_duplicate and attribute
// dedup_cluster; run it with
// run_pipeline (kiln dedup does) or as stage "dedup_filter" in a recipe.
//
//   DedupOptions options;
//   options.output_dir = "out/dedup";
//   DedupStats stats = build_dedup_index(inputs, options);
//   std::vector<std::unique_ptr<Stage>> stages;
//   stages.push_back(DedupFilter::open(options.resolved_work_dir()));
//   run_pipeline(inputs, stages, pipeline_options);
//
// Memory: spill buffers and merge windows stay within memory_bytes; besides them the
// clustering holds the union-find array, 8 bytes per document, in memory.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "corpus/reader.h"
#include "corpus/stage.h"
#include "dedup/minhash.h"
#include "dedup/normalize.h"

namespace kiln::dedup {

enum class DedupMode {
  kExactAndNear,  // exact hash groups and MinHash-LSH clusters, in one clustering
  kExact,         // exact hash only (no signatures)
  kNear,          // MinHash-LSH only
};

struct DedupOptions {
  ReaderOptions reader;
  std::string output_dir;  // clusters.jsonl and dedup_stats.json go here
  std::string work_dir;    // pass files and markers; empty = <output_dir>/.kiln/dedup
  DedupMode mode = DedupMode::kExactAndNear;
  // Exact duplicates: same bytes after collapsing whitespace (case kept).
  NormalizeOptions exact_normalize = {false, true, false, false};
  MinHashOptions minhash;
  // 0 = unite every LSH candidate pair; > 0 = unite only pairs whose exact Jaccard
  // similarity of shingle sets is at least this (drops LSH false positives; keeps
  // the shingle sets on disk, ≈ 8 bytes per word).
  double verify_threshold = 0;
  // With verification, each document of a band bucket is compared with at most this
  // many earlier members (buckets of thousands of boilerplate copies stay linear).
  int verify_max_compare = 32;
  // JSON field holding the document URL (a string). Set: documents with the same URL
  // (scheme and host lowercased, #fragment and a trailing '/' dropped) are duplicates
  // too, removed with reason dedup_url_duplicate when their text differs.
  std::string url_field;
  // JSON field holding a number; higher is kept first. Empty = no quality ordering.
  std::string quality_field;
  uint64_t memory_bytes = uint64_t(1) << 30;  // spill buffers + merge windows
  int threads = 0;                            // 0 = all cores
  size_t batch_docs = 1024;                   // documents per worker batch
  bool resume = true;                         // reuse passes whose completion marker matches

  std::string resolved_work_dir() const;
  std::string describe() const;  // every option that changes the result, one line
};

struct DedupStats {
  uint64_t docs = 0;             // documents indexed
  uint64_t bytes = 0;            // their text bytes
  uint64_t docs_unreadable = 0;  // records the reader rejected (left to the filter pass)
  uint64_t docs_without_shingles = 0;
  uint64_t num_clusters = 0;     // clusters of two or more documents
  uint64_t docs_in_clusters = 0;
  uint64_t docs_removed_exact = 0, docs_removed_near = 0;
  uint64_t bytes_removed_exact = 0, bytes_removed_near = 0;
  uint64_t docs_removed_url = 0, bytes_removed_url = 0;
  uint64_t candidate_pairs = 0;  // Σ over band and exact buckets of (size − 1)
  uint64_t pairs_verified = 0, pairs_rejected = 0;  // verification work (varies with threads)
  uint64_t runs_spilled = 0;
  std::map<uint64_t, uint64_t> cluster_sizes;  // size → number of clusters
  double seconds_signatures = 0, seconds_clustering = 0;
  uint64_t peak_rss_bytes = 0;
  bool resumed = false;
  int rank = 0, num_ranks = 1;  // under mpirun: rank 0 writes the index outputs; all ranks filter

  std::string to_json() const;
};

// Under mpirun (DedupStats::num_ranks > 1) every rank runs the filter pass over the block
// of inputs it indexed, [first, end) = [r·n/N, (r+1)·n/N), writing the shards of those
// inputs under their global input index (PipelineOptions::slice); rank 0 gathers the
// ranks' run statistics (as JSON, in rank order = input order) and writes the totals.
struct InputBlock {
  size_t first = 0, end = 0;
};
InputBlock dedup_rank_inputs(size_t num_inputs);
// Rank 0 gets every rank's bytes in rank order; other ranks get an empty vector. One
// rank: {bytes}.
std::vector<std::string> dedup_gather(const std::string& bytes);

// Passes 1 and 2. Throws Error on unusable options, unreadable inputs (stream errors) or
// a work directory that cannot be written.
DedupStats build_dedup_index(const std::vector<std::string>& inputs, const DedupOptions& options);

inline constexpr uint32_t kRemovedExact = 0, kRemovedNear = 1, kRemovedUrl = 2;

// One removed document, as stored in removed.bin (sorted by input, then offset).
struct RemovedDoc {
  uint32_t input = 0;   // index in the inputs list of the index
  uint32_t reason = 0;  // kRemovedExact, kRemovedNear, kRemovedUrl
  uint64_t offset = 0;  // Document::source_offset
  uint64_t cluster = 0;
  friend bool operator<(const RemovedDoc& a, const RemovedDoc& b) {
    return a.input != b.input ? a.input < b.input : a.offset < b.offset;
  }
};

// Pass 3: drops what the index removed.
class DedupFilter final : public Stage {
 public:
  // Reads <work_dir>/inputs.txt and removed.bin; throws Error if clustering did not finish.
  static std::unique_ptr<DedupFilter> open(const std::string& work_dir);
  std::string_view name() const override { return "dedup"; }
  Verdict process(Document& doc, StageState* state) const override;
  uint64_t num_removed() const { return removed_.size(); }

 private:
  std::unordered_map<std::string, uint32_t> input_index_;
  std::vector<RemovedDoc> removed_;
};

// Adds dedup_filter, dedup_lines and decontaminate.
void register_dedup_stages(StageRegistry& registry);

}  // namespace kiln::dedup
