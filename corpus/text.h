// Text helpers shared by every domain: UTF-8 checking and repair, JSON string output.
//
//   std::string out;
//   append_json_string(out, "naïve \"quote\"\n");  // -> "naïve \"quote\"\n" (UTF-8 kept)
//   if (!is_valid_utf8(bytes)) bytes = repair_utf8(bytes);
#pragma once

#include <string>
#include <string_view>

namespace kiln {

// What readers do with text that is not valid UTF-8.
enum class Utf8Policy {
  kRepair,  // replace each maximal invalid subsequence with U+FFFD and keep the document
  kReject,  // send the document to the rejects output with reason "invalid_utf8"
};

bool is_valid_utf8(std::string_view bytes);
// Replaces every maximal invalid subsequence (Unicode 15, section 3.9, "U+FFFD
// substitution of maximal subparts") with U+FFFD, as Python's errors="replace" and
// WHATWG's decoder do, so repaired text matches those tools byte for byte.
std::string repair_utf8(std::string_view bytes);

// Appends `utf8` as a quoted JSON string. Escapes '"', '\\' and control characters;
// with `ascii_only`, non-ASCII code points become \uXXXX (surrogate pairs above U+FFFF),
// as Python's json.dumps(ensure_ascii=True) writes them. `utf8` must be valid UTF-8.
void append_json_string(std::string& out, std::string_view utf8, bool ascii_only = false);
std::string json_quote(std::string_view utf8);

}  // namespace kiln
