#include "curate/pipeline.h"

#include <simdjson.h>
#include <sys/stat.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_pipeline.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "corpus/error.h"
#include "corpus/text.h"
#include "corpus/writer.h"
#include "filters/basic.h"

namespace kiln {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---- the pipeline --------------------------------------------------------------------

namespace {

struct Batch {
  std::vector<Record> records;
  uint64_t file_offset = 0;  // compressed input consumed when the batch was cut
  std::string kept, rejects;  // encoded (compressed) output
  uint64_t kept_decoded = 0, rejects_decoded = 0;
  RunStats counters;
};

struct StageStates {
  std::vector<std::unique_ptr<StageState>> states;
};

std::string extension_for(Compression c) {
  switch (c) {
    case Compression::kZstd: return ".jsonl.zst";
    case Compression::kGzip: return ".jsonl.gz";
    case Compression::kNone: break;
  }
  return ".jsonl";
}

std::string input_tag(size_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%05zu", index);
  return buf;
}

// Removes shards an earlier, killed run left for this input (complete shards of an
// incomplete input, and temporaries), so the rerun writes the same names afresh.
void remove_stale_outputs(const fs::path& dir, const std::string& prefix) {
  if (!fs::is_directory(dir)) return;
  for (auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().filename().string().starts_with(prefix)) fs::remove(entry.path());
}

std::string marker_identity(const std::string& path) {
  struct stat st {};
  uint64_t size = ::stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
  return cat(path, "\n", size);
}

class Runner {
 public:
  Runner(const std::vector<std::string>& inputs, const std::vector<std::unique_ptr<Stage>>& stages,
         const PipelineOptions& options)
      : inputs_(inputs),
        stages_(stages),
        options_(options),
        to_stdout_(!options.discard_output && options.output_dir == "-"),
        files_(!options.discard_output && !to_stdout_),
        write_rejects_(files_ && options.write_rejects),
        collect_report_(files_) {
    threads_ = options.threads > 0 ? options.threads : tbb::info::default_concurrency();
    tokens_ = options.max_batches_in_flight > 0 ? options.max_batches_in_flight : size_t(2 * threads_);
    states_ = std::make_unique<tbb::enumerable_thread_specific<StageStates>>([this] {
      StageStates s;
      for (auto& stage : stages_) s.states.push_back(stage->make_state());
      return s;
    });
    for (auto& input : inputs_) {
      struct stat st {};
      if (input != "-" && ::stat(input.c_str(), &st) == 0) input_bytes_total_ += uint64_t(st.st_size);
    }
  }

  RunStats run() {
    auto start = Clock::now();
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads_));
    if (options_.output_dir.empty() && !options_.discard_output) throw Error("no output directory given");
    if (files_) {
      out_dir_ = options_.output_dir;
      fs::create_directories(out_dir_ / ".kiln" / "done");
      if (options_.write_rejects) fs::create_directories(out_dir_ / "rejects");
      if (!options_.resume && options_.slice) {
        for (size_t i = 0; i < inputs_.size(); ++i)
          fs::remove(out_dir_ / ".kiln" / "done" / ("input-" + input_tag(options_.slice_first_input + i) + ".json"));
      } else if (!options_.resume) {
        for (auto& e : fs::directory_iterator(out_dir_ / ".kiln" / "done")) fs::remove(e.path());
      }
    } else if (to_stdout_) {
      stdout_ = std::make_unique<AtomicFile>("-");
    }
    RunStats total;
    total.stages.resize(stages_.size());
    for (size_t i = 0; i < stages_.size(); ++i) total.stages[i].name = std::string(stages_[i]->name());
    for (size_t i = 0; i < inputs_.size(); ++i) {
      RunStats one = run_input(i);
      total.merge(one);
      input_bytes_done_ += input_size(i);
      report_progress(total, true, i + 1 == inputs_.size());
    }
    if (stdout_) stdout_->commit();
    total.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (total.docs_read != total.docs_kept + total.docs_rejected) {
      throw Error(cat("accounting error: ", total.docs_read, " documents read but ", total.docs_kept, " kept + ",
                      total.docs_rejected, " rejected"));
    }
    if (files_ && !options_.slice) write_file((out_dir_ / "stats.json").string(), total.to_json() + "\n");
    return total;
  }

