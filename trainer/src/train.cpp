#include "trainer/train.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "corpus/error.h"

namespace kiln::trainer {
namespace {
int world_size(const TrainOptions& o) { return o.communicator ? o.communicator->size() : 1; }
int world_rank(const TrainOptions& o) { return o.communicator ? o.communicator->rank() : 0; }
}  // namespace

Trainer::Trainer(const TrainOptions& options, const TokenSource& train_data)
    : Trainer(options, std::make_unique<DataLoader>(
                           train_data, DataLoaderOptions{.batch_size = options.batch_size * world_size(options),
                                                         .seq_len = options.seq_len,
                                                         .order = options.data_order, .seed = options.seed ^ 0xda7aULL})) {}

Trainer::Trainer(const TrainOptions& options, std::unique_ptr<BatchSource> batches)
    : options_(options), loader_(std::move(batches)) {
  if (options_.grad_accum_steps < 1) throw Error("train: grad_accum_steps must be at least 1");
  if (options_.lr.decay_steps == 0) options_.lr.decay_steps = options_.max_steps;
  backend_ = options_.make_backend ? options_.make_backend() : make_cpu_backend({.threads = options_.threads});
  std::unique_ptr<Checkpoint> start;
  if (!options_.resume_checkpoint.empty()) start = std::make_unique<Checkpoint>(read_checkpoint(options_.resume_checkpoint));
  else if (!options_.init_checkpoint.empty()) start = std::make_unique<Checkpoint>(read_any_checkpoint(options_.init_checkpoint));
  const GPTConfig config = start ? start->config : options_.model;
  model_ = std::make_unique<GPT>(config, *backend_);
  if (options_.seq_len > config.max_seq_len)
    throw Error(cat("train: seq_len ", options_.seq_len, " exceeds the model's block_size ", config.max_seq_len));
  if (options_.objective == Objective::kMaskedLM && config.padded_vocab() <= config.vocab_size)
    throw Error(cat("train: masked-LM uses token ", config.vocab_size, " as [MASK] and needs padded_vocab_size > vocab_size"));
  optimizer_ = std::make_unique<AdamW>(*model_, options_.adamw,
                                       options_.shard_optimizer ? options_.communicator.get() : nullptr);
  rng_ = Rng(options_.seed);
  if (!options_.resume_checkpoint.empty()) load(*start);
  else if (start) model_->upload_params(start->params);  // fine-tuning: weights only
  else model_->init_random(options_.seed);
  // The whole global batch is drawn on every rank (same loader, same seed); each runs its rows.
  inputs_.resize((size_t)options_.batch_size * world_size(options_) * options_.seq_len);
  targets_.resize(inputs_.size());
  if (world_size(options_) > 1) options_.communicator->broadcast(*backend_, model_->params(), model_->num_params(), 0);
}

Trainer::~Trainer() = default;

void Trainer::make_batch() {
  loader_->next(inputs_.data(), targets_.data());
  if (options_.end_of_document >= 0) {  // boundaries from the true tokens, before any masking
    doc_starts_.resize(inputs_.size());
    doc_starts_from_end_token(inputs_.data(), (int)(inputs_.size() / options_.seq_len), options_.seq_len,
                              options_.end_of_document, doc_starts_.data());
  }
  if (options_.objective != Objective::kMaskedLM) return;
  // The loader gave (x, next-token y); masked-LM predicts x itself at the chosen positions.
  const int V = model_->config().vocab_size;
  for (size_t i = 0; i < inputs_.size(); i++) {
    targets_[i] = -1;
    if (rng_.uniform() >= 0.15f) continue;
    targets_[i] = inputs_[i];
    const float r = rng_.uniform();
    if (r < 0.8f) inputs_[i] = V;  // [MASK]
    else if (r < 0.9f) inputs_[i] = (int32_t)rng_.below(V);
  }
}

float Trainer::step() {
  const AttentionMask mask =
      options_.objective == Objective::kMaskedLM ? AttentionMask::kBidirectional : AttentionMask::kCausal;
  model_->zero_grad();
  double loss = 0.0;
  const size_t rows = (size_t)options_.batch_size * options_.seq_len, mine = world_rank(options_) * rows;
  for (int micro = 0; micro < options_.grad_accum_steps; micro++) {
    make_batch();
    // The model's loss is the mean over this rank's positions that have a target. With
    // some positions ignored (SFT prompts, masked-LM) ranks hold different counts, so the
    // global batch's mean is each rank's mean weighted by W x (its count / all counts);
    // every rank holds the whole global batch, so no communication is needed. The weight
    // is exactly 1 when every position has a target (next-token).
    const double weight = world_size(options_) > 1 ? rank_weight(mine, rows) : 1.0;
    loss += weight * model_->forward(inputs_.data() + mine, targets_.data() + mine, options_.batch_size,
                                     options_.seq_len, mask, doc_starts_.empty() ? nullptr : doc_starts_.data() + mine);
    model_->backward(weight == 1.0 ? 1.0f / options_.grad_accum_steps
                                   : (float)(weight / options_.grad_accum_steps));
  }
  if (world_size(options_) > 1) {
    // The mean over ranks of equal slices is the gradient of the global batch's mean loss;
    // the clip norm below is then computed from the same averaged gradient on every rank.
    // (A sharded optimizer reduce-scatters the gradient itself.)
    if (!optimizer_->sharded()) options_.communicator->allreduce_mean(*backend_, model_->grads(), model_->num_params());
    loss = options_.communicator->allreduce_sum(loss) / world_size(options_);
  }
  last_lr_ = cosine_lr(options_.lr, step_);
  last_grad_norm_ = optimizer_->step(last_lr_);
  step_++;
  return (float)(loss / options_.grad_accum_steps);
}

double Trainer::rank_weight(size_t begin, size_t rows) const {
  size_t all = 0, mine = 0;
  for (size_t i = 0; i < targets_.size(); i++) {
    const bool counted = targets_[i] >= 0;
    all += counted;
    mine += counted && i >= begin && i < begin + rows;
  }
  return all ? (double)world_size(options_) * (double)mine / (double)all : 0.0;
}

float Trainer::evaluate(const TokenSource& data, int batches) {
  DataLoader loader(data, {.batch_size = options_.batch_size, .seq_len = options_.seq_len,
                           .order = DataOrder::kSequential});
  const AttentionMask mask =
      options_.objective == Objective::kMaskedLM ? AttentionMask::kBidirectional : AttentionMask::kCausal;
  std::vector<int32_t> x((size_t)options_.batch_size * options_.seq_len), y(x.size()), starts;
  const uint64_t windows = (data.size() - 1) / options_.seq_len;  // don't wrap around into repeats
  const int n = (int)std::max<uint64_t>(1, std::min<uint64_t>(batches, windows / options_.batch_size));
  Rng mask_rng(options_.seed ^ 0xe7a1ULL);  // fixed masks: comparable across evaluations
  double sum = 0.0;
  for (int i = 0; i < n; i++) {
    loader.next(x.data(), y.data());
    if (options_.end_of_document >= 0) {
      starts.resize(x.size());
      doc_starts_from_end_token(x.data(), options_.batch_size, options_.seq_len, options_.end_of_document,
                                starts.data());
    }
    if (options_.objective == Objective::kMaskedLM) {
      for (size_t j = 0; j < x.size(); j++) {
        y[j] = mask_rng.uniform() < 0.15f ? x[j] : -1;
        if (y[j] >= 0) x[j] = model_->config().vocab_size;
      }
    }
    sum += model_->forward(x.data(), y.data(), options_.batch_size, options_.seq_len, mask,
                           starts.empty() ? nullptr : starts.data());
  }
  return (float)(sum / n);
}

Checkpoint Trainer::checkpoint() const {
  Checkpoint ck;
  ck.config = model_->config();
  ck.state.step = step_;
  ck.state.rng_state = rng_.state;
  const DataCursor cursor = loader_->cursor();
  ck.state.data_position = cursor.position;
  ck.state.data_rng_state = cursor.rng_state;
  ck.params = model_->download_params();
  ck.adam_m = optimizer_->download_m();
  ck.adam_v = optimizer_->download_v();
  return ck;
}

void Trainer::save(const std::string& path) const { write_checkpoint(path, checkpoint()); }

void Trainer::load(const Checkpoint& ck) {
  const GPTConfig& a = ck.config;
  const GPTConfig& b = model_->config();
  if (a.num_layers != b.num_layers || a.num_heads != b.num_heads || a.channels != b.channels ||
      a.vocab_size != b.vocab_size || a.padded_vocab() != b.padded_vocab() || a.max_seq_len != b.max_seq_len ||
      a.position != b.position || a.norm != b.norm)
    throw Error("resume: the checkpoint's model config differs from this trainer's");
  if (ck.adam_m.empty()) throw Error("resume: the checkpoint has no optimizer state (use it as init_checkpoint)");
  model_->upload_params(ck.params);
  optimizer_->restore(ck.adam_m, ck.adam_v, ck.state.step);
  step_ = ck.state.step;
  rng_.state = ck.state.rng_state;
  loader_->restore({ck.state.data_position, ck.state.data_rng_state});
}

namespace {
class TrainLog {
 public:
  explicit TrainLog(const std::string& path) : csv_(path.size() >= 4 && path.substr(path.size() - 4) == ".csv") {
    if (path.empty()) return;
    file_ = std::fopen(path.c_str(), "a");
    if (!file_) throw Error(cat(path, ": cannot open the training log for appending"));
    std::fseek(file_, 0, SEEK_END);
    if (csv_ && std::ftell(file_) == 0)
      std::fprintf(file_, "step,loss,val_loss,lr,grad_norm,tokens_per_second,elapsed_seconds\n");
  }
  ~TrainLog() {
    if (file_) std::fclose(file_);
  }
  void write(const TrainProgress& p) {
    if (!file_) return;
    char val[32] = "";
    if (p.val_loss >= 0) std::snprintf(val, sizeof val, "%.6f", p.val_loss);
    if (csv_)
      std::fprintf(file_, "%llu,%.6f,%s,%.6g,%.6f,%.1f,%.3f\n", (unsigned long long)p.step, p.loss, val, p.lr,
                   p.grad_norm, p.tokens_per_second, p.elapsed_seconds);
    else
      std::fprintf(file_,
                   "{\"step\":%llu,\"loss\":%.6f,\"val_loss\":%s,\"lr\":%.6g,\"grad_norm\":%.6f,"
                   "\"tokens_per_second\":%.1f,\"elapsed_seconds\":%.3f}\n",
                   (unsigned long long)p.step, p.loss, *val ? val : "null", p.lr, p.grad_norm, p.tokens_per_second,
                   p.elapsed_seconds);
    std::fflush(file_);
  }

