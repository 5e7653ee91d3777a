// kiln tokenizer train|encode|decode|info: byte-level BPE (tokenizer/tool.h does the work).
#include <cstdio>
#include <iostream>

#include "corpus/error.h"
#include "curate/cli/verb.h"
#include "tokenizer/tool.h"

namespace kiln::cli {
namespace {

using namespace kiln::tokenizer;

void add_source_flags(po::options_description& options) {
  options.add_options()("tokenizer,t", po::value<std::string>()->required(),
                        "tokenizer.json (HF) or .tiktoken rank file")(
      "pattern", po::value<std::string>()->default_value(""),
      "split pattern of a .tiktoken file: gpt2, cl100k_base, o200k_base (default: from the file name)")(
      "special", po::value<std::vector<std::string>>()->multitoken(),
      "special tokens of a .tiktoken file as TEXT=ID (default: the encoding's standard ones)");
}

TokenizerSource source_from(const po::variables_map& v) {
  TokenizerSource s;
  s.path = v["tokenizer"].as<std::string>();
  s.pattern = v["pattern"].as<std::string>();
  if (v.count("special")) s.special_tokens = v["special"].as<std::vector<std::string>>();
  return s;
}

void add_input_flags(po::options_description& options) {
  options.add_options()("inputs", po::value<std::vector<std::string>>()->multitoken()->required(),
                        "input files, globs or directories")(
      "format", po::value<std::string>()->default_value("auto"), "input format: auto, jsonl, text")(
      "text-field", po::value<std::string>()->default_value("text"), "JSONL field holding the text");
}

ReaderOptions reader_from(const po::variables_map& v) {
  ReaderOptions r;
  r.format = parse_input_format(v["format"].as<std::string>());
  r.text_field = v["text-field"].as<std::string>();
  return r;
}

int run_train(const std::vector<std::string>& args) {
  po::options_description options("options");
  add_input_flags(options);
  TrainerOptions defaults;
  options.add_options()("output,o", po::value<std::string>()->required(), "tokenizer.json to write")(
      "vocab-size", po::value<uint32_t>()->default_value(defaults.vocab_size), "vocabulary size incl. specials")(
      "min-frequency", po::value<uint64_t>()->default_value(0), "stop when the best pair is rarer")(
      "special", po::value<std::vector<std::string>>()->multitoken(), "special tokens (ids 0, 1, ...)")(
      "pattern", po::value<std::string>()->default_value("gpt2"), "split pattern: gpt2, cl100k_base, o200k_base")(
      "add-prefix-space", po::bool_switch(), "prepend a space to each sequence (HF ByteLevel option)")(
      "seen-bytes-only", po::bool_switch(), "alphabet = bytes seen in the corpus, not all 256 (HF's default)")(
      "max-token-length", po::value<size_t>()->default_value(0), "HF max_token_length in bytes (0 = none)")(
      "max-words", po::value<size_t>()->default_value(0), "prune rare pre-tokens above this many (0 = never)");
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = parse_args(args, options, positional, "kiln tokenizer train INPUTS... -o tokenizer.json [options]",
                           "kiln tokenizer train books.jsonl.zst --vocab-size 32000 --special '<|endoftext|>' -o tok.json");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  TrainFilesOptions o;
  o.inputs = v["inputs"].as<std::vector<std::string>>();
  o.output = v["output"].as<std::string>();
  o.trainer.vocab_size = v["vocab-size"].as<uint32_t>();
  o.trainer.min_frequency = v["min-frequency"].as<uint64_t>();
  if (v.count("special")) o.trainer.special_tokens = v["special"].as<std::vector<std::string>>();
  o.trainer.pattern = parse_pattern(v["pattern"].as<std::string>());
  o.trainer.add_prefix_space = v["add-prefix-space"].as<bool>();
  o.trainer.all_bytes_in_alphabet = !v["seen-bytes-only"].as<bool>();
  o.trainer.max_token_length = v["max-token-length"].as<size_t>();
  o.trainer.max_distinct_words = v["max-words"].as<size_t>();
  o.trainer.reader = reader_from(v);
  const TrainFilesReport r = train_files(o);
  std::fprintf(stderr,
               "kiln tokenizer train: %llu sequences, %.1f MB, %llu distinct pre-tokens, %llu merges, vocab %llu; "
               "counting %.2f s, merging %.2f s -> %s\n",
               (unsigned long long)r.sequences, r.bytes / 1e6, (unsigned long long)r.distinct_words,
               (unsigned long long)r.merges, (unsigned long long)r.vocab_size, r.count_seconds, r.merge_seconds,
               o.output.c_str());
  return 0;
}

int run_encode(const std::vector<std::string>& args) {
  po::options_description options("options");
  add_source_flags(options);
  add_input_flags(options);
  options.add_options()("output,o", po::value<std::string>()->default_value("-"), "output file ('-' = stdout)")(
      "ids-format", po::value<std::string>()->default_value("text"), "text (a line per document), jsonl, bin (uint32)")(
      "allow-special", po::value<std::vector<std::string>>()->multitoken(), "special tokens encoded as their ids")(
      "special-mode", po::value<std::string>()->default_value("disallow"),
      "special-token text: disallow (error unless --allow-special), allow (all), text (encode as text)")(
      "append-id", po::value<int64_t>()->default_value(-1), "id appended after each document (e.g. end of text)");
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = parse_args(args, options, positional, "kiln tokenizer encode -t TOKENIZER INPUTS... [options]",
                           "kiln tokenizer encode -t cl100k_base.tiktoken docs.jsonl.zst --ids-format jsonl -o ids.jsonl");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  EncodeFilesOptions o;
  o.tokenizer = source_from(v);
  o.inputs = v["inputs"].as<std::vector<std::string>>();
  o.output = v["output"].as<std::string>();
  o.format = parse_ids_format(v["ids-format"].as<std::string>());
  o.reader = reader_from(v);
  o.append_id = v["append-id"].as<int64_t>();
  const std::string mode = v["special-mode"].as<std::string>();
  if (mode == "allow") o.encode.special = SpecialMode::kAllow;
  else if (mode == "text") o.encode.special = SpecialMode::kAsText;
  else if (mode != "disallow") throw Error(cat("--special-mode ", mode, ": expected disallow, allow or text"));
  if (v.count("allow-special")) o.encode.allowed_special = v["allow-special"].as<std::vector<std::string>>();
  const EncodeFilesReport r = encode_files(o);
  std::fprintf(stderr, "kiln tokenizer encode: %llu documents, %.1f MB -> %llu tokens in %.2f s (%.1f MB/s)%s\n",
               (unsigned long long)r.documents, r.bytes / 1e6, (unsigned long long)r.tokens, r.seconds,
               r.seconds > 0 ? r.bytes / 1e6 / r.seconds : 0.0,
               r.rejected ? cat(", ", r.rejected, " unreadable records skipped").c_str() : "");
  return 0;
}

int run_decode(const std::vector<std::string>& args) {
  po::options_description options("options");
  add_source_flags(options);
  options.add_options()("inputs", po::value<std::vector<std::string>>()->multitoken()->required(),
                        "ids files: text (one document per line) or JSONL with \"ids\"")(
      "output,o", po::value<std::string>()->default_value("-"), "output file ('-' = stdout)");
  po::positional_options_description positional;
  positional.add("inputs", -1);
  auto parsed = parse_args(args, options, positional, "kiln tokenizer decode -t TOKENIZER IDS... [options]",
                           "kiln tokenizer decode -t tokenizer.json ids.jsonl -o docs.jsonl");
  if (parsed.help) return 0;
  auto& v = parsed.values;
  DecodeFilesOptions o;
  o.tokenizer = source_from(v);
  o.inputs = v["inputs"].as<std::vector<std::string>>();
  o.output = v["output"].as<std::string>();
  decode_files(o);
  return 0;
}

int run_info(const std::vector<std::string>& args) {
  po::options_description options("options");
  add_source_flags(options);
  po::positional_options_description positional;
  positional.add("tokenizer", 1);
  auto parsed = parse_args(args, options, positional, "kiln tokenizer info TOKENIZER [options]",
                           "kiln tokenizer info o200k_base.tiktoken");
  if (parsed.help) return 0;
  std::cout << tokenizer_info(source_from(parsed.values)) << "\n";
  return 0;
}

int run_convert(const std::vector<std::string>& args) {
  po::options_description options("options");
  add_source_flags(options);
  options.add_options()("output,o", po::value<std::string>()->required(), "tokenizer.json (HF) or .tiktoken to write");
  po::positional_options_description positional;
  positional.add("tokenizer", 1);
  auto parsed = parse_args(args, options, positional, "kiln tokenizer convert TOKENIZER -o OUTPUT [options]",
                           "kiln tokenizer convert cl100k_base.tiktoken -o cl100k_tokenizer.json");
  if (parsed.help) return 0;
  convert_tokenizer(source_from(parsed.values), parsed.values["output"].as<std::string>());
  return 0;
}

int run_tokenizer(const std::vector<std::string>& args) {
  const char* usage =
      "usage: kiln tokenizer <train|encode|decode|info|convert> [options]  (each takes --help)\n"
      "  train   learn a byte-level BPE from text/JSONL (merges identical to HF tokenizers)\n"
      "  encode  text or JSONL documents -> ids (text, JSONL or uint32 binary)\n"
      "  decode  ids -> text\n"
      "  info    summary of a tokenizer.json or .tiktoken file\n"
      "  convert .tiktoken ranks <-> HF tokenizer.json (identical encodings)\n"
      "example:\n  kiln tokenizer encode -t cl100k_base.tiktoken notes.txt\n";
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << usage;
    return args.empty() ? 2 : 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "train") return run_train(rest);
  if (args[0] == "encode") return run_encode(rest);
  if (args[0] == "decode") return run_decode(rest);
  if (args[0] == "info") return run_info(rest);
  if (args[0] == "convert") return run_convert(rest);
  throw Error(cat("kiln tokenizer: unknown sub-command '", args[0], "': expected train, encode, decode, info or convert"));
}

const VerbRegistration kReg{{"tokenizer", "train, encode, decode byte-level BPE", run_tokenizer}};

}  // namespace
}  // namespace kiln::cli
