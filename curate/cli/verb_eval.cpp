// kiln eval: loss / perplexity / bits-per-byte, multiple choice and a bias probe; JSON and HTML report.
#include <cstdio>

#include "corpus/stream.h"
#include "curate/cli/backend_flags.h"
#include "curate/cli/common.h"
#include "curate/cli/verb.h"
#include "trainer/eval.h"

namespace kiln::cli {
namespace {

int run_eval(const std::vector<std::string>& args) {
  using namespace kiln::trainer;
  po::options_description options("options");
  options.add_options()
      ("model,m", po::value<std::string>()->required(), "kiln or llm.c checkpoint")
      ("tokenizer", po::value<std::string>(), "tokenizer for text inputs: HF tokenizer.json or tiktoken ranks (default: byte-level, vocab 256); its <|endoftext|> conditions bias pairs")
      ("data", po::value<std::string>(), "perplexity data: .bin token file or text")
      ("seq-len,t", po::value<int>()->default_value(0), "perplexity window (0 = block size)")
      ("stride", po::value<int>()->default_value(0), "window step; smaller than --seq-len = sliding windows (0 = disjoint)")
      ("max-tokens", po::value<uint64_t>()->default_value(0), "score at most this many tokens (0 = all)")
      ("choice", po::value<std::string>(), "multiple-choice JSONL (HellaSwag: ctx, endings, label)")
      ("pairs", po::value<std::string>(), "sentence-pair CSV (CrowS-Pairs: sent_more, sent_less)")
      ("limit", po::value<size_t>()->default_value(0), "items per multiple-choice / pairs set (0 = all)")
      ("log", po::value<std::string>(), "training log (from kiln train --log) for the report's loss curve")
      ("json", po::value<std::string>(), "write the JSON report here (always printed to stdout)")
      ("html", po::value<std::string>(), "write a self-contained HTML report here")
      ("threads,j", po::value<int>()->default_value(0), "CPU threads (0 = all cores)");
  add_backend_flags(options);
  add_document_mask_flags(options);
  po::positional_options_description positional;
  auto parsed = parse_args(args, options, positional, "kiln eval -m MODEL [--data F] [--choice F] [--pairs F] [options]",
                           "kiln eval -m shakespeare.kiln --data val.txt --choice hellaswag.jsonl --limit 200 --html report.html");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  EvalOptions o;
  o.model_path = v["model"].as<std::string>();
  if (v.count("data")) o.data_path = v["data"].as<std::string>();
  if (v.count("tokenizer")) o.tokenizer_path = v["tokenizer"].as<std::string>();
  o.perplexity.seq_len = v["seq-len"].as<int>();
  o.perplexity.stride = v["stride"].as<int>();
  o.perplexity.max_tokens = v["max-tokens"].as<uint64_t>();
  o.mask_documents = v["mask-documents"].as<bool>();
  o.on_progress = terminal_item_progress("kiln eval");
  o.perplexity.end_of_document = explicit_end_of_document(v);
  if (v.count("choice")) o.choice_path = v["choice"].as<std::string>();
  if (v.count("pairs")) o.pairs_path = v["pairs"].as<std::string>();
  o.limit = v["limit"].as<size_t>();
  if (v.count("log")) o.log_path = v["log"].as<std::string>();
  o.threads = v["threads"].as<int>();
  o.make_backend = backend_factory(v);
  const EvalReport report = kiln::trainer::run_eval(o);
  const std::string json = report.to_json() + "\n";
  std::fputs(json.c_str(), stdout);
  if (v.count("json")) write_file(v["json"].as<std::string>(), json);
  if (v.count("html")) write_file(v["html"].as<std::string>(), report.to_html());
  return 0;
}

const VerbRegistration kEval{{"eval", "evaluate a model: perplexity, bits per byte, multiple choice, bias pairs", run_eval}};

}  // namespace
}  // namespace kiln::cli
