// AdamW with decoupled weight decay, global-norm gradient clipping, and the learning-rate
// schedule (linear warmup, cosine decay).
//
//   AdamW opt(model, AdamWOptions{.weight_decay = 0.1f});
//   float lr = cosine_lr(schedule, step);
//   float grad_norm = opt.step(lr);   // clips, updates params, returns the pre-clip norm
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/data_parallel.h"
#include "trainer/model.h"

namespace kiln::trainer {

struct AdamWOptions {
  float beta1 = 0.9f;
  float beta2 = 0.95f;          // GPT-3 / nanoGPT / llm.c
  float eps = 1e-8f;
  float weight_decay = 0.1f;    // decoupled (AdamW); applied only to the tensors below
  bool decay_embeddings = false;  // also decay wte/wpe (GPT-2 style: no)
  float grad_clip = 1.0f;       // max global L2 norm of the gradient; <= 0 disables clipping
};

// Which parameter tensors receive weight decay: the 2-D matmul weights (qkvw, attprojw,
// fcw, fcprojw), plus wte/wpe if decay_embeddings; never norms or biases.
bool parameter_decays(int tensor_index, const AdamWOptions& options);

class AdamW {
 public:
  // With `shard_over` (a communicator of W ranks; ZeRO stage 1), each rank keeps m and v
  // only for its shard_range of the parameters: step() reduce-scatters the gradient
  // (instead of the caller all-reducing it), updates its shard, and all-gathers the
  // parameters, so every rank ends the step with the same full parameters at 1/W of the
  // optimizer memory. Without it (or with W = 1), the plain update on every rank.
  AdamW(GPT& model, const AdamWOptions& options, kernels::Communicator* shard_over = nullptr);
  ~AdamW();
  AdamW(const AdamW&) = delete;
  AdamW& operator=(const AdamW&) = delete;

  // One update from model.grads(): clips to grad_clip (torch.nn.utils.clip_grad_norm_'s
  // rule: scale by clip / (norm + 1e-6) when norm > clip), then AdamW. Returns the norm
  // before clipping.
  float step(float lr);
  uint64_t steps_taken() const { return t_; }

  // Optimizer state for checkpoints (full host copies, gathered from every rank when
  // sharded: then a collective call, made on every rank) and restoring it (each rank keeps its shard).
  std::vector<float> download_m() const;
  std::vector<float> download_v() const;
  void restore(const std::vector<float>& m, const std::vector<float>& v, uint64_t steps_taken);
  bool sharded() const { return shard_over_ != nullptr; }

 private:
  std::vector<float> download(const float* state) const;
  GPT& model_;
  AdamWOptions options_;
  kernels::Communicator* shard_over_ = nullptr;  // null unless sharded over > 1 rank
  kernels::ShardRange shard_;                    // the parameters this rank updates
  float* m_ = nullptr;  // (shard_.size) first moment
  float* v_ = nullptr;  // (shard_.size) second moment
  uint64_t t_ = 0;
};

struct LrSchedule {
  float max_lr = 6e-4f;    // peak learning rate, reached at the end of warmup
  float min_lr = 6e-5f;    // floor of the cosine decay (nanoGPT: max_lr / 10)
  int warmup_steps = 0;    // linear warmup: lr = max_lr * (step + 1) / warmup_steps
  int decay_steps = 0;     // cosine from max_lr at warmup_steps to min_lr at decay_steps; 0 = constant
};
// The learning rate for optimizer step `step` (0-based).
float cosine_lr(const LrSchedule& schedule, uint64_t step);

}  // namespace kiln::trainer
