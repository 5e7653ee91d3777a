// Stage: one step of a curation pipeline. A stage looks at one document at a time and
// answers keep, or drop with a reason; a transform edits the text or attaches
// attributes and answers keep. The runtime (curate/pipeline.h) counts every reason,
// writes dropped documents to the rejects output and times each stage.
//
// Stage objects are shared by all worker threads and must be const-correct; anything a
// stage mutates while working (scratch buffers, a parser) lives in its StageState, one
// per thread, made by make_state().
//
//   class MinWords final : public Stage {
//    public:
//     std::string_view name() const override { return "min_words"; }
//     Verdict process(Document& doc, StageState*) const override {
//       return count_words(doc.text) < 50 ? Verdict::drop("too_few_words") : Verdict::keep();
//     }
//   };
//
// Stages are built from recipe tables by name through a StageRegistry; each domain
// library registers its stages with a register_<domain>_stages(StageRegistry&) function.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/document.h"

namespace kiln {

enum class Decision { kKeep, kDrop };

struct Verdict {
  Decision decision = Decision::kKeep;
  // Counter name of a drop, e.g. "gopher_short_doc"; must outlive the stage
  // (a string literal or a string the stage owns).
  std::string_view reason;

  static Verdict keep() { return {}; }
  static Verdict drop(std::string_view reason) { return {Decision::kDrop, reason}; }
  bool kept() const { return decision == Decision::kKeep; }
};

class StageState {
 public:
  virtual ~StageState() = default;
};

class Stage {
 public:
  virtual ~Stage() = default;
  // Stable name used in recipes, counters and rejects ("gopher_quality").
  virtual std::string_view name() const = 0;
  // Per-thread state; nullptr if the stage needs none.
  virtual std::unique_ptr<StageState> make_state() const { return nullptr; }
  virtual Verdict process(Document& doc, StageState* state) const = 0;
  // Thresholds this stage applies to attributes it sets ("lang_confidence" → 0.65), drawn
  // on the report's histograms. Attribute members are named "attr.member".
  virtual std::vector<std::pair<std::string, double>> thresholds() const { return {}; }
};

// The options of one stage as written in a recipe ([[stage]] table) or on the command
// line ("key=value,key=value"). Every key a stage reads is marked used; check_all_used()
// turns any other key into an error naming its file and line, so a typo never silently
// becomes a default.
class StageConfig {
 public:
  // Parses TOML text (the body of one stage table). `source` names it in messages.
  static StageConfig parse(std::string_view toml_text, std::string source);
  // Wraps a toml::table owned elsewhere (recipes). `table` is a `const toml::table*`.
  static StageConfig from_toml_table(const void* table, std::string source);
  // "min_words=50,lang=en" → TOML; values that are not TOML literals become strings.
  static StageConfig from_key_values(std::string_view text);

  bool has(std::string_view key) const;
  int64_t get_int(std::string_view key, int64_t fallback) const;
  double get_double(std::string_view key, double fallback) const;  // ints accepted
  bool get_bool(std::string_view key, bool fallback) const;
  std::string get_string(std::string_view key, std::string fallback) const;
  std::vector<std::string> get_strings(std::string_view key, std::vector<std::string> fallback) const;

  // Throws Error naming the first unknown key and its line.
  void check_all_used(std::string_view stage_name) const;
  // "recipe.toml:12:5" for a key, or the source name.
  std::string where(std::string_view key) const;

  struct Impl;  // defined in stage.cpp

 private:
  std::shared_ptr<Impl> impl_;
};

struct StageFactory {
  std::string name;
  std::string summary;  // one line: what it does, its main options
  std::function<std::unique_ptr<Stage>(const StageConfig&)> make;
};

class StageRegistry {
 public:
  void add(StageFactory factory);
  const StageFactory* find(std::string_view name) const;
  const std::vector<StageFactory>& all() const { return factories_; }
  // Builds a stage and checks that every option it was given was used.
  std::unique_ptr<Stage> make(std::string_view name, const StageConfig& config) const;

 private:
  std::vector<StageFactory> factories_;
};

}  // namespace kiln
