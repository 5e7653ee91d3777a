// Streaming read throughput of a token store against its physical limits, in one run:
//
//   bench_token_stream [TOKENS] [RUNS]
//
// Builds stores of the same TOKENS uint16 tokens (64 Ki-token blocks, documents of
// 200-2000 Zipf-like ids), with zstd blocks and with raw blocks, and checks them
// before timing: each epoch is a permutation of all windows and every window equals the
// flat sequence at its position. Then, each run, times the same work side by side:
//   memcpy        every window's T+1 uint16 copied out of a warm in-memory array (the floor
//                 for bytes already in memory), in order, and in the stream's shuffled
//                 order (what random reads alone cost, with no store at all)
//   zstd alone    ZSTD_decompressDCtx of the store's very frames, one thread and one task
//                 per block on all threads (the stream decodes a buffer's blocks that way),
//                 skipping the frames' XXH64 as the store does: the ceiling for a zstd store
//   views         TokenStream::next(WindowView&) with the seeded shuffle on (T = 1024); each
//                 window copied into a sink, as memcpy does, so both sides deliver the same
//                 bytes. Raw blocks are checked on first use after a store is opened, so the
//                 raw store is timed twice: freshly opened (first epoch: every block hashed,
//                 the mapping faulted in) and in a later epoch (nothing left to check); zstd
//                 blocks are decoded and checked again every epoch. The zstd store is also
//                 timed cut into 4 shards of uneven size, as `kiln pack` writes one shard per
//                 input: blocks of shards that start off the chunk grid are decoded twice
//   windows       TokenStream::next(Window&): the copying API, widened to uint32
// and prints medians with the ratios the token store's goal is stated in.
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_d_forceIgnoreChecksum, as the store decodes
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "corpus/stream.h"
#include "corpus/token_store.h"

using namespace kiln;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t T = 1024;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double seconds(const std::function<void()>& work) {
  auto t0 = Clock::now();
  work();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Writes `flat` (cut into the documents given by `doc_ends`) as a store of `shards` shards
// of as many documents each (so of uneven token counts, as `kiln pack` makes one per input).
void write_store(const std::string& dir, const std::vector<uint32_t>& flat, const std::vector<size_t>& doc_ends,
                 bool compress, int shards = 1) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ShardWriterOptions o;
  o.compress = compress;
  StoreManifest m;
  m.compressed = compress;
  m.tokenizer = {"bench", "", 50257, 0};
  size_t begin = 0, per = (doc_ends.size() + size_t(shards) - 1) / size_t(shards);
  for (int s = 0; s < shards; ++s) {
    std::string name = "train-0000" + std::to_string(s) + ".kts";
    TokenShardWriter writer(dir + "/" + name, o);
    for (size_t d = size_t(s) * per; d < std::min(doc_ends.size(), size_t(s + 1) * per); ++d) {
      writer.add_document(flat.data() + begin, doc_ends[d] - begin);
      begin = doc_ends[d];
    }
    writer.finish();
    m.train.push_back({name, "bench", writer.num_tokens(), writer.num_docs()});
  }
  write_file(dir + "/manifest.json", m.to_json());
}

StreamOptions stream_options() {
  StreamOptions so;
  so.seq_len = T;
  so.seed = 3;
  so.max_epochs = 1;
  return so;
}

