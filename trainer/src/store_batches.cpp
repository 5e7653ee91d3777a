#include "trainer/store_batches.h"

namespace kiln::trainer {
namespace {
StreamOptions stream_options(int seq_len, uint64_t seed, bool shuffle) {
  StreamOptions o;
  o.split = Split::kTrain;
  o.seq_len = uint32_t(seq_len);
  o.seed = seed;
  o.shuffle = shuffle;
  return o;
}
}  // namespace

StoreBatchSource::StoreBatchSource(const std::string& dir, int rows, int seq_len, uint64_t seed, bool shuffle)
    : store_(TokenStore::open(dir)), stream_(store_, stream_options(seq_len, seed, shuffle)), rows_(rows), seq_len_(seq_len) {}

void StoreBatchSource::next(int32_t* inputs, int32_t* targets) {
  for (int b = 0; b < rows_; ++b) {
    stream_.next(window_);  // loops over epochs: never ends
    for (int t = 0; t < seq_len_; ++t) {
      inputs[size_t(b) * seq_len_ + t] = int32_t(window_.tokens[size_t(t)]);
      targets[size_t(b) * seq_len_ + t] = int32_t(window_.tokens[size_t(t) + 1]);
    }
  }
}

DataCursor StoreBatchSource::cursor() const {
  StreamCursor c = stream_.cursor();
  return {c.sample, c.epoch};
}

void StoreBatchSource::restore(const DataCursor& cursor) { stream_.restore({cursor.rng_state, cursor.position}); }

}  // namespace kiln::trainer
