#include "tokenizer/src/unicode_class.h"

#include <utf8proc.h>

#include <memory>

namespace kiln::tokenizer::detail {

namespace {

// White_Space (PropList.txt) = Zs + Zl + Zp + these controls; utf8proc has categories but
// not the White_Space property, so the six controls are named here.
bool is_white_space(uint32_t cp, utf8proc_category_t cat) {
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP ||
         (cp >= 0x09 && cp <= 0x0D) || cp == 0x85;
}

std::unique_ptr<uint8_t[]> build_table() {
  auto table = std::make_unique<uint8_t[]>(0x110001);
  for (uint32_t cp = 0; cp < 0x110000; ++cp) {
    const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    uint8_t c = 0;
    switch (cat) {
      case UTF8PROC_CATEGORY_LU:
      case UTF8PROC_CATEGORY_LT: c = kLetter | kUpperSet; break;
      case UTF8PROC_CATEGORY_LL: c = kLetter | kLowerSet; break;
      case UTF8PROC_CATEGORY_LM:
      case UTF8PROC_CATEGORY_LO: c = kLetter | kUpperSet | kLowerSet; break;
      case UTF8PROC_CATEGORY_MN:
      case UTF8PROC_CATEGORY_MC:
      case UTF8PROC_CATEGORY_ME: c = kUpperSet | kLowerSet; break;
      case UTF8PROC_CATEGORY_ND:
      case UTF8PROC_CATEGORY_NL:
      case UTF8PROC_CATEGORY_NO: c = kNumber; break;
      default: break;
    }
    if (is_white_space(cp, cat)) c |= kSpace;
    table[cp] = c;
  }
  table[0x110000] = 0;  // invalid UTF-8 byte: no category, like U+FFFD (So)
  return table;
}

}  // namespace

const uint8_t* unicode_class_table() {
  static const std::unique_ptr<uint8_t[]> table = build_table();
  return table.get();
}

}  // namespace kiln::tokenizer::detail
