#include "curate/src/selection.h"

#include <xxhash.h>

namespace kiln::selection {

uint64_t document_key(const Document& doc, uint64_t seed) {
  uint64_t h = XXH3_64bits_withSeed(doc.source_path.data(), doc.source_path.size(), seed);
  uint64_t v[2] = {h, doc.source_offset};
  return XXH3_64bits(v, sizeof v);
}

uint64_t choose_copies(const std::vector<Measured>& docs, uint64_t target, std::unordered_map<uint64_t, uint32_t>& copies) {
  uint64_t total = 0;
  for (auto& d : docs) total += d.units;
  if (total == 0) return 0;
  uint32_t full = uint32_t(target / total);
  uint64_t rest = target - uint64_t(full) * total, taken = 0, chosen = 0;
  for (auto& d : docs) {
    uint32_t n = full;
    if (taken < rest && taken + d.units <= rest) {
      ++n;
      taken += d.units;
    }
    if (n) copies[d.key] = n;
    chosen += uint64_t(n) * d.units;
  }
  return chosen;
}

}  // namespace kiln::selection
