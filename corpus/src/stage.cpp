#include "corpus/stage.h"

#include <algorithm>
#include <set>
#include <toml++/toml.h>

#include "corpus/error.h"

namespace kiln {

struct StageConfig::Impl {
  toml::table owned;                  // when parsed here
  const toml::table* table = nullptr;  // what is read
  std::string source;
  mutable std::set<std::string, std::less<>> used;
};

namespace {
std::string location(const toml::node& node, const std::string& source) {
  const auto& where = node.source();
  if (!where.begin) return source;
  return cat(source, ":", where.begin.line, ":", where.begin.column);
}
}  // namespace

StageConfig StageConfig::parse(std::string_view toml_text, std::string source) {
  StageConfig config;
  config.impl_ = std::make_shared<Impl>();
  try {
    config.impl_->owned = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    throw Error(cat(source, ":", e.source().begin.line, ":", e.source().begin.column, ": ", e.description()));
  }
  config.impl_->table = &config.impl_->owned;
  config.impl_->source = std::move(source);
  return config;
}

StageConfig StageConfig::from_toml_table(const void* table, std::string source) {
  StageConfig config;
  config.impl_ = std::make_shared<Impl>();
  config.impl_->table = static_cast<const toml::table*>(table);
  config.impl_->source = std::move(source);
  return config;
}

StageConfig StageConfig::from_key_values(std::string_view text) {
  std::string toml_text;
  size_t start = 0;
  while (start <= text.size()) {
    // Items end at a comma outside brackets and quotes, so lists stay whole:
    // languages=["eng","deu"],min_confidence=0.5
    size_t end = start;
    int depth = 0;
    bool quoted = false;
    for (; end < text.size(); ++end) {
      char c = text[end];
      if (c == '"' && (end == start || text[end - 1] != '\\')) quoted = !quoted;
      else if (!quoted && (c == '[' || c == '{')) ++depth;
      else if (!quoted && (c == ']' || c == '}')) --depth;
      else if (!quoted && depth == 0 && c == ',') break;
    }
    std::string_view item = text.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) throw Error(cat("stage option '", item, "': expected key=value"));
    std::string key(item.substr(0, eq)), value(item.substr(eq + 1));
    // A value that parses as a TOML literal keeps its type; anything else is a string.
    bool literal = true;
    try {
      (void)toml::parse("v = " + value);
    } catch (const toml::parse_error&) {
      literal = false;
    }
    if (!literal) {
      std::string quoted = "\"";
      for (char c : value) {
        if (c == '"' || c == '\\') quoted += '\\';
        quoted += c;
      }
      value = quoted + "\"";
    }
    toml_text += key + " = " + value + "\n";
  }
  return parse(toml_text, "command line");
}

bool StageConfig::has(std::string_view key) const { return impl_->table->contains(key); }

namespace {
template <class T>
T read_value(const StageConfig::Impl& impl, std::string_view key, T fallback, const char* type_name) {
  const toml::node* node = impl.table->get(key);
  if (!node) return fallback;
  impl.used.insert(std::string(key));
  if constexpr (std::is_same_v<T, double>) {
    if (auto i = node->value_exact<int64_t>()) return double(*i);
  }
  auto v = node->value_exact<T>();
  if (!v) throw Error(cat(location(*node, impl.source), ": option '", key, "' must be ", type_name));
  return *v;
}
}  // namespace

int64_t StageConfig::get_int(std::string_view key, int64_t fallback) const {
  return read_value<int64_t>(*impl_, key, fallback, "an integer");
}
double StageConfig::get_double(std::string_view key, double fallback) const {
  return read_value<double>(*impl_, key, fallback, "a number");
}
bool StageConfig::get_bool(std::string_view key, bool fallback) const {
  return read_value<bool>(*impl_, key, fallback, "true or false");
}
std::string StageConfig::get_string(std::string_view key, std::string fallback) const {
  return read_value<std::string>(*impl_, key, std::move(fallback), "a string");
}
std::vector<std::string> StageConfig::get_strings(std::string_view key, std::vector<std::string> fallback) const {
  const toml::node* node = impl_->table->get(key);
  if (!node) return fallback;
  impl_->used.insert(std::string(key));
  if (auto single = node->value_exact<std::string>()) return {*single};  // "en" means ["en"]
  const toml::array* array = node->as_array();
  if (!array) throw Error(cat(location(*node, impl_->source), ": option '", key, "' must be an array of strings"));
  std::vector<std::string> out;
  for (const toml::node& item : *array) {
    auto s = item.value_exact<std::string>();
    if (!s) throw Error(cat(location(item, impl_->source), ": option '", key, "' must be an array of strings"));
    out.push_back(*s);
  }
  return out;
}

void StageConfig::check_all_used(std::string_view stage_name) const {
  for (const auto& [key, node] : *impl_->table) {
    if (key.str() == "type" || impl_->used.count(key.str())) continue;
    const auto& at = key.source();
    std::string where = at.begin ? cat(impl_->source, ":", at.begin.line, ":", at.begin.column) : location(node, impl_->source);
    throw Error(cat(where, ": unknown option '", key.str(), "' for stage '", stage_name, "'"));
  }
}

std::string StageConfig::where(std::string_view key) const {
  const toml::node* node = impl_->table->get(key);
  return node ? location(*node, impl_->source) : impl_->source;
}

void StageRegistry::add(StageFactory factory) {
  if (find(factory.name)) throw Error(cat("stage '", factory.name, "' registered twice"));
  factories_.push_back(std::move(factory));
  std::sort(factories_.begin(), factories_.end(), [](auto& a, auto& b) { return a.name < b.name; });
}

const StageFactory* StageRegistry::find(std::string_view name) const {
  for (const auto& f : factories_)
    if (f.name == name) return &f;
  return nullptr;
}

std::unique_ptr<Stage> StageRegistry::make(std::string_view name, const StageConfig& config) const {
  const StageFactory* factory = find(name);
  if (!factory) {
    std::string known;
    for (const auto& f : factories_) known += (known.empty() ? "" : ", ") + f.name;
    throw Error(cat(config.where("type"), ": unknown stage '", name, "' (known: ", known, ")"));
  }
  auto stage = factory->make(config);
  config.check_all_used(name);
  return stage;
}

}  // namespace kiln
