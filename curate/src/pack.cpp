#include "curate/pack.h"

#include <simdjson.h>
#include <sys/stat.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_pipeline.h>
#include <xxhash.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "corpus/error.h"
#include "corpus/text.h"

namespace kiln {
namespace fs = std::filesystem;

bool in_validation_split(std::string_view key, double val_fraction, uint64_t seed) {
  if (val_fraction <= 0) return false;
  if (val_fraction >= 1) return true;
  uint64_t h = XXH3_64bits_withSeed(key.data(), key.size(), seed);
  return double(h) < val_fraction * 18446744073709551616.0;
}

namespace {

struct PackBatch {
  std::vector<Record> records;
  std::vector<std::vector<uint32_t>> tokens;  // per record (empty for unreadable)
  std::vector<bool> val;
  uint64_t file_offset = 0;
  // Blocks the batch filled, per split (0 = train, 1 = val), raw then encoded.
  std::vector<std::vector<uint32_t>> full[2];
  std::vector<EncodedBlock> encoded[2];
};

std::string tag(size_t i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%05zu", i);
  return buf;
}

// One input's result, as its completion marker stores it.
struct InputResult {
  std::string input;
  uint64_t size = 0;
  ShardInfo train, val;
  uint64_t docs_read = 0, docs_unreadable = 0, text_bytes = 0;
  std::string error;

  std::string to_json() const {
    std::string o = "{\"input\":";
    append_json_string(o, input);
    o += cat(",\"size\":", size, ",\"train\":{\"path\":");
    append_json_string(o, train.path);
    o += cat(",\"tokens\":", train.num_tokens, ",\"docs\":", train.num_docs, "},\"val\":{\"path\":");
    append_json_string(o, val.path);
    o += cat(",\"tokens\":", val.num_tokens, ",\"docs\":", val.num_docs, "},\"docs_read\":", docs_read,
             ",\"docs_unreadable\":", docs_unreadable, ",\"text_bytes\":", text_bytes, ",\"error\":");
    append_json_string(o, error);
    return o + "}\n";
  }
  static InputResult from_json(std::string_view json) {
    simdjson::dom::parser parser;
    simdjson::dom::element e = parser.parse(json.data(), json.size()).value();
    InputResult r;
    r.input = std::string(std::string_view(e["input"]));
    r.size = uint64_t(e["size"]);
    r.train = {std::string(std::string_view(e["train"]["path"])), r.input, uint64_t(e["train"]["tokens"]),
               uint64_t(e["train"]["docs"])};
    r.val = {std::string(std::string_view(e["val"]["path"])), r.input, uint64_t(e["val"]["tokens"]),
             uint64_t(e["val"]["docs"])};
    r.docs_read = uint64_t(e["docs_read"]);
    r.docs_unreadable = uint64_t(e["docs_unreadable"]);
    r.text_bytes = uint64_t(e["text_bytes"]);
    r.error = std::string(std::string_view(e["error"]));
    return r;
  }
};

uint64_t file_size(const std::string& path) {
  struct stat st {};
  return path != "-" && ::stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

}  // namespace

PackStats pack_store(const std::vector<std::string>& inputs, const TextEncoder& encoder, const PackOptions& options) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  if (options.output_dir.empty()) throw Error("pack: no output directory given");
  TokenizerInfo tokenizer = encoder.info();
  fs::path out = options.output_dir;
  fs::create_directories(out / ".kiln" / "done");
  if (!options.resume)
    for (auto& e : fs::directory_iterator(out / ".kiln" / "done")) fs::remove(e.path());

