// A GPT-2-style decoder-only transformer with hand-written backward, on a Backend.
//
//   auto backend = make_cpu_backend();
//   GPT model(GPTConfig{.max_seq_len = 64, .vocab_size = 65, .num_layers = 4, .num_heads = 4,
//                       .channels = 128}, *backend);
//   model.init_random(1337);
//   float loss = model.forward(inputs, targets, B, T);  // inputs, targets (B,T) on the host
//   model.zero_grad();
//   model.backward();                                   // grads() now holds dloss/dparams
//
// Dimension letters: B batch, T time (<= maxT), C channels, L layers, NH heads, V vocab,
// Vp padded vocab. All parameters live in one allocation (params(), num_params() floats),
// in llm.c's order, so checkpoints, zeroing and the optimizer see one flat array:
//   wte (Vp,C)  wpe (maxT,C)  ln1w ln1b (L,C)  qkvw (L,3C,C)  qkvb (L,3C)
//   attprojw (L,C,C)  attprojb (L,C)  ln2w ln2b (L,C)  fcw (L,4C,C)  fcb (L,4C)
//   fcprojw (L,C,4C)  fcprojb (L,C)  lnfw lnfb (C)
// With RoPE, wpe is empty; with RMSNorm, the norm biases are empty. The LM head is wte
// (weight tying).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "trainer/backend.h"

namespace kiln::trainer {

enum class PositionEncoding { kLearned = 0, kRope = 1 };
enum class NormKind { kLayerNorm = 0, kRmsNorm = 1 };
enum class AttentionMask { kCausal, kBidirectional };  // next-token vs masked-LM

struct GPTConfig {
  int max_seq_len = 1024;   // maxT: longest context; rows of wpe
  int vocab_size = 50257;   // V: tokens the model predicts
  int padded_vocab_size = 0;  // Vp: rows of wte; 0 = V rounded up to a multiple of 64
  int num_layers = 12;      // L
  int num_heads = 12;       // NH; must divide channels
  int channels = 768;       // C
  PositionEncoding position = PositionEncoding::kLearned;
  NormKind norm = NormKind::kLayerNorm;

  int padded_vocab() const { return padded_vocab_size ? padded_vocab_size : (vocab_size + 63) / 64 * 64; }
  void validate() const;  // throws kiln::Error naming the bad field
};

// Reads a [model] table (n_layer, n_head, n_embd, block_size, vocab_size, position = "learned"
// | "rope", norm = "layernorm" | "rmsnorm") from a TOML file into `config`.
void read_model_config(const std::string& toml_path, GPTConfig& config);

constexpr int kNumParameterTensors = 16;
enum ParameterIndex {
  kWte, kWpe, kLn1w, kLn1b, kQkvw, kQkvb, kAttprojw, kAttprojb,
  kLn2w, kLn2b, kFcw, kFcb, kFcprojw, kFcprojb, kLnfw, kLnfb
};
extern const std::array<const char*, kNumParameterTensors> kParameterNames;
std::array<size_t, kNumParameterTensors> parameter_sizes(const GPTConfig& config);

// Pointers into the one parameter (or gradient) allocation; null where a tensor is empty.
struct ParameterTensors {
  std::array<float*, kNumParameterTensors> t{};
  float* operator[](int i) const { return t[i]; }
};

class GPT {
 public:
  GPT(const GPTConfig& config, Backend& backend);
  ~GPT();
  GPT(const GPT&) = delete;
  GPT& operator=(const GPT&) = delete;

  const GPTConfig& config() const { return config_; }
  Backend& backend() const { return backend_; }

  // GPT-2 initialization from `seed`: weights N(0, 0.02), the two residual projections
  // N(0, 0.02/sqrt(2L)), biases 0, norm weights 1.
  void init_random(uint64_t seed);

  size_t num_params() const { return num_params_; }
  float* params() { return params_; }  // (num_params) on the backend
  float* grads() { return grads_; }
  ParameterTensors param_tensors() const { return param_tensors_; }
  ParameterTensors grad_tensors() const { return grad_tensors_; }
  // Host copies of the parameters, and loading them back.
  std::vector<float> download_params() const;
  void upload_params(const std::vector<float>& host);

