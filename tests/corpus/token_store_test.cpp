// Token store: shards, checksums, streaming order, resume, ranks, mixtures, interop.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include "corpus/error.h"
#include "corpus/token_interop.h"
#include "corpus/token_store.h"
#include "test_util.h"

namespace kiln {
namespace {

using testing::TempDir;
constexpr uint32_t kEot = 0;

// Documents of varying length with distinct token values (so positions are identifiable).
std::vector<std::vector<uint32_t>> make_docs(int n, uint32_t salt = 1) {
  std::vector<std::vector<uint32_t>> docs;
  uint32_t next = 1;
  for (int d = 0; d < n; ++d) {
    std::vector<uint32_t> doc;
    int len = 5 + (d * 37 + int(salt) * 11) % 90;
    for (int i = 0; i < len; ++i) doc.push_back(1 + (next++ * salt) % 60000);
    doc.push_back(kEot);
    docs.push_back(doc);
  }
  return docs;
}

// Writes docs into a store of `shards` shards (train split) and returns the flat sequence.
std::vector<uint32_t> write_store(const std::string& dir, const std::vector<std::vector<uint32_t>>& docs, int shards,
                                  uint32_t block_tokens, bool compress = true, uint32_t dtype_bytes = 2) {
  std::filesystem::create_directories(dir);
  StoreManifest m;
  m.dtype_bytes = dtype_bytes;
  m.block_tokens = block_tokens;
  m.compressed = compress;
  m.tokenizer = {"test", "none", 60001, kEot};
  std::vector<uint32_t> flat;
  size_t per = (docs.size() + size_t(shards) - 1) / size_t(shards);
  for (int s = 0; s < shards; ++s) {
    std::string name = "train-0000" + std::to_string(s) + ".kts";
    ShardWriterOptions o;
    o.dtype_bytes = dtype_bytes;
    o.block_tokens = block_tokens;
    o.compress = compress;
    TokenShardWriter w(dir + "/" + name, o);
    for (size_t d = size_t(s) * per; d < std::min(docs.size(), size_t(s + 1) * per); ++d) {
      w.add_document(docs[d].data(), docs[d].size());
      flat.insert(flat.end(), docs[d].begin(), docs[d].end());
    }
    w.finish();
    m.train.push_back({name, "test", w.num_tokens(), w.num_docs()});
  }
  write_file(dir + "/manifest.json", m.to_json());
  return flat;
}

TEST(TokenStore, ReadsBackEveryTokenAcrossBlocksAndShards) {
  TempDir dir;
  auto docs = make_docs(300);
  for (bool compress : {true, false}) {
    std::string path = dir.path(compress ? "z" : "raw");
    auto flat = write_store(path, docs, 3, 100, compress);
    TokenStore store = TokenStore::open(path);
    EXPECT_EQ(store.num_tokens(Split::kTrain), flat.size());
    EXPECT_EQ(store.num_docs(Split::kTrain), docs.size());
    std::vector<uint32_t> all;
    store.read(Split::kTrain, 0, flat.size(), all);
    EXPECT_EQ(all, flat);
    std::vector<uint32_t> middle;
    store.read(Split::kTrain, 1234, 777, middle);
    EXPECT_EQ(middle, std::vector<uint32_t>(flat.begin() + 1234, flat.begin() + 1234 + 777));
    EXPECT_TRUE(store.verify().empty());
    // Document starts are where each document's tokens begin.
    uint64_t offset = 0;
    for (size_t d = 0; d < docs.size(); ++d) {
      ASSERT_EQ(store.doc_starts(Split::kTrain)[d], offset);
      offset += docs[d].size();
    }
  }
}

TEST(TokenStore, FlippedByteIsReportedWithShardAndBlock) {
  TempDir dir;
  write_store(dir.path("s"), make_docs(200), 2, 128);
  std::string shard = dir.path("s/train-00001.kts");
  std::string bytes = testing::slurp(shard);
  bytes[300] = char(bytes[300] ^ 0x20);  // inside the second shard's first blocks
  testing::spit(shard, bytes);
  TokenStore store = TokenStore::open(dir.path("s"));
  auto problems = store.verify();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("train-00001.kts: block "), std::string::npos) << problems[0];
  std::vector<uint32_t> out;
  try {
    store.read(Split::kTrain, 0, store.num_tokens(Split::kTrain), out);
    FAIL() << "reading a corrupt block must fail";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find(problems[0]), 0u) << e.what();
  }
}

