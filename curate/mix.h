// Mixtures: documents from several sources in chosen proportions of tokens, bytes or
// documents, up to a total budget (`kiln mix RECIPE.toml`).
//
// Each source contributes weight/Σweights × budget units. A source that holds fewer units
// is repeated: whole epochs first, then a seeded subset for the fraction, chosen in the
// order of xxh3(seed, file, byte offset) of each document, so the choice depends neither on
// thread count nor on the order files are listed in. Epoch k of a source is written to
// <output>/<source>/epoch-<k>/ as ordinary shards (with the pipeline's resume markers).
//
//   [mix]
//   unit = "tokens"          # tokens (needs tokenizer), bytes or docs
//   budget = 1000000
//   tokenizer = "tok.json"
//   output = "out/mix"
//   max_epochs = 4           # warn when a source must repeat more often
//   [[source]]
//   name = "web"
//   paths = ["out/web"]
//   weight = 0.7
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "curate/pack.h"
#include "curate/pipeline.h"

namespace kiln {

enum class MixUnit { kTokens, kBytes, kDocs };

struct MixSource {
  std::string name;
  std::vector<std::string> paths;
  double weight = 1;
};

struct MixOptions {
  MixUnit unit = MixUnit::kBytes;
  uint64_t budget = 0;       // units in the whole mixture
  uint64_t seed = 0;
  double max_epochs = 4;     // repeating a source more often than this is warned about
  std::string output_dir;
  std::string tokenizer;     // for unit = tokens (the CLI loads it)
  ReaderOptions reader;
  Compression compression = Compression::kZstd;
  uint64_t shard_bytes = uint64_t(256) << 20;
  int threads = 0;
  std::vector<MixSource> sources;
  std::function<void(const ProgressInfo&)> on_progress;  // each pass's progress (see PipelineOptions)
};

struct MixSourceResult {
  std::string name;
  double weight_share = 0;       // target share of the budget
  uint64_t available_units = 0;  // in the source
  uint64_t available_docs = 0;
  uint64_t target_units = 0;
  uint64_t achieved_units = 0;
  uint64_t achieved_docs = 0;    // documents written, repeats counted
  double epochs = 0;             // achieved_units / available_units
  bool over_max_epochs = false;
};

struct MixResult {
  uint64_t achieved_total = 0;
  std::vector<MixSourceResult> sources;
  std::vector<std::string> warnings;
  std::string to_json() const;
  std::string to_text() const;  // the table kiln mix prints
};

// Parses a mix recipe. Throws Error with file:line:column for unknown keys and bad values.
MixOptions load_mix_recipe(const std::string& path);
MixOptions parse_mix_recipe(std::string_view toml_text, const std::string& source);

// `encoder` is required for MixUnit::kTokens and ignored otherwise.
MixResult run_mix(const MixOptions& options, const TextEncoder* encoder);

}  // namespace kiln
