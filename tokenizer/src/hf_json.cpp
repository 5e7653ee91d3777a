// HF tokenizer.json for byte-level BPE: load and save.
//
// Only what encodes the same in kiln and in HF is accepted; any other normalizer,
// pre-tokenizer, post-processor or model option throws, naming the field.
#include <simdjson.h>

#include <algorithm>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "corpus/text.h"
#include "tokenizer/src/bpe.h"
#include "tokenizer/src/byte_level.h"
#include "tokenizer/src/model.h"
#include "tokenizer/tokenizer.h"

namespace kiln::tokenizer {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

struct Loader {
  std::string name;

  [[noreturn]] void fail(std::string_view field, std::string_view what) const {
    throw Error(cat(name, ": ", field, ": ", what));
  }
  std::string_view str(element e, std::string_view field) const {
    std::string_view s;
    if (e.get_string().get(s)) fail(field, "expected a string");
    return s;
  }
  bool boolean(element obj, const char* key, bool fallback, std::string_view field) const {
    element e;
    if (obj[key].get(e) || e.is_null()) return fallback;
    bool b;
    if (e.get_bool().get(b)) fail(cat(field, ".", key), "expected true or false");
    return b;
  }
  bool is_null_or_missing(element obj, const char* key) const {
    element e;
    return obj[key].get(e) || e.is_null();
  }
  std::string type_of(element obj, std::string_view field) const {
    element t;
    if (obj["type"].get(t)) fail(field, "expected an object with a \"type\"");
    return std::string(str(t, cat(field, ".type")));
  }
  std::string bytes_of(std::string_view token, std::string_view field) const {
    auto bytes = detail::byte_level_to_bytes(token);
    if (!bytes) fail(field, cat("token \"", token, "\" is not in the byte-level alphabet (not a byte-level BPE)"));
    return std::move(*bytes);
  }

  // ByteLevel pre-tokenizer: returns add_prefix_space; `use_regex` must be `want_regex`.
  bool byte_level(element pre, std::string_view field, bool want_regex) const {
    const bool regex = boolean(pre, "use_regex", true, field);
    if (regex != want_regex) {
      fail(cat(field, ".use_regex"), want_regex ? "expected true (a ByteLevel pre-tokenizer that splits)"
                                                : "expected false after a Split pre-tokenizer");
    }
    return boolean(pre, "add_prefix_space", true, field);
  }

  Pattern split_pattern(element split, std::string_view field) const {
    element pattern, regex;
    if (split["pattern"].get(pattern) || pattern["Regex"].get(regex)) fail(field, "expected pattern {\"Regex\": ...}");
    const std::string_view re = str(regex, cat(field, ".pattern.Regex"));
    const auto p = pattern_from_regex(re);
    if (!p) fail(cat(field, ".pattern.Regex"), cat("\"", re, "\" is not the gpt2, cl100k_base or o200k_base pattern"));
    element behavior;
    if (split["behavior"].get(behavior) || str(behavior, field) != "Isolated") fail(cat(field, ".behavior"), "expected \"Isolated\"");
    if (boolean(split, "invert", false, field)) fail(cat(field, ".invert"), "expected false");
    return *p;
  }
};

}  // namespace

Tokenizer Tokenizer::from_hf_json(const std::string& path) { return from_hf_json_string(read_file(path), path); }

