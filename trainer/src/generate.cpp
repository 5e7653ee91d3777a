#include "trainer/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "corpus/error.h"

namespace kiln::trainer {

int32_t sample_token(const float* logits, int V, const SampleOptions& o, Rng& rng) {
  if (o.temperature <= 0.0f) return (int32_t)(std::max_element(logits, logits + V) - logits);
  std::vector<int32_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  // Most likely first; ties by id so the draw does not depend on the sort's stability.
  std::sort(order.begin(), order.end(),
            [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  int keep = (o.top_k > 0 && o.top_k < V) ? o.top_k : V;
  std::vector<double> p(keep);
  const double m = logits[order[0]] / o.temperature;
  double sum = 0.0;
  for (int i = 0; i < keep; i++) sum += p[i] = std::exp(logits[order[i]] / o.temperature - m);
  if (o.top_p < 1.0f) {
    double cumulative = 0.0;
    int n = 0;
    while (n < keep) {
      cumulative += p[n++] / sum;
      if (cumulative >= o.top_p) break;
    }
    keep = n;
    sum = std::accumulate(p.begin(), p.begin() + keep, 0.0);
  }
  double r = rng.uniform() * sum;
  for (int i = 0; i < keep; i++) {
    r -= p[i];
    if (r < 0.0) return order[i];
  }
  return order[keep - 1];
}

std::vector<int32_t> generate(GPT& model, const std::vector<int32_t>& prompt, int max_new_tokens,
                              const SampleOptions& options, const std::function<bool(int32_t)>& on_token) {
  if (prompt.empty()) throw Error("generate: the prompt needs at least one token");
  const int maxT = model.config().max_seq_len, V = model.config().vocab_size, Vp = model.config().padded_vocab();
  Rng rng(options.seed);
  std::vector<float> logits(Vp);
  std::vector<int32_t> context = prompt, out;
  auto prefill = [&](size_t from) {
    model.decode_reset(1);
    for (size_t i = from; i < context.size(); i++) model.decode_step(&context[i], logits.data());
  };
  prefill(context.size() > (size_t)maxT ? context.size() - maxT : 0);
  for (int n = 0; n < max_new_tokens; n++) {
    const int32_t token = sample_token(logits.data(), V, options, rng);
    out.push_back(token);
    context.push_back(token);
    if (on_token && !on_token(token)) break;
    if (token == options.stop_token || n + 1 == max_new_tokens) break;
    if (model.decode_length() == maxT) prefill(context.size() - maxT / 2);
    else model.decode_step(&token, logits.data());
  }
  return out;
}

}  // namespace kiln::trainer
