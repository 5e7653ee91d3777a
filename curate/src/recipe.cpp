#include "curate/recipe.h"

#include <toml++/toml.h>

#include <cctype>
#include <set>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "curate/balance.h"
#ifdef KILN_HAVE_DEDUP
#include "dedup/dedup.h"
#endif
#include "filters/basic.h"

namespace kiln {

uint64_t parse_byte_size(std::string_view text) {
  std::string s(text);
  size_t end = 0;
  double value = 0;
  try {
    value = std::stod(s, &end);
  } catch (...) {
    throw Error(cat("invalid size '", s, "': expected a number with an optional K, M, G or T suffix"));
  }
  std::string suffix = s.substr(end);
  for (auto& c : suffix) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (suffix.ends_with("IB")) suffix.resize(suffix.size() - 2);
  if (suffix.ends_with("B")) suffix.pop_back();
  double scale = 1;
  if (suffix == "K") scale = 1024.0;
  else if (suffix == "M") scale = 1024.0 * 1024;
  else if (suffix == "G") scale = 1024.0 * 1024 * 1024;
  else if (suffix == "T") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (!suffix.empty()) throw Error(cat("invalid size '", s, "': expected a number with an optional K, M, G or T suffix"));
  if (value < 0) throw Error(cat("invalid size '", s, "': negative"));
  return uint64_t(value * scale);
}

namespace {

// Writes the counterfactual twin of a document: gendered terms swapped. Documents with
// fewer than min_swaps swaps are dropped ("counterfactual_unchanged"), so the output holds
// only new text, ready to be mixed with the original corpus.
class Counterfactual final : public Stage {
 public:
  Counterfactual(TermSwapper swapper, uint64_t min_swaps) : swapper_(std::move(swapper)), min_swaps_(min_swaps) {}
  std::string_view name() const override { return "counterfactual"; }
  Verdict process(Document& doc, StageState*) const override {
    size_t swaps = 0;
    std::string swapped = swapper_.swap(doc.text, &swaps);
    doc.set_attribute("counterfactual_swaps", std::to_string(swaps));
    if (swaps < min_swaps_) return Verdict::drop("counterfactual_unchanged");
    doc.text = std::move(swapped);
    return Verdict::keep();
  }

 private:
  TermSwapper swapper_;
  uint64_t min_swaps_;
};

}  // namespace

void register_curate_stages(StageRegistry& registry) {
  registry.add({"counterfactual",
                "swap gendered terms case-preservingly (pairs=FILE, default built-in English list); drops docs with < "
                "min_swaps swaps",
                [](const StageConfig& c) -> std::unique_ptr<Stage> {
                  std::string pairs = c.get_string("pairs", "");
                  int64_t min_swaps = c.get_int("min_swaps", 1);
                  if (min_swaps < 0) throw Error(cat(c.where("min_swaps"), ": min_swaps must not be negative"));
                  TermSwapper swapper = pairs.empty() ? TermSwapper::english_gender()
                                                      : TermSwapper::from_list(read_file(pairs), pairs);
                  return std::make_unique<Counterfactual>(std::move(swapper), uint64_t(min_swaps));
                }});
}

const StageRegistry& default_stage_registry() {
  static const StageRegistry registry = [] {
    StageRegistry r;
    register_filters_stages(r);
    register_curate_stages(r);
#ifdef KILN_HAVE_DEDUP
    dedup::register_dedup_stages(r);
#endif
    return r;
  }();
  return registry;
}

namespace {

std::string where(const toml::node& node, const std::string& source) {
  const auto& s = node.source();
  return s.begin ? cat(source, ":", s.begin.line, ":", s.begin.column) : source;
}

// Where a key is written (toml++ records it on the key; fall back to its value).
std::string key_where(const toml::key& key, const toml::node& value, const std::string& source) {
  const auto& s = key.source();
  return s.begin ? cat(source, ":", s.begin.line, ":", s.begin.column) : where(value, source);
}

// Reads typed keys of one table and rejects keys nobody read.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string source, std::string table_name)
      : table_(table), source_(std::move(source)), name_(std::move(table_name)) {}

  template <class T>
  std::optional<T> get(std::string_view key, const char* type_name) {
    const toml::node* node = table_.get(key);
    if (!node) return std::nullopt;
    used_.insert(std::string(key));
    auto v = node->value_exact<T>();
    if (!v) throw Error(cat(where(*node, source_), ": [", name_, "] ", key, " must be ", type_name));
    return v;
  }
  std::vector<std::string> strings(std::string_view key) {
    std::vector<std::string> out;
    const toml::node* node = table_.get(key);
    if (!node) return out;
    used_.insert(std::string(key));
    if (auto s = node->value_exact<std::string>()) return {*s};
    const toml::array* array = node->as_array();
    if (!array) throw Error(cat(where(*node, source_), ": [", name_, "] ", key, " must be a string or array of strings"));
    for (const toml::node& item : *array) {
      auto s = item.value_exact<std::string>();
      if (!s) throw Error(cat(where(item, source_), ": [", name_, "] ", key, " must hold strings"));
      out.push_back(*s);
    }
    return out;
  }
  uint64_t size(std::string_view key, uint64_t fallback) {
    const toml::node* node = table_.get(key);
    if (!node) return fallback;
    used_.insert(std::string(key));
    if (auto i = node->value_exact<int64_t>()) {
      if (*i < 0) throw Error(cat(where(*node, source_), ": [", name_, "] ", key, " must not be negative"));
      return uint64_t(*i);
    }
    if (auto s = node->value_exact<std::string>()) {
      try {
        return parse_byte_size(*s);
      } catch (const Error& e) {
        throw Error(cat(where(*node, source_), ": [", name_, "] ", key, ": ", e.what()));
      }
    }
    throw Error(cat(where(*node, source_), ": [", name_, "] ", key, " must be a size like 256M or a byte count"));
  }
  void finish() {
    for (const auto& [key, node] : table_)
      if (!used_.count(std::string(key.str())))
        throw Error(cat(key_where(key, node, source_), ": unknown key '", key.str(), "' in [", name_, "]"));
  }

