// kiln stats: counts, bytes and a length histogram of a corpus.
#include <iostream>

#include "curate/cli/common.h"
#include "curate/corpus_stats.h"
#include "curate/recipe.h"

namespace kiln::cli {
namespace {

int run_stats(const std::vector<std::string>& args) {
  po::options_description options("options");
  options.add_options()
      ("inputs", po::value<std::vector<std::string>>()->multitoken()->required(), "input files, globs or directories")
      ("json", "print JSON instead of a table")
      ("threads,j", po::value<int>()->default_value(0), "worker threads (0 = all cores)");
  add_reader_flags(options);
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = parse_args(args, options, positional, "kiln stats INPUTS... [options]",
                           "kiln stats out/sample/ --json");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  CorpusStats s = compute_corpus_stats(expand_inputs(v["inputs"].as<std::vector<std::string>>()),
                                       reader_options_from(v), v["threads"].as<int>());
  std::cout << (v.count("json") ? s.to_json() + "\n" : s.to_text());
  return s.run.input_errors.empty() ? 0 : 3;
}

int run_stages(const std::vector<std::string>& args) {
  po::options_description options("options");
  po::positional_options_description positional;
  auto parsed = parse_args(args, options, positional, "kiln stages", "kiln stages");
  if (parsed.help) return 0;
  std::cout << "stages usable in a recipe's [[stage]] type = \"...\":\n";
  for (const auto& f : default_stage_registry().all()) std::printf("  %-18s %s\n", f.name.c_str(), f.summary.c_str());
  return 0;
}

const VerbRegistration kStats{{"stats", "counts, bytes and a length histogram of a corpus", run_stats}};
const VerbRegistration kStages{{"stages", "list the stages a recipe can use", run_stages}};

}  // namespace
}  // namespace kiln::cli
