// Training batches streamed from a token store (corpus/token_store.h): windows of T+1 tokens in
// the store's seeded, world-size-independent order, with the stream's cursor saved in
// checkpoints (DataCursor.position = next sample, DataCursor.rng_state = epoch), so a resumed
// run continues with exactly the windows an uninterrupted one would have seen.
//
//   auto batches = std::make_unique<StoreBatchSource>("store/", B * world, T, seed);
//   train(options, std::move(batches), &val_tokens, progress);
#pragma once

#include <cstdint>
#include <string>

#include "corpus/token_store.h"
#include "trainer/data.h"

namespace kiln::trainer {

class StoreBatchSource final : public BatchSource {
 public:
  // rows: sequences per batch (the global batch under data parallelism); shuffle = false
  // reads windows in store order.
  StoreBatchSource(const std::string& dir, int rows, int seq_len, uint64_t seed, bool shuffle = true);
  void next(int32_t* inputs, int32_t* targets) override;
  DataCursor cursor() const override;
  void restore(const DataCursor& cursor) override;

 private:
  TokenStore store_;
  TokenStream stream_;
  int rows_, seq_len_;
  WindowView view_;  // widened straight into the batch: no uint32 copy in between
};

}  // namespace kiln::trainer