// Overwrites one byte of a file in place (a mapped shard sees the change).
void flip_byte(const std::string& path, long offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c = char(f.get());
  f.seekp(offset);
  f.put(char(c ^ 0x20));
}

TEST(TokenStore, RawBlocksAreViewedInPlaceAndCopiedOnlyAcrossBlocks) {
  TempDir dir;
  auto flat = write_store(dir.path("s"), make_docs(200), 2, 128, /*compress=*/false);
  TokenStore store = TokenStore::open(dir.path("s"));
  std::vector<std::byte> scratch;
  const std::byte* a = store.view(Split::kTrain, 10, 100, scratch);
  EXPECT_TRUE(scratch.empty()) << "a range inside one block must not be copied";
  EXPECT_EQ(store.view(Split::kTrain, 10, 100, scratch), a) << "the same bytes, in place";
  EXPECT_EQ(store.view(Split::kTrain, 138, 10, scratch), a + 128 * 2) << "block 1 follows block 0 in the file";
  for (int i = 0; i < 100; ++i) ASSERT_EQ(reinterpret_cast<const uint16_t*>(a)[i], flat[size_t(10 + i)]);
  // Across blocks, and across the two shards: a copy in scratch.
  uint64_t shard0 = store.doc_starts(Split::kTrain)[100];
  for (uint64_t begin : {uint64_t(100), shard0 - 50, uint64_t(250)}) {
    const std::byte* b = store.view(Split::kTrain, begin, 300, scratch);
    EXPECT_EQ(b, scratch.data());
    for (uint64_t i = 0; i < 300; ++i) ASSERT_EQ(reinterpret_cast<const uint16_t*>(b)[i], flat[begin + i]) << begin;
  }
}

TEST(TokenStream, ViewsEqualCopiedWindowsForEveryDtypeAndCompression) {
  TempDir dir;
  auto docs = make_docs(300);
  for (auto& d : docs)
    for (auto& t : d) t = t ? t * 70001u % 4000000000u : 0;  // ids past uint16 for the uint32 stores
  for (uint32_t dtype : {2u, 4u}) {
    for (bool compress : {true, false}) {
      std::string path = dir.path(std::to_string(dtype) + (compress ? "z" : "raw"));
      auto source = docs;
      if (dtype == 2)
        for (auto& d : source)
          for (auto& t : d) t %= 65536;
      auto flat = write_store(path, source, 3, 100, compress, dtype);  // windows straddle blocks and shards
      TokenStore store = TokenStore::open(path);
      StreamOptions o;
      o.seq_len = 24;
      o.seed = 11;
      o.buffer_chunks = 3;
      o.rank = 1;
      o.world_size = 2;
      o.max_epochs = 2;
      TokenStream copies(store, o), views(store, o);
      Window w;
      WindowView v;
      uint64_t n = 0;
      while (copies.next(w)) {
        ASSERT_TRUE(views.next(v));
        ASSERT_EQ(v.window, w.window);
        ASSERT_EQ(v.epoch, w.epoch);
        ASSERT_EQ(v.sample, w.sample);
        ASSERT_EQ(v.size, 25u);
        ASSERT_EQ(v.dtype_bytes, dtype);
        EXPECT_EQ(v.doc_starts, w.doc_starts);
        std::vector<uint32_t> starts;  // the oracle: every document start inside the window
        for (uint64_t d : store.doc_starts(Split::kTrain))
          if (d >= w.window * 24 && d < w.window * 24 + 25) starts.push_back(uint32_t(d - w.window * 24));
        ASSERT_EQ(w.doc_starts, starts) << path << " window " << w.window;
        std::vector<uint32_t> expected(flat.begin() + long(w.window * 24), flat.begin() + long(w.window * 24 + 25));
        ASSERT_EQ(w.tokens, expected) << path << " window " << w.window;
        for (uint32_t i = 0; i < v.size; ++i) ASSERT_EQ(v[i], expected[i]) << path << " window " << v.window;
        std::vector<int32_t> widened(v.size);
        widen_tokens(v.data, v.dtype_bytes, v.size, widened.data());
        ASSERT_EQ(std::vector<int32_t>(expected.begin(), expected.end()), widened);
        ++n;
      }
      EXPECT_FALSE(views.next(v));
      EXPECT_EQ(n, 2 * (copies.windows_per_epoch() / 2));  // rank 1 of 2, two epochs
    }
  }
}

