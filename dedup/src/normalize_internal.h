// Private to dedup/: the scalar normalization that the AVX-512 ASCII path of
// normalize_text is tested against (tests/dedup/minhash_test.cpp).
#pragma once

#include <string>
#include <string_view>

#include "dedup/normalize.h"

namespace kiln::dedup {

// normalize_text without the vector path, byte for byte the same output.
void normalize_text_scalar(std::string_view text, const NormalizeOptions& options, std::string& out);

}  // namespace kiln::dedup
