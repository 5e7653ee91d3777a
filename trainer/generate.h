// Text generation with a KV cache: prompt → sampled continuation.
//
//   SampleOptions s{.temperature = 0.8f, .top_k = 40, .seed = 7};
//   std::vector<int32_t> out = generate(model, byte_tokens("ROMEO:"), 200, s);
//
// Sampling order (as in HF transformers' logits processors): temperature, then top-k, then
// top-p (nucleus: the smallest set of most likely tokens whose probability reaches top_p,
// always at least one), then one draw from the renormalized distribution. temperature 0 is
// greedy (argmax; ties to the lowest id).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "trainer/model.h"
#include "trainer/rng.h"

namespace kiln::trainer {

struct SampleOptions {
  float temperature = 1.0f;  // logits are divided by it; 0 = greedy
  int top_k = 0;             // keep the k most likely tokens; 0 = all
  float top_p = 1.0f;        // nucleus threshold in (0, 1]; 1 = off
  uint64_t seed = 1337;      // the sampling Rng's seed: same seed, same text
  int32_t stop_token = -1;   // stop after emitting this token (e.g. end-of-text); -1 = none
};

// Picks one token from logits (V). Exposed for tests.
int32_t sample_token(const float* logits, int V, const SampleOptions& options, Rng& rng);

// Returns the `max_new_tokens` (or fewer, at stop_token) tokens that follow `prompt`. When
// the context reaches block_size, the cache is rebuilt from the last block_size/2 tokens.
// on_token (optional) sees each new token and may return false to stop early.
std::vector<int32_t> generate(GPT& model, const std::vector<int32_t>& prompt, int max_new_tokens,
                              const SampleOptions& options, const std::function<bool(int32_t)>& on_token = {});

}  // namespace kiln::trainer