// One epoch through both APIs: a permutation of all windows, each equal to the flat sequence.
bool check(const TokenStore& store, const std::vector<uint32_t>& flat, const char* name, std::vector<uint64_t>& order) {
  TokenStream views(store, stream_options()), copies(store, stream_options());
  std::vector<char> seen(views.windows_per_epoch(), 0);
  WindowView v;
  Window w;
  while (views.next(v)) {
    bool ok = copies.next(w) && w.window == v.window && seen[v.window]++ == 0 && v.size == T + 1 &&
              std::equal(w.tokens.begin(), w.tokens.end(), flat.begin() + long(v.window * T));
    for (uint32_t i = 0; ok && i < v.size; ++i) ok = v[i] == flat[v.window * T + i];
    if (!ok) {
      std::fprintf(stderr, "%s: window %llu wrong\n", name, (unsigned long long)v.window);
      return false;
    }
    order.push_back(v.window);
  }
  if (std::count(seen.begin(), seen.end(), 1) != long(seen.size())) {
    std::fprintf(stderr, "%s: an epoch is not a permutation of the windows\n", name);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t total = argc > 1 ? std::stoull(argv[1]) : 50'000'000ull;
  int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  std::string root = std::filesystem::temp_directory_path() / "kiln-bench-store";

  // Token ids with a realistic spread (Zipf-like), so zstd's ratio is not flattering.
  std::mt19937_64 rng(1);
  std::vector<uint32_t> flat;
  std::vector<size_t> doc_ends;
  flat.reserve(total + 2000);
  while (flat.size() < total) {
    size_t len = 200 + rng() % 1800;
    for (size_t i = 0; i + 1 < len; ++i) {
      double u = double(rng() >> 11) / double(1ull << 53);
      flat.push_back(1 + uint32_t(std::pow(50000.0, u)) % 50000);
    }
    flat.push_back(0);
    doc_ends.push_back(flat.size());
  }
  write_store(root + "/zstd", flat, doc_ends, true);
  write_store(root + "/raw", flat, doc_ends, false);
  write_store(root + "/zstd4", flat, doc_ends, true, 4);
  TokenStore zstd_store = TokenStore::open(root + "/zstd"), raw_store = TokenStore::open(root + "/raw");
  TokenStore zstd4_store = TokenStore::open(root + "/zstd4");
  std::vector<uint64_t> order, raw_order, zstd4_order;  // the shuffled epoch's windows
  if (!check(zstd_store, flat, "zstd", order) || !check(raw_store, flat, "raw", raw_order) ||
      !check(zstd4_store, flat, "zstd, 4 shards", zstd4_order) || order != raw_order || order != zstd4_order)
    return 1;

  // The zstd store's frames, encoded again (encoding is deterministic: checked against the file).
  ShardWriterOptions zo;
  std::vector<EncodedBlock> frames;
  uint64_t frame_bytes = 0;
  for (size_t b = 0; b < flat.size(); b += zo.block_tokens) {
    std::vector<uint32_t> block(flat.begin() + long(b), flat.begin() + long(std::min(flat.size(), b + zo.block_tokens)));
    frames.push_back(TokenShardWriter::encode_block(block, zo));
    frame_bytes += frames.back().stored.size();
  }
  uint64_t zstd_file = std::filesystem::file_size(root + "/zstd/train-00000.kts");
  uint64_t raw_file = std::filesystem::file_size(root + "/raw/train-00000.kts");
  if (frame_bytes + 24 * frames.size() + 8 * doc_ends.size() + 64 != zstd_file) {
    std::fprintf(stderr, "re-encoded frames (%llu bytes) differ from the store's\n", (unsigned long long)frame_bytes);
    return 1;
  }

  const uint64_t windows = (flat.size() - 1) / T;
  const uint64_t bytes = windows * (T + 1) * 2;     // uint16 tokens delivered
  const uint64_t decoded_bytes = flat.size() * 2;  // what zstd alone produces
  std::vector<uint16_t> source(flat.begin(), flat.end()), sink(T + 1);
  std::vector<std::vector<char>> outputs(frames.size(), std::vector<char>(size_t(zo.block_tokens) * 2));
  uint64_t checksum = 0;

  auto memcpy_windows = [&] {
    for (uint64_t i = 0; i < windows; ++i) {
      std::memcpy(sink.data(), source.data() + i * T, (T + 1) * 2);
      checksum += sink[i % (T + 1)];
    }
  };
  auto memcpy_shuffled = [&] {  // the same copies in the stream's order: what shuffling alone costs
    for (uint64_t i = 0; i < windows; ++i) {
      std::memcpy(sink.data(), source.data() + order[i] * T, (T + 1) * 2);
      checksum += sink[i % (T + 1)];
    }
  };
  auto decode = [&](size_t b) {
    thread_local ZSTD_DCtx* dctx = [] {
      ZSTD_DCtx* d = ZSTD_createDCtx();
      ZSTD_DCtx_setParameter(d, ZSTD_d_forceIgnoreChecksum, ZSTD_d_ignoreChecksum);  // the store checks XXH3 instead
      return d;
    }();
    const std::string& f = frames[b].stored;
    size_t n = ZSTD_decompressDCtx(dctx, outputs[b].data(), outputs[b].size(), f.data(), f.size());
    if (ZSTD_isError(n)) std::abort();
  };
  auto zstd_one_thread = [&] {
    for (size_t b = 0; b < frames.size(); ++b) decode(b);
  };
  auto zstd_all_threads = [&] { tbb::parallel_for(size_t(0), frames.size(), decode); };
  auto stream_views = [&](const TokenStore& store) {
    TokenStream s(store, stream_options());
    WindowView v;
    uint64_t n = 0;
    while (s.next(v)) {
      std::memcpy(sink.data(), v.data, size_t(v.size) * 2);
      checksum += sink[n++ % (T + 1)];
    }
    if (n != windows) std::abort();
  };
  auto stream_windows = [&](const TokenStore& store) {
    TokenStream s(store, stream_options());
    Window w;
    uint64_t n = 0;
    while (s.next(w)) checksum += w.tokens[n++ % (T + 1)];
    if (n != windows) std::abort();
  };

  enum { kMemcpy, kMemcpyShuffled, kZstd1, kZstdN, kRawViewsFirst, kRawViews, kZstdViews, kZstd4Views, kRawWindows,
         kZstdWindows, kSides };
  std::vector<std::vector<double>> t(kSides);
  const uint64_t decoded_before_timing = zstd_store.blocks_decoded();  // views and windows: 2 epochs a run
  const uint64_t decoded4_before_timing = zstd4_store.blocks_decoded();  // views: 1 epoch a run
  for (int r = 0; r < runs; ++r) {  // sides interleaved, so load changes hit all of them
    t[kMemcpy].push_back(seconds(memcpy_windows));
    t[kMemcpyShuffled].push_back(seconds(memcpy_shuffled));
    t[kZstd1].push_back(seconds(zstd_one_thread));
    t[kZstdN].push_back(seconds(zstd_all_threads));
    TokenStore fresh = TokenStore::open(root + "/raw");
    t[kRawViewsFirst].push_back(seconds([&] { stream_views(fresh); }));
    t[kRawViews].push_back(seconds([&] { stream_views(raw_store); }));
    t[kZstdViews].push_back(seconds([&] { stream_views(zstd_store); }));
    t[kZstd4Views].push_back(seconds([&] { stream_views(zstd4_store); }));
    t[kRawWindows].push_back(seconds([&] { stream_windows(raw_store); }));
    t[kZstdWindows].push_back(seconds([&] { stream_windows(zstd_store); }));
  }
  if (checksum == 42) std::puts("");  // keeps the copies
  std::vector<double> m(kSides);
  for (int i = 0; i < kSides; ++i) m[size_t(i)] = median(t[size_t(i)]);

  std::printf("store: %llu tokens, %llu windows of %u; zstd %.2f bytes/token, raw %.2f; %d runs (medians), %d threads\n",
              (unsigned long long)flat.size(), (unsigned long long)windows, T + 1, double(zstd_file) / double(flat.size()),
              double(raw_file) / double(flat.size()), runs, tbb::info::default_concurrency());
  auto line = [&](const char* what, int side, uint64_t n) {
    std::printf("%-50s %7.4f s %9.1f MB/s %7.3f x memcpy\n", what, m[size_t(side)], double(n) / m[size_t(side)] / 1e6,
                (double(n) / m[size_t(side)]) / (double(bytes) / m[kMemcpy]));
  };
  line("memcpy of the same bytes", kMemcpy, bytes);
  line("memcpy of the same windows in shuffled order", kMemcpyShuffled, bytes);
  line("zstd decompression alone, 1 thread", kZstd1, decoded_bytes);
  line("zstd decompression alone, all threads", kZstdN, decoded_bytes);
  line("TokenStream views, shuffle, raw, first epoch", kRawViewsFirst, bytes);
  line("TokenStream views, shuffle, raw, later epochs", kRawViews, bytes);
  line("TokenStream views, shuffle, zstd", kZstdViews, bytes);
  line("TokenStream views, shuffle, zstd, 4 shards", kZstd4Views, bytes);
  line("TokenStream windows (uint32 copy), shuffle, raw", kRawWindows, bytes);
  line("TokenStream windows (uint32 copy), shuffle, zstd", kZstdWindows, bytes);
  auto speed = [&](int side, uint64_t n) { return double(n) / m[size_t(side)]; };
  std::printf("zstd blocks decoded per epoch by the stream: %.2f of %zu (after the first epoch); 4 shards: %.2f\n",
              double(zstd_store.blocks_decoded() - decoded_before_timing) / (2.0 * runs), frames.size(),
              double(zstd4_store.blocks_decoded() - decoded4_before_timing) / runs);
  std::printf("zstd views / zstd alone: %.3f of all threads, %.3f of 1 thread\n",
              speed(kZstdViews, bytes) / speed(kZstdN, decoded_bytes), speed(kZstdViews, bytes) / speed(kZstd1, decoded_bytes));
  std::filesystem::remove_all(root);
  return 0;
}
