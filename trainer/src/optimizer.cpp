#include "trainer/optimizer.h"

#include <cmath>

#include "corpus/error.h"

namespace kiln::trainer {

bool parameter_decays(int i, const AdamWOptions& options) {
  if (i == kQkvw || i == kAttprojw || i == kFcw || i == kFcprojw) return true;
  if (i == kWte || i == kWpe) return options.decay_embeddings;
  return false;
}

AdamW::AdamW(GPT& model, const AdamWOptions& options) : model_(model), options_(options) {
  m_ = model.backend().alloc(model.num_params());
  v_ = model.backend().alloc(model.num_params());
}

AdamW::~AdamW() {
  model_.backend().release(m_);
  model_.backend().release(v_);
}

float AdamW::step(float lr) {
  Backend& be = model_.backend();
  const size_t n = model_.num_params();
  const float norm = (float)std::sqrt(be.sum_squares(model_.grads(), n));
  float scale = 1.0f;
  if (options_.grad_clip > 0 && norm > options_.grad_clip) scale = options_.grad_clip / (norm + 1e-6f);
  t_++;
  // In double, as torch computes them (Python floats).
  const float bc1 = (float)(1.0 - std::pow((double)options_.beta1, (double)t_));
  const float bc2 = (float)(1.0 - std::pow((double)options_.beta2, (double)t_));
  const auto sizes = parameter_sizes(model_.config());
  size_t offset = 0;
  for (int i = 0; i < kNumParameterTensors; i++) {  // one call per tensor: its own decay
    if (sizes[i]) {
      be.adamw_update(model_.params() + offset, model_.grads() + offset, m_ + offset, v_ + offset, sizes[i], lr,
                      options_.beta1, options_.beta2, options_.eps,
                      parameter_decays(i, options_) ? options_.weight_decay : 0.0f, bc1, bc2, scale);
    }
    offset += sizes[i];
  }
  return norm;
}

std::vector<float> AdamW::download_m() const {
  std::vector<float> host(model_.num_params());
  model_.backend().to_host(host.data(), m_, host.size());
  return host;
}
std::vector<float> AdamW::download_v() const {
  std::vector<float> host(model_.num_params());
  model_.backend().to_host(host.data(), v_, host.size());
  return host;
}

void AdamW::restore(const std::vector<float>& m, const std::vector<float>& v, uint64_t steps_taken) {
  if (m.size() != model_.num_params() || v.size() != model_.num_params())
    throw Error(cat("optimizer state has ", m.size(), "/", v.size(), " values, the model ", model_.num_params()));
  model_.backend().to_device(m_, m.data(), m.size());
  model_.backend().to_device(v_, v.data(), v.size());
  t_ = steps_taken;
}

float cosine_lr(const LrSchedule& s, uint64_t step) {
  if (s.warmup_steps > 0 && step < (uint64_t)s.warmup_steps) return s.max_lr * (float)(step + 1) / s.warmup_steps;
  if (s.decay_steps <= 0) return s.max_lr;
  if (step >= (uint64_t)s.decay_steps) return s.min_lr;
  const double ratio = (double)(step - s.warmup_steps) / (double)(s.decay_steps - s.warmup_steps);
  const double coeff = 0.5 * (1.0 + std::cos(M_PI * ratio));  // 1 -> 0
  return (float)(s.min_lr + coeff * (s.max_lr - s.min_lr));
}

}  // namespace kiln::trainer
