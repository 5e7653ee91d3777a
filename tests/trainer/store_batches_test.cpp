// StoreBatchSource: batches are the token stream's windows, widened, in the stream's order.
#include <gtest/gtest.h>

#include <filesystem>

#include "corpus/stream.h"
#include "corpus/token_store.h"
#include "test_util.h"
#include "trainer/store_batches.h"

namespace kiln::trainer {
namespace {

using kiln::testing::TempDir;

// One shard of documents with ids up to 50000 (past int16, within uint16); returns the flat
// sequence.
std::vector<uint32_t> write_store(const std::string& dir, bool compress) {
  std::filesystem::create_directories(dir);
  ShardWriterOptions o;
  o.block_tokens = 100;  // not a multiple of T: windows straddle blocks
  o.compress = compress;
  TokenShardWriter w(dir + "/train-00000.kts", o);
  std::vector<uint32_t> flat;
  for (uint32_t d = 0; d < 60; ++d) {
    std::vector<uint32_t> doc;
    for (uint32_t i = 0; i < 10 + d * 7 % 50; ++i) doc.push_back(1 + (d * 1000 + i * 977) % 50000);
    doc.push_back(0);
    w.add_document(doc.data(), doc.size());
    flat.insert(flat.end(), doc.begin(), doc.end());
  }
  w.finish();
  StoreManifest m;
  m.block_tokens = o.block_tokens;
  m.compressed = compress;
  m.tokenizer = {"test", "none", 50001, 0};
  m.train.push_back({"train-00000.kts", "test", w.num_tokens(), w.num_docs()});
  write_file(dir + "/manifest.json", m.to_json());
  return flat;
}

TEST(StoreBatchSource, BatchesAreTheStreamWindowsAndResumeIsExact) {
  TempDir dir;
  constexpr int B = 3, T = 16;
  for (bool compress : {true, false}) {
    std::string path = dir.path(compress ? "z" : "raw");
    auto flat = write_store(path, compress);
    TokenStore store = TokenStore::open(path);
    StreamOptions o;
    o.seq_len = T;
    o.seed = 4;
    TokenStream stream(store, o);
    StoreBatchSource batches(path, B, T, 4);
    std::vector<int32_t> x(B * T), y(B * T);
    Window w;
    uint64_t steps = 2 * stream.windows_per_epoch() / B + 1;  // into the third epoch
    DataCursor half;
    std::vector<int32_t> after_half;
    for (uint64_t step = 0; step < steps; ++step) {
      if (step == steps / 2) half = batches.cursor();
      batches.next(x.data(), y.data());
      if (step == steps / 2) after_half = x;
      for (int b = 0; b < B; ++b) {
        ASSERT_TRUE(stream.next(w));
        for (int t = 0; t < T; ++t) {
          ASSERT_EQ(x[size_t(b * T + t)], int32_t(w.tokens[size_t(t)])) << "step " << step << " row " << b;
          ASSERT_EQ(y[size_t(b * T + t)], int32_t(w.tokens[size_t(t + 1)])) << "step " << step << " row " << b;
          ASSERT_EQ(w.tokens[size_t(t)], flat[w.window * T + uint64_t(t)]);
        }
      }
    }
    StoreBatchSource resumed(path, B, T, 4);
    resumed.restore(half);
    resumed.next(x.data(), y.data());
    EXPECT_EQ(x, after_half);
  }
}

}  // namespace
}  // namespace kiln::trainer
