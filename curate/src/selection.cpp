#include "curate/src/selection.h"

#include <xxhash.h>

#include <memory>
#include <string>

namespace kiln::selection {

DocumentKeys DocumentKeys::for_inputs(const std::vector<std::string>& inputs, uint64_t seed) {
  DocumentKeys keys{seed, 0};
  if (inputs.empty()) return keys;
  std::string_view common = inputs.front();
  for (const std::string& path : inputs) {
    size_t n = 0;
    while (n < common.size() && n < path.size() && common[n] == path[n]) ++n;
    common = common.substr(0, n);
  }
  const size_t slash = common.rfind('/');  // back to a whole folder name
  keys.root_length = slash == std::string_view::npos ? 0 : slash + 1;
  return keys;
}

uint64_t DocumentKeys::of(const Document& doc) const {
  std::string_view path = doc.source_path;
  if (root_length <= path.size()) path.remove_prefix(root_length);
  uint64_t h = XXH3_64bits_withSeed(path.data(), path.size(), seed);
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

void write_copies(const std::vector<std::string>& inputs, const std::unordered_map<uint64_t, uint32_t>& copies,
                  uint32_t epochs, const DocumentKeys& keys, PipelineOptions pass, const std::string& dir,
                  std::string_view name, std::string_view reason) {
  pass.write_rejects = false;
  for (uint32_t e = 0; e < epochs; ++e) {
    std::vector<std::unique_ptr<Stage>> select;
    select.push_back(std::make_unique<SelectCopies>(copies, e, keys, name, reason));
    pass.output_dir = dir + "/epoch-" + std::to_string(e);
    run_pipeline(inputs, select, pass);
  }
}

}  // namespace kiln::selection
