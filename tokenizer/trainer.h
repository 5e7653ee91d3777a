// Byte-level BPE training that reproduces HF tokenizers' BpeTrainer merge for merge.
//
//   TrainerOptions options;
//   options.vocab_size = 32000;
//   options.special_tokens = {"<|endoftext|>"};
//   BpeTrainer trainer(options);
//   trainer.add_files({"corpus/*.jsonl.zst"});   // streamed; pre-tokens counted on all cores
//   Tokenizer tok = trainer.train();
//   tok.save_hf_json("tokenizer.json");
//
// Rules (HF's, written down and pinned by tests/tokenizer/trainer_test.cpp):
//   * ids: special tokens first in the given order, then the byte alphabet sorted by the
//     code point of each byte's byte-level character (so '!' .. '~' come before 'Ġ' = ' '),
//     then one id per new token in the order merges create them;
//   * the next merge is the pair with the highest count; ties go to the smallest pair of
//     ids (left id, then right id);
//   * a merge is applied left to right, without overlap, in the words that held the pair;
//   * training stops at vocab_size tokens, when no pair is left, or when the best count
//     is below min_frequency.
// Text files are read line by line keeping each line's "\n" (HF's train_from_files); JSONL
// documents are one sequence each. Counts are 64-bit (HF's are 32-bit and overflow).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/reader.h"
#include "tokenizer/tokenizer.h"

namespace kiln::tokenizer {

struct TrainerOptions {
  uint32_t vocab_size = 32000;  // target size including special tokens and the alphabet (HF: 30000)
  uint64_t min_frequency = 0;   // stop when the best pair occurs fewer times (HF default 0)
  std::vector<std::string> special_tokens;  // ids 0..k-1, in this order
  // true: all 256 bytes are in the vocab, as with HF's initial_alphabet=ByteLevel.alphabet(),
  // so any input encodes. false: only the bytes seen in the corpus (HF's default trainer).
  bool all_bytes_in_alphabet = true;
  // HF's max_token_length, in bytes; 0 = none. As in HF, a merged pair must be *shorter* than
  // this, except pairs of two single bytes (see README.md).
  size_t max_token_length = 0;
  Pattern pattern = Pattern::kGpt2;  // split pattern
  bool add_prefix_space = false;     // HF ByteLevel add_prefix_space, applied per sequence
  // Memory cap for huge corpora: when the number of distinct pre-tokens passes this, the
  // rarest are dropped (count < 2, then < 4, ...) until half remain. 0 = never (exact HF
  // parity). Pruning changes results only through words too rare to matter for merges.
  size_t max_distinct_words = 0;
  ReaderOptions reader;  // JSONL text field, format detection
};

class BpeTrainer {
 public:
  explicit BpeTrainer(TrainerOptions options);
  ~BpeTrainer();
  BpeTrainer(BpeTrainer&&) noexcept;

  // Counts the pre-tokens of one sequence (a line or a document).
  void add_text(std::string_view sequence);
  // Streams files (globs and directories expand; .zst/.gz ok): JSONL documents by their
  // text field, other files line by line. Counting runs on all cores.
  void add_files(const std::vector<std::string>& patterns);

  uint64_t num_sequences() const;
  uint64_t num_bytes() const;
  size_t num_distinct_words() const;

  // Runs the merges. Can be called more than once.
  Tokenizer train() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  TrainerOptions options_;
};

}  // namespace kiln::tokenizer