 private:
  bool csv_;
  FILE* file_ = nullptr;
};
}  // namespace

TrainResult train(const TrainOptions& options, const TokenSource& train_data, const TokenSource* val_data,
                  const TrainCallback& progress) {
  return train(options,
               std::make_unique<DataLoader>(train_data,
                                            DataLoaderOptions{.batch_size = options.batch_size * world_size(options),
                                                              .seq_len = options.seq_len,
                                                              .order = options.data_order, .seed = options.seed ^ 0xda7aULL}),
               val_data, progress);
}

TrainResult train(const TrainOptions& options, std::unique_ptr<BatchSource> batches, const TokenSource* val_data,
                  const TrainCallback& progress) {
  Trainer trainer(options, std::move(batches));
  const bool leader = world_rank(options) == 0;  // the one rank that writes files
  TrainLog log(leader ? options.log_path : std::string());
  TrainResult result;
  const auto start = std::chrono::steady_clock::now();
  const uint64_t first = trainer.steps_done();
  const uint64_t tokens_per_step =
      (uint64_t)options.batch_size * world_size(options) * options.seq_len * options.grad_accum_steps;
  while (trainer.steps_done() < (uint64_t)options.max_steps) {
    TrainProgress p;
    p.loss = trainer.step();
    p.step = trainer.steps_done();
    p.max_steps = options.max_steps;
    p.lr = trainer.last_lr();
    p.grad_norm = trainer.last_grad_norm();
    if (!std::isfinite(p.loss)) throw Error(cat("train: loss became ", p.loss, " at step ", p.step));
    const bool last = p.step == (uint64_t)options.max_steps;
    if (val_data && ((options.val_every > 0 && p.step % options.val_every == 0) || last))
      p.val_loss = trainer.evaluate(*val_data, options.val_batches);
    p.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const uint64_t done = p.step - first;
    p.tokens_per_second = done * tokens_per_step / std::max(p.elapsed_seconds, 1e-9);
    p.eta_seconds = p.elapsed_seconds / done * (options.max_steps - p.step);
    log.write(p);
    if (progress && leader) progress(p);
    // Every rank takes part in making a checkpoint (a sharded optimizer gathers its state); rank 0 writes it.
    if (!options.checkpoint_path.empty() && options.checkpoint_every > 0 && p.step % options.checkpoint_every == 0 &&
        !last) {
      const Checkpoint ck = trainer.checkpoint();
      if (leader) write_checkpoint(options.checkpoint_path, ck);
    }
    result.final_loss = p.loss;
    if (p.val_loss >= 0) result.val_loss = p.val_loss;
  }
  if (!options.checkpoint_path.empty()) {
    const Checkpoint ck = trainer.checkpoint();
    if (leader) write_checkpoint(options.checkpoint_path, ck);
  }
  if (leader && !options.llmc_path.empty())
    write_llmc_checkpoint(options.llmc_path, trainer.model().config(), trainer.model().download_params());
  result.steps = trainer.steps_done();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.tokens = (result.steps - first) * tokens_per_step;
  return result;
}

}  // namespace kiln::trainer
