// What a run counted: per stage and reason, length histograms before and after, the
// distribution of every attribute stages attached, and sample rejects per reason. The
// pipeline fills one RunStats per input (saved in its completion marker) and merges them;
// stats.json, report.html and report.json are made from the merged one.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/document.h"

namespace kiln {

struct ReasonCount {
  uint64_t docs = 0;
  uint64_t bytes = 0;  // text bytes
};

struct StageStats {
  std::string name;
  uint64_t docs_in = 0;
  uint64_t bytes_in = 0;
  uint64_t docs_dropped = 0;
  uint64_t bytes_dropped = 0;
  double seconds = 0;  // CPU time summed over threads
  std::map<std::string, ReasonCount> reasons;
};

// Power-of-two buckets: bucket k counts values in [2^(k-1), 2^k); bucket 0 holds 0.
struct LengthHistogram {
  std::array<uint64_t, 48> buckets{};
  void add(uint64_t value);
  void merge(const LengthHistogram& other);
  uint64_t total() const;
  uint64_t quantile(double q) const;  // upper edge of the bucket holding quantile q
};

// Distribution of one attribute (or one numeric/string member of an object attribute,
// named "attr.member", "attr.member.sub") over documents at the end of their way through the stages, split
// into kept ([0]) and dropped ([1]).
struct AttributeSummary {
  static constexpr size_t kMaxCategories = 64;  // more distinct strings go to "(other)"
  static constexpr size_t kUnitBins = 20;       // numeric values in [0, 1]
  std::map<std::string, std::array<uint64_t, 2>> categories;
  std::array<uint64_t, 2> numeric_count{};
  std::array<double, 2> sum{};  // of numeric values: total mentions for count attributes
  double min = 0, max = 0;
  std::array<std::array<uint64_t, kUnitBins>, 2> unit_bins{};  // values in [0, 1]
  std::array<LengthHistogram, 2> log_bins{};                    // |values|, when outside [0, 1]
  void add_number(double v, int dropped);
  void add_category(std::string_view v, int dropped);
  void merge(const AttributeSummary& other);
  bool in_unit_range() const { return numeric_count[0] + numeric_count[1] > 0 && min >= 0 && max <= 1; }
};

struct RejectSample {
  std::string id;
  std::string text;  // the first characters, PII scrubbed
  uint64_t bytes = 0;
};

// Counters of one input or of a whole run. docs_read == docs_kept + docs_rejected.
struct RunStats {
  uint64_t num_inputs = 0;
  uint64_t num_inputs_resumed = 0;  // skipped because a completion marker said done
  uint64_t docs_read = 0;           // records that are documents (rejected at read or not)
  uint64_t docs_kept = 0;
  uint64_t docs_rejected = 0;
  uint64_t bytes_read = 0;  // text bytes of readable documents
  uint64_t bytes_kept = 0;
  std::map<std::string, ReasonCount> read_rejects;      // malformed_json, invalid_utf8, too_long, ...
  std::map<std::string, uint64_t> records_skipped;      // WARC record types that are not documents
  std::vector<StageStats> stages;                        // in pipeline order
  LengthHistogram chars_read;                            // characters per readable document
  LengthHistogram chars_kept;                            // ... per kept document, after transforms
  std::map<std::string, AttributeSummary> attributes;
  std::map<std::string, double> thresholds;  // from Stage::thresholds(), for the report
  // First reject_samples_per_reason rejects of each "stage/reason", in input order.
  std::map<std::string, std::vector<RejectSample>> reject_samples;
  std::vector<std::string> output_shards;
  std::vector<std::string> reject_shards;
  std::vector<std::string> input_errors;  // stream errors (truncated files) with file and offset
  double seconds = 0;

  static constexpr size_t kRejectSamples = 3;
  void merge(const RunStats& other);
  // Adds a document's attributes to `attributes` (objects are flattened to "a.b.c" paths,
  // three levels deep).
  void add_attributes(const Document& doc, bool dropped);
  void add_reject_sample(const std::string& key, const Document& doc);
  std::string to_json() const;
  static RunStats from_json(std::string_view json);  // reads what to_json wrote
};

// Replaces e-mail addresses, phone numbers and IP addresses with placeholders, for text
// shown in reports.
std::string scrub_pii(std::string_view text);

}  // namespace kiln
