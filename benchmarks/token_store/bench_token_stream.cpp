// Streaming read throughput of a token store against memcpy of the same bytes.
//
//   bench_token_stream [TOKENS] [RUNS] [zstd|raw]
//
// Builds a store of TOKENS uint16 tokens (zstd blocks of 64 Ki tokens, documents of
// 200-2000 tokens), then times reading every window of T=1024 with the seeded shuffle on,
// and a memcpy of the same number of bytes out of a warm buffer (the physical floor for
// bytes that are already in memory). Checks the windows first: each epoch is a
// permutation of all windows and every window equals the flat sequence at its position.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

#include "corpus/stream.h"
#include "corpus/token_store.h"

using namespace kiln;
using Clock = std::chrono::steady_clock;

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

int main(int argc, char** argv) {
  uint64_t total = argc > 1 ? std::stoull(argv[1]) : 50'000'000ull;
  int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  bool compress = argc > 3 ? std::string(argv[3]) != "raw" : true;
  std::string dir = std::filesystem::temp_directory_path() / "kiln-bench-store";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  // Token ids with a realistic spread (Zipf-like), so zstd's ratio is not flattering.
  std::mt19937_64 rng(1);
  std::vector<uint32_t> flat;
  flat.reserve(total);
  ShardWriterOptions o;
  o.compress = compress;
  TokenShardWriter writer(dir + "/train-00000.kts", o);
  std::vector<uint32_t> doc;
  while (flat.size() < total) {
    doc.clear();
    size_t len = 200 + rng() % 1800;
    for (size_t i = 0; i + 1 < len; ++i) {
      double u = double(rng() >> 11) / double(1ull << 53);
      doc.push_back(1 + uint32_t(std::pow(50000.0, u)) % 50000);
    }
    doc.push_back(0);
    writer.add_document(doc.data(), doc.size());
    flat.insert(flat.end(), doc.begin(), doc.end());
  }
  writer.finish();
  StoreManifest m;
  m.compressed = compress;
  m.tokenizer = {"bench", "", 50257, 0};
  m.train.push_back({"train-00000.kts", "bench", writer.num_tokens(), writer.num_docs()});
  write_file(dir + "/manifest.json", m.to_json());
  TokenStore store = TokenStore::open(dir);
  uint64_t stored = std::filesystem::file_size(dir + "/train-00000.kts");

  StreamOptions so;
  so.seq_len = 1024;
  so.seed = 3;
  so.max_epochs = 1;
  // Check before timing.
  {
    TokenStream s(store, so);
    std::vector<char> seen(s.windows_per_epoch(), 0);
    Window w;
    while (s.next(w)) {
      if (seen[w.window]++ || !std::equal(w.tokens.begin(), w.tokens.end(), flat.begin() + long(w.window * 1024))) {
        std::fprintf(stderr, "window %llu wrong\n", (unsigned long long)w.window);
        return 1;
      }
    }
    if (std::count(seen.begin(), seen.end(), 1) != long(seen.size())) return 1;
  }
  uint64_t windows = (store.num_tokens(Split::kTrain) - 1) / 1024;
  uint64_t bytes = windows * 1025 * 2;  // uint16 tokens delivered
  std::vector<double> stream_s, memcpy_s;
  std::vector<uint16_t> source(flat.begin(), flat.end()), sink(1025);
  for (int r = 0; r < runs; ++r) {
    TokenStream s(store, so);
    Window w;
    auto t0 = Clock::now();
    uint64_t n = 0;
    while (s.next(w)) n += w.tokens.size();
    stream_s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    t0 = Clock::now();
    uint64_t checksum = 0;
    for (uint64_t i = 0; i < windows; ++i) {
      std::memcpy(sink.data(), source.data() + i * 1024, 1025 * 2);
      checksum += sink[i % 1025];
    }
    memcpy_s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    if (checksum == 42) std::puts("");  // keeps the copies
    if (n != windows * 1025) return 1;
  }
  double ts = median(stream_s), tm = median(memcpy_s);
  std::printf("store: %llu tokens, %llu bytes on disk (%.2f bytes/token), %llu windows of 1025\n",
              (unsigned long long)store.num_tokens(Split::kTrain), (unsigned long long)stored,
              double(stored) / double(store.num_tokens(Split::kTrain)), (unsigned long long)windows);
  std::printf("runs: %d (medians)\n", runs);
  std::printf("TokenStream (shuffle, %s, checksums)  %8.3f s  %8.1f MB/s\n", compress ? "zstd" : "raw ", ts,
              double(bytes) / ts / 1e6);
  std::printf("memcpy of the same bytes                %8.3f s  %8.1f MB/s\n", tm, double(bytes) / tm / 1e6);
  std::printf("ratio stream / memcpy                   %8.3f\n", tm / ts);
  std::filesystem::remove_all(dir);
  return 0;
}
