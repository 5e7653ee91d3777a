// Text <-> token ids for the trainer's text inputs: training text, prompts, evaluation sets.
//
//   TextCodec codec = load_codec("");                 // byte-level: every byte is a token (V 256)
//   TextCodec gpt2 = load_codec("tokenizer.json");    // an HF byte-level BPE (tokenizer/ library)
//   TextCodec cl100k = load_codec("cl100k_base.tiktoken");  // or tiktoken ranks
//   std::vector<int32_t> ids = gpt2.encode("Hello");
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::trainer {

struct TextCodec {
  std::string name;         // "bytes" or the tokenizer file
  int vocab_size = 256;     // ids are in [0, vocab_size)
  int32_t eot = -1;         // <|endoftext|>'s id when the tokenizer has one, else -1
  std::function<std::vector<int32_t>(std::string_view)> encode;
  std::function<std::string(const std::vector<int32_t>&)> decode;
};

TextCodec byte_codec();
// "" = byte_codec(); otherwise a tokenizer file loaded with the tokenizer library: an HF
// tokenizer.json, or tiktoken ranks (*.tiktoken, pattern and special tokens from the file
// name, e.g. cl100k_base), optionally .zst/.gz. Special-token text in inputs is encoded as
// ordinary text. Throws kiln::Error if the file cannot be loaded or kiln was built without
// the tokenizer.
TextCodec load_codec(const std::string& tokenizer_path);

}  // namespace kiln::trainer