Tokenizer Tokenizer::from_hf_json_string(std::string_view json, const std::string& name) {
  Loader L{name};
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  if (auto err = parser.parse(padded).get(root)) L.fail("document", cat("not valid JSON (", simdjson::error_message(err), ")"));

  // normalizer, post_processor, decoder
  if (!L.is_null_or_missing(root, "normalizer")) L.fail("normalizer", "expected null (kiln's byte-level BPE has none)");
  element e;
  if (!root["post_processor"].get(e) && !e.is_null() && L.type_of(e, "post_processor") != "ByteLevel") {
    L.fail("post_processor", "expected null or ByteLevel");
  }
  if (!root["decoder"].get(e) && !e.is_null() && L.type_of(e, "decoder") != "ByteLevel") {
    L.fail("decoder", "expected null or ByteLevel");
  }

  // pre_tokenizer
  HfModelOptions hf;
  Pattern pattern = Pattern::kGpt2;
  element pre;
  if (root["pre_tokenizer"].get(pre) || pre.is_null()) L.fail("pre_tokenizer", "expected ByteLevel or Sequence[Split, ByteLevel]");
  const std::string pre_type = L.type_of(pre, "pre_tokenizer");
  if (pre_type == "ByteLevel") {
    hf.add_prefix_space = L.byte_level(pre, "pre_tokenizer", true);
  } else if (pre_type == "Sequence") {
    simdjson::dom::array list;
    if (pre["pretokenizers"].get_array().get(list) || list.size() != 2) {
      L.fail("pre_tokenizer.pretokenizers", "expected [Split, ByteLevel]");
    }
    element split = list.at(0), bl = list.at(1);
    if (L.type_of(split, "pre_tokenizer.pretokenizers[0]") != "Split") L.fail("pre_tokenizer.pretokenizers[0]", "expected Split");
    if (L.type_of(bl, "pre_tokenizer.pretokenizers[1]") != "ByteLevel") L.fail("pre_tokenizer.pretokenizers[1]", "expected ByteLevel");
    pattern = L.split_pattern(split, "pre_tokenizer.pretokenizers[0]");
    hf.add_prefix_space = L.byte_level(bl, "pre_tokenizer.pretokenizers[1]", false);
  } else {
    L.fail("pre_tokenizer.type", cat("\"", pre_type, "\" is not supported: expected ByteLevel or Sequence"));
  }

  // model
  element model;
  if (root["model"].get(model)) L.fail("model", "missing");
  element type;
  if (!model["type"].get(type) && L.str(type, "model.type") != "BPE") L.fail("model.type", "expected \"BPE\"");
  if (!model["dropout"].get(e) && !e.is_null()) {
    double d = 0;
    if (e.get_double().get(d) || d != 0) L.fail("model.dropout", "expected null (dropout is not deterministic)");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (!model[key].get(e) && !e.is_null() && !L.str(e, key).empty()) L.fail(cat("model.", key), "expected null");
  }
  if (L.boolean(model, "byte_fallback", false, "model")) L.fail("model.byte_fallback", "expected false");
  hf.fuse_unk = L.boolean(model, "fuse_unk", false, "model");
  hf.ignore_merges = L.boolean(model, "ignore_merges", false, "model");
  if (!model["unk_token"].get(e) && !e.is_null()) hf.unk_token = std::string(L.str(e, "model.unk_token"));

  // added_tokens: matched in the raw text before pre-tokenization, like special tokens.
  std::vector<SpecialToken> specials;
  simdjson::dom::array added;
  if (!root["added_tokens"].get_array().get(added)) {
    size_t k = 0;
    for (element t : added) {
      const std::string field = cat("added_tokens[", k++, "]");
      for (const char* key : {"single_word", "lstrip", "rstrip"}) {
        if (L.boolean(t, key, false, field)) L.fail(cat(field, ".", key), "expected false (not supported)");
      }
      element content, id;
      uint64_t id_value;
      if (t["content"].get(content) || t["id"].get(id) || id.get_uint64().get(id_value)) L.fail(field, "expected content and id");
      specials.push_back(SpecialToken{std::string(L.str(content, field)), static_cast<uint32_t>(id_value)});
    }
  }
  std::vector<std::pair<std::string, uint32_t>> vocab;
  simdjson::dom::object vocab_obj;
  if (model["vocab"].get_object().get(vocab_obj)) L.fail("model.vocab", "expected an object");
  vocab.reserve(vocab_obj.size());
  for (auto field : vocab_obj) {
    uint64_t id;
    if (field.value.get_uint64().get(id) || id >= ~0u) L.fail(cat("model.vocab[\"", field.key, "\"]"), "expected an id");
    // Special tokens sit in the vocab with their raw content, which need not be byte-level.
    if (!detail::byte_level_to_bytes(field.key)) {
      const bool special = std::any_of(specials.begin(), specials.end(),
                                       [&](const SpecialToken& t) { return t.content == field.key && t.id == id; });
      if (special) continue;
    }
    vocab.emplace_back(L.bytes_of(field.key, "model.vocab"), static_cast<uint32_t>(id));
  }
  std::vector<std::pair<std::string, std::string>> merges;
  simdjson::dom::array merges_arr;
  if (model["merges"].get_array().get(merges_arr)) L.fail("model.merges", "expected an array");
  merges.reserve(merges_arr.size());
  size_t i = 0;
  for (element m : merges_arr) {
    const std::string field = cat("model.merges[", i++, "]");
    std::string_view a, b;
    if (m.is_string()) {
      hf.legacy_merges = true;
      const std::string_view s = L.str(m, field);
      const size_t sp = s.find(' ');
      if (sp == std::string_view::npos || s.find(' ', sp + 1) != std::string_view::npos) L.fail(field, "expected \"left right\"");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else {
      simdjson::dom::array pair;
      if (m.get_array().get(pair) || pair.size() != 2) L.fail(field, "expected \"left right\" or [\"left\", \"right\"]");
      a = L.str(pair.at(0), field);
      b = L.str(pair.at(1), field);
    }
    merges.emplace_back(L.bytes_of(a, field), L.bytes_of(b, field));
  }

  try {
    return from_merges(std::move(vocab), merges, pattern, std::move(specials), std::move(hf));
  } catch (const Error& err) {
    throw Error(cat(name, ": model: ", err.what()));
  }
}

// ---- saving -----------------------------------------------------------------------------

namespace {

// tiktoken ranks as an HF merge list: the merge that makes token t is the last step of
// byte-pair merging t's own bytes with the tokens ranked below t. With ignore_merges this
// encodes exactly as the ranks do.
std::vector<std::pair<uint32_t, uint32_t>> merges_from_ranks(const detail::Model& m) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  std::vector<uint32_t> parts;
  for (uint32_t id = 0; id < m.tokens.size(); ++id) {
    if (!m.used[id] || m.tokens[id].size() < 2) continue;
    parts.clear();
    for (unsigned char b : m.tokens[id]) parts.push_back(m.byte_ids[b]);
    for (;;) {
      uint32_t best = ~0u, at = 0, merged = 0;
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        const auto* v = m.pairs.find(parts[i], parts[i + 1]);
        if (v && v->rank < id && v->rank < best) {
          best = v->rank;
          merged = v->id;
          at = static_cast<uint32_t>(i);
        }
      }
      if (best == ~0u) break;
      parts[at] = merged;
      parts.erase(parts.begin() + at + 1);
    }
    if (parts.size() != 2) {
      throw Error(cat("token ", id, " cannot be written as an HF merge: its bytes merge into ", parts.size(),
                      " lower-ranked tokens, not 2"));
    }
    out.emplace_back(parts[0], parts[1]);
  }
  return out;
}

