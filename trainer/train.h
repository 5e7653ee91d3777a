// The training loop: data → forward/backward (with gradient accumulation) → clip → AdamW,
// with validation, checkpoints, a CSV/JSONL log and a progress callback.
//
//   TrainOptions o;  o.model = {...};  o.max_steps = 2000;  o.checkpoint_path = "out/model.kiln";
//   auto train_tokens = open_token_file("train.bin");
//   TrainResult r = train(o, *train_tokens, val_tokens.get(), [](const TrainProgress& p) { ... });
//
// A step is deterministic given the seed, the data and the thread count, and everything it
// depends on is in the checkpoint (params, AdamW m/v, step, trainer RNG, data cursor), so
// resuming gives bit-identical parameters to never having stopped.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "kernels/data_parallel.h"
#include "trainer/checkpoint.h"
#include "trainer/data.h"
#include "trainer/model.h"
#include "trainer/optimizer.h"

namespace kiln::trainer {

enum class Objective {
  kNextToken,  // causal LM: predict token t+1 from tokens 0..t
  kMaskedLM,   // BERT-style: 15% of positions chosen; of those 80% -> [MASK], 10% random token,
               // 10% unchanged; predict the originals with bidirectional attention.
               // [MASK] is token id vocab_size (a padded vocabulary row), so Vp > V is required.
};

struct TrainOptions {
  GPTConfig model;               // used when starting from scratch
  std::string init_checkpoint;   // start from these parameters (kiln or llm.c file); "" = random init
  std::string resume_checkpoint; // continue a run: params, optimizer state, step, RNG, data cursor
  int batch_size = 8;            // B, sequences per micro-step
  int seq_len = 64;              // T, tokens per sequence (<= block_size)
  int grad_accum_steps = 1;      // micro-steps per optimizer step; tokens/step = B*T*accum
  int max_steps = 1000;          // optimizer steps to reach (counting resumed ones)
  LrSchedule lr;                 // warmup + cosine; decay_steps 0 = max_steps
  AdamWOptions adamw;
  uint64_t seed = 1337;          // initialization, data order, masking
  DataOrder data_order = DataOrder::kRandom;
  Objective objective = Objective::kNextToken;
  int val_every = 0;             // steps between validation losses (0 = only at the end)
  int val_batches = 20;          // batches of (B,T) from the start of the validation data
  int checkpoint_every = 0;      // steps between checkpoints (0 = only at the end)
  std::string checkpoint_path;   // kiln checkpoint written atomically; "" = none
  std::string llmc_path;         // llm.c model file written at the end; "" = none
  std::string log_path;          // training log, CSV if it ends in .csv, else JSONL; "" = none
  int threads = 0;               // CPU threads (0 = all cores)
  // Where the model runs: empty = make_cpu_backend({threads}). The CUDA backend (kernels/,
  // issue 8) plugs in here, e.g. [] { return kiln::kernels::make_cuda_backend(); }.
  std::function<std::unique_ptr<Backend>()> make_backend;
  // Data parallelism (kernels/data_parallel.h): with a communicator of size W, every rank
  // draws the same global batch of W × batch_size sequences, runs its own rows, and the
  // gradients are averaged before the optimizer step, so all ranks stay identical and the
  // run follows the one-process run with batch_size × W. Only rank 0 writes logs and
  // checkpoints. Null = one process.
  std::shared_ptr<kernels::Communicator> communicator;
  // ZeRO stage 1 over the communicator: each rank keeps AdamW's m and v for 1/W of the
  // parameters (see AdamW); the gradient is reduce-scattered and the parameters
  // all-gathered instead of one all-reduce. Checkpoints hold the full state as always.
  bool shard_optimizer = false;
  // Document masking: with end_of_document >= 0 (the EOT that ends every document of the
  // data), attention stays inside documents of windows packed across them — in training
  // and in evaluate(). -1: windows attend across documents (GPT-2, nanoGPT, llm.c).
  int32_t end_of_document = -1;
};

struct TrainProgress {
  uint64_t step = 0;            // steps done
  uint64_t max_steps = 0;
  float loss = 0;               // mean training loss of this step
  float lr = 0;
  float grad_norm = 0;          // before clipping
  float val_loss = -1;          // < 0 when not measured at this step
  double tokens_per_second = 0; // this run so far
  double elapsed_seconds = 0;
  double eta_seconds = 0;
};
using TrainCallback = std::function<void(const TrainProgress&)>;

struct TrainResult {
  uint64_t steps = 0;
  float final_loss = 0;
  float val_loss = -1;  // < 0 without validation data
  double seconds = 0;
  uint64_t tokens = 0;  // trained on in this run
};

// One training run. Throws kiln::Error on bad options or data.
TrainResult train(const TrainOptions& options, const TokenSource& train_data, const TokenSource* val_data,
                  const TrainCallback& progress = {});
// The same from any batch source (e.g. SftLoader for supervised fine-tuning).
TrainResult train(const TrainOptions& options, std::unique_ptr<BatchSource> batches, const TokenSource* val_data,
                  const TrainCallback& progress = {});

// The loop's pieces, for tests and for callers that drive steps themselves.
class Trainer {
 public:
  Trainer(const TrainOptions& options, const TokenSource& train_data);
  // Batches from `batches` (its batch shape must be options.batch_size x options.seq_len).
  Trainer(const TrainOptions& options, std::unique_ptr<BatchSource> batches);
  ~Trainer();
  // One optimizer step (grad_accum_steps micro-steps); returns the mean loss.
  float step();
  uint64_t steps_done() const { return step_; }
  float last_lr() const { return last_lr_; }
  float last_grad_norm() const { return last_grad_norm_; }
  GPT& model() { return *model_; }
  // Mean next-token (or masked-LM) loss over `batches` sequential batches from the start of `data`.
  float evaluate(const TokenSource& data, int batches);
  Checkpoint checkpoint() const;
  void save(const std::string& path) const;
  void load(const Checkpoint& checkpoint);  // the full training state

 private:
  void make_batch();
  // This rank's share of the global batch's targets (rows begin.. of targets_), times W.
  double rank_weight(size_t begin, size_t rows) const;
  TrainOptions options_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<GPT> model_;
  std::unique_ptr<AdamW> optimizer_;
  std::unique_ptr<BatchSource> loader_;
  Rng rng_;
  uint64_t step_ = 0;
  float last_lr_ = 0, last_grad_norm_ = 0;
  std::vector<int32_t> inputs_, targets_;
  std::vector<int32_t> doc_starts_;  // (global B, T) with document masking
};

}  // namespace kiln::trainer
