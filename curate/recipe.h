// Recipes: a TOML file that names the inputs, the stages with their options, and the
// output of a curate run. Every key is checked: an unknown key is an error naming the
// file, line and column, so a typo never silently turns into a default.
//
//   [input]
//   paths = ["data/sample/*.jsonl.zst"]   # globs and directories; relative to the cwd
//   text_field = "text"
//
//   [output]
//   dir = "out/sample"
//
//   [[stage]]
//   type = "length"
//   min_words = 50
//
//   Recipe recipe = load_recipe("recipe.toml", registry);
//   run_pipeline(expand_inputs(recipe.inputs), recipe.stages, recipe.pipeline);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "corpus/stage.h"
#include "curate/pipeline.h"

namespace kiln {

struct Recipe {
  std::string path;                           // the recipe file
  std::string text;                           // its contents, for the report
  std::vector<std::string> inputs;            // patterns as written
  std::vector<std::unique_ptr<Stage>> stages;
  PipelineOptions pipeline;
};

// Parses and validates a recipe; builds its stages from `registry`. Throws Error with
// file:line:column for syntax errors, unknown keys, wrong types and unknown stages.
Recipe load_recipe(const std::string& path, const StageRegistry& registry);
Recipe parse_recipe(std::string_view toml_text, const std::string& source, const StageRegistry& registry);

// The stages curate itself defines (counterfactual augmentation).
void register_curate_stages(StageRegistry& registry);

// Every stage kiln knows (filters, dedup, ...), for recipes and `kiln stages`.
const StageRegistry& default_stage_registry();

// Parses "256M", "4G", 1000 (bytes). Throws Error.
uint64_t parse_byte_size(std::string_view text);

}  // namespace kiln
