#include "dedup/line_dedup.h"

#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_pipeline.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "dedup/external_sort.h"
#include "dedup/src/mapped_file.h"

namespace kiln::dedup {
namespace fs = std::filesystem;

namespace {

// Calls f(piece, end_of_piece_including_separator) for each line or paragraph.
template <class F>
void split_units(std::string_view text, LineUnit unit, F&& f) {
  const std::string_view sep = unit == LineUnit::kLine ? "\n" : "\n\n";
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) {
      f(text.substr(start), text.size());
      return;
    }
    f(text.substr(start, end - start), end + sep.size());
    start = end + sep.size();
  }
}

bool is_blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  return true;
}

struct LineBatch {
  std::vector<Record> records;
  std::vector<uint64_t> hashes;
  uint64_t docs = 0;
};

}  // namespace

uint64_t line_hash(std::string_view line, const NormalizeOptions& normalize, std::string& scratch) {
  normalize_text(line, normalize, scratch);
  return XXH3_64bits(scratch.data(), scratch.size());
}

std::string LineCountStats::to_json() const {
  return cat("{\"docs\":", docs, ",\"lines\":", lines, ",\"distinct_frequent\":", distinct_frequent,
             ",\"lines_frequent\":", lines_frequent, ",\"runs_spilled\":", runs_spilled, ",\"seconds\":", seconds, "}");
}

LineCountStats count_lines(const std::vector<std::string>& inputs, const LineDedupOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  if (o.work_dir.empty()) throw Error("dedup lines: no work directory given");
  fs::create_directories(o.work_dir);
  const int threads = o.threads > 0 ? o.threads : tbb::info::default_concurrency();
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads));
  const uint64_t budget = std::max<uint64_t>(o.memory_bytes / 2, 4096);
  ExternalSorter<uint64_t> sorter(o.work_dir, "lines");
  LineCountStats stats;
  for (const std::string& path : inputs) {
    auto reader = DocumentReader::open(path, o.reader);
    bool done = false;
    auto read = [&](tbb::flow_control& fc) -> LineBatch* {
      auto b = std::make_unique<LineBatch>();
      Record r;
      try {
        while (!done && b->records.size() < 1024) {
          if (!reader->next(r)) done = true;
          else b->records.push_back(std::move(r));
        }
      } catch (const Error&) {
        done = true;  // the filter pass reports stream errors
      }
      if (b->records.empty()) {
        fc.stop();
        return nullptr;
      }
      return b.release();
    };
    auto work = [&](LineBatch* b) -> LineBatch* {
      thread_local std::string scratch;
      for (Record& r : b->records) {
        if (r.skipped()) continue;
        DocumentReader::decode(r, o.reader);
        if (r.rejected()) continue;
        ++b->docs;
        split_units(r.doc.text, o.unit, [&](std::string_view piece, size_t) {
          if (!is_blank(piece)) b->hashes.push_back(line_hash(piece, o.normalize, scratch));
        });
      }
      b->records.clear();
      return b;
    };
    auto write = [&](LineBatch* raw) {
      std::unique_ptr<LineBatch> b(raw);
      stats.docs += b->docs;
      stats.lines += b->hashes.size();
      for (uint64_t h : b->hashes) sorter.push(h);
      if (sorter.buffered_bytes() > budget) {
        sorter.spill();
        ++stats.runs_spilled;
      }
    };
    tbb::parallel_pipeline(size_t(2 * threads),
                           tbb::make_filter<void, LineBatch*>(tbb::filter_mode::serial_in_order, read) &
                               tbb::make_filter<LineBatch*, LineBatch*>(tbb::filter_mode::parallel, work) &
                               tbb::make_filter<LineBatch*, void>(tbb::filter_mode::serial_in_order, write));
  }
  BinaryWriter out(o.work_dir + "/frequent_lines.bin.tmp");
  uint64_t current = 0, count = 0;
  auto flush = [&] {
    if (count > o.max_count) {
      out.write(&current, sizeof current);
      ++stats.distinct_frequent;
      stats.lines_frequent += count;
    }
  };
  sorter.merge(budget, [&](uint64_t h) {
    if (count > 0 && h == current) {
      ++count;
      return;
    }
    flush();
    current = h;
    count = 1;
  });
  flush();
  out.close();
  sorter.remove_runs();
  fs::rename(o.work_dir + "/frequent_lines.bin.tmp", o.work_dir + "/frequent_lines.bin");
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

std::unique_ptr<LineDedupFilter> LineDedupFilter::open(const LineDedupOptions& options) {
  std::string path = options.work_dir + "/frequent_lines.bin";
  if (!fs::exists(path)) throw Error(cat(path, ": missing; run the line-count pass (kiln dedup lines) first"));
  auto f = std::unique_ptr<LineDedupFilter>(new LineDedupFilter());
  f->options_ = options;
  MappedFile file(path);
  if (file.size() % 8) throw Error(cat(path, ": truncated"));
  f->frequent_.assign(file.as<uint64_t>(), file.as<uint64_t>() + file.size() / 8);
  return f;
}

Verdict LineDedupFilter::process(Document& doc, StageState*) const {
  thread_local std::string scratch, kept;
  kept.clear();
  uint64_t removed = 0;
  size_t start = 0;
  split_units(doc.text, options_.unit, [&](std::string_view piece, size_t end) {
    bool drop = !is_blank(piece) &&
                std::binary_search(frequent_.begin(), frequent_.end(), line_hash(piece, options_.normalize, scratch));
    if (drop) ++removed;
    else kept.append(doc.text, start, end - start);
    start = end;
  });
  if (removed == 0) return Verdict::keep();
  doc.set_attribute("dedup_lines_removed", std::to_string(removed));
  doc.text = kept;
  if (is_blank(doc.text)) return Verdict::drop("dedup_lines_all_duplicate");
  return Verdict::keep();
}

}  // namespace kiln::dedup
