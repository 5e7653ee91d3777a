// Throughput of the quality rule sets on one core, next to `wc -w` over the same bytes.
//
//   bench_filters_quality [INPUT.jsonl[.zst]] [--repeat N] [--only NAME|all]
//
// Default input: ../shared/data/web/docs/webdocs.jsonl.zst (real web text), else the
// committed sample. Before timing, decisions on the committed sample are checked against
// tests/data/filters/quality_golden.jsonl. Reports MB/s (text bytes) per rule set and for
// all four on each document in turn (what a recipe with the four stages costs),
// median of 5 runs; then `wc -w` (C and C.UTF-8 locales) on the same bytes, median of 5.
// Two rates per line: bytes per wall-clock second, and bytes per CPU second (this
// thread's CPU time; wc's user + system time, wc spawned without a shell), which a loaded
// machine disturbs less.
// `--only NAME` times one rule set (or `all`) and skips wc: for a profiler.
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "corpus/reader.h"
#include "filters/quality.h"

using namespace kiln;
namespace fs = std::filesystem;

static std::vector<Document> read_docs(const std::string& path) {
  std::vector<Document> docs;
  ReaderOptions o;
  auto reader = DocumentReader::open(path, o);
  Record r;
  while (reader->next(r)) {
    DocumentReader::decode(r, o);
    if (!r.rejected()) docs.push_back(r.doc);
  }
  return docs;
}

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Times {
  double wall = 0, cpu = 0;  // seconds
};

static double thread_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + t.tv_nsec * 1e-9;
}

