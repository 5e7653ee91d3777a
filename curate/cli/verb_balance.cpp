// kiln balance: representation over an attribute and rebalancing to target shares.
#include <cstdio>
#include <memory>

#include "corpus/error.h"
#include "curate/balance.h"
#include "curate/cli/common.h"
#include "curate/cli/tokenizer_encoder.h"
#include "curate/report.h"

namespace kiln::cli {
namespace {

int run_balance_verb(const std::vector<std::string>& args) {
  po::options_description options("options");
  options.add_options()
      ("inputs", po::value<std::vector<std::string>>()->multitoken()->required(), "tagged documents (files, globs, dirs)")
      ("attribute,a", po::value<std::string>()->required(), "attribute to balance over (\"attr.member\" for objects)")
      ("target", po::value<std::string>(), "target shares VALUE=SHARE,...; unnamed values are dropped")
      ("temperature", po::value<double>(), "temperature sampling: share ∝ units^(1/T)")
      ("max-repeats", po::value<double>()->default_value(4), "UniMax cap on repeats of any group")
      ("unit", po::value<std::string>()->default_value("bytes"), "bytes, docs or tokens")
      ("tokenizer,t", po::value<std::string>(), "tokenizer for --unit tokens")
      ("budget", po::value<uint64_t>()->default_value(0), "units to write (0 = as many as the input holds)")
      ("seed", po::value<uint64_t>()->default_value(0), "selection seed")
      ("output,o", po::value<std::string>(), "output directory (without: print the representation report only)")
      ("threads,j", po::value<int>()->default_value(0), "worker threads (0 = all cores)");
  add_reader_flags(options);
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = parse_args(args, options, positional, "kiln balance INPUTS... -a ATTRIBUTE (--target ... | --temperature T) [-o OUT]",
                           "kiln balance out/tagged -a lang --temperature 3.3 --max-repeats 4 -o out/balanced");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  BalanceOptions o;
  o.attribute = v["attribute"].as<std::string>();
  if (v.count("target")) o.target = parse_shares(v["target"].as<std::string>());
  if (v.count("temperature")) o.temperature = v["temperature"].as<double>();
  if (o.target.empty() && o.temperature <= 0) o.temperature = 1;  // report only: keep the shares
  o.max_repeats = v["max-repeats"].as<double>();
  const std::string& unit = v["unit"].as<std::string>();
  if (unit == "bytes") o.unit = MixUnit::kBytes;
  else if (unit == "docs") o.unit = MixUnit::kDocs;
  else if (unit == "tokens") o.unit = MixUnit::kTokens;
  else throw Error(cat("--unit must be bytes, docs or tokens, not '", unit, "'"));
  o.budget = v["budget"].as<uint64_t>();
  o.seed = v["seed"].as<uint64_t>();
  if (v.count("output")) o.output_dir = v["output"].as<std::string>();
  o.reader = reader_options_from(v);
  o.threads = v["threads"].as<int>();
  std::unique_ptr<TokenizerEncoder> encoder;
  if (o.unit == MixUnit::kTokens) {
    if (!v.count("tokenizer")) throw Error("--unit tokens needs --tokenizer");
    tokenizer::TokenizerSource source;
    source.path = v["tokenizer"].as<std::string>();
    encoder = std::make_unique<TokenizerEncoder>(source, "");
  }
  o.on_progress = terminal_progress();
  BalanceResult r = run_balance(expand_inputs(v["inputs"].as<std::vector<std::string>>()), o, encoder.get());
  std::fputs(r.to_text().c_str(), stdout);
  if (!o.output_dir.empty()) {
    std::string command = "kiln balance";
    for (auto& a : args) command += " " + a;
    write_file(o.output_dir + "/balance.html", render_balance_html(r, o.attribute, command));
    std::printf("output: %s/epoch-<k>/part-*.jsonl.zst; shares in %s/balance.json and balance.html\n",
                o.output_dir.c_str(), o.output_dir.c_str());
  }
  return 0;
}

const VerbRegistration kBalance{{"balance", "representation over an attribute; rebalance to target shares or a temperature",
                                 run_balance_verb}};

}  // namespace
}  // namespace kiln::cli
