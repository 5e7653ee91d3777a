// kiln filter INPUTS... -o DIR --stage NAME[:key=value,...] ...: run registered stages
// (quality rules, language ID, ...) over inputs without writing a recipe.
#include "corpus/error.h"
#include "curate/cli/common.h"
#include "curate/recipe.h"

namespace kiln::cli {
namespace {

// "gopher_quality:mode=tag,min_words=20" → the stage built from the registry.
std::unique_ptr<Stage> stage_from_flag(const std::string& spec) {
  size_t colon = spec.find(':');
  std::string name = spec.substr(0, colon);
  std::string options = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (!default_stage_registry().find(name))
    throw Error(cat("--stage ", spec, ": no stage named '", name, "' (`kiln stages` lists them)"));
  return default_stage_registry().make(name, StageConfig::from_key_values(options));
}

int run_filter(const std::vector<std::string>& args) {
  po::options_description options("options");
  options.add_options()
      ("inputs", po::value<std::vector<std::string>>()->multitoken()->required(),
       "input files, globs or directories ('-' = stdin)")
      ("output,o", po::value<std::string>()->required(), "output directory ('-' = JSONL on stdout)")
      ("stage,s", po::value<std::vector<std::string>>()->required(),
       "NAME[:key=value,...], repeatable, run in the order given (`kiln stages` lists names)");
  add_reader_flags(options);
  add_output_flags(options);
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = parse_args(args, options, positional, "kiln filter INPUTS... -o DIR --stage NAME[:k=v,...]...",
                           "kiln filter crawl.jsonl.zst -o out/q --stage gopher_repetition --stage "
                           "gopher_quality --stage c4:filter_no_terminal_punct=false --stage fineweb:mode=tag");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  std::vector<std::unique_ptr<Stage>> stages;
  for (const auto& spec : v["stage"].as<std::vector<std::string>>()) stages.push_back(stage_from_flag(spec));
  PipelineOptions pipeline;
  pipeline.reader = reader_options_from(v);
  pipeline.output_dir = v["output"].as<std::string>();
  apply_output_flags(v, pipeline);
  bool to_stdout = pipeline.output_dir == "-";
  if (!to_stdout) pipeline.on_progress = terminal_progress();
  RunStats stats = run_pipeline(expand_inputs(v["inputs"].as<std::vector<std::string>>()), stages, pipeline);
  if (!to_stdout) print_run_summary(stats, pipeline.output_dir);
  for (auto& e : stats.input_errors) std::fprintf(stderr, "kiln: input error: %s\n", e.c_str());
  return stats.input_errors.empty() ? 0 : 3;
}

const VerbRegistration kFilter{{"filter", "run stages given on the command line (--stage NAME[:k=v,...]) over inputs",
                                run_filter}};

}  // namespace
}  // namespace kiln::cli
