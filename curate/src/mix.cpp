#include "curate/mix.h"

#include <tbb/combinable.h>
#include <toml++/toml.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <unordered_map>

#include "corpus/error.h"
#include "corpus/text.h"
#include "curate/recipe.h"
#include "curate/src/selection.h"

namespace kiln {
namespace {

// Pass 1: the size of every document of a source, keyed by its position.
class Measure final : public Stage {
 public:
  Measure(MixUnit unit, const TextEncoder* encoder, selection::DocumentKeys keys)
      : unit_(unit), encoder_(encoder), keys_(keys) {}
  std::string_view name() const override { return "mix_measure"; }
  Verdict process(Document& doc, StageState*) const override {
    uint64_t units = 1;
    if (unit_ == MixUnit::kBytes) units = doc.text.size();
    if (unit_ == MixUnit::kTokens) {
      thread_local std::vector<uint32_t> tokens;
      encoder_->encode(doc.text, tokens);
      units = tokens.size();
    }
    sizes_.local().push_back({keys_.of(doc), units});
    return Verdict::keep();
  }
  mutable tbb::combinable<std::vector<selection::Measured>> sizes_;

 private:
  MixUnit unit_;
  const TextEncoder* encoder_;
  selection::DocumentKeys keys_;
};

std::string where(const toml::node& node, const std::string& source) {
  const auto& s = node.source();
  return s.begin ? cat(source, ":", s.begin.line, ":", s.begin.column) : source;
}

void check_keys(const toml::table& table, const std::set<std::string>& allowed, const std::string& source,
                const std::string& name) {
  for (const auto& [key, node] : table) {
    if (allowed.count(std::string(key.str()))) continue;
    const auto& s = key.source();
    std::string at = s.begin ? cat(source, ":", s.begin.line, ":", s.begin.column) : where(node, source);
    throw Error(cat(at, ": unknown key '", key.str(), "' in ", name));
  }
}

}  // namespace

MixOptions parse_mix_recipe(std::string_view toml_text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    throw Error(cat(source, ":", e.source().begin.line, ":", e.source().begin.column, ": ", e.description()));
  }
  check_keys(root, {"mix", "source"}, source, "the mix recipe (expected [mix] and [[source]])");
  MixOptions o;
  const toml::table* mix = root["mix"].as_table();
  if (!mix) throw Error(cat(source, ": missing [mix] table"));
  check_keys(*mix, {"unit", "budget", "seed", "max_epochs", "output", "tokenizer", "text_field", "shard_size", "threads"},
             source, "[mix]");
  auto unit = (*mix)["unit"].value_or(std::string("bytes"));
  if (unit == "tokens") o.unit = MixUnit::kTokens;
  else if (unit == "bytes") o.unit = MixUnit::kBytes;
  else if (unit == "docs") o.unit = MixUnit::kDocs;
  else throw Error(cat(where(*mix->get("unit"), source), ": [mix] unit must be tokens, bytes or docs"));
  auto budget = (*mix)["budget"].value<int64_t>();
  if (!budget || *budget <= 0) throw Error(cat(source, ": [mix] budget must be a positive integer (units)"));
  o.budget = uint64_t(*budget);
  o.seed = uint64_t((*mix)["seed"].value_or(int64_t(0)));
  o.max_epochs = (*mix)["max_epochs"].value_or(4.0);
  o.output_dir = (*mix)["output"].value_or(std::string());
  if (o.output_dir.empty()) throw Error(cat(source, ": [mix] output is missing"));
  o.tokenizer = (*mix)["tokenizer"].value_or(std::string());
  if (o.unit == MixUnit::kTokens && o.tokenizer.empty())
    throw Error(cat(source, ": [mix] unit = \"tokens\" needs tokenizer = \"<tokenizer.json or .tiktoken>\""));
  o.reader.text_field = (*mix)["text_field"].value_or(std::string("text"));
  if (auto s = (*mix)["shard_size"].value<std::string>()) o.shard_bytes = parse_byte_size(*s);
  o.threads = int((*mix)["threads"].value_or(int64_t(0)));
  const toml::array* sources = root["source"].as_array();
  if (!sources || sources->empty()) throw Error(cat(source, ": no [[source]] tables"));
  std::set<std::string> names;
  for (const toml::node& node : *sources) {
    const toml::table* t = node.as_table();
    if (!t) throw Error(cat(where(node, source), ": [[source]] must be a table"));
    check_keys(*t, {"name", "paths", "weight"}, source, "[[source]]");
    MixSource s;
    s.name = (*t)["name"].value_or(std::string());
    if (s.name.empty() || s.name.find('/') != std::string::npos)
      throw Error(cat(where(node, source), ": [[source]] needs a name without '/'"));
    if (!names.insert(s.name).second) throw Error(cat(where(node, source), ": source name '", s.name, "' used twice"));
    if (const toml::array* paths = (*t)["paths"].as_array())
      for (const toml::node& p : *paths)
        if (auto v = p.value<std::string>()) s.paths.push_back(*v);
    if (s.paths.empty()) throw Error(cat(where(node, source), ": source '", s.name, "' has no paths"));
    s.weight = (*t)["weight"].value_or(0.0);
    if (!(s.weight > 0)) throw Error(cat(where(node, source), ": source '", s.name, "' needs a positive weight"));
    o.sources.push_back(std::move(s));
  }
  return o;
}

