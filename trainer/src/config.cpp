// Model config from TOML ([model] table), kept apart so only this file pays for toml++.
#include <toml++/toml.h>

#include "corpus/error.h"
#include "trainer/model.h"

namespace kiln::trainer {

void read_model_config(const std::string& path, GPTConfig& config) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw Error(cat(path, ":", e.source().begin.line, ": ", e.description()));
  }
  const toml::table* model = root["model"].as_table();
  if (!model) throw Error(cat(path, ": expected a [model] table"));
  auto integer = [&](const char* key, int& field) {
    if (auto v = (*model)[key].value<int64_t>()) field = (int)*v;
    else if ((*model)[key]) throw Error(cat(path, ": [model] ", key, " must be an integer"));
  };
  integer("n_layer", config.num_layers);
  integer("n_head", config.num_heads);
  integer("n_embd", config.channels);
  integer("block_size", config.max_seq_len);
  integer("vocab_size", config.vocab_size);
  integer("padded_vocab_size", config.padded_vocab_size);
  if (auto v = (*model)["position"].value<std::string>()) {
    if (*v == "learned") config.position = PositionEncoding::kLearned;
    else if (*v == "rope") config.position = PositionEncoding::kRope;
    else throw Error(cat(path, ": [model] position must be \"learned\" or \"rope\", got \"", *v, "\""));
  }
  if (auto v = (*model)["norm"].value<std::string>()) {
    if (*v == "layernorm") config.norm = NormKind::kLayerNorm;
    else if (*v == "rmsnorm") config.norm = NormKind::kRmsNorm;
    else throw Error(cat(path, ": [model] norm must be \"layernorm\" or \"rmsnorm\", got \"", *v, "\""));
  }
  config.validate();
}

}  // namespace kiln::trainer