static double children_cpu_seconds() {
  rusage u;
  getrusage(RUSAGE_CHILDREN, &u);
  auto s = [](timeval v) { return double(v.tv_sec) + v.tv_usec * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// Wall and CPU time of fn; `cpu` reads this thread's clock, or the children's for a command.
static Times time_it(const std::function<void()>& fn, double (*cpu)() = thread_cpu_seconds) {
  auto t = std::chrono::steady_clock::now();
  double c = cpu();
  fn();
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count(), cpu() - c};
}

// Median of 5 runs, wall and CPU separately, as MB/s.
struct Rates {
  double wall = 0, cpu = 0;
};
static Rates rates(size_t bytes, const std::function<Times()>& run) {
  std::vector<double> wall, cpu;
  for (int k = 0; k < 5; ++k) {
    Times t = run();
    wall.push_back(t.wall);
    cpu.push_back(t.cpu);
  }
  return {bytes / 1e6 / median(wall), bytes / 1e6 / median(cpu)};
}

// `LC_ALL=locale wc -w < path > /dev/null`, spawned directly (no shell to time).
static void run_wc(const char* locale, const std::string& path) {
  std::vector<std::string> env_strings = {std::string("LC_ALL=") + locale};
  for (char** e = environ; *e; ++e)
    if (std::string_view(*e).substr(0, 7) != "LC_ALL=") env_strings.emplace_back(*e);
  std::vector<char*> env;
  for (auto& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  char arg0[] = "wc", arg1[] = "-w";
  char* argv[] = {arg0, arg1, nullptr};
  pid_t pid;
  int status = 0;
  if (posix_spawnp(&pid, "wc", &actions, nullptr, argv, env.data()) != 0 || waitpid(pid, &status, 0) != pid ||
      !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "wc -w failed\n");
    std::exit(1);
  }
  posix_spawn_file_actions_destroy(&actions);
}

int main(int argc, char** argv) {
  std::string source = KILN_SOURCE_DIR;
  std::string input = source + "/../shared/data/web/docs/webdocs.jsonl.zst";
  if (!fs::exists(input)) input = source + "/tests/data/filters/quality_sample.jsonl.zst";
  int repeat = 4;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--repeat" && i + 1 < argc) repeat = std::atoi(argv[++i]);
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else input = a;
  }

  // 1. Check: decisions on the committed sample equal the golden file's.
  {
    auto sample = read_docs(source + "/tests/data/filters/quality_sample.jsonl.zst");
    std::ifstream golden(source + "/tests/data/filters/quality_golden.jsonl");
    simdjson::dom::parser parser;
    std::string line;
    size_t i = 0, mismatches = 0;
    while (std::getline(golden, line) && i < sample.size()) {
      simdjson::dom::element g = parser.parse(line);
      const std::string& t = sample[i++].text;
      auto want = [&](const char* k) {
        auto r = g[k]["reason"];
        return r.is_null() ? std::string() : std::string(std::string_view(r));
      };
      GopherQualityStats a;
      GopherRepetitionStats b;
      C4Stats c;
      FineWebStats d;
      std::string cleaned;
      mismatches += want("gopher_quality") != check_gopher_quality(t, {}, a);
      mismatches += want("gopher_repetition") != check_gopher_repetition(t, {}, b);
      mismatches += want("c4") != check_c4(t, {}, c, cleaned);
      mismatches += want("fineweb") != check_fineweb(t, {}, d);
    }
    if (i != sample.size() || mismatches) {
      std::fprintf(stderr, "check failed: %zu of %zu documents compared, %zu mismatching decisions\n", i,
                   sample.size(), mismatches);
      return 1;
    }
    std::printf("check: %zu documents x 4 rule sets match quality_golden.jsonl\n", i);
  }

  // 2. Time.
  auto docs = read_docs(input);
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (int r = 0; r < repeat; ++r)
    for (auto& d : docs) {
      texts.push_back(d.text);
      bytes += d.text.size();
    }
  std::printf("input: %s (%zu docs x %d = %.1f MB of text)\n", input.c_str(), docs.size(), repeat, bytes / 1e6);
  auto stages = std::vector<std::pair<std::string, std::unique_ptr<Stage>>>{};
  stages.emplace_back("gopher_quality", make_gopher_quality_filter({}));
  stages.emplace_back("gopher_repetition", make_gopher_repetition_filter({}));
  C4Options c4;
  c4.mode = FilterMode::kTag;  // measure the rules, not the text rewrite
  stages.emplace_back("c4", make_c4_filter(c4));
  stages.emplace_back("fineweb", make_fineweb_filter({}));
  size_t sink = 0;
  auto run_stage = [&](const Stage& s) {
    auto state = s.make_state();
    Document doc;
    for (auto& t : texts) {
      doc.text = t;
      doc.attributes.clear();
      sink += s.process(doc, state.get()).kept();
    }
  };
  std::printf("%-20s %10s %10s\n", "rule set", "MB/s", "MB/s CPU");
  for (auto& [name, stage] : stages) {
    if (!only.empty() && only != name) continue;
    Rates r = rates(bytes, [&] { return time_it([&] { run_stage(*stage); }); });
    std::printf("%-20s %10.1f %10.1f\n", name.c_str(), r.wall, r.cpu);
  }
  if (!only.empty() && only != "all") return sink == 0 ? 2 : 0;
  // All four on each document in turn, as a pipeline runs them (words are computed once
  // per document and shared through cached_words).
  std::vector<std::unique_ptr<StageState>> states;
  for (auto& [name, stage] : stages) states.push_back(stage->make_state());
  Rates all = rates(bytes, [&] {
    return time_it([&] {
      Document doc;
      for (auto& t : texts) {
        doc.text = t;
        doc.attributes.clear();
        for (size_t i = 0; i < stages.size(); ++i) sink += stages[i].second->process(doc, states[i].get()).kept();
      }
    });
  });
  std::printf("%-20s %10.1f %10.1f\n", "all four", all.wall, all.cpu);
  if (!only.empty()) return sink == 0 ? 2 : 0;

  // 3. Peer: wc -w over the same bytes.
  fs::path tmp = fs::temp_directory_path() / ("kiln_bench_wc_" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(tmp, std::ios::binary);
    for (auto& t : texts) out << t << '\n';
  }
  for (const char* locale : {"C", "C.UTF-8"}) {
    Rates wc = rates(bytes, [&] { return time_it([&] { run_wc(locale, tmp.string()); }, children_cpu_seconds); });
    std::printf("%-20s %10.1f %10.1f   (all four = %.2fx wc; CPU: %.2fx)\n",
                (std::string("wc -w LC_ALL=") + locale).c_str(), wc.wall, wc.cpu, all.wall / wc.wall,
                all.cpu / wc.cpu);
  }
  fs::remove(tmp);
  return sink == 0 ? 2 : 0;
}
