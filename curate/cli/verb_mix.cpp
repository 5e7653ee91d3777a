// kiln mix RECIPE.toml: a mixture of sources in exact proportions of a budget.
#include <cstdio>
#include <memory>

#include "curate/cli/common.h"
#include "curate/cli/tokenizer_encoder.h"
#include "curate/mix.h"

namespace kiln::cli {
namespace {

int run_mix_verb(const std::vector<std::string>& args) {
  po::options_description options("options");
  options.add_options()
      ("recipe", po::value<std::string>()->required(), "mix recipe TOML ([mix] + [[source]] tables)")
      ("threads,j", po::value<int>(), "worker threads (0 = all cores)");
  po::positional_options_description positional;
  positional.add("recipe", 1);
  auto parsed = parse_args(args, options, positional, "kiln mix RECIPE.toml",
                           "kiln mix mix.toml   # [mix] unit=\"tokens\" budget=1000000 ...; [[source]] name, paths, weight");
  if (parsed.help) return 0;
  MixOptions o = load_mix_recipe(parsed.values["recipe"].as<std::string>());
  if (parsed.values.count("threads")) o.threads = parsed.values["threads"].as<int>();
  std::unique_ptr<TokenizerEncoder> encoder;
  if (o.unit == MixUnit::kTokens) {
    tokenizer::TokenizerSource source;
    source.path = o.tokenizer;
    encoder = std::make_unique<TokenizerEncoder>(source, "");
  }
  o.on_progress = terminal_progress();
  MixResult r = run_mix(o, encoder.get());
  std::fputs(r.to_text().c_str(), stdout);
  std::printf("output: %s/<source>/epoch-<k>/part-*.jsonl.zst; shares in %s/mix.json\n", o.output_dir.c_str(),
              o.output_dir.c_str());
  return 0;
}

const VerbRegistration kMix{{"mix", "build a mixture of sources with exact token/byte/doc shares of a budget", run_mix_verb}};

}  // namespace
}  // namespace kiln::cli
