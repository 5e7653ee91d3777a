// Byte-level BPE tokenizers: tiktoken rank files and HF tokenizer.json, encode and decode.
//
// One Tokenizer type serves both families; they differ only in how a pair of adjacent
// tokens is looked up (see MergeRule) and whether a piece that is itself a token skips
// merging. Encoding is: split the text at special tokens, pre-tokenize each stretch
// (pretokenizer.h), byte-pair merge each piece (lowest rank first, leftmost on ties).
//
//   auto tok = Tokenizer::from_tiktoken_file("cl100k_base.tiktoken", Pattern::kCl100k,
//                                            {{"<|endoftext|>", 100257}});
//   std::vector<uint32_t> ids = tok.encode("hello world");   // {15339, 1917}
//   std::string text = tok.decode(ids);
//
//   auto hf = Tokenizer::from_hf_json("tokenizer.json");     // byte-level BPE only
//   hf.save_hf_json("copy.json");
//
// A Tokenizer is cheap to copy (it shares its immutable model) and every const method is
// thread-safe. Loaders throw kiln::Error naming the file, line and what was expected.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/pretokenizer.h"

namespace kiln::tokenizer {

namespace detail {
struct Model;
}

// What encode() does with special-token text (e.g. "<|endoftext|>") found in the input.
enum class SpecialMode {
  kDisallow,  // tiktoken's default: throw Error naming the token, unless in allowed_special
  kAllow,     // every special token becomes its id (what HF does with added tokens)
  kAsText,    // special-token text is encoded as ordinary text (tiktoken encode_ordinary)
};

struct EncodeOptions {
  SpecialMode special = SpecialMode::kDisallow;
  // With kDisallow: special tokens that are encoded as their ids instead of throwing.
  std::vector<std::string> allowed_special;
};

// How a pair of adjacent tokens is ranked during merging.
enum class MergeRule {
  kRanks,   // tiktoken: a pair merges when its concatenation is a token, with that token's
            // rank; a piece that is a whole token is emitted without merging.
  kMerges,  // HF BPE: an explicit merge list; rank = position in the list (a later duplicate
            // of a pair wins, as in HF's HashMap); optional ignore_merges whole-piece rule.
};

struct SpecialToken {
  std::string content;  // the exact text, e.g. "<|endoftext|>"
  uint32_t id = 0;
};

// Options of HF's ByteLevel/BPE model that kiln keeps when loading and writes when saving.
struct HfModelOptions {
  bool add_prefix_space = false;  // ByteLevel: prepend ' ' to text that does not start with one
  bool ignore_merges = false;     // BPE: a piece that is in the vocab is one token, unmerged
  std::optional<std::string> unk_token;  // BPE: token for bytes missing from the vocab
  bool fuse_unk = false;          // BPE: consecutive unknown bytes become one unk
  bool legacy_merges = false;     // save merges as "a b" strings instead of ["a", "b"] pairs
};

class Tokenizer {
 public:
  // Loads a .tiktoken rank file: one "<base64 token bytes> <rank>" per line (optionally
  // .zst/.gz compressed). Ranks may be sparse. Every single byte must have a rank.
  static Tokenizer from_tiktoken_file(const std::string& path, Pattern pattern,
                                      std::vector<SpecialToken> special_tokens = {});
  // The same from (token bytes, rank) pairs.
  static Tokenizer from_ranks(std::vector<std::pair<std::string, uint32_t>> ranks, Pattern pattern,
                              std::vector<SpecialToken> special_tokens = {});
  // From a vocabulary (token bytes, id) and an ordered merge list of token-bytes pairs, HF
  // style. Every merge's parts and result must be in the vocabulary.
  static Tokenizer from_merges(std::vector<std::pair<std::string, uint32_t>> vocab,
                               const std::vector<std::pair<std::string, std::string>>& merges,
                               Pattern pattern, std::vector<SpecialToken> special_tokens = {},
                               HfModelOptions hf = {});

  // Loads an HF tokenizer.json holding a byte-level BPE: model BPE; pre_tokenizer ByteLevel
  // (use_regex) or Sequence[Split(<gpt2|cl100k|o200k regex>, Isolated), ByteLevel]; decoder
  // ByteLevel or null; normalizer null; post_processor null or ByteLevel. Anything else
  // throws Error naming the field, rather than encode differently from HF.
  static Tokenizer from_hf_json(const std::string& path);
  static Tokenizer from_hf_json_string(std::string_view json, const std::string& name = "<string>");
  // Writes tokenizer.json that HF tokenizers loads and encodes identically.
  void save_hf_json(const std::string& path) const;
  std::string to_hf_json() const;
  // Writes a .tiktoken rank file (only for kRanks tokenizers).
  void save_tiktoken_file(const std::string& path) const;

  std::vector<uint32_t> encode(std::string_view text, const EncodeOptions& options = {}) const;
  // Appends to `ids`.
  void encode(std::string_view text, std::vector<uint32_t>& ids, const EncodeOptions& options = {}) const;
  // encode() of each text on all cores (TBB); the result is in input order.
  std::vector<std::vector<uint32_t>> encode_batch(std::span<const std::string> texts,
                                                  const EncodeOptions& options = {}) const;
  std::vector<std::vector<uint32_t>> encode_batch(std::span<const std::string_view> texts,
                                                  const EncodeOptions& options = {}) const;

  // Concatenated bytes of the tokens (not necessarily valid UTF-8). Throws on an unknown id.
  std::string decode(std::span<const uint32_t> ids) const;

  Pattern pattern() const;
  MergeRule merge_rule() const;
  const HfModelOptions& hf_options() const;
  // One more than the largest id (ids may be sparse for tiktoken subsets).
  uint32_t vocab_size() const;
  size_t num_tokens() const;  // ordinary tokens, without special tokens
  size_t num_merges() const;  // merge-list length (kMerges) or pair-table size (kRanks)
  const std::vector<SpecialToken>& special_tokens() const;
  std::optional<uint32_t> token_id(std::string_view bytes) const;  // ordinary or special
  // Bytes of a token (ordinary or special); nullopt for an unused id.
  std::optional<std::string_view> token_bytes(uint32_t id) const;
  // The merge list as (left id, right id) in rank order (kMerges only; empty otherwise).
  const std::vector<std::pair<uint32_t, uint32_t>>& merges() const;

  explicit Tokenizer(std::shared_ptr<const detail::Model> model);
  const detail::Model& model() const { return *model_; }

 private:
  std::shared_ptr<const detail::Model> model_;
};

}  // namespace kiln::tokenizer
