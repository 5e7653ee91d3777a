// Packing: tokenize curated documents into a token store (corpus/token_store.h).
//
// Documents are read and tokenized on every core and written in input order, one shard
// per input file and split, so a store is byte-identical for any thread count. Each
// document goes to the validation split when xxh3(id, or text if there is no id, seeded by
// split_seed) falls below val_fraction of the hash range: a document's split never
// changes between reruns or when other documents are added. Completion markers make a
// killed pack resume.
//
//   PackStats stats = pack_store(expand_inputs({"out/sample"}), encoder, options);
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/reader.h"
#include "corpus/token_store.h"
#include "curate/pipeline.h"

namespace kiln {

// What packing needs from a tokenizer. encode() is called from many threads at once.
class TextEncoder {
 public:
  virtual ~TextEncoder() = default;
  virtual void encode(std::string_view text, std::vector<uint32_t>& tokens) const = 0;
  virtual TokenizerInfo info() const = 0;
};

struct PackOptions {
  ReaderOptions reader;
  std::string output_dir;
  double val_fraction = 0.005;    // share of documents in the validation split
  uint64_t split_seed = 0;
  uint32_t block_tokens = 1u << 16;
  bool compress = true;           // zstd per block
  int threads = 0;                // 0 = all cores
  size_t batch_docs = 512;
  bool resume = true;
  std::function<void(const ProgressInfo&)> on_progress;
};

struct PackStats {
  uint64_t docs_read = 0, docs_unreadable = 0;
  uint64_t train_docs = 0, train_tokens = 0, val_docs = 0, val_tokens = 0;
  uint64_t text_bytes = 0;
  uint64_t inputs_resumed = 0;
  std::vector<std::string> input_errors;
  double seconds = 0;
};

PackStats pack_store(const std::vector<std::string>& inputs, const TextEncoder& encoder, const PackOptions& options);

// True when a document with this key goes to the validation split.
bool in_validation_split(std::string_view key, double val_fraction, uint64_t seed);

}  // namespace kiln
