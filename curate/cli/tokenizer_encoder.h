// The tokenizer behind `kiln pack` and `kiln mix --unit tokens`, as a TextEncoder.
#pragma once

#include <xxhash.h>

#include <cstdio>
#include <optional>
#include <string>

#include "corpus/error.h"
#include "curate/pack.h"
#include "tokenizer/tool.h"

namespace kiln::cli {

// Adapts a kiln tokenizer to what packing needs. Special-token text inside documents is
// encoded as ordinary text: only the packer inserts EOT.
class TokenizerEncoder final : public TextEncoder {
 public:
  TokenizerEncoder(const tokenizer::TokenizerSource& source, const std::string& eot_text)
      : tokenizer_(tokenizer::load_tokenizer(source)) {
    // An empty eot_text means the caller only counts tokens and appends nothing.
    auto eot = eot_text.empty() ? std::optional<uint32_t>(0) : tokenizer_.token_id(eot_text);
    if (!eot) throw Error(cat(source.path, ": tokenizer has no token '", eot_text, "' to end documents with (--eot)"));
    std::string json = tokenizer_.to_hf_json();
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)XXH3_64bits(json.data(), json.size()));
    info_ = {source.path, hex, tokenizer_.vocab_size(), *eot};
    options_.special = tokenizer::SpecialMode::kAsText;
  }
  void encode(std::string_view text, std::vector<uint32_t>& tokens) const override {
    tokenizer_.encode(text, tokens, options_);
  }
  TokenizerInfo info() const override { return info_; }

 private:
  tokenizer::Tokenizer tokenizer_;
  tokenizer::EncodeOptions options_;
  TokenizerInfo info_;
};

}  // namespace kiln::cli
