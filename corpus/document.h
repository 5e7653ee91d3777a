// Document: the unit every kiln stage consumes and produces.
//
// A document keeps everything it was read with. `text` and `id` are pulled out of the
// input record by field name; every other field of a JSON record is kept as raw JSON
// bytes in input order and written back unchanged, so a curate run never loses
// metadata it does not understand. Stages add `attributes` (raw JSON values, written
// under the "attributes" key) instead of touching other fields.
//
//   Document doc;
//   doc.text = "Hello";
//   doc.set_attribute("lang", json_quote("en"));
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln {

struct JsonField {
  std::string name;       // the key, unescaped
  std::string raw_value;  // the value exactly as it appeared in the input (valid JSON)
};

struct Document {
  std::string id;    // from the id field (JSON), WARC-Record-ID (WARC), or file:line
  std::string text;  // from the text field (JSON), the record block (WET), the file (text)

  // Every other field of the input record, in input order, values as raw JSON.
  std::vector<JsonField> fields;
  // Values stages attach (language, scores, tags), raw JSON, in insertion order.
  std::vector<JsonField> attributes;

  // Where it came from, for error messages and rejects; not written as a field.
  std::string source_path;
  uint64_t source_line = 0;    // 1-based line (JSONL) or 0
  uint64_t source_offset = 0;  // byte offset of the record in the (decompressed) input

  // Sets or replaces an attribute; `raw_json` must be a valid JSON value.
  void set_attribute(std::string_view name, std::string raw_json);
  // The attribute's raw JSON, or nullptr.
  const std::string* attribute(std::string_view name) const;
  // The raw JSON of a kept input field, or nullptr.
  const std::string* field(std::string_view name) const;
};

}  // namespace kiln