void append_byte_level(std::string& out, std::string_view bytes) {
  append_json_string(out, detail::bytes_to_byte_level(bytes));
}

std::string byte_level_json(bool add_prefix_space, bool use_regex) {
  return cat("{\"type\":\"ByteLevel\",\"add_prefix_space\":", add_prefix_space ? "true" : "false",
             ",\"trim_offsets\":true,\"use_regex\":", use_regex ? "true" : "false", "}");
}

}  // namespace

std::string Tokenizer::to_hf_json() const {
  const detail::Model& m = *model_;
  const bool from_ranks = m.rule == MergeRule::kRanks;
  const auto merges = from_ranks ? merges_from_ranks(m) : m.merge_list;
  std::string out = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[";
  std::vector<SpecialToken> specials = m.specials;
  std::sort(specials.begin(), specials.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  for (size_t i = 0; i < specials.size(); ++i) {
    if (i) out += ',';
    out += cat("{\"id\":", specials[i].id, ",\"content\":");
    append_json_string(out, specials[i].content);
    out += ",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}";
  }
  out += "],\"normalizer\":null,\"pre_tokenizer\":";
  if (m.pattern == Pattern::kGpt2) {
    out += byte_level_json(m.hf.add_prefix_space, true);
  } else {
    out += "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":";
    append_json_string(out, pattern_regex(m.pattern));
    out += "},\"behavior\":\"Isolated\",\"invert\":false},";
    out += byte_level_json(m.hf.add_prefix_space, false);
    out += "]}";
  }
  out += ",\"post_processor\":null,\"decoder\":";
  out += byte_level_json(true, true);
  out += ",\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":";
  if (m.hf.unk_token) {
    append_json_string(out, *m.hf.unk_token);
  } else {
    out += "null";
  }
  out += cat(",\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":",
             m.hf.fuse_unk ? "true" : "false", ",\"byte_fallback\":false,\"ignore_merges\":",
             (from_ranks || m.hf.ignore_merges) ? "true" : "false", ",\"vocab\":{");
  // Ordinary tokens in byte-level form, and special tokens that are not also ordinary
  // tokens with their raw content (as HF's trainer puts them in the vocab), by id.
  std::vector<std::pair<uint32_t, std::string>> entries;
  for (uint32_t id = 0; id < m.tokens.size(); ++id) {
    if (m.used[id]) entries.emplace_back(id, detail::bytes_to_byte_level(m.tokens[id]));
  }
  for (const SpecialToken& s : specials) {
    if (s.id >= m.tokens.size() || !m.used[s.id]) entries.emplace_back(s.id, s.content);
  }
  std::sort(entries.begin(), entries.end());
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, entries[i].second);
    out += cat(":", entries[i].first);
  }
  out += "},\"merges\":[";
  for (size_t i = 0; i < merges.size(); ++i) {
    if (i) out += ',';
    if (m.hf.legacy_merges) {
      append_json_string(out, detail::bytes_to_byte_level(m.tokens[merges[i].first]) + " " +
                                  detail::bytes_to_byte_level(m.tokens[merges[i].second]));
    } else {
      out += '[';
      append_byte_level(out, m.tokens[merges[i].first]);
      out += ',';
      append_byte_level(out, m.tokens[merges[i].second]);
      out += ']';
    }
  }
  out += "]}}";
  return out;
}

void Tokenizer::save_hf_json(const std::string& path) const { write_file(path, to_hf_json()); }

}  // namespace kiln::tokenizer
