#include "curate/corpus_stats.h"

#include <tbb/combinable.h>

#include <algorithm>
#include <bit>
#include <iomanip>
#include <sstream>

#include "corpus/error.h"
#include "filters/basic.h"

namespace kiln {

namespace {

struct Partial {
  uint64_t chars = 0, words = 0, lines = 0;
  uint64_t min_chars = UINT64_MAX, max_chars = 0;
  LengthHistogram chars_histogram, words_histogram;
};

// A stage that only observes: it gathers per-thread partial statistics.
class Collect final : public Stage {
 public:
  std::string_view name() const override { return "collect"; }
  Verdict process(Document& doc, StageState*) const override {
    Partial& p = partials_.local();
    uint64_t chars = count_code_points(doc.text), words = count_words(doc.text);
    p.chars += chars;
    p.words += words;
    p.lines += uint64_t(std::count(doc.text.begin(), doc.text.end(), '\n')) + (doc.text.empty() ? 0 : 1);
    p.min_chars = std::min(p.min_chars, chars);
    p.max_chars = std::max(p.max_chars, chars);
    p.chars_histogram.add(chars);
    p.words_histogram.add(words);
    return Verdict::keep();
  }
  mutable tbb::combinable<Partial> partials_;
};

void append_histogram(std::string& out, const LengthHistogram& h) {
  out += '[';
  size_t last = 0;
  for (size_t k = 0; k < h.buckets.size(); ++k)
    if (h.buckets[k]) last = k;
  for (size_t k = 0; k <= last; ++k) {
    if (k) out += ',';
    uint64_t lo = k == 0 ? 0 : uint64_t(1) << (k - 1), hi = k == 0 ? 0 : (uint64_t(1) << k) - 1;
    out += cat("{\"min\":", lo, ",\"max\":", hi, ",\"docs\":", h.buckets[k], "}");
  }
  out += ']';
}

}  // namespace

CorpusStats compute_corpus_stats(const std::vector<std::string>& inputs, const ReaderOptions& reader, int threads) {
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<Collect>());
  auto* collect = static_cast<Collect*>(stages.back().get());
  PipelineOptions options;
  options.reader = reader;
  options.threads = threads;
  options.output_dir = "";
  options.discard_output = true;
  CorpusStats s;
  s.run = run_pipeline(inputs, stages, options);
  Partial total;
  collect->partials_.combine_each([&](const Partial& p) {
    total.chars += p.chars;
    total.words += p.words;
    total.lines += p.lines;
    total.min_chars = std::min(total.min_chars, p.min_chars);
    total.max_chars = std::max(total.max_chars, p.max_chars);
    total.chars_histogram.merge(p.chars_histogram);
    total.words_histogram.merge(p.words_histogram);
  });
  s.chars = total.chars;
  s.words = total.words;
  s.lines = total.lines;
  s.min_chars = total.min_chars == UINT64_MAX ? 0 : total.min_chars;
  s.max_chars = total.max_chars;
  s.chars_histogram = total.chars_histogram;
  s.words_histogram = total.words_histogram;
  return s;
}

std::string CorpusStats::to_json() const {
  std::string out = "{";
  out += cat("\"inputs\":", run.num_inputs, ",\"docs\":", run.docs_kept, ",\"docs_unreadable\":", run.docs_rejected,
             ",\"bytes\":", run.bytes_read, ",\"chars\":", chars, ",\"words\":", words, ",\"lines\":", lines,
             ",\"min_chars\":", min_chars, ",\"max_chars\":", max_chars,
             ",\"median_chars_bucket_max\":", chars_histogram.quantile(0.5), ",\"chars_histogram\":");
  append_histogram(out, chars_histogram);
  out += ",\"words_histogram\":";
  append_histogram(out, words_histogram);
  out += ",\"read\":" + run.to_json() + "}";
  return out;
}

std::string CorpusStats::to_text() const {
  std::ostringstream o;
  o << "inputs       " << run.num_inputs << "\n"
    << "documents    " << run.docs_kept << "\n";
  if (run.docs_rejected) {
    o << "unreadable   " << run.docs_rejected << " (";
    bool first = true;
    for (auto& [k, v] : run.read_rejects) o << (first ? "" : ", ") << k << " " << v.docs, first = false;
    o << ")\n";
  }
  for (auto& [k, v] : run.records_skipped) o << "skipped      " << v << " WARC " << k << " records\n";
  o << "text bytes   " << run.bytes_read << "\n"
    << "characters   " << chars << "\n"
    << "words        " << words << "\n"
    << "lines        " << lines << "\n"
    << "chars/doc    min " << min_chars << ", max " << max_chars << ", median < " << chars_histogram.quantile(0.5) + 1
    << "\n\nlength histogram (characters per document)\n";
  uint64_t peak = *std::max_element(chars_histogram.buckets.begin(), chars_histogram.buckets.end());
  for (size_t k = 0; k < chars_histogram.buckets.size(); ++k) {
    uint64_t n = chars_histogram.buckets[k];
    if (!n) continue;
    uint64_t lo = k == 0 ? 0 : uint64_t(1) << (k - 1), hi = k == 0 ? 0 : (uint64_t(1) << k) - 1;
    std::ostringstream range;
    range << lo << "-" << hi;
    o << "  " << std::setw(17) << std::left << range.str() << std::setw(9) << std::right << n << "  "
      << std::string(size_t(40.0 * double(n) / double(peak) + 0.5), '#') << "\n";
  }
  for (auto& e : run.input_errors) o << "error: " << e << "\n";
  return o.str();
}

}  // namespace kiln
