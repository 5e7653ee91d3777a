#include "filters/demographics.h"

#include <toml++/toml.h>

#include <algorithm>

#include "corpus/document.h"
#include "corpus/error.h"
#include "corpus/text.h"
#include "filters/src/word_phrases.h"

namespace kiln {

struct DemographicTagger::Impl {
  std::vector<Group> groups;
  phrase_detail::PhraseSet phrases;
};

DemographicTagger::DemographicTagger(const DemographicOptions& o) : impl_(std::make_unique<Impl>()) {
  std::string path = o.terms_path.empty() ? default_demographic_terms_path() : o.terms_path;
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw Error(cat(path, ":", e.source().begin.line, ": ", e.description()));
  }
  for (const auto& axis : o.axes)
    if (!root.contains(axis)) throw Error(cat(path, ": no axis [", axis, "]"));
  for (const auto& [axis_key, axis_node] : root) {
    std::string axis(axis_key.str());
    if (!o.axes.empty() && std::find(o.axes.begin(), o.axes.end(), axis) == o.axes.end()) continue;
    const toml::table* groups = axis_node.as_table();
    if (!groups) throw Error(cat(path, ":", axis_node.source().begin.line, ": [", axis, "] must be a table of lists"));
    for (const auto& [group_key, terms_node] : *groups) {
      const toml::array* terms = terms_node.as_array();
      if (!terms) throw Error(cat(path, ":", terms_node.source().begin.line, ": ", axis, ".", group_key.str(),
                                  " must be a list of strings"));
      uint32_t id = uint32_t(impl_->groups.size());
      impl_->groups.push_back({axis, std::string(group_key.str())});
      for (const auto& t : *terms) {
        auto s = t.value<std::string>();
        if (!s) throw Error(cat(path, ":", t.source().begin.line, ": terms must be strings"));
        if (!impl_->phrases.add(*s, id))
          throw Error(cat(path, ":", t.source().begin.line, ": term '", *s, "' has no letters or digits"));
      }
    }
  }
}

DemographicTagger::~DemographicTagger() = default;
const std::vector<DemographicTagger::Group>& DemographicTagger::groups() const { return impl_->groups; }

DemographicCounts DemographicTagger::count(std::string_view text) const {
  DemographicCounts c;
  c.counts.assign(impl_->groups.size(), 0);
  thread_local std::vector<uint64_t> words;
  phrase_detail::word_hashes(text, words);
  impl_->phrases.count(words, c.counts);
  return c;
}

std::string DemographicTagger::to_json(const DemographicCounts& c) const {
  std::string out = "{";
  std::string current_axis;
  bool axis_open = false;
  for (size_t i = 0; i < c.counts.size(); ++i) {
    if (!c.counts[i]) continue;
    const Group& g = impl_->groups[i];
    if (!axis_open || g.axis != current_axis) {
      if (axis_open) out += "},";
      out += json_quote(g.axis) + ":{";
      current_axis = g.axis;
      axis_open = true;
    } else {
      out += ',';
    }
    out += json_quote(g.name) + ":" + std::to_string(c.counts[i]);
  }
  if (axis_open) out += "}";
  return out + "}";
}

std::string default_demographic_terms_path() {
  return std::string(KILN_SOURCE_DIR) + "/filters/data/demographic_terms.toml";
}

namespace {

class DemographicStage final : public Stage {
 public:
  explicit DemographicStage(const DemographicOptions& o) : tagger_(o) {}
  std::string_view name() const override { return "demographic_tags"; }
  Verdict process(Document& doc, StageState*) const override {
    doc.set_attribute("demographics", tagger_.to_json(tagger_.count(doc.text)));
    return Verdict::keep();
  }

 private:
  DemographicTagger tagger_;
};

}  // namespace

std::unique_ptr<Stage> make_demographic_stage(const DemographicOptions& o) { return std::make_unique<DemographicStage>(o); }

void register_demographic_stages(StageRegistry& registry) {
  registry.add({"demographic_tags",
                "count mentions of groups per axis (gender, religion, ethnicity/nationality, age, disability, "
                "sexual orientation) from editable lists; attribute demographics; terms=PATH, axes=[...]",
                [](const StageConfig& c) {
                  DemographicOptions o;
                  o.terms_path = c.get_string("terms", "");
                  o.axes = c.get_strings("axes", {});
                  return make_demographic_stage(o);
                }});
}

}  // namespace kiln
