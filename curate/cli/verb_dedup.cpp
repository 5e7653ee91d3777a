// kiln dedup: document-level exact + MinHash-LSH dedup, and its sub-verbs
//   kiln dedup plan      the LSH S-curve for a bands × rows setting
//   kiln dedup lines     cc_net-style removal of lines repeated across the corpus
//   kiln dedup decontam  drop documents sharing 13-grams with eval sets
// Flags map to dedup/ Options; the work is build_dedup_index / count_lines / the
// Decontaminator plus one run_pipeline with the filter stage.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "corpus/error.h"
#include "curate/cli/common.h"
#include "curate/report.h"
#include "curate/recipe.h"
#include "dedup/decontaminate.h"
#include "dedup/dedup.h"
#include "dedup/line_dedup.h"

namespace kiln::cli {
namespace {

using namespace kiln::dedup;

void add_minhash_flags(po::options_description& options) {
  options.add_options()
      ("bands,b", po::value<int>()->default_value(14), "LSH bands")
      ("rows,r", po::value<int>()->default_value(8), "signature values per band (K = bands × rows)");
}

int run_plan(const std::vector<std::string>& args) {
  po::options_description options("options");
  add_minhash_flags(options);
  po::positional_options_description positional;
  auto parsed = parse_args(args, options, positional, "kiln dedup plan [--bands B --rows R]",
                           "kiln dedup plan --bands 20 --rows 5");
  if (parsed.help) return 0;
  int b = parsed.values["bands"].as<int>(), r = parsed.values["rows"].as<int>();
  std::printf("MinHash-LSH: %d bands x %d rows = %d permutations\n", b, r, b * r);
  std::printf("P(candidate | Jaccard s) = 1 - (1 - s^%d)^%d; P = 0.5 at s = %.3f, (1/b)^(1/r) = %.3f\n\n", r, b,
              lsh_threshold(b, r), std::pow(1.0 / b, 1.0 / r));
  std::printf("   s     P(s)\n");
  for (int i = 0; i <= 20; ++i) {
    double s = i / 20.0, p = lsh_candidate_probability(s, b, r);
    std::printf("%5.2f  %6.4f  %s\n", s, p, std::string(size_t(std::lround(p * 50)), '#').c_str());
  }
  return 0;
}

NormalizeOptions normalize_flag(const po::variables_map& v, const char* name, NormalizeOptions fallback) {
  return v.count(name) ? NormalizeOptions::parse(v[name].as<std::string>()) : fallback;
}

int run_documents(const std::vector<std::string>& args) {
  po::options_description options("options");
  options.add_options()
      ("inputs", po::value<std::vector<std::string>>()->multitoken()->required(), "input files, globs or directories")
      ("output,o", po::value<std::string>()->required(), "output directory")
      ("mode", po::value<std::string>()->default_value("both"), "exact, near, or both")
      ("ngram,n", po::value<int>()->default_value(5), "shingle size (words, or code points with --char)")
      ("char", "character shingles instead of word shingles")
      ("seed", po::value<uint64_t>()->default_value(1), "permutation seed")
      ("normalize", po::value<std::string>(), "MinHash normalization (default lower,space,punct,digits)")
      ("exact-normalize", po::value<std::string>(), "exact-hash normalization (default space)")
      ("verify", po::value<double>()->default_value(0), "unite candidates only at exact Jaccard >= this (0 = off)")
      ("quality-field", po::value<std::string>(), "numeric field: the highest value survives a cluster")
      ("url-field", po::value<std::string>(), "string field with the URL: same URL = duplicate")
      ("memory,m", po::value<std::string>()->default_value("1G"), "memory budget for spill buffers and merges");
  add_minhash_flags(options);
  add_reader_flags(options);
  add_output_flags(options);
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = parse_args(args, options, positional,
                           "kiln dedup INPUTS... -o DIR [options]\n"
                           "       kiln dedup plan | lines | decontam ... (see --help of each)",
                           "kiln dedup crawl/*.jsonl.zst -o out/dedup --verify 0.8 --memory 4G");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  DedupOptions o;
  o.reader = reader_options_from(v);
  o.output_dir = v["output"].as<std::string>();
  const std::string& mode = v["mode"].as<std::string>();
  if (mode == "both") o.mode = DedupMode::kExactAndNear;
  else if (mode == "exact") o.mode = DedupMode::kExact;
  else if (mode == "near") o.mode = DedupMode::kNear;
  else throw Error(cat("--mode must be exact, near or both, not '", mode, "'"));
  o.minhash.ngram = v["ngram"].as<int>();
  o.minhash.shingle = v.count("char") ? ShingleKind::kChars : ShingleKind::kWords;
  o.minhash.bands = v["bands"].as<int>();
  o.minhash.rows = v["rows"].as<int>();
  o.minhash.seed = v["seed"].as<uint64_t>();
  o.minhash.normalize = normalize_flag(v, "normalize", o.minhash.normalize);
  o.exact_normalize = normalize_flag(v, "exact-normalize", o.exact_normalize);
  o.verify_threshold = v["verify"].as<double>();
  if (v.count("quality-field")) o.quality_field = v["quality-field"].as<std::string>();
  if (v.count("url-field")) o.url_field = v["url-field"].as<std::string>();
  o.memory_bytes = parse_byte_size(v["memory"].as<std::string>());
  PipelineOptions pipeline;
  pipeline.reader = o.reader;
  pipeline.output_dir = o.output_dir;
  apply_output_flags(v, pipeline);
  // The filter pass keeps the pipeline's batch size whatever --memory says: batches are
  // zstd frames, so sizing them from the budget would make the output bytes depend on it.
  o.threads = pipeline.threads;
  o.resume = pipeline.resume;
  std::vector<std::string> inputs = expand_inputs(v["inputs"].as<std::vector<std::string>>());

  DedupStats d = build_dedup_index(inputs, o);
  const bool distributed = d.num_ranks > 1;
  if (d.rank == 0) {
    if (distributed) std::printf("dedup index: %d MPI ranks\n", d.num_ranks);
    std::printf("dedup index: %llu docs, %llu clusters (%llu docs), removing %llu exact + %llu near duplicates%s\n",
                (unsigned long long)d.docs, (unsigned long long)d.num_clusters, (unsigned long long)d.docs_in_clusters,
                (unsigned long long)d.docs_removed_exact, (unsigned long long)d.docs_removed_near,
                d.resumed ? " (resumed)" : "");
    if (!o.url_field.empty())
      std::printf("             and %llu documents whose URL another one has\n", (unsigned long long)d.docs_removed_url);
    if (!d.resumed)
      std::printf("             signatures %.2fs, clustering %.2fs, %llu runs spilled, peak RSS %.0f MB\n",
                  d.seconds_signatures, d.seconds_clustering, (unsigned long long)d.runs_spilled,
                  double(d.peak_rss_bytes) / 1e6);
  }
  if (!d.resumed) pipeline.resume = false;  // a new index invalidates outputs of an earlier filter pass
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(DedupFilter::open(o.resolved_work_dir()));
  RunStats stats;
  if (!distributed) {
    pipeline.on_progress = terminal_progress();
    stats = run_pipeline(inputs, stages, pipeline);
  } else {
    // Every rank filters the block of inputs it indexed, writing their shards under
    // their global input index; rank 0 merges the ranks' statistics in input order.
    auto start = std::chrono::steady_clock::now();
    InputBlock block = dedup_rank_inputs(inputs.size());
    pipeline.slice = true;
    pipeline.slice_first_input = block.first;
    if (d.rank == 0) pipeline.on_progress = terminal_progress();
    std::vector<std::string> mine(inputs.begin() + long(block.first), inputs.begin() + long(block.end));
    RunStats local = run_pipeline(mine, stages, pipeline);
    std::vector<std::string> all = dedup_gather(local.to_json());
    if (d.rank != 0) return local.input_errors.empty() ? 0 : 3;
    for (const std::string& json : all) stats.merge(RunStats::from_json(json));
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    write_file(pipeline.output_dir + "/stats.json", stats.to_json() + "\n");
    std::printf("filter pass: %d MPI ranks, %zu inputs\n", d.num_ranks, inputs.size());
  }
  print_run_summary(stats, pipeline.output_dir);
  std::printf("clusters:  %s/clusters.jsonl\n", o.output_dir.c_str());
  std::printf("dedup:     %s/dedup_stats.json\n", o.output_dir.c_str());
  std::string command = "kiln dedup";
  for (auto& a : args) command += " " + a;
  std::printf("report:    %s\n", write_report(pipeline.output_dir, stats, RunInfo{command, "", ""}).c_str());
  return stats.input_errors.empty() ? 0 : 3;
}

int run_lines(const std::vector<std::string>& args) {
  po::options_description options("options");
  options.add_options()
      ("inputs", po::value<std::vector<std::string>>()->multitoken()->required(), "input files, globs or directories")
      ("output,o", po::value<std::string>()->required(), "output directory")
      ("max-count", po::value<uint64_t>()->default_value(1), "remove lines seen more than this many times")
      ("unit", po::value<std::string>()->default_value("line"), "line or paragraph")
      ("normalize", po::value<std::string>(), "line normalization (default lower,space,digits)")
      ("memory,m", po::value<std::string>()->default_value("1G"), "memory budget for spill buffers and merges");
  add_reader_flags(options);
  add_output_flags(options);
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = parse_args(args, options, positional, "kiln dedup lines INPUTS... -o DIR [options]",
                           "kiln dedup lines crawl/*.jsonl.zst -o out/lines --max-count 2");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  LineDedupOptions o;
  o.reader = reader_options_from(v);
  PipelineOptions pipeline;
  pipeline.reader = o.reader;
  pipeline.output_dir = v["output"].as<std::string>();
  apply_output_flags(v, pipeline);
  o.work_dir = pipeline.output_dir + "/.kiln/lines";
  o.max_count = v["max-count"].as<uint64_t>();
  const std::string& unit = v["unit"].as<std::string>();
  if (unit == "line") o.unit = LineUnit::kLine;
  else if (unit == "paragraph") o.unit = LineUnit::kParagraph;
  else throw Error(cat("--unit must be line or paragraph, not '", unit, "'"));
  o.normalize = normalize_flag(v, "normalize", o.normalize);
  o.memory_bytes = parse_byte_size(v["memory"].as<std::string>());
  o.threads = pipeline.threads;
  std::vector<std::string> inputs = expand_inputs(v["inputs"].as<std::vector<std::string>>());
  LineCountStats counts = count_lines(inputs, o);
  std::printf("lines: %llu counted, %llu distinct lines seen more than %llu times (%llu occurrences)\n",
              (unsigned long long)counts.lines, (unsigned long long)counts.distinct_frequent,
              (unsigned long long)o.max_count, (unsigned long long)counts.lines_frequent);
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(LineDedupFilter::open(o));
  pipeline.resume = false;  // the counts were just rebuilt
  pipeline.on_progress = terminal_progress();
  RunStats stats = run_pipeline(inputs, stages, pipeline);
  print_run_summary(stats, pipeline.output_dir);
  return stats.input_errors.empty() ? 0 : 3;
}

int run_decontam(const std::vector<std::string>& args) {
  po::options_description options("options");
  options.add_options()
      ("inputs", po::value<std::vector<std::string>>()->multitoken()->required(), "input files, globs or directories")
      ("output,o", po::value<std::string>()->required(), "output directory")
      ("eval,e", po::value<std::vector<std::string>>()->multitoken()->required(), "eval JSONL files or globs")
      ("ngram,n", po::value<int>()->default_value(13), "n-gram size in words")
      ("mark", "keep contaminated documents, with attribute eval_overlap, instead of dropping them");
  add_reader_flags(options);
  add_output_flags(options);
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = parse_args(args, options, positional, "kiln dedup decontam INPUTS... -o DIR --eval FILES... [options]",
                           "kiln dedup decontam crawl/*.jsonl.zst -o out/clean --eval eval/*.jsonl*");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  DecontaminationOptions o;
  o.eval_paths = expand_inputs(v["eval"].as<std::vector<std::string>>());
  o.ngram = v["ngram"].as<int>();
  if (v.count("mark")) o.action = ContaminationAction::kMark;
  PipelineOptions pipeline;
  pipeline.reader = reader_options_from(v);
  pipeline.output_dir = v["output"].as<std::string>();
  apply_output_flags(v, pipeline);
  pipeline.resume = false;  // the report covers the documents of this run only
  auto stage = Decontaminator::open(o);
  std::printf("eval index: %zu items, %zu distinct %d-grams\n", stage->num_items(), stage->num_ngrams(), o.ngram);
  Decontaminator* decontaminator = stage.get();
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::move(stage));
  pipeline.on_progress = terminal_progress();
  RunStats stats = run_pipeline(expand_inputs(v["inputs"].as<std::vector<std::string>>()), stages, pipeline);
  std::string report = pipeline.output_dir + "/decontamination.jsonl";
  write_file(report, decontaminator->report_jsonl());
  print_run_summary(stats, pipeline.output_dir);
  std::printf("eval items matched: %llu (%s)\n", (unsigned long long)decontaminator->num_items_matched(),
              report.c_str());
  return stats.input_errors.empty() ? 0 : 3;
}

int run_dedup(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (args[0] == "plan") return run_plan(rest);
    if (args[0] == "lines") return run_lines(rest);
    if (args[0] == "decontam") return run_decontam(rest);
  }
  return run_documents(args);
}

const VerbRegistration kDedup{
    {"dedup", "exact + MinHash-LSH dedup (sub-verbs: plan, lines, decontam), external-memory, deterministic",
     run_dedup}};

}  // namespace
}  // namespace kiln::cli