TEST(TokenStore, ShardWhoseFooterDoesNotFitTheFileIsRefusedBeforeMapping) {
  TempDir dir;
  write_store(dir.path("s"), make_docs(50), 1, 64, /*compress=*/false);
  std::string shard = dir.path("s/train-00000.kts");
  std::string bytes = testing::slurp(shard);
  std::string truncated = bytes.substr(0, 100) + bytes.substr(bytes.size() - 64);  // blocks and index cut out
  testing::spit(dir.path("cut.kts"), truncated);
  try {
    TokenShard cut(dir.path("cut.kts"));
    FAIL() << "a cut shard must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.kts: "), std::string::npos) << e.what();
  }
  std::string huge = bytes;
  uint64_t blocks = uint64_t(1) << 62;  // num_blocks: 24 × it wraps around 2^64
  std::memcpy(huge.data() + huge.size() - 64 + 32, &blocks, 8);
  testing::spit(dir.path("huge.kts"), huge);
  try {
    TokenShard bad(dir.path("huge.kts"));
    FAIL() << "a footer whose counts exceed the file must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("do not fit the file size"), std::string::npos) << e.what();
  }
}

TEST(TokenStore, RawBlockIsCheckedOnFirstUseAndACorruptOneIsNamed) {
  TempDir dir;
  write_store(dir.path("s"), make_docs(200), 2, 128, /*compress=*/false);
  std::string shard = dir.path("s/train-00001.kts");
  flip_byte(shard, 300);  // block 1 of the second shard (256 bytes per block)
  TokenStore store = TokenStore::open(dir.path("s"));
  uint64_t shard1 = store.num_tokens(Split::kTrain) - TokenShard(shard).num_tokens();
  std::vector<std::byte> scratch;
  for (int attempt = 0; attempt < 2; ++attempt) {  // a block that failed is not marked checked
    try {
      (void)store.view(Split::kTrain, shard1 + 130, 10, scratch);
      FAIL() << "viewing a corrupt raw block must fail";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("train-00001.kts: block 1 at byte 256: checksum mismatch"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_NO_THROW((void)store.view(Split::kTrain, shard1 + 10, 10, scratch)) << "block 0 is intact";
  ASSERT_EQ(store.verify().size(), 1u);
  // A block checked once is served without hashing again (the mapping holds the page
  // cache's bytes), so a change after that is seen by verify, which always checks.
  flip_byte(shard, 10);  // block 0, already checked
  EXPECT_NO_THROW((void)store.view(Split::kTrain, shard1 + 10, 10, scratch));
  auto problems = store.verify();
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("train-00001.kts: block 0 "), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("train-00001.kts: block 1 "), std::string::npos) << problems[1];
}

std::vector<uint64_t> read_windows(TokenStream& s, int n, std::vector<std::vector<uint32_t>>* tokens = nullptr) {
  std::vector<uint64_t> order;
  Window w;
  for (int i = 0; i < n && s.next(w); ++i) {
    order.push_back(w.window);
    if (tokens) tokens->push_back(w.tokens);
  }
  return order;
}

TEST(TokenStream, EachEpochIsAPermutationOfAllWindows) {
  TempDir dir;
  auto flat = write_store(dir.path("s"), make_docs(400), 3, 256);
  TokenStore store = TokenStore::open(dir.path("s"));
  StreamOptions o;
  o.seq_len = 32;
  o.seed = 5;
  o.buffer_chunks = 4;
  TokenStream stream(store, o);
  uint64_t m = stream.windows_per_epoch();
  EXPECT_EQ(m, (flat.size() - 1) / 32);
  std::vector<std::vector<uint32_t>> tokens;
  auto epoch0 = read_windows(stream, int(m), &tokens);
  auto epoch1 = read_windows(stream, int(m));
  std::vector<uint64_t> sorted = epoch0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<uint64_t> all(m);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(sorted, all);
  EXPECT_NE(epoch0, all) << "not shuffled";
  EXPECT_NE(epoch0, epoch1) << "epochs must differ";
  // Each window is T+1 consecutive tokens of the split.
  for (size_t i = 0; i < 20; ++i)
    EXPECT_EQ(tokens[i], std::vector<uint32_t>(flat.begin() + long(epoch0[i] * 32), flat.begin() + long(epoch0[i] * 32 + 33)));
}

TEST(TokenStream, ShuffledEpochDecodesEachZstdBlockOnce) {
  TempDir dir;
  // One shard: block starts fall on the window grid (T divides 256), so a chunk's last
  // window ends one token into the next block. Three shards: the second and third start
  // off the grid, so each chunk there reads parts of two blocks.
  for (int shards : {1, 3}) {
    std::string path = dir.path(std::to_string(shards));
    auto flat = write_store(path, make_docs(600), shards, 256);
    TokenStore store = TokenStore::open(path);
    uint64_t blocks = 0;
    for (int s = 0; s < shards; ++s) blocks += TokenShard(path + "/train-0000" + std::to_string(s) + ".kts").num_blocks();
    ASSERT_GT(blocks, 60u);
    StreamOptions o;
    o.seq_len = 32;  // 8 windows per block
    o.seed = 3;
    o.buffer_chunks = 4;  // a cache of 12 blocks: most blocks are evicted before the epoch ends
    TokenStream stream(store, o);
    uint64_t m = stream.windows_per_epoch();
    std::vector<std::vector<uint32_t>> tokens;
    auto order = read_windows(stream, int(m));
    uint64_t first = store.blocks_decoded();
    EXPECT_GE(first, blocks);
    order = read_windows(stream, int(m), &tokens);
    uint64_t second = store.blocks_decoded() - first;
    // The next block's first token comes from its kept head once the block has been
    // decoded; without heads this was ~1.8 decodes per block per epoch. Blocks of shards
    // that start off the chunk grid are read by two chunks each: about two decodes.
    uint64_t first_shard = TokenShard(path + "/train-00000.kts").num_blocks();
    EXPECT_LE(second, first_shard + 2 * (blocks - first_shard)) << shards << " shards, first epoch " << first;
    EXPECT_GE(second, blocks - 12);  // at most the cache's 12 blocks carried over
    if (shards == 1) {
      EXPECT_LE(second, blocks);
    }
    for (size_t i = 0; i < order.size(); ++i)  // windows served from heads are right
      ASSERT_EQ(tokens[i], std::vector<uint32_t>(flat.begin() + long(order[i] * 32), flat.begin() + long(order[i] * 32 + 33)));
  }
}

TEST(TokenStream, DocumentStartsInWindowsFollowEot) {
  TempDir dir;
  write_store(dir.path("s"), make_docs(100), 1, 512);
  TokenStore store = TokenStore::open(dir.path("s"));
  StreamOptions o;
  o.seq_len = 64;
  o.shuffle = false;
  TokenStream stream(store, o);
  Window w;
  int starts = 0;
  while (stream.next(w) && w.epoch == 0) {
    for (uint32_t p : w.doc_starts) {
      ++starts;
      if (p > 0) {
        EXPECT_EQ(w.tokens[p - 1], kEot);
      }
    }
    if (w.window == 0) {
      EXPECT_EQ(w.doc_starts.front(), 0u);
    }
  }
  EXPECT_GT(starts, 90);
}

TEST(TokenStream, ResumeIsExactAndRanksPartitionTheGlobalOrder) {
  TempDir dir;
  write_store(dir.path("s"), make_docs(500), 4, 200);
  TokenStore store = TokenStore::open(dir.path("s"));
  StreamOptions o;
  o.seq_len = 16;
  o.seed = 42;
  o.buffer_chunks = 3;
  TokenStream single(store, o);
  uint64_t m = single.windows_per_epoch();
  auto global = read_windows(single, int(2 * m));  // two epochs

  for (int world : {1, 2, 4}) {
    auto per_rank = std::vector<std::vector<uint64_t>>(size_t(world));
    for (int rank = 0; rank < world; ++rank) {
      StreamOptions r = o;
      r.rank = rank;
      r.world_size = world;
      // Read in two sessions with a cursor saved and restored in between.
      TokenStream first(store, r);
      int n = int(m / uint64_t(world)) / 3;
      per_rank[size_t(rank)] = read_windows(first, n);
      std::string saved = first.cursor().to_json();
      TokenStream second(store, r);
      second.restore(StreamCursor::from_json(saved));
      auto rest = read_windows(second, int((m + uint64_t(world) - 1) / uint64_t(world)) - n);
      per_rank[size_t(rank)].insert(per_rank[size_t(rank)].end(), rest.begin(), rest.end());
      // Uninterrupted reading gives the same sequence.
      TokenStream straight(store, r);
      EXPECT_EQ(read_windows(straight, int(per_rank[size_t(rank)].size())), per_rank[size_t(rank)]);
    }
    // Interleaving the ranks gives back the global order of epoch 0.
    std::vector<uint64_t> merged;
    for (uint64_t g = 0; g < m; ++g) {
      auto& r = per_rank[g % uint64_t(world)];
      size_t i = size_t(g / uint64_t(world));
      ASSERT_LT(i, r.size()) << "world " << world;
      merged.push_back(r[i]);
    }
    EXPECT_EQ(merged, std::vector<uint64_t>(global.begin(), global.begin() + long(m))) << "world " << world;
  }
}

TEST(TokenStream, SameSeedSameOrderDifferentSeedDifferentOrder) {
  TempDir dir;
  write_store(dir.path("s"), make_docs(300), 2, 128);
  TokenStore store = TokenStore::open(dir.path("s"));
  StreamOptions o;
  o.seq_len = 16;
  o.seed = 1;
  TokenStream a(store, o), b(store, o);
  o.seed = 2;
  TokenStream c(store, o);
  auto x = read_windows(a, 100), y = read_windows(b, 100), z = read_windows(c, 100);
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
}

TEST(MixtureStream, SharesMatchWeightsAndResumeIsExact) {
  TempDir dir;
  write_store(dir.path("a"), make_docs(300, 1), 1, 256);
  write_store(dir.path("b"), make_docs(50, 3), 1, 256);
  write_store(dir.path("c"), make_docs(120, 7), 1, 256);
  TokenStore a = TokenStore::open(dir.path("a")), b = TokenStore::open(dir.path("b")), c = TokenStore::open(dir.path("c"));
  std::vector<MixtureSource> sources = {{&a, 0.5}, {&b, 0.2}, {&c, 0.3}};
  StreamOptions o;
  o.seq_len = 16;
  o.seed = 9;
  MixtureStream mix(sources, o);
  std::vector<uint64_t> count(3);
  std::vector<std::pair<size_t, uint64_t>> seq;
  Window w;
  size_t source;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(mix.next(w, &source));
    ++count[source];
    seq.push_back({source, w.window});
    uint64_t n = uint64_t(i + 1);
    // Exact up to one sample at every prefix.
    EXPECT_LE(std::abs(double(count[0]) - 0.5 * double(n)), 1.0);
    EXPECT_LE(std::abs(double(count[1]) - 0.2 * double(n)), 1.0);
  }
  EXPECT_EQ(count, (std::vector<uint64_t>{500, 200, 300}));
  // The small source repeats (epochs), the mixture goes on.
  // Resume and ranks: two ranks, each saved and restored halfway, interleave to the same sequence.
  std::vector<std::vector<std::pair<size_t, uint64_t>>> ranks(2);
  for (int r = 0; r < 2; ++r) {
    StreamOptions ro = o;
    ro.rank = r;
    ro.world_size = 2;
    MixtureStream m1(sources, ro);
    for (int i = 0; i < 200; ++i) {
      m1.next(w, &source);
      ranks[size_t(r)].push_back({source, w.window});
    }
    MixtureStream m2(sources, ro);
    m2.restore(MixtureCursor::from_json(m1.cursor().to_json()));
    for (int i = 0; i < 300; ++i) {
      m2.next(w, &source);
      ranks[size_t(r)].push_back({source, w.window});
    }
  }
  for (size_t g = 0; g < 1000; ++g) ASSERT_EQ(ranks[g % 2][g / 2], seq[g]) << "global sample " << g;
}

TEST(TokenInterop, ExportImportRoundTripsForEveryFormat) {
  TempDir dir;
  auto docs = make_docs(80);
  auto flat = write_store(dir.path("s"), docs, 2, 64);
  TokenStore store = TokenStore::open(dir.path("s"));
  TokenizerInfo tok{"test", "none", 60001, kEot};
  for (auto [format, name] : {std::pair{TokenFormat::kNanoGpt, "nanogpt"}, std::pair{TokenFormat::kLlmc, "llmc"},
                              std::pair{TokenFormat::kMegatron, "megatron"}}) {
    std::string file = dir.path(std::string("export.") + name);
    export_tokens(store, Split::kTrain, format, file);
    import_tokens(format, file, tok, dir.path(std::string("back_") + name));
    TokenStore back = TokenStore::open(dir.path(std::string("back_") + name));
    std::vector<uint32_t> tokens;
    back.read(Split::kTrain, 0, back.num_tokens(Split::kTrain), tokens);
    EXPECT_EQ(tokens, flat) << name;
    if (format != TokenFormat::kLlmc) {
      EXPECT_EQ(back.doc_starts(Split::kTrain), store.doc_starts(Split::kTrain)) << name;
    }
  }
}

}  // namespace
}  // namespace kiln
