// Pre-tokenization: splitting text into the pieces that byte-pair merging works inside.
//
// Hand-written matchers with the exact semantics of the three split patterns that matter
// (leftmost-first alternation and backtracking as fancy-regex / PCRE run them):
//
//   kGpt2    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   kCl100k  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//            ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   kO200k   see pattern_regex(Pattern::kO200k)
//
// Unicode categories come from utf8proc; \s is Unicode White_Space. Bytes that are not
// valid UTF-8 count as one character each of no category (like U+FFFD would), so every
// byte of any input lands in exactly one piece and pieces concatenate back to the input.
//
//   for (std::string_view piece : pretokenize(Pattern::kCl100k, "Hello world")) ...
//   // "Hello", " world"
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace kiln::tokenizer {

enum class Pattern {
  kGpt2,    // GPT-2 / r50k_base / p50k_base; also HF's ByteLevel(use_regex=true)
  kCl100k,  // cl100k_base (GPT-3.5/4)
  kO200k,   // o200k_base (GPT-4o)
};

// "gpt2", "cl100k_base", "o200k_base".
std::string_view pattern_name(Pattern pattern);
// Accepts the names above (and "r50k_base", "cl100k", "o200k"). Throws Error otherwise.
Pattern parse_pattern(std::string_view name);
// The regex as tiktoken writes it (what kiln saves in tokenizer.json Split pre-tokenizers).
std::string_view pattern_regex(Pattern pattern);
// The pattern a regex string denotes (exactly the strings pattern_regex returns); nullopt
// for any other regex, including the possessive cl100k spelling of Python tiktoken >= 0.8,
// which splits a whitespace run at the end of the text differently (see README.md).
std::optional<Pattern> pattern_from_regex(std::string_view regex);

// End (byte offset) of the piece that starts at `begin` (< text.size()).
size_t pretoken_end(Pattern pattern, std::string_view text, size_t begin);

// All pieces of `text`, appended to `pieces` (views into `text`).
void pretokenize(Pattern pattern, std::string_view text, std::vector<std::string_view>& pieces);
std::vector<std::string_view> pretokenize(Pattern pattern, std::string_view text);

}  // namespace kiln::tokenizer