 private:
  const toml::table& table_;
  std::string source_, name_;
  std::set<std::string> used_;
};

}  // namespace

Recipe parse_recipe(std::string_view toml_text, const std::string& source, const StageRegistry& registry) {
  Recipe recipe;
  recipe.path = source;
  recipe.text = std::string(toml_text);
  // The stage tables must outlive parsing only while stages are built; keep a copy.
  auto root = std::make_shared<toml::table>();
  try {
    *root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    throw Error(cat(source, ":", e.source().begin.line, ":", e.source().begin.column, ": ", e.description()));
  }
  PipelineOptions& p = recipe.pipeline;
  for (const auto& [key, node] : *root) {
    std::string k(key.str());
    if (k != "input" && k != "output" && k != "run" && k != "stage")
      throw Error(cat(where(node, source), ": unknown section '", k, "' (expected [input], [output], [run], [[stage]])"));
  }
  if (const toml::table* input = (*root)["input"].as_table()) {
    TableReader t(*input, source, "input");
    recipe.inputs = t.strings("paths");
    if (auto v = t.get<std::string>("format", "a string")) p.reader.format = parse_input_format(*v);
    if (auto v = t.get<std::string>("text_field", "a string")) p.reader.text_field = *v;
    if (auto v = t.get<std::string>("id_field", "a string")) p.reader.id_field = *v;
    if (auto v = t.get<std::string>("utf8", "\"repair\" or \"reject\"")) {
      if (*v == "repair") p.reader.utf8 = Utf8Policy::kRepair;
      else if (*v == "reject") p.reader.utf8 = Utf8Policy::kReject;
      else throw Error(cat(where(*input->get("utf8"), source), ": [input] utf8 must be \"repair\" or \"reject\""));
    }
    p.reader.max_record_bytes = t.size("max_record_bytes", p.reader.max_record_bytes);
    auto types = t.strings("warc_types");
    if (!types.empty()) p.reader.warc_types = types;
    t.finish();
  }
  if (recipe.inputs.empty()) throw Error(cat(source, ": [input] paths is missing: name at least one input"));
  if (const toml::table* output = (*root)["output"].as_table()) {
    TableReader t(*output, source, "output");
    if (auto v = t.get<std::string>("dir", "a string")) p.output_dir = *v;
    if (auto v = t.get<std::string>("compression", "\"zstd\", \"gzip\" or \"none\"")) {
      if (*v == "zstd") p.compression = Compression::kZstd;
      else if (*v == "gzip") p.compression = Compression::kGzip;
      else if (*v == "none") p.compression = Compression::kNone;
      else throw Error(cat(where(*output->get("compression"), source), ": [output] compression must be zstd, gzip or none"));
    }
    if (auto v = t.get<int64_t>("level", "an integer")) p.compression_level = int(*v);
    p.shard_bytes = t.size("shard_size", p.shard_bytes);
    if (auto v = t.get<bool>("rejects", "true or false")) p.write_rejects = *v;
    t.finish();
  }
  if (const toml::table* run = (*root)["run"].as_table()) {
    TableReader t(*run, source, "run");
    if (auto v = t.get<int64_t>("threads", "an integer")) p.threads = int(*v);
    if (auto v = t.get<bool>("strict", "true or false")) p.strict = *v;
    if (auto v = t.get<bool>("resume", "true or false")) p.resume = *v;
    if (auto v = t.get<int64_t>("batch_docs", "an integer")) p.batch_docs = size_t(std::max<int64_t>(1, *v));
    p.batch_bytes = t.size("batch_bytes", p.batch_bytes);
    t.finish();
  }
  if (const toml::node* stages = root->get("stage")) {
    const toml::array* array = stages->as_array();
    if (!array) throw Error(cat(where(*stages, source), ": stages are written as [[stage]] tables"));
    for (const toml::node& item : *array) {
      const toml::table* table = item.as_table();
      if (!table) throw Error(cat(where(item, source), ": a [[stage]] must be a table"));
      auto type = table->get("type");
      if (!type || !type->value_exact<std::string>())
        throw Error(cat(where(item, source), ": [[stage]] needs type = \"<stage name>\" (see `kiln stages`)"));
      StageConfig config = StageConfig::from_toml_table(table, source);
      recipe.stages.push_back(registry.make(*type->value_exact<std::string>(), config));
    }
  }
  return recipe;
}

Recipe load_recipe(const std::string& path, const StageRegistry& registry) {
  return parse_recipe(read_file(path), path, registry);
}

}  // namespace kiln
