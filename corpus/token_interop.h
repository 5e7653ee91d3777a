// Moving tokens between kiln's token store and other trainers' formats:
//   nanoGPT   train.bin: headerless little-endian uint16 tokens, documents ended by EOT.
//   llm.c     shards: int32[256] header (magic 20240520, version 1, token count), then
//             uint16 tokens; llm.c's data scripts put EOT *before* each document.
//   Megatron  prefix.bin (tokens) + prefix.idx: "MMIDIDX\0\0", u64 version 1, u8 dtype code
//             (8 = uint16, 4 = int32), u64 sequence count, u64 document count (sequences+1),
//             int32 sizes[], int64 byte pointers[], int64 document index[]. One sequence per
//             document, EOT included.
//
//   export_tokens(store, Split::kTrain, TokenFormat::kLlmc, "out/train.bin");
//   import_tokens(TokenFormat::kMegatron, "data/corpus_text_document", tokenizer, "store/");
#pragma once

#include <string>

#include "corpus/token_store.h"

namespace kiln {

enum class TokenFormat { kNanoGpt, kLlmc, kMegatron };
TokenFormat parse_token_format(const std::string& name);  // "nanogpt", "llmc", "megatron"

// Writes a split of the store (files written atomically). For kMegatron `path` is the
// prefix of .bin/.idx. Throws Error if a token does not fit the format's dtype.
void export_tokens(const TokenStore& store, Split split, TokenFormat format, const std::string& path);

// Reads a file of the given format into a new store at out_dir (train split only).
// Document boundaries: Megatron's index; nanoGPT after each EOT; llm.c before each EOT.
void import_tokens(TokenFormat format, const std::string& path, const TokenizerInfo& tokenizer,
                   const std::string& out_dir);

}  // namespace kiln
