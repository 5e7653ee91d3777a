// kiln curate RECIPE.toml: run a recipe (inputs → stages → shards + rejects + stats).
#include <iostream>

#include "corpus/error.h"
#include "curate/cli/common.h"
#include "curate/recipe.h"
#include "curate/report.h"

namespace kiln::cli {
namespace {

int run_curate(const std::vector<std::string>& args) {
  po::options_description options("options");
  options.add_options()
      ("recipe", po::value<std::string>()->required(), "recipe TOML file")
      ("output,o", po::value<std::string>(), "output directory (overrides [output] dir)")
      ("threads,j", po::value<int>(), "worker threads (0 = all cores; overrides [run] threads)")
      ("strict", "stop at the first unreadable record or stream error")
      ("no-resume", "redo inputs an earlier run completed");
  po::positional_options_description positional;
  positional.add("recipe", 1);
  auto parsed = parse_args(args, options, positional, "kiln curate RECIPE.toml [options]",
                           "kiln curate data/sample/recipe.toml -o out/sample");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  Recipe recipe = load_recipe(v["recipe"].as<std::string>(), default_stage_registry());
  if (v.count("output")) recipe.pipeline.output_dir = v["output"].as<std::string>();
  if (v.count("threads")) recipe.pipeline.threads = v["threads"].as<int>();
  if (v.count("strict")) recipe.pipeline.strict = true;
  if (v.count("no-resume")) recipe.pipeline.resume = false;
  if (recipe.pipeline.output_dir.empty()) throw Error(cat(recipe.path, ": no output: set [output] dir or pass -o"));
  recipe.pipeline.on_progress = terminal_progress();
  std::vector<std::string> inputs = expand_inputs(recipe.inputs);
  RunStats stats = run_pipeline(inputs, recipe.stages, recipe.pipeline);
  std::string command = "kiln curate";
  for (auto& a : args) command += " " + a;
  std::string report = write_report(recipe.pipeline.output_dir, stats, RunInfo{command, recipe.text, ""});
  print_run_summary(stats, recipe.pipeline.output_dir);
  std::printf("report:    %s\n", report.c_str());
  return stats.input_errors.empty() ? 0 : 3;
}

int run_report(const std::vector<std::string>& args) {
  po::options_description options("options");
  options.add_options()("dir", po::value<std::string>()->required(), "output directory of a curate run");
  po::positional_options_description positional;
  positional.add("dir", 1);
  auto parsed = parse_args(args, options, positional, "kiln report DIR", "kiln report out/sample && xdg-open out/sample/report.html");
  if (parsed.help) return 0;
  std::printf("report: %s\n", rewrite_report(parsed.values["dir"].as<std::string>()).c_str());
  return 0;
}

const VerbRegistration kReport{{"report", "render the data card (report.html, report.json) of a curate run again", run_report}};
const VerbRegistration kCurate{{"curate", "run a recipe: read, filter and transform, write shards, rejects and a report",
                                run_curate}};

}  // namespace
}  // namespace kiln::cli
