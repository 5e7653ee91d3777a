// kiln tokenizer throughput: encode a list of documents with 1 thread and with all
// threads, after checking the ids against a reference (the peer's ids, same documents).
//
//   bench_tokenizer --tiktoken cl100k_base.tiktoken --pattern cl100k_base \
//       --docs english.docs --expect english.cl100k.ids --runs 5
//   bench_tokenizer --hf tokenizer.json --docs ... --train corpus.txt --vocab 32000
//
// --docs: documents separated by the byte 0x1E (record separator). --expect: the ids of
// all documents concatenated, little-endian uint32. Prints one line per measurement:
//   kiln <what> threads=<n> MB/s=<median> runs=<...>
#include <tbb/global_control.h>
#include <tbb/info.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "corpus/stream.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/trainer.h"

using namespace kiln;
using namespace kiln::tokenizer;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// CPU time of this thread: on a shared, loaded machine it moves far less than wall time.
double thread_cpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

const char* arg(int argc, char** argv, const char* name, const char* fallback = nullptr) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int runs = std::atoi(arg(argc, argv, "--runs", "5"));
    const char* label = arg(argc, argv, "--label", "");
    if (const char* corpus = arg(argc, argv, "--train")) {
      // Training time: count + merges, medians of `runs`.
      TrainerOptions o;
      o.vocab_size = static_cast<uint32_t>(std::atoi(arg(argc, argv, "--vocab", "32000")));
      o.pattern = parse_pattern(arg(argc, argv, "--pattern", "gpt2"));
      o.all_bytes_in_alphabet = false;
      std::vector<double> count_s, merge_s;
      for (int r = 0; r < runs; ++r) {
        const double t0 = now();
        BpeTrainer trainer(o);
        trainer.add_files({corpus});
        const double t1 = now();
        const Tokenizer tok = trainer.train();
        const double t2 = now();
        count_s.push_back(t1 - t0);
        merge_s.push_back(t2 - t1);
        if (r == 0) {
          if (const char* out = arg(argc, argv, "--save")) tok.save_hf_json(out);
          std::printf("kiln train %s words=%zu merges=%zu\n", label, trainer.num_distinct_words(), tok.num_merges());
        }
      }
      std::printf("kiln train %s count_s=%.2f merge_s=%.2f total_s=%.2f\n", label, median(count_s), median(merge_s),
                  median(count_s) + median(merge_s));
      return 0;
    }

    const Tokenizer tok = arg(argc, argv, "--hf") ? Tokenizer::from_hf_json(arg(argc, argv, "--hf"))
                                                  : Tokenizer::from_tiktoken_file(arg(argc, argv, "--tiktoken"),
                                                                                  parse_pattern(arg(argc, argv, "--pattern")));
    const std::string all = read_file(arg(argc, argv, "--docs"));
    std::vector<std::string_view> docs;
    for (size_t p = 0; p <= all.size();) {
      size_t e = all.find('\x1e', p);
      if (e == std::string::npos) e = all.size();
      docs.emplace_back(all.data() + p, e - p);
      p = e + 1;
    }
    EncodeOptions options;
    options.special = SpecialMode::kAsText;

    // Check before timing.
    std::vector<uint32_t> ids;
    for (auto d : docs) tok.encode(d, ids, options);
    if (const char* expect = arg(argc, argv, "--expect")) {
      const std::string want = read_file(expect);
      if (want.size() != ids.size() * 4 || std::memcmp(want.data(), ids.data(), want.size()) != 0) {
        size_t k = 0;
        while (k < ids.size() && (k + 1) * 4 <= want.size() && std::memcmp(want.data() + 4 * k, &ids[k], 4) == 0) ++k;
        std::fprintf(stderr, "bench_tokenizer: ids differ from %s at token %zu (kiln %zu ids, reference %zu)\n", expect, k,
                     ids.size(), want.size() / 4);
        return 1;
      }
    }
    if (const char* dump = arg(argc, argv, "--dump-ids")) {
      write_file(dump, std::string_view(reinterpret_cast<const char*>(ids.data()), ids.size() * 4));
    }
    const double mb = static_cast<double>(all.size()) / 1e6;
    const int max_threads = tbb::info::default_concurrency();
    for (int threads : {1, max_threads}) {
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
      std::vector<double> rates, cpu_rates;
      for (int r = 0; r < runs; ++r) {
        const double t0 = now(), c0 = thread_cpu();
        size_t n = 0;
        if (threads == 1) {
          std::vector<uint32_t> out;
          for (auto d : docs) {
            out.clear();
            tok.encode(d, out, options);
            n += out.size();
          }
        } else {
          for (const auto& v : tok.encode_batch(std::span<const std::string_view>(docs), options)) n += v.size();
        }
        const double t = now() - t0, c = thread_cpu() - c0;
        if (n != ids.size()) return 1;
        rates.push_back(mb / t);
        cpu_rates.push_back(mb / c);
      }
      if (threads == 1) {
        std::printf("kiln %s threads=1 MB/s=%.2f cpu_MB/s=%.2f tokens=%zu MB=%.1f\n", label, median(rates),
                    median(cpu_rates), ids.size(), mb);
      } else {
        std::printf("kiln %s threads=%d MB/s=%.2f tokens=%zu MB=%.1f\n", label, threads, median(rates), ids.size(), mb);
      }
      if (max_threads == 1) break;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
}
