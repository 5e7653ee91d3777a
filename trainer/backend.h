// The trainer's backend: a table of operations (ggml style) that a device implements.
//
// The model (trainer/model.h) never touches tensor memory itself: it allocates through the
// backend and calls these ops, each a forward/backward pair. The CPU backend (always built,
// trainer/src/cpu/, one file per op) is the reference; a CUDA backend (issue 8) implements
// the same table in kernels/ and is checked op by op against the CPU one.
//
//   auto backend = kiln::trainer::make_cpu_backend({.threads = 2});
//   float* x = backend->alloc(B * T * C);
//   backend->layernorm_forward(out, mean, rstd, x, w, b, B * T, C);
//
// Dimension letters: B batch, T time, C channels, NH heads, hs = C / NH head size,
// V vocabulary, Vp padded vocabulary (a multiple of 64; columns V..Vp-1 are never trained),
// N = B * T rows. All tensors are fp32, row-major, contiguous.
//
// Conventions (the same on every backend):
// - "out" arguments are overwritten; parameter gradients (dweight, dbias, dwte...) are
//   accumulated (+=), so gradient accumulation is a sum over micro-steps; activation
//   gradients ("dinp") are overwritten unless the op says "accumulates".
// - Results are deterministic for a given thread count (no atomics; fixed partitions and
//   fixed reduction order), which is what makes resume bit-exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace kiln::trainer {

// The keys each attention query sees.
struct AttentionSpan {
  AttentionSpan(bool causal = true, const int32_t* doc_start = nullptr) : causal(causal), doc_start(doc_start) {}
  bool causal;  // query t sees keys 0..t (GPT); false: all T (masked-LM)
  // Document masking for windows packed across documents: doc_start (B,T), host memory, is
  // the position in row b where token t's document begins (0 <= doc_start <= t, constant
  // within a document). Query t then sees only its own document's keys: doc_start..t when
  // causal, doc_start up to the next document's start otherwise. Null: no separation.
  const int32_t* doc_start;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // ---- memory (device memory on an accelerator) ----
  virtual float* alloc(size_t count) = 0;  // zero-filled
  virtual void release(float* p) = 0;
  virtual void zero(float* p, size_t count) = 0;
  virtual void to_device(float* dst, const float* host_src, size_t count) = 0;
  virtual void to_host(float* host_dst, const float* src, size_t count) = 0;

  // ---- token embedding + learned position embedding ----
  // out (B,T,C) = wte[inp[b,t]] + wpe[pos_offset + t]; wpe may be null (RoPE models).
  // inp (B,T) token ids on the host (they are tiny; a device backend copies them).
  virtual void encoder_forward(float* out, const int32_t* inp, const float* wte, const float* wpe, int B, int T,
                               int C, int pos_offset) = 0;
  // dwte (Vp,C) += scatter of dout by token; dwpe (maxT,C) += sum over B (if not null).
  virtual void encoder_backward(float* dwte, float* dwpe, const float* dout, const int32_t* inp, int B, int T,
                                int C) = 0;

