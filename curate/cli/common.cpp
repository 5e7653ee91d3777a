#include "curate/cli/common.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "corpus/error.h"
#include "curate/recipe.h"

namespace kiln::cli {

void add_reader_flags(po::options_description& options) {
  options.add_options()
      ("format", po::value<std::string>()->default_value("auto"), "input format: auto, jsonl, warc, text")
      ("text-field", po::value<std::string>()->default_value("text"), "JSON field holding the text")
      ("id-field", po::value<std::string>()->default_value("id"), "JSON field holding the document id")
      ("utf8", po::value<std::string>()->default_value("repair"), "text that is not UTF-8: repair (U+FFFD) or reject")
      ("max-record-size", po::value<std::string>()->default_value("64M"), "longest line/record kept; longer ones are rejected");
}

ReaderOptions reader_options_from(const po::variables_map& v) {
  ReaderOptions r;
  r.format = parse_input_format(v["format"].as<std::string>());
  r.text_field = v["text-field"].as<std::string>();
  r.id_field = v["id-field"].as<std::string>();
  const std::string& utf8 = v["utf8"].as<std::string>();
  if (utf8 == "repair") r.utf8 = Utf8Policy::kRepair;
  else if (utf8 == "reject") r.utf8 = Utf8Policy::kReject;
  else throw Error(cat("--utf8 must be repair or reject, not '", utf8, "'"));
  r.max_record_bytes = parse_byte_size(v["max-record-size"].as<std::string>());
  return r;
}

void add_output_flags(po::options_description& options) {
  options.add_options()
      ("compression", po::value<std::string>()->default_value("zstd"), "output compression: zstd, gzip, none")
      ("level", po::value<int>(), "compression level (zstd default 3, gzip 6)")
      ("shard-size", po::value<std::string>()->default_value("256M"), "uncompressed bytes per output shard")
      ("no-rejects", "do not write rejected documents")
      ("no-resume", "redo inputs an earlier run completed")
      ("strict", "stop at the first unreadable record or stream error")
      ("threads,j", po::value<int>()->default_value(0), "worker threads (0 = all cores)");
}

void apply_output_flags(const po::variables_map& v, PipelineOptions& p) {
  const std::string& c = v["compression"].as<std::string>();
  if (c == "zstd") p.compression = Compression::kZstd, p.compression_level = 3;
  else if (c == "gzip") p.compression = Compression::kGzip, p.compression_level = 6;
  else if (c == "none") p.compression = Compression::kNone;
  else throw Error(cat("--compression must be zstd, gzip or none, not '", c, "'"));
  if (v.count("level")) p.compression_level = v["level"].as<int>();
  p.shard_bytes = parse_byte_size(v["shard-size"].as<std::string>());
  if (v.count("no-rejects")) p.write_rejects = false;
  if (v.count("no-resume")) p.resume = false;
  if (v.count("strict")) p.strict = true;
  p.threads = v["threads"].as<int>();
}

void add_document_mask_flags(po::options_description& options) {
  options.add_options()
      ("mask-documents", po::bool_switch(),
       "attention only within each document of a packed window (documents end with EOT: a token store's own, "
       "--tokenizer's <|endoftext|>, or --eot)")
      ("eot", po::value<int>(), "the token ending each document, for --mask-documents");
}

int explicit_end_of_document(const po::variables_map& v) {
  if (!v.count("eot")) return -1;
  if (!v["mask-documents"].as<bool>()) throw Error("--eot is used with --mask-documents");
  const int eot = v["eot"].as<int>();
  if (eot < 0) throw Error("--eot must be a token id (>= 0)");
  return eot;
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "--:--";
  long s = long(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

std::function<void(std::string_view, size_t, size_t)> terminal_item_progress(const char* verb) {
  if (!::isatty(STDERR_FILENO)) return {};
  const auto start = std::chrono::steady_clock::now();
  auto last = std::make_shared<double>(-1.0);  // when the line was last printed
  return [verb, start, last](std::string_view what, size_t done, size_t total) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (done < total && seconds - *last < 0.2) return;  // at most 5 lines a second; always the last
    *last = seconds;
    const double rate = seconds > 0 ? double(done) / seconds : 0;
    std::fprintf(stderr, "\r\033[K%s: %.*s %zu/%zu  %.1f/s  ETA %s%s", verb, int(what.size()), what.data(), done, total,
                 rate, format_duration(rate > 0 ? double(total - done) / rate : -1).c_str(), done == total ? "\n" : "");
  };
}

std::function<void(const ProgressInfo&)> terminal_progress() {
  if (!::isatty(STDERR_FILENO)) return {};
  return [](const ProgressInfo& p) {
    double rate_docs = p.seconds > 0 ? double(p.docs_read) / p.seconds : 0;
    double rate_mb = p.seconds > 0 ? double(p.input_bytes_done) / p.seconds / 1e6 : 0;
    double eta = p.input_bytes_total > 0 && p.input_bytes_done > 0
                     ? p.seconds * double(p.input_bytes_total - std::min(p.input_bytes_total, p.input_bytes_done)) /
                           double(p.input_bytes_done)
                     : -1;
    std::fprintf(stderr, "\r[%llu/%llu files] %llu docs (%llu kept)  %.0f docs/s  %.1f MB/s  elapsed %s  ETA %s   ",
                 (unsigned long long)p.inputs_done, (unsigned long long)p.inputs_total,
                 (unsigned long long)p.docs_read, (unsigned long long)p.docs_kept, rate_docs, rate_mb,
                 format_duration(p.seconds).c_str(), p.finished ? "0:00:00" : format_duration(eta).c_str());
    if (p.finished) std::fputc('\n', stderr);
    std::fflush(stderr);
  };
}

void print_run_summary(const RunStats& s, const std::string& output_dir) {
  auto pct = [](uint64_t a, uint64_t b) { return b ? 100.0 * double(a) / double(b) : 0.0; };
  std::printf("inputs:    %llu (%llu already done, resumed)\n", (unsigned long long)(s.num_inputs + s.num_inputs_resumed),
              (unsigned long long)s.num_inputs_resumed);
  std::printf("documents: %llu read, %llu kept (%.1f%%), %llu rejected\n", (unsigned long long)s.docs_read,
              (unsigned long long)s.docs_kept, pct(s.docs_kept, s.docs_read), (unsigned long long)s.docs_rejected);
  std::printf("bytes:     %llu read, %llu kept (%.1f%%)\n", (unsigned long long)s.bytes_read,
              (unsigned long long)s.bytes_kept, pct(s.bytes_kept, s.bytes_read));
  for (auto& [reason, c] : s.read_rejects)
    std::printf("  read      %-28s %8llu docs\n", reason.c_str(), (unsigned long long)c.docs);
  for (auto& [type, n] : s.records_skipped)
    std::printf("  skipped   WARC %-23s %8llu records (not documents)\n", type.c_str(), (unsigned long long)n);
  for (auto& stage : s.stages) {
    std::printf("  stage %-12s in %llu, dropped %llu (%.1f%%), %.2fs\n", stage.name.c_str(),
                (unsigned long long)stage.docs_in, (unsigned long long)stage.docs_dropped,
                pct(stage.docs_dropped, stage.docs_in), stage.seconds);
    for (auto& [reason, c] : stage.reasons)
      std::printf("      %-32s %8llu docs %12llu bytes\n", reason.c_str(), (unsigned long long)c.docs,
                  (unsigned long long)c.bytes);
  }
  for (auto& e : s.input_errors) std::printf("input error: %s\n", e.c_str());
  if (output_dir != "-") {
    std::printf("output:    %s/part-*.jsonl* (%zu shards)\n", output_dir.c_str(), s.output_shards.size());
    std::printf("rejects:   %s/rejects/ (%zu shards)\n", output_dir.c_str(), s.reject_shards.size());
    std::printf("stats:     %s/stats.json\n", output_dir.c_str());
  }
}

}  // namespace kiln::cli