 private:
  uint64_t input_size(size_t i) const {
    struct stat st {};
    return inputs_[i] != "-" && ::stat(inputs_[i].c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
  }

  RunStats run_input(size_t index) {
    const std::string& path = inputs_[index];
    std::string tag = input_tag((options_.slice ? options_.slice_first_input : 0) + index);
    fs::path marker = out_dir_ / ".kiln" / "done" / ("input-" + tag + ".json");
    if (files_ && options_.resume && fs::exists(marker)) {
      std::string text = read_file(marker.string());
      size_t newline = text.find('\n', text.find('\n') + 1);
      if (newline != std::string::npos && text.substr(0, newline) == marker_identity(path)) {
        RunStats done = RunStats::from_json(std::string_view(text).substr(newline + 1));
        done.num_inputs = 0;  // counted as resumed, not as processed
        done.num_inputs_resumed = 1;
        return done;
      }
    }
    RunStats stats;
    stats.num_inputs = 1;
    for (auto& stage : stages_)
      for (auto& [name, value] : stage->thresholds()) stats.thresholds[name] = value;
    stats.stages.resize(stages_.size());
    for (size_t i = 0; i < stages_.size(); ++i) stats.stages[i].name = std::string(stages_[i]->name());

    std::unique_ptr<ShardWriter> kept, rejects;
    if (files_) {
      remove_stale_outputs(out_dir_, "part-" + tag + "-");
      if (options_.write_rejects) remove_stale_outputs(out_dir_ / "rejects", "part-" + tag + "-");
      std::string ext = extension_for(options_.compression);
      kept = std::make_unique<ShardWriter>((out_dir_ / ("part-" + tag)).string(), ext, options_.shard_bytes);
      if (options_.write_rejects)
        rejects = std::make_unique<ShardWriter>((out_dir_ / "rejects" / ("part-" + tag)).string(), ext,
                                                options_.shard_bytes);
    }

    auto reader = DocumentReader::open(path, options_.reader);
    bool reader_done = false;
    std::string stream_error;

    auto read_batch = [&](tbb::flow_control& fc) -> Batch* {
      if (reader_done) {
        fc.stop();
        return nullptr;
      }
      auto batch = std::make_unique<Batch>();
      try {
        reader_done = !reader->next_batch(batch->records, options_.batch_docs, options_.batch_bytes);
      } catch (const Error& e) {
        if (options_.strict) throw;
        stream_error = e.what();
        reader_done = true;
      }
      batch->file_offset = reader->file_offset();
      if (batch->records.empty()) {
        fc.stop();
        return nullptr;
      }
      return batch.release();
    };

    auto process_batch = [&](Batch* batch) -> Batch* {
      StageStates& local = states_->local();
      RunStats& c = batch->counters;
      c.stages.resize(stages_.size());
      std::string kept_plain, rejects_plain;
      for (Record& record : batch->records) {
        if (record.skipped()) {
          ++c.records_skipped[record.skipped_type];
          continue;
        }
        ++c.docs_read;
        DocumentReader::decode(record, options_.reader);
        if (record.rejected()) {
          if (options_.strict) throw Error(record.reject_message);
          ++c.docs_rejected;
          auto& r = c.read_rejects[record.reject_reason];
          ++r.docs;
          r.bytes += record.raw.size() + record.doc.text.size();
          if (write_rejects_) append_unreadable_jsonl(record, rejects_plain);
          if (collect_report_) {
            Document raw;
            raw.id = cat(record.doc.source_path, ":", record.doc.source_line);
            raw.text = record.raw.empty() ? record.doc.text : record.raw;
            if (!is_valid_utf8(raw.text)) raw.text = repair_utf8(raw.text);
            c.add_reject_sample("read/" + record.reject_reason, raw);
          }
          continue;
        }
        Document& doc = record.doc;
        c.bytes_read += doc.text.size();
        if (collect_report_) c.chars_read.add(count_code_points(doc.text));
        bool dropped = false;
        for (size_t i = 0; i < stages_.size(); ++i) {
          StageStats& s = c.stages[i];
          ++s.docs_in;
          s.bytes_in += doc.text.size();
          auto t0 = Clock::now();
          Verdict verdict = stages_[i]->process(doc, local.states[i].get());
          s.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
          if (verdict.kept()) continue;
          ++s.docs_dropped;
          s.bytes_dropped += doc.text.size();
          auto& r = s.reasons[std::string(verdict.reason)];
          ++r.docs;
          r.bytes += doc.text.size();
          ++c.docs_rejected;
          if (write_rejects_)
            append_rejected_jsonl(doc, options_.reader.text_field, stages_[i]->name(), verdict.reason, rejects_plain);
          if (collect_report_) {
            c.add_attributes(doc, true);
            c.add_reject_sample(cat(stages_[i]->name(), "/", verdict.reason), doc);
          }
          dropped = true;
          break;
        }
        if (dropped) continue;
        ++c.docs_kept;
        c.bytes_kept += doc.text.size();
        if (collect_report_) {
          c.chars_kept.add(count_code_points(doc.text));
          c.add_attributes(doc, false);
        }
        if (!options_.discard_output) append_jsonl(doc, options_.reader.text_field, kept_plain);
      }
      batch->records.clear();
      batch->records.shrink_to_fit();
      Compression compression = to_stdout_ ? Compression::kNone : options_.compression;
      batch->kept_decoded = kept_plain.size();
      batch->rejects_decoded = rejects_plain.size();
      if (options_.discard_output) return batch;
      if (!kept_plain.empty()) compress_append(compression, options_.compression_level, kept_plain, batch->kept);
      if (!rejects_plain.empty())
        compress_append(compression, options_.compression_level, rejects_plain, batch->rejects);
      return batch;
    };

    auto write_batch = [&](Batch* raw_batch) {
      std::unique_ptr<Batch> batch(raw_batch);
      if (to_stdout_) {
        stdout_->write(batch->kept);
      } else if (files_) {
        kept->write(batch->kept, batch->kept_decoded);
        if (rejects) rejects->write(batch->rejects, batch->rejects_decoded);
      }
      stats.merge(batch->counters);
      in_flight_offset_ = batch->file_offset;
      RunStats running = progress_base_;
      running.merge(stats);
      report_progress(running, false, false);
    };

    progress_base_ = progress_total_;
    in_flight_offset_ = 0;
    tbb::parallel_pipeline(
        tokens_, tbb::make_filter<void, Batch*>(tbb::filter_mode::serial_in_order, read_batch) &
                     tbb::make_filter<Batch*, Batch*>(tbb::filter_mode::parallel, process_batch) &
                     tbb::make_filter<Batch*, void>(tbb::filter_mode::serial_in_order, write_batch));
    in_flight_offset_ = 0;

    if (!stream_error.empty()) stats.input_errors.push_back(stream_error);
    if (kept) stats.output_shards = kept->commit();
    if (rejects) stats.reject_shards = rejects->commit();
    for (auto* list : {&stats.output_shards, &stats.reject_shards})
      for (auto& shard : *list) shard = fs::relative(shard, out_dir_).string();
    if (files_) write_file(marker.string(), marker_identity(path) + "\n" + stats.to_json() + "\n");
    progress_total_.merge(stats);
    return stats;
  }

  void report_progress(const RunStats& s, bool input_finished, bool finished) {
    if (!options_.on_progress) return;
    auto now = Clock::now();
    if (!finished && now - last_progress_ < std::chrono::milliseconds(200)) return;
    last_progress_ = now;
    ProgressInfo p;
    p.inputs_total = inputs_.size();
    p.inputs_done = s.num_inputs + s.num_inputs_resumed;
    if (!input_finished && p.inputs_done > 0) --p.inputs_done;
    p.docs_read = s.docs_read;
    p.docs_kept = s.docs_kept;
    p.text_bytes = s.bytes_read;
    p.input_bytes_total = input_bytes_total_;
    p.input_bytes_done = input_bytes_done_ + in_flight_offset_;
    p.seconds = std::chrono::duration<double>(now - start_).count();
    p.finished = finished;
    options_.on_progress(p);
  }

  const std::vector<std::string>& inputs_;
  const std::vector<std::unique_ptr<Stage>>& stages_;
  const PipelineOptions& options_;
  bool to_stdout_;
  bool files_;  // shards, markers and stats.json under output_dir
  bool write_rejects_;
  bool collect_report_;  // length histograms, attribute distributions, reject samples
  int threads_ = 1;
  size_t tokens_ = 2;
  fs::path out_dir_;
  std::unique_ptr<AtomicFile> stdout_;
  std::unique_ptr<tbb::enumerable_thread_specific<StageStates>> states_;
  uint64_t input_bytes_total_ = 0, input_bytes_done_ = 0, in_flight_offset_ = 0;
  RunStats progress_total_, progress_base_;
  Clock::time_point start_ = Clock::now(), last_progress_{};
};

}  // namespace

RunStats run_pipeline(const std::vector<std::string>& inputs, const std::vector<std::unique_ptr<Stage>>& stages,
                      const PipelineOptions& options) {
  Runner runner(inputs, stages, options);
  return runner.run();
}

}  // namespace kiln
