// File-level tokenizer operations behind `kiln tokenizer train|encode|decode|info`: each
// takes one Options struct and does the whole job, streaming its inputs.
//
//   EncodeFilesOptions o;
//   o.tokenizer.path = "cl100k_base.tiktoken";      // or an HF tokenizer.json
//   o.inputs = {"docs.jsonl.zst"};
//   o.output = "ids.jsonl";
//   EncodeFilesReport r = encode_files(o);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "corpus/reader.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/trainer.h"

namespace kiln::tokenizer {

// Which tokenizer file to load and how.
struct TokenizerSource {
  std::string path;  // *.json = HF tokenizer.json; anything else = .tiktoken ranks (.zst/.gz ok)
  // For .tiktoken: split pattern name; "" = from the file name (gpt2, r50k_base, p50k_base,
  // cl100k_base, o200k_base).
  std::string pattern;
  // For .tiktoken: special tokens as "TEXT=ID"; empty = the standard ones of the encoding
  // named by the file (e.g. <|endoftext|>=100257 for cl100k_base), none otherwise.
  std::vector<std::string> special_tokens;
};
Tokenizer load_tokenizer(const TokenizerSource& source);

struct TrainFilesOptions {
  std::vector<std::string> inputs;  // files, globs, directories: JSONL documents or text lines
  std::string output;               // tokenizer.json to write (HF format)
  TrainerOptions trainer;
};
struct TrainFilesReport {
  uint64_t sequences = 0, bytes = 0, distinct_words = 0, merges = 0, vocab_size = 0;
  double count_seconds = 0, merge_seconds = 0;
};
TrainFilesReport train_files(const TrainFilesOptions& options);

enum class IdsFormat {
  kText,   // one line per document: ids separated by spaces
  kJsonl,  // {"id": <document id>, "ids": [...]} per document
  kBinary, // uint32 little-endian, all documents concatenated (llm.c / nanoGPT style)
};
IdsFormat parse_ids_format(const std::string& name);  // "text", "jsonl", "bin"

struct EncodeFilesOptions {
  TokenizerSource tokenizer;
  std::vector<std::string> inputs;  // JSONL documents, or text files (each file one document)
  std::string output = "-";         // "-" = stdout; .zst/.gz compress
  IdsFormat format = IdsFormat::kText;
  EncodeOptions encode;
  // Appended after each document's ids (e.g. <|endoftext|>'s id); -1 = nothing.
  int64_t append_id = -1;
  ReaderOptions reader;
};
struct EncodeFilesReport {
  uint64_t documents = 0, bytes = 0, tokens = 0, rejected = 0;
  double seconds = 0;
};
// Text files stream in 4 MB pieces cut only where pre-tokenization cannot look across
// (between an ASCII letter and " <ASCII letter>"), so ids equal those of the whole file.
EncodeFilesReport encode_files(const EncodeFilesOptions& options);

struct DecodeFilesOptions {
  TokenizerSource tokenizer;
  std::vector<std::string> inputs;  // text ids (one document per line) or JSONL with "ids"
  std::string output = "-";         // text ids -> the bytes; JSONL -> {"id", "text"} lines
};
uint64_t decode_files(const DecodeFilesOptions& options);  // returns documents decoded

// Writes `source` as an HF tokenizer.json (output *.json; tiktoken ranks become a merge
// list with ignore_merges, which encodes identically) or as .tiktoken ranks.
void convert_tokenizer(const TokenizerSource& source, const std::string& output);

// A JSON summary: kind, pattern, vocab size, tokens, merges, special tokens, options.
std::string tokenizer_info(const TokenizerSource& source);

}  // namespace kiln::tokenizer
