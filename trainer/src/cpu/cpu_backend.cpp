// The CPU backend: host memory and the ops in this folder.
#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "trainer/backend.h"
#include "trainer/src/cpu/cpu_ops.h"

namespace kiln::trainer {
namespace {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& options) : matmul_(options.bf16_matmul), bf16_(options.bf16_matmul) {
    if (options.threads > 0) omp_set_num_threads(options.threads);
  }
  const char* name() const override { return bf16_ ? "cpu (bf16 matmuls)" : "cpu"; }

  float* alloc(size_t count) override {
    // 64-byte aligned (one cache line, one AVX-512 vector).
    const size_t bytes = ((count * sizeof(float)) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes ? bytes : 64);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    return static_cast<float*>(p);
  }
  void release(float* p) override { std::free(p); }
  void zero(float* p, size_t count) override { std::memset(p, 0, count * sizeof(float)); }
  void to_device(float* dst, const float* src, size_t count) override { std::memcpy(dst, src, count * sizeof(float)); }
  void to_host(float* dst, const float* src, size_t count) override { std::memcpy(dst, src, count * sizeof(float)); }

  void encoder_forward(float* out, const int32_t* inp, const float* wte, const float* wpe, int B, int T, int C,
                       int pos_offset) override {
    cpu::encoder_forward(out, inp, wte, wpe, B, T, C, pos_offset);
  }
  void encoder_backward(float* dwte, float* dwpe, const float* dout, const int32_t* inp, int B, int T,
                        int C) override {
    cpu::encoder_backward(dwte, dwpe, dout, inp, B, T, C);
  }
  void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                         const float* bias, int N, int C) override {
    cpu::layernorm_forward(out, mean, rstd, inp, weight, bias, N, C);
  }
  void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                          const float* weight, const float* mean, const float* rstd, int N, int C) override {
    cpu::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
  }
  void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C) override {
    cpu::rmsnorm_forward(out, rstd, inp, weight, N, C);
  }
  void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                        const float* rstd, int N, int C) override {
    cpu::rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C);
  }
  void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C,
                      int OC) override {
    matmul_.forward(out, inp, weight, bias, N, C, OC);
  }
  void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                       const float* weight, int N, int C, int OC) override {
    matmul_.backward(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
  }
  void attention_forward(float* out, float* lse, const float* qkv, int B, int T, int C, int NH,
                         const AttentionSpan& span) override {
    cpu::attention_forward(out, lse, qkv, B, T, C, NH, span);
  }
  void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse, int B,
                          int T, int C, int NH, const AttentionSpan& span) override {
    cpu::attention_backward(dqkv, dout, qkv, out, lse, B, T, C, NH, span);
  }
  void attention_decode(float* out, float* kcache, float* vcache, const float* qkv, int B, int pos, int maxT, int C,
                        int NH) override {
    cpu::attention_decode(out, kcache, vcache, qkv, B, pos, maxT, C, NH);
  }
  void rope_forward(float* qkv, int B, int T, int C, int NH, int pos_offset) override {
    cpu::rope_forward(qkv, B, T, C, NH, pos_offset);
  }
  void rope_backward(float* dqkv, int B, int T, int C, int NH) override { cpu::rope_backward(dqkv, B, T, C, NH); }
  void gelu_forward(float* out, const float* inp, size_t n) override { cpu::gelu_forward(out, inp, n); }
  void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n) override {
    cpu::gelu_backward(dinp, inp, dout, n);
  }
  void residual_forward(float* out, const float* a, const float* b, size_t n) override {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
  }
  void accumulate(float* dst, const float* src, size_t n) override {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
  }
  void crossentropy_forward(float* losses, float* lse, const float* logits, const int32_t* targets, int N, int V,
                            int Vp) override {
    cpu::crossentropy_forward(losses, lse, logits, targets, N, V, Vp);
  }
  void crossentropy_backward(float* logits, const float* lse, const int32_t* targets, float dloss, int N, int V,
                             int Vp) override {
    cpu::crossentropy_backward(logits, lse, targets, dloss, N, V, Vp);
  }
  double sum_squares(const float* x, size_t n) override { return cpu::sum_squares(x, n); }
  void adamw_update(float* params, const float* grads, float* m, float* v, size_t n, float lr, float beta1,
                    float beta2, float eps, float weight_decay, float bc1, float bc2, float grad_scale) override {
    cpu::adamw_update(params, grads, m, v, n, lr, beta1, beta2, eps, weight_decay, bc1, bc2, grad_scale);
  }

 private:
  cpu::Matmul matmul_;
  bool bf16_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

}  // namespace kiln::trainer