MixOptions load_mix_recipe(const std::string& path) { return parse_mix_recipe(read_file(path), path); }

MixResult run_mix(const MixOptions& options, const TextEncoder* encoder) {
  if (options.unit == MixUnit::kTokens && !encoder) throw Error("mix by tokens needs a tokenizer");
  double weight_sum = 0;
  for (auto& s : options.sources) weight_sum += s.weight;
  MixResult result;
  std::filesystem::create_directories(options.output_dir);
  for (const MixSource& source : options.sources) {
    std::vector<std::string> inputs = expand_inputs(source.paths);
    // Pass 1: measure.
    std::vector<std::unique_ptr<Stage>> measure;
    const auto keys = selection::DocumentKeys::for_inputs(inputs, options.seed);
    measure.push_back(std::make_unique<Measure>(options.unit, encoder, keys));
    auto* m = static_cast<Measure*>(measure.back().get());
    PipelineOptions pass;  // both passes read the same way
    pass.reader = options.reader;
    pass.threads = options.threads;
    pass.on_progress = options.on_progress;
    pass.compression = options.compression;
    pass.shard_bytes = options.shard_bytes;
    PipelineOptions measuring = pass;
    measuring.discard_output = true;
    run_pipeline(inputs, measure, measuring);
    std::vector<selection::Measured> sizes;
    m->sizes_.combine_each([&](const auto& v) { sizes.insert(sizes.end(), v.begin(), v.end()); });
    std::sort(sizes.begin(), sizes.end());  // by key: the seeded order, whatever the threads did

    MixSourceResult r;
    r.name = source.name;
    r.weight_share = source.weight / weight_sum;
    r.available_docs = sizes.size();
    for (auto& d : sizes) r.available_units += d.units;
    r.target_units = uint64_t(std::llround(r.weight_share * double(options.budget)));
    if (r.available_units == 0) throw Error(cat("mix source '", source.name, "' holds no units"));
    std::unordered_map<uint64_t, uint32_t> copies;
    copies.reserve(sizes.size());
    r.achieved_units = selection::choose_copies(sizes, r.target_units, copies);
    uint32_t epochs = 0;
    for (auto& [key, n] : copies) {
      r.achieved_docs += n;
      epochs = std::max(epochs, n);
    }
    r.epochs = double(r.achieved_units) / double(r.available_units);
    r.over_max_epochs = r.epochs > options.max_epochs;
    if (r.over_max_epochs)
      result.warnings.push_back(cat("source '", source.name, "' repeats ", r.epochs, " times (max_epochs ",
                                    options.max_epochs, "): add data or lower its weight"));
    // Pass 2: one run per epoch.
    selection::write_copies(inputs, copies, epochs, keys, pass, cat(options.output_dir, "/", source.name), "mix_select",
                            "mix_not_selected");
    result.achieved_total += r.achieved_units;
    result.sources.push_back(r);
  }
  write_file(options.output_dir + "/mix.json", result.to_json());
  return result;
}

std::string MixResult::to_json() const {
  std::string o = cat("{\"achieved_total\":", achieved_total, ",\"sources\":[");
  for (size_t i = 0; i < sources.size(); ++i) {
    const auto& s = sources[i];
    o += i ? ",{\"name\":" : "{\"name\":";
    append_json_string(o, s.name);
    o += cat(",\"weight_share\":", s.weight_share, ",\"achieved_share\":",
             achieved_total ? double(s.achieved_units) / double(achieved_total) : 0.0, ",\"available_units\":",
             s.available_units, ",\"available_docs\":", s.available_docs, ",\"target_units\":", s.target_units,
             ",\"achieved_units\":", s.achieved_units, ",\"achieved_docs\":", s.achieved_docs, ",\"epochs\":", s.epochs,
             ",\"over_max_epochs\":", s.over_max_epochs ? "true" : "false", "}");
  }
  o += "],\"warnings\":[";
  for (size_t i = 0; i < warnings.size(); ++i) {
    if (i) o += ",";
    append_json_string(o, warnings[i]);
  }
  return o + "]}\n";
}

std::string MixResult::to_text() const {
  std::string o = "source                 target   achieved      units (achieved / target)   epochs\n";
  for (const auto& s : sources) {
    char line[256];
    std::snprintf(line, sizeof line, "%-20s %7.1f%% %9.1f%%   %12llu / %-12llu   %6.2f%s\n", s.name.c_str(),
                  100 * s.weight_share, achieved_total ? 100.0 * double(s.achieved_units) / double(achieved_total) : 0.0,
                  (unsigned long long)s.achieved_units, (unsigned long long)s.target_units, s.epochs,
                  s.over_max_epochs ? "  (!)" : "");
    o += line;
  }
  for (auto& w : warnings) o += "warning: " + w + "\n";
  return o;
}

}  // namespace kiln
