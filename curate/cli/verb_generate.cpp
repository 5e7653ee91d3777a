// kiln generate: sample text from a trained model (KV cache; temperature, top-k, top-p).
#include <cstdio>

#include "corpus/error.h"
#include "curate/cli/verb.h"
#include "trainer/checkpoint.h"
#include "trainer/codec.h"
#include "trainer/data.h"
#include "trainer/generate.h"

namespace kiln::cli {
namespace {

int run_generate(const std::vector<std::string>& args) {
  using namespace kiln::trainer;
  po::options_description options("options");
  options.add_options()
      ("model,m", po::value<std::string>()->required(), "kiln or llm.c checkpoint")
      ("prompt,p", po::value<std::string>()->default_value("\n"), "prompt text")
      ("tokenizer", po::value<std::string>(), "HF tokenizer.json or tiktoken ranks (default: byte-level, vocab 256)")
      ("max-tokens,n", po::value<int>()->default_value(500), "tokens to generate")
      ("temperature", po::value<float>()->default_value(1.0f), "softmax temperature (0 = greedy)")
      ("top-k", po::value<int>()->default_value(0), "sample from the k likeliest tokens (0 = all)")
      ("top-p", po::value<float>()->default_value(1.0f), "nucleus sampling threshold (1 = off)")
      ("seed", po::value<uint64_t>()->default_value(1337), "sampling seed")
      ("threads,j", po::value<int>()->default_value(0), "CPU threads (0 = all cores)");
  po::positional_options_description positional;
  auto parsed = parse_args(args, options, positional, "kiln generate -m MODEL [options]",
                           "kiln generate -m shakespeare.kiln -p 'ROMEO:' -n 300 --temperature 0.8 --top-k 40");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  Checkpoint ck = read_any_checkpoint(v["model"].as<std::string>());
  const TextCodec codec = load_codec(v.count("tokenizer") ? v["tokenizer"].as<std::string>() : "");
  if (codec.vocab_size > ck.config.vocab_size)
    throw Error(cat(v["model"].as<std::string>(), ": vocabulary ", ck.config.vocab_size, " is smaller than ", codec.name,
                    "'s ", codec.vocab_size, " (byte-level text needs 256; pass --tokenizer for a BPE model)"));
  auto backend = make_cpu_backend({.threads = v["threads"].as<int>()});
  GPT model(ck.config, *backend);
  model.upload_params(ck.params);
  const std::string prompt = v["prompt"].as<std::string>();
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  SampleOptions s{.temperature = v["temperature"].as<float>(), .top_k = v["top-k"].as<int>(),
                  .top_p = v["top-p"].as<float>(), .seed = v["seed"].as<uint64_t>()};
  // Tokens are decoded one at a time: a byte-level BPE token is whole bytes, so the bytes
  // of a character split across tokens still arrive in order.
  generate(model, codec.encode(prompt), v["max-tokens"].as<int>(), s, [&](int32_t token) {
    const std::string piece = codec.decode({token});
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::fputc('\n', stdout);
  return 0;
}

const VerbRegistration kGenerate{{"generate", "sample text from a trained model", run_generate}};

}  // namespace
}  // namespace kiln::cli
