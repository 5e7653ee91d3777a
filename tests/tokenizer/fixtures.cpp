#include "fixtures.h"

#include <simdjson.h>

#include "corpus/stream.h"

namespace kiln::tokenizer::testing {

std::string data_path(const std::string& name) { return std::string(KILN_TEST_DATA_DIR) + "/tokenizer/" + name; }

std::string text(const std::string& name) { return read_file(data_path("texts/" + name + ".txt")); }

const std::vector<std::string>& text_names() {
  static const std::vector<std::string> names = {"english", "code", "udhr", "emoji", "whitespace", "adversarial", "random"};
  return names;
}

std::vector<IdsCase> load_ids(const std::string& file, const char* source_key) {
  const std::string data = read_file(data_path(file));
  simdjson::dom::parser parser;
  std::vector<IdsCase> out;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t end = data.find('\n', pos);
    if (end == std::string::npos) end = data.size();
    if (end > pos) {
      simdjson::dom::element doc = parser.parse(data.data() + pos, end - pos);
      IdsCase c;
      c.source = std::string(std::string_view(doc[source_key]));
      c.text = std::string(std::string_view(doc["text"]));
      simdjson::dom::element allowed;
      if (!doc["allowed_special"].get(allowed)) c.allowed_special = std::string(std::string_view(allowed));
      for (auto id : doc["ids"].get_array()) c.ids.push_back(static_cast<uint32_t>(uint64_t(id)));
      out.push_back(std::move(c));
    }
    pos = end + 1;
  }
  return out;
}

}  // namespace kiln::tokenizer::testing
