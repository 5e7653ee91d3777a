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
    stream_.next(view_);  // loops over epochs: never ends
    size_t row = size_t(b) * size_t(seq_len_);
    widen_tokens(view_.data, view_.dtype_bytes, size_t(seq_len_), inputs + row);                      // (T,) tokens 0..T-1
    widen_tokens(view_.data + view_.dtype_bytes, view_.dtype_bytes, size_t(seq_len_), targets + row);  // (T,) tokens 1..T
  }
}

DataCursor StoreBatchSource::cursor() const {
  StreamCursor c = stream_.cursor();
  return {c.sample, c.epoch};
}

void StoreBatchSource::restore(const DataCursor& cursor) { stream_.restore({cursor.rng_state, cursor.position}); }

}  // namespace kiln::trainer
