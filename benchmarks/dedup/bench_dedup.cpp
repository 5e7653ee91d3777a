// bench_dedup: single-thread throughput of each dedup step on a JSONL corpus, after
// checking the fast MinHash against the reference implementation on the same input.
//
//   bench_dedup CORPUS.jsonl[.zst] [--repeat 5]
//
// Prints, per step, the median over repeats of MB/s (text bytes) and docs/s on one
// thread (wall clock; and all four steps by the thread's CPU time, the per-core rate
// when other jobs share the machine), then all four steps on 2 threads (documents
// split in two halves by bytes, wall clock).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "corpus/error.h"
#include "corpus/reader.h"
#include "dedup/minhash.h"
#include "dedup/normalize.h"

using namespace kiln;
using namespace kiln::dedup;
using Clock = std::chrono::steady_clock;

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_dedup CORPUS.jsonl[.zst] [--repeat N]\n");
    return 2;
  }
  int repeat = 5;
  for (int i = 2; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], "--repeat")) repeat = std::atoi(argv[i + 1]);
  try {
    std::vector<std::string> texts;
    ReaderOptions ro;
    auto reader = DocumentReader::open(argv[1], ro);
    Record r;
    uint64_t bytes = 0;
    auto t_read = Clock::now();
    while (reader->next(r)) {
      DocumentReader::decode(r, ro);
      if (r.rejected() || r.skipped()) continue;
      bytes += r.doc.text.size();
      texts.push_back(std::move(r.doc.text));
    }
    double read_s = std::chrono::duration<double>(Clock::now() - t_read).count();
    std::printf("corpus: %zu docs, %.1f MB of text; read+decompress+parse %.1f MB/s\n", texts.size(), bytes / 1e6,
                bytes / 1e6 / read_s);
    MinHashOptions mo;
    MinHasher hasher(mo);
    const int K = mo.num_perm();
    // Check before timing: the vector path equals the __int128 reference.
    {
      std::string norm;
      std::vector<uint64_t> sh;
      std::vector<uint32_t> a(K), b(K);
      for (size_t i = 0; i < std::min<size_t>(texts.size(), 200); ++i) {
        normalize_text(texts[i], mo.normalize, norm);
        shingle_hashes(norm, mo.shingle, mo.ngram, sh);
        hasher.signature(sh, a.data());
        hasher.signature_reference(sh, b.data());
        if (a != b) throw Error(cat("signature mismatch on document ", i));
      }
    }
    struct Step {
      const char* name;
      std::vector<double> secs;
    };
    std::vector<Step> steps = {{"normalize", {}}, {"shingles (xxh3-64)", {}}, {"signature (K=112)", {}},
                               {"band keys (14)", {}}, {"all four", {}},
                               {"all four, CPU time", {}}};
    std::string norm;
    std::vector<uint64_t> sh;
    std::vector<uint32_t> sig(K);
    std::vector<Key128> keys(mo.bands);
    uint64_t sink = 0;
    for (int rep = 0; rep < repeat; ++rep) {
      double t[4] = {0, 0, 0, 0};
      const double cpu0 = thread_cpu_seconds();
      for (auto& text : texts) {
        auto t0 = Clock::now();
        normalize_text(text, mo.normalize, norm);
        auto t1 = Clock::now();
        shingle_hashes(norm, mo.shingle, mo.ngram, sh);
        auto t2 = Clock::now();
        hasher.signature(sh, sig.data());
        auto t3 = Clock::now();
        hasher.band_keys(sig.data(), keys.data());
        auto t4 = Clock::now();
        sink += keys[0].lo;
        t[0] += std::chrono::duration<double>(t1 - t0).count();
        t[1] += std::chrono::duration<double>(t2 - t1).count();
        t[2] += std::chrono::duration<double>(t3 - t2).count();
        t[3] += std::chrono::duration<double>(t4 - t3).count();
      }
      for (int i = 0; i < 4; ++i) steps[i].secs.push_back(t[i]);
      steps[4].secs.push_back(t[0] + t[1] + t[2] + t[3]);
      // CPU time of this thread (timer reads included): the per-core rate, which other
      // jobs on the machine do not dilute the way they dilute wall-clock time.
      steps[5].secs.push_back(thread_cpu_seconds() - cpu0);
    }
    std::printf("%-22s %10s %12s   (median of %d, one thread)\n", "step", "MB/s", "docs/s", repeat);
    for (auto& s : steps) {
      std::sort(s.secs.begin(), s.secs.end());
      double med = s.secs[s.secs.size() / 2];
      std::printf("%-22s %10.1f %12.0f\n", s.name, bytes / 1e6 / med, texts.size() / med);
    }
    // Two threads, each with its own scratch, over halves of equal text bytes.
    {
      size_t half = 0;
      for (uint64_t acc = 0; half < texts.size() && acc < bytes / 2; ++half) acc += texts[half].size();
      std::vector<double> secs;
      std::atomic<uint64_t> sink2{0};
      auto run = [&](size_t from, size_t to) {
        std::string n2;
        std::vector<uint64_t> sh2;
        std::vector<uint32_t> sig2(K);
        std::vector<Key128> keys2(mo.bands);
        uint64_t local = 0;
        for (size_t i = from; i < to; ++i) {
          normalize_text(texts[i], mo.normalize, n2);
          shingle_hashes(n2, mo.shingle, mo.ngram, sh2);
          hasher.signature(sh2, sig2.data());
          hasher.band_keys(sig2.data(), keys2.data());
          local += keys2[0].lo;
        }
        sink2 += local;
      };
      for (int rep = 0; rep < repeat; ++rep) {
        auto t0 = Clock::now();
        std::thread other(run, half, texts.size());
        run(0, half);
        other.join();
        secs.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      }
      std::sort(secs.begin(), secs.end());
      double med = secs[secs.size() / 2];
      std::printf("%-22s %10.1f %12.0f   (2 threads, wall clock)\n", "all four, 2 threads", bytes / 1e6 / med,
                  texts.size() / med);
      sink += sink2.load();
    }
    if (sink == 42) std::printf(" ");
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_dedup: %s\n", e.what());
    return 1;
  }
  return 0;
}
