// kiln langid train|eval: train the character n-gram language-ID model on labelled JSONL,
// or measure a model's accuracy on labelled JSONL. Use it in a pipeline with
// `kiln filter ... --stage langid:languages=[\"eng\"]` or a recipe's [[stage]] type = "langid".
#include <cstdio>

#include "corpus/error.h"
#include "curate/cli/common.h"
#include "filters/langid.h"

namespace kiln::cli {
namespace {

void add_label_flags(po::options_description& options) {
  options.add_options()
      ("inputs", po::value<std::vector<std::string>>()->multitoken()->required(), "labelled JSONL files (.zst/.gz ok)")
      ("label-field", po::value<std::string>()->default_value("lang"), "JSON field holding the label")
      ("text-field", po::value<std::string>()->default_value("text"), "JSON field holding the text");
}

LangIdTrainInputs inputs_from(const po::variables_map& v) {
  LangIdTrainInputs in;
  in.paths = expand_inputs(v["inputs"].as<std::vector<std::string>>());
  in.label_field = v["label-field"].as<std::string>();
  in.text_field = v["text-field"].as<std::string>();
  return in;
}

int run_train(const std::vector<std::string>& args) {
  LangIdTrainOptions d;
  po::options_description options("options");
  add_label_flags(options);
  options.add_options()
      ("output,o", po::value<std::string>()->required(), "model file to write")
      ("min-n", po::value<int>()->default_value(d.min_n), "shortest character n-gram")
      ("max-n", po::value<int>()->default_value(d.max_n), "longest character n-gram")
      ("max-ngrams", po::value<uint32_t>()->default_value(d.max_ngrams_per_language), "n-grams kept per language")
      ("alpha", po::value<double>()->default_value(d.alpha), "additive smoothing");
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = parse_args(args, options, positional, "kiln langid train INPUTS... -o MODEL [options]",
                           "kiln langid train train.jsonl --label-field lang -o langid.kiln");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  LangIdTrainOptions o;
  o.min_n = v["min-n"].as<int>();
  o.max_n = v["max-n"].as<int>();
  if (o.min_n < 1 || o.max_n < o.min_n || o.max_n > 8) throw Error("--min-n/--max-n: need 1 <= min-n <= max-n <= 8");
  o.max_ngrams_per_language = v["max-ngrams"].as<uint32_t>();
  o.alpha = v["alpha"].as<double>();
  if (!(o.alpha > 0)) throw Error("--alpha must be > 0");
  LangIdModel model = train_langid(inputs_from(v), o);
  model.save(v["output"].as<std::string>());
  std::printf("%s: %zu languages, %zu n-grams, %zu entries\n", v["output"].as<std::string>().c_str(),
              model.labels().size(), model.num_ngrams(), model.num_entries());
  return 0;
}

int run_eval(const std::vector<std::string>& args) {
  po::options_description options("options");
  add_label_flags(options);
  options.add_options()("model,m", po::value<std::string>(), "model file (default: the shipped model)")
      ("max-bytes", po::value<size_t>()->default_value(0), "classify only the first bytes of each text (0 = all)");
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = parse_args(args, options, positional, "kiln langid eval INPUTS... [-m MODEL]",
                           "kiln langid eval test.jsonl -m langid.kiln");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  LangIdModel model = LangIdModel::load(v.count("model") ? v["model"].as<std::string>() : default_langid_model_path());
  LangIdEvaluation e = evaluate_langid(model, inputs_from(v), v["max-bytes"].as<size_t>());
  std::printf("{\"docs\": %llu, \"correct\": %llu, \"accuracy\": %.4f, \"seconds\": %.3f, \"docs_per_second\": %.0f}\n",
              (unsigned long long)e.docs, (unsigned long long)e.correct, e.accuracy(), e.seconds,
              e.seconds > 0 ? double(e.docs) / e.seconds : 0.0);
  return 0;
}

int run_langid(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf("usage: kiln langid train INPUTS... -o MODEL | kiln langid eval INPUTS... [-m MODEL]\n"
                "  classify documents in a pipeline with: kiln filter IN -o OUT --stage langid[:min_confidence=0.5]\n\n"
                "example:\n  kiln langid eval held_out.jsonl.zst   # accuracy of the shipped model (see kiln langid train --help)\n");
    return args.empty() ? 2 : 0;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "train") return run_train(rest);
  if (args[0] == "eval") return run_eval(rest);
  throw Error(cat("kiln langid: unknown subcommand '", args[0], "' (train or eval)"));
}

const VerbRegistration kLangId{{"langid", "train or evaluate the character n-gram language-ID model", run_langid}};

}  // namespace
}  // namespace kiln::cli
