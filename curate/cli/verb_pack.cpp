// kiln pack: tokenize curated documents into a token store.
// kiln store: info, verify, export, import of token stores.
#include <xxhash.h>

#include <cstdio>
#include <iostream>

#include "corpus/error.h"
#include "corpus/token_interop.h"
#include "corpus/token_store.h"
#include "curate/cli/common.h"
#include "curate/pack.h"
#include "curate/cli/tokenizer_encoder.h"

namespace kiln::cli {
namespace {

int run_pack(const std::vector<std::string>& args) {
  po::options_description options("options");
  options.add_options()
      ("inputs", po::value<std::vector<std::string>>()->multitoken()->required(), "JSONL documents (files, globs, dirs)")
      ("output,o", po::value<std::string>()->required(), "store directory")
      ("tokenizer,t", po::value<std::string>()->required(), "tokenizer.json (HF) or .tiktoken file")
      ("pattern", po::value<std::string>()->default_value(""), "split pattern for .tiktoken (gpt2, cl100k_base, o200k_base)")
      ("eot", po::value<std::string>()->default_value("<|endoftext|>"), "token appended after every document")
      ("val-fraction", po::value<double>()->default_value(0.005), "share of documents in the validation split")
      ("split-seed", po::value<uint64_t>()->default_value(0), "seed of the document-hash split")
      ("block-tokens", po::value<uint32_t>()->default_value(1u << 16), "tokens per checksummed block")
      ("no-compress", "store blocks raw instead of zstd")
      ("no-resume", "redo inputs an earlier pack completed")
      ("threads,j", po::value<int>()->default_value(0), "worker threads (0 = all cores)");
  add_reader_flags(options);
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = parse_args(args, options, positional, "kiln pack INPUTS... -t TOKENIZER -o STORE [options]",
                           "kiln pack out/sample -t tokenizer.json -o store/sample --val-fraction 0.01");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  tokenizer::TokenizerSource source;
  source.path = v["tokenizer"].as<std::string>();
  source.pattern = v["pattern"].as<std::string>();
  TokenizerEncoder encoder(source, v["eot"].as<std::string>());
  PackOptions o;
  o.reader = reader_options_from(v);
  o.output_dir = v["output"].as<std::string>();
  o.val_fraction = v["val-fraction"].as<double>();
  o.split_seed = v["split-seed"].as<uint64_t>();
  o.block_tokens = v["block-tokens"].as<uint32_t>();
  o.compress = !v.count("no-compress");
  o.resume = !v.count("no-resume");
  o.threads = v["threads"].as<int>();
  o.on_progress = terminal_progress();
  PackStats s = pack_store(expand_inputs(v["inputs"].as<std::vector<std::string>>()), encoder, o);
  std::printf("documents: %llu read, %llu unreadable (skipped)\n", (unsigned long long)s.docs_read,
              (unsigned long long)s.docs_unreadable);
  std::printf("train:     %llu documents, %llu tokens\n", (unsigned long long)s.train_docs,
              (unsigned long long)s.train_tokens);
  std::printf("val:       %llu documents, %llu tokens\n", (unsigned long long)s.val_docs, (unsigned long long)s.val_tokens);
  std::printf("bytes/token: %.3f; %.1f s\n", double(s.text_bytes) / double(std::max<uint64_t>(1, s.train_tokens + s.val_tokens)),
              s.seconds);
  for (auto& e : s.input_errors) std::printf("input error: %s\n", e.c_str());
  std::printf("store:     %s/manifest.json\n", o.output_dir.c_str());
  return s.input_errors.empty() ? 0 : 3;
}

Split parse_split(const std::string& name) {
  if (name == "train") return Split::kTrain;
  if (name == "val") return Split::kVal;
  throw Error(cat("--split must be train or val, not '", name, "'"));
}

int run_store(const std::vector<std::string>& args) {
  po::options_description options("options");
  options.add_options()
      ("action", po::value<std::string>()->required(), "info | verify | export | import")
      ("path", po::value<std::string>()->required(), "store directory (import: the file to import)")
      ("output,o", po::value<std::string>(), "export: file (Megatron: prefix); import: store directory")
      ("format", po::value<std::string>()->default_value("llmc"), "export/import format: nanogpt, llmc, megatron")
      ("split", po::value<std::string>()->default_value("train"), "export: train or val")
      ("eot", po::value<uint32_t>()->default_value(50256), "import: EOT token id")
      ("vocab-size", po::value<uint32_t>()->default_value(50257), "import: vocabulary size");
  po::positional_options_description positional;
  positional.add("action", 1).add("path", 1);
  auto parsed = parse_args(args, options, positional, "kiln store info|verify|export|import PATH [options]",
                           "kiln store verify store/sample && kiln store export store/sample -o train.bin --format llmc");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  const std::string action = v["action"].as<std::string>(), path = v["path"].as<std::string>();
  if (action == "import") {
    if (!v.count("output")) throw Error("store import needs -o STORE");
    TokenizerInfo tok{"imported", "", v["vocab-size"].as<uint32_t>(), v["eot"].as<uint32_t>()};
    import_tokens(parse_token_format(v["format"].as<std::string>()), path, tok, v["output"].as<std::string>());
    std::printf("store: %s/manifest.json\n", v["output"].as<std::string>().c_str());
    return 0;
  }
  TokenStore store = TokenStore::open(path);
  if (action == "info") {
    const StoreManifest& m = store.manifest();
    std::printf("tokenizer:   %s (fingerprint %s, vocab %u, eot %u)\n", m.tokenizer.name.c_str(),
                m.tokenizer.fingerprint.c_str(), m.tokenizer.vocab_size, m.tokenizer.eot);
    std::printf("format:      v%d, %s, %u tokens per block, %s\n", m.version, m.dtype_bytes == 2 ? "uint16" : "uint32",
                m.block_tokens, m.compressed ? "zstd" : "raw");
    for (Split s : {Split::kTrain, Split::kVal})
      std::printf("%-12s %llu documents, %llu tokens, %zu shards\n", (std::string(split_name(s)) + ":").c_str(),
                  (unsigned long long)store.num_docs(s), (unsigned long long)store.num_tokens(s),
                  (s == Split::kTrain ? m.train : m.val).size());
    std::printf("sources:\n");
    for (auto& [name, c] : m.sources)
      std::printf("  %-50s %10llu docs %14llu tokens\n", name.c_str(), (unsigned long long)c.first,
                  (unsigned long long)c.second);
    return 0;
  }
  if (action == "verify") {
    auto problems = store.verify();
    for (auto& p : problems) std::printf("bad block: %s\n", p.c_str());
    std::printf("%s: %s\n", path.c_str(), problems.empty() ? "every block checks out" : "CORRUPT");
    return problems.empty() ? 0 : 1;
  }
  if (action == "export") {
    if (!v.count("output")) throw Error("store export needs -o FILE");
    export_tokens(store, parse_split(v["split"].as<std::string>()), parse_token_format(v["format"].as<std::string>()),
                  v["output"].as<std::string>());
    std::printf("wrote %s\n", v["output"].as<std::string>().c_str());
    return 0;
  }
  throw Error(cat("unknown store action '", action, "': expected info, verify, export or import"));
}

const VerbRegistration kPack{{"pack", "tokenize documents into a checksummed token store for training", run_pack}};
const VerbRegistration kStore{{"store", "token store info, verify, export (nanoGPT, llm.c, Megatron), import", run_store}};

}  // namespace
}  // namespace kiln::cli
