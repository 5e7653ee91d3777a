// Token data for training and evaluation, until the token store (issue 6) lands.
//
// A TokenSource is a flat sequence of token ids; the DataLoader cuts (B, T+1) windows from
// it into inputs and next-token targets, with a cursor a checkpoint saves and restores.
//
//   auto tokens = open_token_file("train.bin");          // nanoGPT uint16 or llm.c shard
//   DataLoader loader(*tokens, {.batch_size = 12, .seq_len = 64, .order = DataOrder::kRandom});
//   loader.next(inputs.data(), targets.data());           // (B,T) each
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trainer/rng.h"

namespace kiln::trainer {

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  virtual uint64_t size() const = 0;
  // Copies tokens [offset, offset + count) to out. Throws kiln::Error past the end.
  virtual void read(uint64_t offset, size_t count, int32_t* out) const = 0;
};

// Tokens held in memory.
class TokenArray final : public TokenSource {
 public:
  explicit TokenArray(std::vector<int32_t> tokens) : tokens_(std::move(tokens)) {}
  uint64_t size() const override { return tokens_.size(); }
  void read(uint64_t offset, size_t count, int32_t* out) const override;
  const std::vector<int32_t>& tokens() const { return tokens_; }

 private:
  std::vector<int32_t> tokens_;
};

// Reads a token file into memory: an llm.c data shard (int32[256] header, magic 20240520,
// version 1, [2] token count, then uint16 tokens) or, without that magic, headerless uint16
// (nanoGPT's train.bin / val.bin).
std::unique_ptr<TokenArray> open_token_file(const std::string& path);
// A token store made by `kiln pack` (corpus/token_store.h): "STORE" is its train split,
// "STORE:val" its validation split, read whole into memory (every block checksummed). For
// training, `kiln train` streams the train split instead (trainer/store_batches.h).
bool is_token_store(const std::string& path);
std::unique_ptr<TokenArray> open_token_store(const std::string& path);
// The EOT id that ends every document of the store (its manifest's tokenizer.eot).
int32_t token_store_eot(const std::string& path);
// Writes headerless uint16 tokens (nanoGPT layout); throws if a token does not fit.
void write_token_file(const std::string& path, const std::vector<int32_t>& tokens);

// Tokens for training or evaluation from a path: `.bin` is a token file (above); anything
// else is text (plain, .gz or .zst), tokenized byte-level, or with `encode` when given.
// `num_bytes` (optional) receives the text's size in bytes (0 for token files).
std::unique_ptr<TokenArray> load_tokens(const std::string& path,
                                        const std::function<std::vector<int32_t>(std::string_view)>& encode = {},
                                        uint64_t* num_bytes = nullptr);
// Splits off the last `fraction` of the tokens (nanoGPT's shakespeare_char: 0.1) as validation.
std::pair<TokenArray, TokenArray> split_tokens(const TokenArray& all, double val_fraction);

// starts (rows,T) <- for each row of tokens (rows,T), where each position's document
// begins: 0, or the position after the last `end_of_document` token before it. Packed
// data (kiln pack, nanoGPT, llm.c) ends every document with EOT, so this recovers the
// boundaries of any window for attention masking (AttentionSpan::doc_start).
void doc_starts_from_end_token(const int32_t* tokens, int rows, int T, int32_t end_of_document, int32_t* starts);

// Byte-level tokenization (vocabulary 256): every byte is a token. Stands in for the
// tokenizer library in the train/eval/generate loop; bits-per-byte is exact with it.
std::vector<int32_t> byte_tokens(std::string_view text);
std::string bytes_from_tokens(const std::vector<int32_t>& tokens);

enum class DataOrder {
  kSequential,  // consecutive windows, B*T tokens apart, wrapping at the end (llm.c)
  kRandom,      // each row starts at a uniformly random offset (nanoGPT's get_batch)
};

struct DataLoaderOptions {
  int batch_size = 8;     // B
  int seq_len = 64;       // T
  DataOrder order = DataOrder::kRandom;
  uint64_t seed = 1337;   // kRandom: the offsets' random stream
};

struct DataCursor {
  uint64_t position = 0;   // kSequential: first token of the next batch
  uint64_t rng_state = 0;  // kRandom: the Rng state before the next batch
};

// Where (inputs, targets) batches come from; the trainer checkpoints its cursor.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Fills inputs (B,T) and targets (B,T); a target < 0 is not trained on.
  virtual void next(int32_t* inputs, int32_t* targets) = 0;
  virtual DataCursor cursor() const = 0;
  virtual void restore(const DataCursor& cursor) = 0;
};

class DataLoader final : public BatchSource {
 public:
  // Throws kiln::Error if the source has fewer than T+1 tokens.
  DataLoader(const TokenSource& source, const DataLoaderOptions& options);
  // Fills inputs (B,T) and targets (B,T) = inputs shifted by one token.
  void next(int32_t* inputs, int32_t* targets) override;
  DataCursor cursor() const override { return {position_, rng_.state}; }
  void restore(const DataCursor& cursor) override;
  const DataLoaderOptions& options() const { return options_; }

 private:
  const TokenSource& source_;
  DataLoaderOptions options_;
  uint64_t position_ = 0;
  Rng rng_;
  std::vector<int32_t> window_;
};

// ---- supervised fine-tuning: prompt/response pairs, loss on the response only ----
struct SftExample {
  std::vector<int32_t> prompt;
  std::vector<int32_t> response;
};
// JSONL with string fields "prompt" and "response" per line, tokenized with `encode`
// (byte-level when empty).
std::vector<SftExample> read_sft_jsonl(const std::string& path,
                                       const std::function<std::vector<int32_t>(std::string_view)>& encode = {});

struct SftLoaderOptions {
  int batch_size = 8;       // B
  int seq_len = 64;         // T; longer examples keep their first T+1 tokens
  DataOrder order = DataOrder::kRandom;  // kRandom: examples drawn uniformly; kSequential: in order, cycling
  uint64_t seed = 1337;
  int32_t end_token = -1;   // appended after each response (and trained on) when >= 0
  int32_t pad_token = 0;    // input token in the padding after a short example (never a target)
};

// Each row is one example: tokens prompt + response (+ end), inputs = tokens[0..T),
// targets = tokens[1..T] where the target is a response (or end) token, -1 elsewhere
// (prompt and padding), so only responses are learned.
class SftLoader final : public BatchSource {
 public:
  SftLoader(std::vector<SftExample> examples, const SftLoaderOptions& options);
  void next(int32_t* inputs, int32_t* targets) override;
  DataCursor cursor() const override { return {position_, rng_.state}; }
  void restore(const DataCursor& cursor) override;

 private:
  std::vector<SftExample> examples_;
  SftLoaderOptions options_;
  uint64_t position_ = 0;
  Rng rng_;
};

}  // namespace kiln::trainer
