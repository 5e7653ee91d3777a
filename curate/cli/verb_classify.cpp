// kiln classify train|eval: the fastText-style text classifier (filters/classifier.h).
// Inputs: JSONL with a label field, or fastText lines ("__label__X text"). Use a trained
// model in a pipeline with --stage classifier:model=PATH,target=LABEL,max_score=0.5.
#include <cstdio>

#include "corpus/error.h"
#include "curate/cli/common.h"
#include "filters/classifier.h"

namespace kiln::cli {
namespace {

void add_input_flags(po::options_description& options) {
  options.add_options()
      ("inputs", po::value<std::vector<std::string>>()->multitoken()->required(), "labelled JSONL or fastText files")
      ("label-field", po::value<std::string>()->default_value("label"), "JSON field holding the label")
      ("text-field", po::value<std::string>()->default_value("text"), "JSON field holding the text");
}

int run_train(const std::vector<std::string>& args) {
  ClassifierTrainOptions d;
  po::options_description options("options");
  add_input_flags(options);
  options.add_options()
      ("output,o", po::value<std::string>()->required(), "model file to write")
      ("epochs", po::value<int>()->default_value(d.epochs), "passes over the data")
      ("lr", po::value<double>()->default_value(d.lr), "initial learning rate (decays linearly)")
      ("word-ngrams", po::value<int>()->default_value(d.word_ngrams), "longest word n-gram")
      ("minn", po::value<int>()->default_value(d.char_min), "shortest character n-gram (0 = none)")
      ("maxn", po::value<int>()->default_value(d.char_max), "longest character n-gram (0 = none)")
      ("buckets", po::value<uint32_t>()->default_value(d.buckets), "hashed feature slots")
      ("seed", po::value<uint64_t>()->default_value(d.seed), "example order");
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = parse_args(args, options, positional, "kiln classify train INPUTS... -o MODEL [options]",
                           "kiln classify train train.txt -o tox.kiln --epochs 5");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  ClassifierTrainOptions o;
  o.epochs = v["epochs"].as<int>();
  o.lr = v["lr"].as<double>();
  o.word_ngrams = v["word-ngrams"].as<int>();
  o.char_min = v["minn"].as<int>();
  o.char_max = v["maxn"].as<int>();
  o.buckets = v["buckets"].as<uint32_t>();
  o.seed = v["seed"].as<uint64_t>();
  if (o.epochs < 1 || !(o.lr > 0) || o.word_ngrams < 1 || o.buckets == 0 || o.char_min < 0 || o.char_max < o.char_min)
    throw Error("kiln classify train: need epochs >= 1, lr > 0, word-ngrams >= 1, buckets > 0, 0 <= minn <= maxn");
  TextClassifierTrainer trainer(o);
  for (const auto& path : expand_inputs(v["inputs"].as<std::vector<std::string>>()))
    read_labelled(path, v["label-field"].as<std::string>(), v["text-field"].as<std::string>(),
                  [&](std::string_view l, std::string_view t) { trainer.add(l, t); });
  TextClassifier model = trainer.train();
  model.save(v["output"].as<std::string>());
  std::printf("%s: %zu labels\n", v["output"].as<std::string>().c_str(), model.labels().size());
  return 0;
}

int run_eval(const std::vector<std::string>& args) {
  po::options_description options("options");
  add_input_flags(options);
  options.add_options()("model,m", po::value<std::string>()->required(), "model file");
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = parse_args(args, options, positional, "kiln classify eval INPUT -m MODEL",
                           "kiln classify eval test.txt -m tox.kiln");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  TextClassifier model = TextClassifier::load(v["model"].as<std::string>());
  std::printf("{");
  bool first = true;
  for (const auto& path : expand_inputs(v["inputs"].as<std::vector<std::string>>())) {
    ClassifierEvaluation e = evaluate_classifier(model, path, v["label-field"].as<std::string>(),
                                                 v["text-field"].as<std::string>());
    std::printf("%s\"docs\": %llu, \"accuracy\": %.4f, \"macro_f1\": %.4f, \"seconds\": %.3f, \"docs_per_second\": %.0f",
                first ? "" : ", ", (unsigned long long)e.docs, e.docs ? double(e.correct) / double(e.docs) : 0.0,
                e.macro_f1, e.seconds, e.seconds > 0 ? double(e.docs) / e.seconds : 0.0);
    first = false;
  }
  std::printf("}\n");
  return 0;
}

int run_classify(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf("usage: kiln classify train INPUTS... -o MODEL | kiln classify eval INPUT -m MODEL\n"
                "  filter with: kiln filter IN -o OUT --stage classifier:model=MODEL,target=LABEL,max_score=0.5\n\n"
                "example:\n  kiln classify train labelled.jsonl -o toxic.model && kiln classify eval test.jsonl -m toxic.model\n");
    return args.empty() ? 2 : 0;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "train") return run_train(rest);
  if (args[0] == "eval") return run_eval(rest);
  throw Error(cat("kiln classify: unknown subcommand '", args[0], "' (train or eval)"));
}

const VerbRegistration kClassify{{"classify", "train or evaluate the fastText-style text classifier", run_classify}};

}  // namespace
}  // namespace kiln::cli