  // Runs the model on inputs (B,T). With targets (B,T; < 0 = no loss there), computes the
  // per-token losses and returns their mean over non-ignored targets; without, returns 0.
  // After it, logits() holds (B,T,Vp) until backward() overwrites them with their gradient.
  // doc_start (B,T), optional: where each token's document begins in its row, so attention
  // stays inside documents of windows packed across them (see AttentionSpan).
  float forward(const int32_t* inputs, const int32_t* targets, int B, int T,
                AttentionMask mask = AttentionMask::kCausal, const int32_t* doc_start = nullptr);
  // Zeroes the parameter gradients (call once per optimizer step, before the micro-steps).
  void zero_grad();
  // Accumulates d(loss_scale * mean loss)/dparams into grads() for the last forward().
  void backward(float loss_scale = 1.0f);

  const float* logits() const { return acts_.logits; }  // (B,T,Vp) on the backend
  std::vector<float> losses() const;                    // (B,T) per-token losses of the last forward
  int num_targets() const { return num_targets_; }      // non-ignored targets of the last forward

  // ---- incremental decoding with a KV cache (generation) ----
  // Starts an empty cache for `batch` sequences of up to maxT tokens.
  void decode_reset(int batch);
  // Appends one token per sequence (tokens (batch)) at position decode_length() and writes
  // its next-token logits (batch, Vp) to `host_logits`.
  void decode_step(const int32_t* tokens, float* host_logits);
  int decode_length() const { return decode_len_; }

 private:
  void allocate_activations(int B, int T);
  void free_activations();

  GPTConfig config_;
  Backend& backend_;
  size_t num_params_ = 0;
  float* params_ = nullptr;
  float* grads_ = nullptr;
  ParameterTensors param_tensors_, grad_tensors_;

  struct ActivationBuffers {
    float* encoded = nullptr;   // (B,T,C)
    float* ln1 = nullptr;       // (L,B,T,C)
    float* ln1_mean = nullptr;  // (L,B,T)
    float* ln1_rstd = nullptr;  // (L,B,T)
    float* qkv = nullptr;       // (L,B,T,3C), after RoPE when enabled
    float* atty = nullptr;      // (L,B,T,C)
    float* att_lse = nullptr;   // (L,B,NH,T)
    float* residual2 = nullptr; // (L,B,T,C)
    float* ln2 = nullptr;       // (L,B,T,C)
    float* ln2_mean = nullptr;  // (L,B,T)
    float* ln2_rstd = nullptr;  // (L,B,T)
    float* fch = nullptr;       // (L,B,T,4C)
    float* fch_gelu = nullptr;  // (L,B,T,4C)
    float* residual3 = nullptr; // (L,B,T,C)
    float* lnf = nullptr;       // (B,T,C)
    float* lnf_mean = nullptr;  // (B,T)
    float* lnf_rstd = nullptr;  // (B,T)
    float* logits = nullptr;    // (B,T,Vp); dlogits after backward
    float* losses = nullptr;    // (B,T)
    float* loss_lse = nullptr;  // (B,T)
    float* scratch = nullptr;   // (B,T,C) branch output before the residual add
    // backward scratch, reused by every layer
    float* dresidual = nullptr; // (B,T,C)
    float* dbt4c = nullptr;     // (B,T,4C)
    float* dqkv = nullptr;      // (B,T,3C)
    float* dbtc = nullptr;      // (B,T,C)
  } acts_;
  std::vector<float*> act_allocations_;
  int act_B_ = 0, act_T_ = 0;  // the shape the activations were allocated for
  int B_ = 0, T_ = 0;          // the shape of the last forward
  AttentionMask mask_ = AttentionMask::kCausal;
  std::vector<int32_t> inputs_, targets_;
  std::vector<int32_t> doc_start_;  // empty: no document masking in the last forward
  int num_targets_ = 0;

  // KV cache: (L, batch, maxT, C) each, plus one token's activations per sequence.
  struct DecodeBuffers {
    float* kcache = nullptr;    // (L,batch,maxT,C)
    float* vcache = nullptr;    // (L,batch,maxT,C)
    float* x = nullptr;         // (batch,C) the residual stream
    float* ln = nullptr;        // (batch,C)
    float* mean = nullptr;      // (batch)
    float* rstd = nullptr;      // (batch)
    float* qkv = nullptr;       // (batch,3C)
    float* atty = nullptr;      // (batch,C)
    float* scratch = nullptr;   // (batch,C)
    float* fch = nullptr;       // (batch,4C)
    float* fch_gelu = nullptr;  // (batch,4C)
    float* logits = nullptr;    // (batch,Vp)
  } dec_;
  std::vector<float*> decode_allocations_;
  int decode_batch_ = 0, decode_len_ = 0;
};

}  // namespace kiln::trainer
