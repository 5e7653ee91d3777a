// kiln cat / kiln convert: documents from any supported format to JSONL on stdout or
// sharded .jsonl.zst, with nothing filtered.
#include "curate/cli/common.h"
#include "corpus/error.h"

namespace kiln::cli {
namespace {

int run_convert(const std::vector<std::string>& args, bool to_stdout) {
  po::options_description options("options");
  options.add_options()("inputs", po::value<std::vector<std::string>>()->multitoken()->required(),
                        "input files, globs or directories ('-' = stdin)");
  if (!to_stdout) options.add_options()("output,o", po::value<std::string>()->required(), "output directory");
  add_reader_flags(options);
  if (!to_stdout) add_output_flags(options);
  else options.add_options()("threads,j", po::value<int>()->default_value(0), "worker threads (0 = all cores)");
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = to_stdout ? parse_args(args, options, positional, "kiln cat INPUTS... [options]",
                                       "kiln cat crawl.warc.gz --format warc | head -n 1")
                          : parse_args(args, options, positional, "kiln convert INPUTS... -o DIR [options]",
                                       "kiln convert CC-MAIN-*.warc.wet.gz -o out/wet --shard-size 128M");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  PipelineOptions pipeline;
  pipeline.reader = reader_options_from(v);
  if (to_stdout) {
    pipeline.output_dir = "-";
    pipeline.threads = v["threads"].as<int>();
  } else {
    pipeline.output_dir = v["output"].as<std::string>();
    apply_output_flags(v, pipeline);
    pipeline.on_progress = terminal_progress();
  }
  std::vector<std::unique_ptr<Stage>> no_stages;
  RunStats stats = run_pipeline(expand_inputs(v["inputs"].as<std::vector<std::string>>()), no_stages, pipeline);
  if (!to_stdout) print_run_summary(stats, pipeline.output_dir);
  for (auto& e : stats.input_errors) std::fprintf(stderr, "kiln: input error: %s\n", e.c_str());
  if (to_stdout && stats.docs_rejected)
    std::fprintf(stderr, "kiln cat: %llu unreadable records skipped (use `kiln convert` to keep them in rejects/)\n",
                 (unsigned long long)stats.docs_rejected);
  return stats.input_errors.empty() ? 0 : 3;
}

const VerbRegistration kCat{{"cat", "print documents of any input format as JSONL on stdout",
                             [](const std::vector<std::string>& a) { return run_convert(a, true); }}};
const VerbRegistration kConvert{{"convert", "convert inputs (JSONL, WARC/WET, text; .gz/.zst) to sharded .jsonl.zst",
                                 [](const std::vector<std::string>& a) { return run_convert(a, false); }}};

}  // namespace
}  // namespace kiln::cli
