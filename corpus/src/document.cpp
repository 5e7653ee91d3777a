#include "corpus/document.h"

namespace kiln {

void Document::set_attribute(std::string_view name, std::string raw_json) {
  for (auto& a : attributes) {
    if (a.name == name) {
      a.raw_value = std::move(raw_json);
      return;
    }
  }
  attributes.push_back({std::string(name), std::move(raw_json)});
}

const std::string* Document::attribute(std::string_view name) const {
  for (auto& a : attributes)
    if (a.name == name) return &a.raw_value;
  return nullptr;
}

const std::string* Document::field(std::string_view name) const {
  for (auto& f : fields)
    if (f.name == name) return &f.raw_value;
  return nullptr;
}

}  // namespace kiln
