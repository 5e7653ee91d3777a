// GPT-2's byte-level alphabet: each byte is shown as a printable code point (HF ByteLevel).
// Bytes 33..126, 161..172 and 174..255 stand for themselves; the other 68 bytes map, in
// order, to U+0100.. (so ' ' is 'Ġ' U+0120 and '\n' is 'Ċ' U+010A).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::tokenizer::detail {

// Code point that byte b is shown as.
uint32_t byte_to_char(uint8_t b);
// UTF-8 of the byte-level form of `bytes`.
std::string bytes_to_byte_level(std::string_view bytes);
// Inverse: nullopt if `text` is not valid UTF-8 or holds a code point outside the alphabet.
std::optional<std::string> byte_level_to_bytes(std::string_view text);

}  // namespace kiln::tokenizer::detail
