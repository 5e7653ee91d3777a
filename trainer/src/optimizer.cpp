#include "trainer/optimizer.h"

#include <algorithm>
#include <cmath>

#include "corpus/error.h"

namespace kiln::trainer {

bool parameter_decays(int i, const AdamWOptions& options) {
  if (i == kQkvw || i == kAttprojw || i == kFcw || i == kFcprojw) return true;
  if (i == kWte || i == kWpe) return options.decay_embeddings;
  return false;
}

AdamW::AdamW(GPT& model, const AdamWOptions& options, kernels::Communicator* shard_over)
    : model_(model), options_(options), shard_{0, model.num_params()} {
  if (shard_over && shard_over->size() > 1) {
    shard_over_ = shard_over;
    shard_ = kernels::shard_range(model.num_params(), shard_over->rank(), shard_over->size());
  }
  m_ = model.backend().alloc(shard_.size);
  v_ = model.backend().alloc(shard_.size);
}

AdamW::~AdamW() {
  model_.backend().release(m_);
  model_.backend().release(v_);
}

float AdamW::step(float lr) {
  Backend& be = model_.backend();
  const size_t n = model_.num_params();
  if (shard_over_) shard_over_->reduce_scatter_mean(be, model_.grads(), n);
  double sum_squares = be.sum_squares(model_.grads() + shard_.begin, shard_.size);
  if (shard_over_) sum_squares = shard_over_->allreduce_sum(sum_squares);
  const float norm = (float)std::sqrt(sum_squares);
  float scale = 1.0f;
  if (options_.grad_clip > 0 && norm > options_.grad_clip) scale = options_.grad_clip / (norm + 1e-6f);
  t_++;
  // In double, as torch computes them (Python floats).
  const float bc1 = (float)(1.0 - std::pow((double)options_.beta1, (double)t_));
  const float bc2 = (float)(1.0 - std::pow((double)options_.beta2, (double)t_));
  const auto sizes = parameter_sizes(model_.config());
  size_t offset = 0;
  const size_t shard_end = shard_.begin + shard_.size;
  for (int i = 0; i < kNumParameterTensors; i++) {  // one call per tensor (its own decay), within the shard
    const size_t lo = std::max(offset, shard_.begin), hi = std::min(offset + sizes[i], shard_end);
    if (lo < hi) {
      be.adamw_update(model_.params() + lo, model_.grads() + lo, m_ + (lo - shard_.begin), v_ + (lo - shard_.begin),
                      hi - lo, lr, options_.beta1, options_.beta2, options_.eps,
                      parameter_decays(i, options_) ? options_.weight_decay : 0.0f, bc1, bc2, scale);
    }
    offset += sizes[i];
  }
  if (shard_over_) shard_over_->all_gather(be, model_.params(), n);
  return norm;
}

std::vector<float> AdamW::download(const float* state) const {
  const size_t n = model_.num_params();
  std::vector<float> host(n);
  model_.backend().to_host(host.data() + shard_.begin, state, shard_.size);
  if (shard_over_) {  // every rank's shard from its owner (checkpoints only: host bytes are fine)
    for (int r = 0; r < shard_over_->size(); r++) {
      const kernels::ShardRange s = kernels::shard_range(n, r, shard_over_->size());
      shard_over_->broadcast_bytes(host.data() + s.begin, s.size * sizeof(float), r);
    }
  }
  return host;
}
std::vector<float> AdamW::download_m() const { return download(m_); }
std::vector<float> AdamW::download_v() const { return download(v_); }

void AdamW::restore(const std::vector<float>& m, const std::vector<float>& v, uint64_t steps_taken) {
  if (m.size() != model_.num_params() || v.size() != model_.num_params())
    throw Error(cat("optimizer state has ", m.size(), "/", v.size(), " values, the model ", model_.num_params()));
  model_.backend().to_device(m_, m.data() + shard_.begin, shard_.size);
  model_.backend().to_device(v_, v.data() + shard_.begin, shard_.size);
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