  int threads = options.threads > 0 ? options.threads : tbb::info::default_concurrency();
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads));
  ShardWriterOptions shard_options;
  shard_options.dtype_bytes = tokenizer.vocab_size <= 65536 ? 2 : 4;
  shard_options.block_tokens = options.block_tokens;
  shard_options.compress = options.compress;

  PackStats stats;
  std::vector<InputResult> results;
  uint64_t bytes_total = 0, bytes_done = 0;
  for (auto& in : inputs) bytes_total += file_size(in);

  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string& path = inputs[i];
    fs::path marker = out / ".kiln" / "done" / ("input-" + tag(i) + ".json");
    if (options.resume && fs::exists(marker)) {
      InputResult done = InputResult::from_json(read_file(marker.string()));
      if (done.input == path && done.size == file_size(path)) {
        results.push_back(done);
        ++stats.inputs_resumed;
        bytes_done += done.size;
        continue;
      }
    }
    InputResult result;
    result.input = path;
    result.size = file_size(path);
    result.train = {"train-" + tag(i) + ".kts", path, 0, 0};
    result.val = {"val-" + tag(i) + ".kts", path, 0, 0};
    TokenShardWriter train((out / result.train.path).string(), shard_options, /*deferred=*/true);
    TokenShardWriter val((out / result.val.path).string(), shard_options, /*deferred=*/true);
    auto reader = DocumentReader::open(path, options.reader);
    bool reader_done = false;
    tbb::parallel_pipeline(
        size_t(2 * threads),
        tbb::make_filter<void, PackBatch*>(tbb::filter_mode::serial_in_order,
                                           [&](tbb::flow_control& fc) -> PackBatch* {
                                             auto batch = std::make_unique<PackBatch>();
                                             // WARC records that are not documents are dropped; read on
                                             // until the batch holds documents or the input ends.
                                             std::vector<Record> records;
                                             while (!reader_done && batch->records.empty()) {
                                               try {
                                                 reader_done = !reader->next_batch(records, options.batch_docs, UINT64_MAX);
                                               } catch (const Error& e) {
                                                 result.error = e.what();
                                                 reader_done = true;
                                               }
                                               for (Record& r : records)
                                                 if (!r.skipped()) batch->records.push_back(std::move(r));
                                             }
                                             batch->file_offset = reader->file_offset();
                                             if (batch->records.empty()) {
                                               fc.stop();
                                               return nullptr;
                                             }
                                             return batch.release();
                                           }) &
            tbb::make_filter<PackBatch*, PackBatch*>(tbb::filter_mode::parallel,
                                                     [&](PackBatch* b) {
                                                       b->tokens.resize(b->records.size());
                                                       b->val.resize(b->records.size());
                                                       for (size_t k = 0; k < b->records.size(); ++k) {
                                                         Record& r = b->records[k];
                                                         DocumentReader::decode(r, options.reader);
                                                         if (r.rejected()) continue;
                                                         encoder.encode(r.doc.text, b->tokens[k]);
                                                         b->tokens[k].push_back(tokenizer.eot);
                                                         const std::string& key = r.doc.id.empty() ? r.doc.text : r.doc.id;
                                                         b->val[k] = in_validation_split(key, options.val_fraction,
                                                                                         options.split_seed);
                                                       }
                                                       return b;
                                                     }) &
            tbb::make_filter<PackBatch*, PackBatch*>(tbb::filter_mode::serial_in_order, [&](PackBatch* b) {
              for (size_t k = 0; k < b->records.size(); ++k) {
                ++result.docs_read;
                if (b->records[k].rejected()) {
                  ++result.docs_unreadable;
                  continue;
                }
                result.text_bytes += b->records[k].doc.text.size();
                (b->val[k] ? val : train).add_document(b->tokens[k].data(), b->tokens[k].size());
              }
              b->tokens.clear();
              b->full[0] = train.take_full_blocks();
              b->full[1] = val.take_full_blocks();
              return b;
            }) &
            // Blocks are compressed and hashed on the workers, then written in order.
            tbb::make_filter<PackBatch*, PackBatch*>(tbb::filter_mode::parallel,
                                                     [&](PackBatch* b) {
                                                       for (int s = 0; s < 2; ++s)
                                                         for (auto& block : b->full[s])
                                                           b->encoded[s].push_back(
                                                               TokenShardWriter::encode_block(block, shard_options));
                                                       return b;
                                                     }) &
            tbb::make_filter<PackBatch*, void>(tbb::filter_mode::serial_in_order, [&](PackBatch* raw) {
              std::unique_ptr<PackBatch> b(raw);
              for (auto& block : b->encoded[0]) train.write_block(block);
              for (auto& block : b->encoded[1]) val.write_block(block);
              if (options.on_progress) {
                ProgressInfo p;
                p.inputs_total = inputs.size();
                p.inputs_done = i;
                p.docs_read = stats.docs_read + result.docs_read;
                p.docs_kept = p.docs_read;
                p.input_bytes_total = bytes_total;
                p.input_bytes_done = bytes_done + b->file_offset;
                p.seconds = std::chrono::duration<double>(Clock::now() - start).count();
                options.on_progress(p);
              }
            }));
    train.finish();
    val.finish();
    result.train.num_tokens = train.num_tokens();
    result.train.num_docs = train.num_docs();
    result.val.num_tokens = val.num_tokens();
    result.val.num_docs = val.num_docs();
    write_file(marker.string(), result.to_json());
    bytes_done += result.size;
    results.push_back(std::move(result));
  }

  StoreManifest manifest;
  manifest.dtype_bytes = shard_options.dtype_bytes;
  manifest.block_tokens = shard_options.block_tokens;
  manifest.compressed = shard_options.compress;
  manifest.val_fraction = options.val_fraction;
  manifest.split_seed = options.split_seed;
  manifest.tokenizer = tokenizer;
  for (const InputResult& r : results) {
    if (r.train.num_tokens) manifest.train.push_back(r.train);
    if (r.val.num_tokens) manifest.val.push_back(r.val);
    auto& source = manifest.sources[r.input];
    source.first += r.train.num_docs + r.val.num_docs;
    source.second += r.train.num_tokens + r.val.num_tokens;
    stats.docs_read += r.docs_read;
    stats.docs_unreadable += r.docs_unreadable;
    stats.text_bytes += r.text_bytes;
    stats.train_docs += r.train.num_docs;
    stats.train_tokens += r.train.num_tokens;
    stats.val_docs += r.val.num_docs;
    stats.val_tokens += r.val.num_tokens;
    if (!r.error.empty()) stats.input_errors.push_back(r.error);
  }
  write_file((out / "manifest.json").string(), manifest.to_json());
  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return stats;
}

}  // namespace kiln