  // ---- LayerNorm (eps 1e-5, biased variance, as torch.nn.LayerNorm) ----
  // out (N,C), mean (N), rstd (N); inp (N,C), weight (C), bias (C).
  virtual void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                                 const float* bias, int N, int C) = 0;
  // dinp (N,C) accumulates; dweight, dbias (C) accumulate.
  virtual void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                  const float* weight, const float* mean, const float* rstd, int N, int C) = 0;

  // ---- RMSNorm: out = inp * rsqrt(mean(inp^2) + 1e-5) * weight ----
  virtual void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C) = 0;
  // dinp (N,C) accumulates; dweight (C) accumulates.
  virtual void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                                const float* rstd, int N, int C) = 0;

  // ---- linear layer: out (N,OC) = inp (N,C) @ weight (OC,C)^T + bias (OC, may be null) ----
  virtual void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C,
                              int OC) = 0;
  // dinp (N,C) overwritten (skipped if null); dweight (OC,C) and dbias (OC, may be null) accumulate.
  virtual void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                               const float* weight, int N, int C, int OC) = 0;

  // ---- multi-head self-attention over packed qkv (B,T,3C) = [q | k | v], heads inside C ----
  // out (B,T,C); lse (B,NH,T) = log-sum-exp of each softmax row, kept for the backward pass
  // instead of the (B,NH,T,T) probabilities (memory-efficient / flash-style attention).
  // span: causal (position t attends to 0..t, GPT) or not (all T, masked-LM), and
  // optionally one document per query (see AttentionSpan); a bool converts to a span.
  virtual void attention_forward(float* out, float* lse, const float* qkv, int B, int T, int C, int NH,
                                 const AttentionSpan& span) = 0;
  // dqkv (B,T,3C) overwritten.
  virtual void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out,
                                  const float* lse, int B, int T, int C, int NH, const AttentionSpan& span) = 0;
  // Incremental decoding with a KV cache: for each row b, writes k and v of qkv (B,3C) to
  // row `pos` of kcache, vcache (B,maxT,C), then attends q to rows 0..pos. out (B,C).
  virtual void attention_decode(float* out, float* kcache, float* vcache, const float* qkv, int B, int pos,
                                int maxT, int C, int NH) = 0;

  // ---- rotary position embedding on q and k of qkv (B,T,3C), in place (rotate-half, base 10000) ----
  virtual void rope_forward(float* qkv, int B, int T, int C, int NH, int pos_offset) = 0;
  // The inverse rotation applied to dqkv in place (the rotation is orthogonal).
  virtual void rope_backward(float* dqkv, int B, int T, int C, int NH) = 0;

  // ---- GELU, tanh approximation (GPT-2; torch.nn.GELU(approximate="tanh")) ----
  virtual void gelu_forward(float* out, const float* inp, size_t n) = 0;
  // dinp may alias dout.
  virtual void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n) = 0;

  // out = a + b (the residual connection; its backward is the identity to both inputs).
  virtual void residual_forward(float* out, const float* a, const float* b, size_t n) = 0;
  // dst += src.
  virtual void accumulate(float* dst, const float* src, size_t n) = 0;

  // ---- softmax cross-entropy over the first V of Vp logits ----
  // losses (N) = -log softmax(logits)[target]; lse (N) kept for backward; target < 0 = ignored
  // (loss 0). logits (N,Vp).
  virtual void crossentropy_forward(float* losses, float* lse, const float* logits, const int32_t* targets, int N,
                                    int V, int Vp) = 0;
  // Writes dlogits over logits in place: dloss * (softmax - onehot), 0 for ignored rows and
  // for padded columns. dloss is the gradient of the total loss w.r.t. each row's loss.
  virtual void crossentropy_backward(float* logits, const float* lse, const int32_t* targets, float dloss, int N,
                                     int V, int Vp) = 0;

  // ---- optimizer helpers ----
  // sum of squares of x (n), accumulated in double.
  virtual double sum_squares(const float* x, size_t n) = 0;
  // AdamW, torch.optim.AdamW's formula: p = p*(1 - lr*wd) - lr * (m/bc1) / (sqrt(v/bc2) + eps)
  // with g = grad * grad_scale (the clipping factor), bc1 = 1 - beta1^t, bc2 = 1 - beta2^t.
  virtual void adamw_update(float* params, const float* grads, float* m, float* v, size_t n, float lr, float beta1,
                            float beta2, float eps, float weight_decay, float bc1, float bc2, float grad_scale) = 0;
};

struct CpuBackendOptions {
  int threads = 0;  // worker threads for ops and oneDNN (0 = all cores); process-wide (OpenMP)
  // Linear layers with bf16 operands and fp32 accumulation (AVX512-BF16 or AMX CPUs; the
  // backend throws at construction elsewhere). Attention, norms and the optimizer stay fp32.
  bool bf16_matmul = false;
};
std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options = {});

}  // namespace kiln::trainer
