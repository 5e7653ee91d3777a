// The GPT: parameter layout, forward pass, backward pass, KV-cache decoding.
// Reads top to bottom like llm.c's train_gpt2.c, with every op on the Backend.
#include "trainer/model.h"

#include <cmath>

#include "corpus/error.h"
#include "trainer/rng.h"

namespace kiln::trainer {

const std::array<const char*, kNumParameterTensors> kParameterNames = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"};

void GPTConfig::validate() const {
  if (max_seq_len <= 0) throw Error(cat("model config: block_size must be positive, got ", max_seq_len));
  if (vocab_size <= 0) throw Error(cat("model config: vocab_size must be positive, got ", vocab_size));
  if (padded_vocab() < vocab_size)
    throw Error(cat("model config: padded vocab ", padded_vocab(), " is smaller than vocab_size ", vocab_size));
  if (num_layers <= 0) throw Error(cat("model config: n_layer must be positive, got ", num_layers));
  if (num_heads <= 0 || channels <= 0 || channels % num_heads)
    throw Error(cat("model config: n_embd ", channels, " must be a positive multiple of n_head ", num_heads));
  if (position == PositionEncoding::kRope && (channels / num_heads) % 2)
    throw Error(cat("model config: RoPE needs an even head size, got ", channels / num_heads));
}

std::array<size_t, kNumParameterTensors> parameter_sizes(const GPTConfig& c) {
  const size_t L = c.num_layers, C = c.channels, Vp = c.padded_vocab(), maxT = c.max_seq_len;
  const bool learned = c.position == PositionEncoding::kLearned, ln = c.norm == NormKind::kLayerNorm;
  return {Vp * C,              // wte
          learned ? maxT * C : 0,  // wpe
          L * C,               // ln1w
          ln ? L * C : 0,      // ln1b
          L * 3 * C * C,       // qkvw
          L * 3 * C,           // qkvb
          L * C * C,           // attprojw
          L * C,               // attprojb
          L * C,               // ln2w
          ln ? L * C : 0,      // ln2b
          L * 4 * C * C,       // fcw
          L * 4 * C,           // fcb
          L * C * 4 * C,       // fcprojw
          L * C,               // fcprojb
          C,                   // lnfw
          ln ? C : 0};         // lnfb
}

namespace {
ParameterTensors point_into(float* base, const std::array<size_t, kNumParameterTensors>& sizes) {
  ParameterTensors p;
  for (int i = 0; i < kNumParameterTensors; i++) {
    p.t[i] = sizes[i] ? base : nullptr;
    base += sizes[i];
  }
  return p;
}
}  // namespace

GPT::GPT(const GPTConfig& config, Backend& backend) : config_(config), backend_(backend) {
  config_.validate();
  config_.padded_vocab_size = config_.padded_vocab();
  const auto sizes = parameter_sizes(config_);
  for (size_t s : sizes) num_params_ += s;
  params_ = backend_.alloc(num_params_);
  grads_ = backend_.alloc(num_params_);
  param_tensors_ = point_into(params_, sizes);
  grad_tensors_ = point_into(grads_, sizes);
}

GPT::~GPT() {
  free_activations();
  for (float* p : decode_allocations_) backend_.release(p);
  backend_.release(params_);
  backend_.release(grads_);
}

void GPT::init_random(uint64_t seed) {
  const auto sizes = parameter_sizes(config_);
  std::vector<float> host(num_params_, 0.0f);
  Rng rng(seed);
  const float residual_std = 0.02f / std::sqrt(2.0f * config_.num_layers);
  size_t offset = 0;
  for (int i = 0; i < kNumParameterTensors; i++) {
    float* p = host.data() + offset;
    offset += sizes[i];
    switch (i) {
      case kLn1w: case kLn2w: case kLnfw:
        for (size_t j = 0; j < sizes[i]; j++) p[j] = 1.0f;
        break;
      case kWte: case kWpe: case kQkvw: case kFcw:
        for (size_t j = 0; j < sizes[i]; j++) p[j] = 0.02f * rng.normal();
        break;
      case kAttprojw: case kFcprojw:
        for (size_t j = 0; j < sizes[i]; j++) p[j] = residual_std * rng.normal();
        break;
      default:  // biases
        break;
    }
  }
  // Padded vocabulary rows stay zero: no token id ever selects them and their logits are unused.
  const size_t C = config_.channels;
  for (size_t j = (size_t)config_.vocab_size * C; j < (size_t)config_.padded_vocab() * C; j++) host[j] = 0.0f;
  upload_params(host);
}

std::vector<float> GPT::download_params() const {
  std::vector<float> host(num_params_);
  backend_.to_host(host.data(), params_, num_params_);
  return host;
}

void GPT::upload_params(const std::vector<float>& host) {
  if (host.size() != num_params_)
    throw Error(cat("parameters: expected ", num_params_, " floats for this model, got ", host.size()));
  backend_.to_device(params_, host.data(), num_params_);
}

void GPT::allocate_activations(int B, int T) {
  free_activations();
  const size_t N = (size_t)B * T, L = config_.num_layers, C = config_.channels, NH = config_.num_heads;
  const size_t Vp = config_.padded_vocab();
  auto take = [&](size_t count) {
    float* p = backend_.alloc(count);
    act_allocations_.push_back(p);
    return p;
  };
  auto& a = acts_;
  a.encoded = take(N * C);
  a.ln1 = take(L * N * C);
  a.ln1_mean = take(L * N);
  a.ln1_rstd = take(L * N);
  a.qkv = take(L * N * 3 * C);
  a.atty = take(L * N * C);
  a.att_lse = take(L * N * NH);
  a.residual2 = take(L * N * C);
  a.ln2 = take(L * N * C);
  a.ln2_mean = take(L * N);
  a.ln2_rstd = take(L * N);
  a.fch = take(L * N * 4 * C);
  a.fch_gelu = take(L * N * 4 * C);
  a.residual3 = take(L * N * C);
  a.lnf = take(N * C);
  a.lnf_mean = take(N);
  a.lnf_rstd = take(N);
  a.logits = take(N * Vp);
  a.losses = take(N);
  a.loss_lse = take(N);
  a.scratch = take(N * C);
  a.dresidual = take(N * C);
  a.dbt4c = take(N * 4 * C);
  a.dqkv = take(N * 3 * C);
  a.dbtc = take(N * C);
  act_B_ = B;
  act_T_ = T;
}

void GPT::free_activations() {
  for (float* p : act_allocations_) backend_.release(p);
  act_allocations_.clear();
  acts_ = {};
  act_B_ = act_T_ = 0;
}

float GPT::forward(const int32_t* inputs, const int32_t* targets, int B, int T, AttentionMask mask,
                   const int32_t* doc_start) {
  const int L = config_.num_layers, NH = config_.num_heads, C = config_.channels;
  const int V = config_.vocab_size, Vp = config_.padded_vocab();
  if (B <= 0 || T <= 0 || T > config_.max_seq_len)
    throw Error(cat("forward: batch (", B, ", ", T, ") must have 1 <= T <= block_size ", config_.max_seq_len));
  const size_t N = (size_t)B * T;
  for (size_t i = 0; i < N; i++) {
    if (inputs[i] < 0 || inputs[i] >= Vp)
      throw Error(cat("forward: input token ", inputs[i], " at position ", i, " is outside [0, ", Vp, ")"));
    if (targets && targets[i] >= V)
      throw Error(cat("forward: target token ", targets[i], " at position ", i, " is outside [0, ", V, ")"));
  }
  if ((size_t)act_B_ * act_T_ < N || act_T_ == 0) allocate_activations(B, T);
  B_ = B;
  T_ = T;
  mask_ = mask;
  inputs_.assign(inputs, inputs + N);
  if (targets) targets_.assign(targets, targets + N);
  else targets_.assign(N, -1);
  if (doc_start) doc_start_.assign(doc_start, doc_start + N);
  else doc_start_.clear();
  const AttentionSpan span(mask == AttentionMask::kCausal, doc_start_.empty() ? nullptr : doc_start_.data());

  Backend& be = backend_;
  const ParameterTensors& p = param_tensors_;
  auto& a = acts_;
  const bool rope = config_.position == PositionEncoding::kRope;
  const bool rms = config_.norm == NormKind::kRmsNorm;
  auto norm = [&](float* out, float* mean, float* rstd, const float* in, const float* w, const float* b) {
    if (rms) be.rmsnorm_forward(out, rstd, in, w, (int)N, C);
    else be.layernorm_forward(out, mean, rstd, in, w, b, (int)N, C);
  };
  auto at = [](float* base, size_t layer, size_t size) { return base ? base + layer * size : nullptr; };
  const size_t NC = N * C;

  be.encoder_forward(a.encoded, inputs, p[kWte], p[kWpe], B, T, C, 0);  // (B,T,C)
  for (int l = 0; l < L; l++) {
    const float* residual = l == 0 ? a.encoded : a.residual3 + (l - 1) * NC;  // (B,T,C)
    float* ln1 = a.ln1 + l * NC;
    float* qkv = a.qkv + l * 3 * NC;            // (B,T,3C)
    float* atty = a.atty + l * NC;              // (B,T,C)
    float* residual2 = a.residual2 + l * NC;
    float* ln2 = a.ln2 + l * NC;
    float* fch = a.fch + l * 4 * NC;            // (B,T,4C)
    float* fch_gelu = a.fch_gelu + l * 4 * NC;
    norm(ln1, a.ln1_mean + l * N, a.ln1_rstd + l * N, residual, at(p[kLn1w], l, C), at(p[kLn1b], l, C));
    be.matmul_forward(qkv, ln1, at(p[kQkvw], l, 3 * C * C), at(p[kQkvb], l, 3 * C), (int)N, C, 3 * C);
    if (rope) be.rope_forward(qkv, B, T, C, NH, 0);
    be.attention_forward(atty, a.att_lse + l * N * NH, qkv, B, T, C, NH, span);
    be.matmul_forward(a.scratch, atty, at(p[kAttprojw], l, C * C), at(p[kAttprojb], l, C), (int)N, C, C);
    be.residual_forward(residual2, residual, a.scratch, NC);
    norm(ln2, a.ln2_mean + l * N, a.ln2_rstd + l * N, residual2, at(p[kLn2w], l, C), at(p[kLn2b], l, C));
    be.matmul_forward(fch, ln2, at(p[kFcw], l, 4 * C * C), at(p[kFcb], l, 4 * C), (int)N, C, 4 * C);
    be.gelu_forward(fch_gelu, fch, 4 * NC);
    be.matmul_forward(a.scratch, fch_gelu, at(p[kFcprojw], l, 4 * C * C), at(p[kFcprojb], l, C), (int)N, 4 * C, C);
    be.residual_forward(a.residual3 + l * NC, residual2, a.scratch, NC);
  }
  norm(a.lnf, a.lnf_mean, a.lnf_rstd, a.residual3 + (L - 1) * NC, p[kLnfw], p[kLnfb]);
  be.matmul_forward(a.logits, a.lnf, p[kWte], nullptr, (int)N, C, Vp);  // (B,T,Vp), tied head

  num_targets_ = 0;
  for (int32_t t : targets_) num_targets_ += t >= 0;
  if (!targets) return 0.0f;
  be.crossentropy_forward(a.losses, a.loss_lse, a.logits, targets_.data(), (int)N, V, Vp);
  std::vector<float> losses(N);
  be.to_host(losses.data(), a.losses, N);
  double sum = 0.0;
  for (float l : losses) sum += l;
  return num_targets_ ? (float)(sum / num_targets_) : 0.0f;
}

std::vector<float> GPT::losses() const {
  std::vector<float> host((size_t)B_ * T_);
  backend_.to_host(host.data(), acts_.losses, host.size());
  return host;
}

void GPT::zero_grad() { backend_.zero(grads_, num_params_); }

void GPT::backward(float loss_scale) {
  if (!B_) throw Error("backward: no forward pass to differentiate");
  const int L = config_.num_layers, NH = config_.num_heads, C = config_.channels;
  const int V = config_.vocab_size, Vp = config_.padded_vocab(), B = B_, T = T_;
  const size_t N = (size_t)B * T, NC = N * C;
  Backend& be = backend_;
  const ParameterTensors& p = param_tensors_;
  const ParameterTensors& g = grad_tensors_;
  const AttentionSpan span(mask_ == AttentionMask::kCausal, doc_start_.empty() ? nullptr : doc_start_.data());
  auto& a = acts_;
  const bool rope = config_.position == PositionEncoding::kRope;
  const bool rms = config_.norm == NormKind::kRmsNorm;
  auto norm_backward = [&](float* dinp, float* dw, float* db, const float* dout, const float* in, const float* w,
                           const float* mean, const float* rstd) {
    if (rms) be.rmsnorm_backward(dinp, dw, dout, in, w, rstd, (int)N, C);
    else be.layernorm_backward(dinp, dw, db, dout, in, w, mean, rstd, (int)N, C);
  };
  auto at = [](float* base, size_t layer, size_t size) { return base ? base + layer * size : nullptr; };

  // d(mean loss)/d(row loss) = 1 / number of targets; logits become dlogits in place.
  const float dloss = num_targets_ ? loss_scale / num_targets_ : 0.0f;
  be.crossentropy_backward(a.logits, a.loss_lse, targets_.data(), dloss, (int)N, V, Vp);
  be.zero(a.dresidual, NC);
  be.matmul_backward(a.dbtc, g[kWte], nullptr, a.logits, a.lnf, p[kWte], (int)N, C, Vp);
  norm_backward(a.dresidual, g[kLnfw], g[kLnfb], a.dbtc, a.residual3 + (L - 1) * NC, p[kLnfw], a.lnf_mean,
                a.lnf_rstd);
  for (int l = L - 1; l >= 0; l--) {
    // a.dresidual holds d residual3[l]; the MLP branch and the skip both receive it.
    const float* residual = l == 0 ? a.encoded : a.residual3 + (l - 1) * NC;
    be.matmul_backward(a.dbt4c, at(g[kFcprojw], l, 4 * C * C), at(g[kFcprojb], l, C), a.dresidual,
                       a.fch_gelu + l * 4 * NC, at(p[kFcprojw], l, 4 * C * C), (int)N, 4 * C, C);
    be.gelu_backward(a.dbt4c, a.fch + l * 4 * NC, a.dbt4c, 4 * NC);
    be.matmul_backward(a.dbtc, at(g[kFcw], l, 4 * C * C), at(g[kFcb], l, 4 * C), a.dbt4c, a.ln2 + l * NC,
                       at(p[kFcw], l, 4 * C * C), (int)N, C, 4 * C);
    norm_backward(a.dresidual, at(g[kLn2w], l, C), at(g[kLn2b], l, C), a.dbtc, a.residual2 + l * NC,
                  at(p[kLn2w], l, C), a.ln2_mean + l * N, a.ln2_rstd + l * N);
    // a.dresidual now holds d residual2[l]; the attention branch and the skip receive it.
    be.matmul_backward(a.dbtc, at(g[kAttprojw], l, C * C), at(g[kAttprojb], l, C), a.dresidual, a.atty + l * NC,
                       at(p[kAttprojw], l, C * C), (int)N, C, C);
    be.attention_backward(a.dqkv, a.dbtc, a.qkv + l * 3 * NC, a.atty + l * NC, a.att_lse + l * N * NH, B, T, C, NH,
                          span);
    if (rope) be.rope_backward(a.dqkv, B, T, C, NH);
    be.matmul_backward(a.dbtc, at(g[kQkvw], l, 3 * C * C), at(g[kQkvb], l, 3 * C), a.dqkv, a.ln1 + l * NC,
                       at(p[kQkvw], l, 3 * C * C), (int)N, C, 3 * C);
    norm_backward(a.dresidual, at(g[kLn1w], l, C), at(g[kLn1b], l, C), a.dbtc, residual, at(p[kLn1w], l, C),
                  a.ln1_mean + l * N, a.ln1_rstd + l * N);
  }
  be.encoder_backward(g[kWte], g[kWpe], a.dresidual, inputs_.data(), B, T, C);
}

void GPT::decode_reset(int batch) {
  const size_t L = config_.num_layers, C = config_.channels, maxT = config_.max_seq_len;
  if (batch != decode_batch_) {
    for (float* p : decode_allocations_) backend_.release(p);
    decode_allocations_.clear();
    auto take = [&](size_t count) {
      float* p = backend_.alloc(count);
      decode_allocations_.push_back(p);
      return p;
    };
    dec_.kcache = take(L * batch * maxT * C);
    dec_.vcache = take(L * batch * maxT * C);
    dec_.x = take(batch * C);
    dec_.ln = take(batch * C);
    dec_.mean = take(batch);
    dec_.rstd = take(batch);
    dec_.qkv = take(batch * 3 * C);
    dec_.atty = take(batch * C);
    dec_.scratch = take(batch * C);
    dec_.fch = take(batch * 4 * C);
    dec_.fch_gelu = take(batch * 4 * C);
    dec_.logits = take(batch * (size_t)config_.padded_vocab());
    decode_batch_ = batch;
  }
  decode_len_ = 0;
}

void GPT::decode_step(const int32_t* tokens, float* host_logits) {
  const int L = config_.num_layers, NH = config_.num_heads, C = config_.channels, Vp = config_.padded_vocab();
  const int maxT = config_.max_seq_len, Bd = decode_batch_, pos = decode_len_;
  if (!Bd) throw Error("decode_step: call decode_reset first");
  if (pos >= maxT) throw Error(cat("decode_step: the context is full (block_size ", maxT, ")"));
  for (int b = 0; b < Bd; b++)
    if (tokens[b] < 0 || tokens[b] >= Vp) throw Error(cat("decode_step: token ", tokens[b], " is outside [0, ", Vp, ")"));
  Backend& be = backend_;
  const ParameterTensors& p = param_tensors_;
  const bool rms = config_.norm == NormKind::kRmsNorm;
  auto norm = [&](float* out, const float* in, const float* w, const float* b) {
    if (rms) be.rmsnorm_forward(out, dec_.rstd, in, w, Bd, C);
    else be.layernorm_forward(out, dec_.mean, dec_.rstd, in, w, b, Bd, C);
  };
  auto at = [](float* base, size_t layer, size_t size) { return base ? base + layer * size : nullptr; };
  const size_t cache = (size_t)Bd * maxT * C;  // one layer's cache

  be.encoder_forward(dec_.x, tokens, p[kWte], p[kWpe], Bd, 1, C, pos);  // (Bd,C)
  for (int l = 0; l < L; l++) {
    norm(dec_.ln, dec_.x, at(p[kLn1w], l, C), at(p[kLn1b], l, C));
    be.matmul_forward(dec_.qkv, dec_.ln, at(p[kQkvw], l, 3 * C * C), at(p[kQkvb], l, 3 * C), Bd, C, 3 * C);
    if (config_.position == PositionEncoding::kRope) be.rope_forward(dec_.qkv, Bd, 1, C, NH, pos);
    be.attention_decode(dec_.atty, dec_.kcache + l * cache, dec_.vcache + l * cache, dec_.qkv, Bd, pos, maxT, C, NH);
    be.matmul_forward(dec_.scratch, dec_.atty, at(p[kAttprojw], l, C * C), at(p[kAttprojb], l, C), Bd, C, C);
    be.accumulate(dec_.x, dec_.scratch, (size_t)Bd * C);
    norm(dec_.ln, dec_.x, at(p[kLn2w], l, C), at(p[kLn2b], l, C));
    be.matmul_forward(dec_.fch, dec_.ln, at(p[kFcw], l, 4 * C * C), at(p[kFcb], l, 4 * C), Bd, C, 4 * C);
    be.gelu_forward(dec_.fch_gelu, dec_.fch, (size_t)Bd * 4 * C);
    be.matmul_forward(dec_.scratch, dec_.fch_gelu, at(p[kFcprojw], l, 4 * C * C), at(p[kFcprojb], l, C), Bd, 4 * C, C);
    be.accumulate(dec_.x, dec_.scratch, (size_t)Bd * C);
  }
  norm(dec_.ln, dec_.x, p[kLnfw], p[kLnfb]);
  be.matmul_forward(dec_.logits, dec_.ln, p[kWte], nullptr, Bd, C, Vp);
  be.to_host(host_logits, dec_.logits, (size_t)Bd * Vp);
  decode_len_++;
}

}  // namespace kiln::trainer
