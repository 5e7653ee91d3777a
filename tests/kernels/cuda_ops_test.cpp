// Every CUDA op against the CPU backend (the reference) on random inputs, by normalized
// error; the GPT on both backends for a few training steps; determinism of the backward
// ops. These tests need a CUDA device and skip, saying so, without one (ctest label "gpu").
//
// Tolerances: fp32 kernels differ from the CPU only in summation order and in the CPU's
// polynomial exp/tanh (cpu_ops.h: within 2 ulp), so 1e-5 (attention: 2e-5, its gradient
// 1e-4; RoPE at large positions 5e-4, see there);
// tf32 matmuls 2e-3 and bf16 matmuls 1e-2 (the acceptance bound).
// Outputs that ops overwrite are poisoned with NaN first, so an element a kernel never
// writes fails the comparison.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "corpus/error.h"
#include "kernels/cuda_backend.h"
#include "kernels/ops_compare.h"
#include "trainer/backend.h"
#include "trainer/model.h"
#include "trainer/optimizer.h"

namespace kiln::kernels {
namespace {

using testing::normalized_error;
using testing::randn;
using testing::random_tokens;
using trainer::Backend;

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// A tensor mirrored on the CPU backend (host vector) and on the GPU.
class Pair {
 public:
  Pair(Backend& gpu, std::vector<float> host) : gpu_(gpu), host_(std::move(host)) {
    dev_ = gpu_.alloc(host_.size());
    gpu_.to_device(dev_, host_.data(), host_.size());
  }
  Pair(Backend& gpu, size_t n, float fill) : Pair(gpu, std::vector<float>(n, fill)) {}
  ~Pair() { gpu_.release(dev_); }
  Pair(const Pair&) = delete;
  float* cpu() { return host_.data(); }
  float* gpu() { return dev_; }
  const std::vector<float>& cpu_values() const { return host_; }
  std::vector<float> gpu_values() const {
    std::vector<float> v(host_.size());
    gpu_.to_host(v.data(), dev_, v.size());
    return v;
  }
  double error() const { return normalized_error(gpu_values(), host_); }

 private:
  Backend& gpu_;
  std::vector<float> host_;
  float* dev_ = nullptr;
};

class CudaOps : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_device_available())
      GTEST_SKIP() << "no CUDA device (" << cuda_device_description() << "): GPU test skipped";
    cpu = trainer::make_cpu_backend({.threads = 2});
    gpu = make_cuda_backend({.matmul = MatmulPrecision::kFp32});
  }
  std::unique_ptr<Backend> cpu, gpu;
};

TEST(CudaBackend, AvailabilityIsReportedWithoutThrowing) {
  const bool available = cuda_device_available();
  const std::string description = cuda_device_description();
  EXPECT_FALSE(description.empty());
  if (!available) {
    EXPECT_THROW(make_cuda_backend(), Error);
    std::printf("no CUDA device here: %s\n", description.c_str());
  } else {
    std::printf("CUDA device: %s\n", description.c_str());
  }
}

TEST_F(CudaOps, Encoder) {
  for (bool learned : {true, false}) {
    const int B = 3, T = 37, C = 48, Vp = 64, maxT = 50, offset = 5;
    // Few distinct tokens, so rows repeat and the backward scatter has real collisions.
    const auto tokens = random_tokens(B * T, 9, 1);
    Pair wte(*gpu, randn(Vp * C, 2)), wpe(*gpu, randn(maxT * C, 3)), out(*gpu, B * T * C, kNaN);
    cpu->encoder_forward(out.cpu(), tokens.data(), wte.cpu(), learned ? wpe.cpu() : nullptr, B, T, C, offset);
    gpu->encoder_forward(out.gpu(), tokens.data(), wte.gpu(), learned ? wpe.gpu() : nullptr, B, T, C, offset);
    EXPECT_LT(out.error(), 1e-6) << "encoder_forward, learned=" << learned;

    Pair dout(*gpu, randn(B * T * C, 4)), dwte(*gpu, randn(Vp * C, 5)), dwpe(*gpu, randn(maxT * C, 6));
    cpu->encoder_backward(dwte.cpu(), learned ? dwpe.cpu() : nullptr, dout.cpu(), tokens.data(), B, T, C);
    gpu->encoder_backward(dwte.gpu(), learned ? dwpe.gpu() : nullptr, dout.gpu(), tokens.data(), B, T, C);
    EXPECT_LT(dwte.error(), 1e-6) << "encoder_backward dwte";
    EXPECT_LT(dwpe.error(), 1e-6) << "encoder_backward dwpe";
  }
}

TEST_F(CudaOps, LayerNorm) {
  for (int C : {20, 768}) {
    const int N = 131;  // not a multiple of the 64-row backward chunk
    Pair x(*gpu, randn(N * C, 1, 2.0f)), w(*gpu, randn(C, 2)), b(*gpu, randn(C, 3));
    Pair out(*gpu, N * C, kNaN), mean(*gpu, N, kNaN), rstd(*gpu, N, kNaN);
    cpu->layernorm_forward(out.cpu(), mean.cpu(), rstd.cpu(), x.cpu(), w.cpu(), b.cpu(), N, C);
    gpu->layernorm_forward(out.gpu(), mean.gpu(), rstd.gpu(), x.gpu(), w.gpu(), b.gpu(), N, C);
    EXPECT_LT(out.error(), 1e-5) << "C=" << C;
    EXPECT_LT(mean.error(), 1e-5);
    EXPECT_LT(rstd.error(), 1e-5);
    // Backward accumulates into all three gradients: start them non-zero.
    Pair dout(*gpu, randn(N * C, 4)), dx(*gpu, randn(N * C, 5)), dw(*gpu, randn(C, 6)), db(*gpu, randn(C, 7));
    cpu->layernorm_backward(dx.cpu(), dw.cpu(), db.cpu(), dout.cpu(), x.cpu(), w.cpu(), mean.cpu(), rstd.cpu(), N, C);
    gpu->layernorm_backward(dx.gpu(), dw.gpu(), db.gpu(), dout.gpu(), x.gpu(), w.gpu(), mean.gpu(), rstd.gpu(), N, C);
    EXPECT_LT(dx.error(), 1e-5) << "layernorm dinp C=" << C;
    EXPECT_LT(dw.error(), 1e-5) << "layernorm dweight C=" << C;
    EXPECT_LT(db.error(), 1e-5) << "layernorm dbias C=" << C;
  }
}

TEST_F(CudaOps, RmsNorm) {
  const int N = 70, C = 96;
  Pair x(*gpu, randn(N * C, 1)), w(*gpu, randn(C, 2)), out(*gpu, N * C, kNaN), rstd(*gpu, N, kNaN);
  cpu->rmsnorm_forward(out.cpu(), rstd.cpu(), x.cpu(), w.cpu(), N, C);
  gpu->rmsnorm_forward(out.gpu(), rstd.gpu(), x.gpu(), w.gpu(), N, C);
  EXPECT_LT(out.error(), 1e-5);
  EXPECT_LT(rstd.error(), 1e-5);
  Pair dout(*gpu, randn(N * C, 3)), dx(*gpu, randn(N * C, 4)), dw(*gpu, randn(C, 5));
  cpu->rmsnorm_backward(dx.cpu(), dw.cpu(), dout.cpu(), x.cpu(), w.cpu(), rstd.cpu(), N, C);
  gpu->rmsnorm_backward(dx.gpu(), dw.gpu(), dout.gpu(), x.gpu(), w.gpu(), rstd.gpu(), N, C);
  EXPECT_LT(dx.error(), 1e-5);
  EXPECT_LT(dw.error(), 1e-5);
}

// One shape per case: GPT-2's (aligned, bias epilogue) and odd ones (unaligned bias, odd
// leading dimensions: the fallbacks).
struct MatmulCase {
  int N, C, OC;
  bool bias;
};

void check_matmul(Backend& cpu, Backend& gpu, const MatmulCase& m, double tolerance, const std::string& label) {
  const int N = m.N, C = m.C, OC = m.OC;
  // The bias at an offset of one float inside its allocation: 4-byte aligned only.
  Pair inp(gpu, randn((size_t)N * C, 1)), w(gpu, randn((size_t)OC * C, 2, 0.1f)), bias(gpu, randn(OC + 1, 3));
  Pair out(gpu, (size_t)N * OC, kNaN);
  const float* bias_cpu = m.bias ? bias.cpu() + (OC % 2) : nullptr;
  const float* bias_gpu = m.bias ? bias.gpu() + (OC % 2) : nullptr;
  cpu.matmul_forward(out.cpu(), inp.cpu(), w.cpu(), bias_cpu, N, C, OC);
  gpu.matmul_forward(out.gpu(), inp.gpu(), w.gpu(), bias_gpu, N, C, OC);
  EXPECT_LT(out.error(), tolerance) << label << " forward " << N << "x" << C << "x" << OC;

  Pair dout(gpu, randn((size_t)N * OC, 4)), dinp(gpu, (size_t)N * C, kNaN);
  Pair dw(gpu, randn((size_t)OC * C, 5)), db(gpu, randn(OC, 6));
  cpu.matmul_backward(dinp.cpu(), dw.cpu(), m.bias ? db.cpu() : nullptr, dout.cpu(), inp.cpu(), w.cpu(), N, C, OC);
  gpu.matmul_backward(dinp.gpu(), dw.gpu(), m.bias ? db.gpu() : nullptr, dout.gpu(), inp.gpu(), w.gpu(), N, C, OC);
  EXPECT_LT(dinp.error(), tolerance) << label << " dinp";
  EXPECT_LT(dw.error(), tolerance) << label << " dweight";
  EXPECT_LT(db.error(), 1e-5) << label << " dbias";  // fp32 reduction whatever the matmul mode
}

const MatmulCase kMatmulCases[] = {{256, 768, 2304, true}, {256, 768, 768, false}, {37, 20, 61, true}, {5, 3, 7, false}};

TEST_F(CudaOps, MatmulFp32) {
  for (const auto& m : kMatmulCases) check_matmul(*cpu, *gpu, m, 1e-5, "fp32");
}

TEST_F(CudaOps, MatmulTf32) {
  auto tf32 = make_cuda_backend({.matmul = MatmulPrecision::kTf32});
  for (const auto& m : kMatmulCases) check_matmul(*cpu, *tf32, m, 2e-3, "tf32");
}

TEST_F(CudaOps, MatmulBf16) {
  auto bf16 = make_cuda_backend({.matmul = MatmulPrecision::kBf16});
  for (const auto& m : kMatmulCases) check_matmul(*cpu, *bf16, m, 1e-2, "bf16");
}

struct AttentionCase {
  int B, T, C, NH;
  bool causal;
};

TEST_F(CudaOps, Attention) {
  // hs 16, 64 (GPT-2), 128 (the largest; > 48 KB of shared memory); T below, at and past
  // tile multiples.
  const AttentionCase cases[] = {{2, 64, 128, 2, true},  {1, 45, 64, 4, true},  {2, 100, 128, 8, false},
                                 {1, 33, 256, 2, true},  {2, 257, 768, 12, true}, {1, 20, 24, 3, false}};
  for (const auto& a : cases) {
    const int B = a.B, T = a.T, C = a.C, NH = a.NH;
    const std::string label = "B" + std::to_string(B) + " T" + std::to_string(T) + " C" + std::to_string(C) + " NH" +
                              std::to_string(NH) + (a.causal ? " causal" : " bidirectional");
    Pair qkv(*gpu, randn((size_t)B * T * 3 * C, 1)), out(*gpu, (size_t)B * T * C, kNaN), lse(*gpu, B * NH * T, kNaN);
    cpu->attention_forward(out.cpu(), lse.cpu(), qkv.cpu(), B, T, C, NH, a.causal);
    gpu->attention_forward(out.gpu(), lse.gpu(), qkv.gpu(), B, T, C, NH, a.causal);
    EXPECT_LT(out.error(), 2e-5) << label << " out";
    EXPECT_LT(lse.error(), 1e-5) << label << " lse";
    Pair dout(*gpu, randn((size_t)B * T * C, 2)), dqkv(*gpu, (size_t)B * T * 3 * C, kNaN);
    cpu->attention_backward(dqkv.cpu(), dout.cpu(), qkv.cpu(), out.cpu(), lse.cpu(), B, T, C, NH, a.causal);
    gpu->attention_backward(dqkv.gpu(), dout.gpu(), qkv.gpu(), out.gpu(), lse.gpu(), B, T, C, NH, a.causal);
    EXPECT_LT(dqkv.error(), 1e-4) << label << " dqkv";
  }
}

// The tensor-core kernels (bf16 products, fp32 softmax): within the bf16 bound.
// Head sizes 16, 64, 128 run them; 8 (C 24, NH 3) checks the fp32 fallback.
TEST_F(CudaOps, AttentionBf16TensorCores) {
  auto tc = make_cuda_backend({.matmul = MatmulPrecision::kFp32, .attention = AttentionKernel::kBf16TensorCores});
  const AttentionCase cases[] = {{2, 64, 128, 2, true}, {1, 45, 64, 4, true},    {2, 100, 128, 8, false},
                                 {1, 33, 256, 2, true}, {2, 257, 768, 12, true}, {1, 20, 24, 3, false},
                                 {1, 130, 512, 4, true}};
  for (const auto& a : cases) {
    const int B = a.B, T = a.T, C = a.C, NH = a.NH;
    const std::string label = "B" + std::to_string(B) + " T" + std::to_string(T) + " C" + std::to_string(C) + " NH" +
                              std::to_string(NH) + (a.causal ? " causal" : " bidirectional");
    Pair qkv(*tc, randn((size_t)B * T * 3 * C, 1)), out(*tc, (size_t)B * T * C, kNaN), lse(*tc, B * NH * T, kNaN);
    cpu->attention_forward(out.cpu(), lse.cpu(), qkv.cpu(), B, T, C, NH, a.causal);
    tc->attention_forward(out.gpu(), lse.gpu(), qkv.gpu(), B, T, C, NH, a.causal);
    EXPECT_LT(out.error(), 1e-2) << label << " out";
    EXPECT_LT(lse.error(), 1e-2) << label << " lse";
    Pair dout(*tc, randn((size_t)B * T * C, 2)), dqkv(*tc, (size_t)B * T * 3 * C, kNaN);
    cpu->attention_backward(dqkv.cpu(), dout.cpu(), qkv.cpu(), out.cpu(), lse.cpu(), B, T, C, NH, a.causal);
    tc->attention_backward(dqkv.gpu(), dout.gpu(), qkv.gpu(), out.gpu(), lse.gpu(), B, T, C, NH, a.causal);
    EXPECT_LT(dqkv.error(), 1e-2) << label << " dqkv";
    const auto first = dqkv.gpu_values();  // and again: no atomics, the same bits
    tc->attention_backward(dqkv.gpu(), dout.gpu(), qkv.gpu(), out.gpu(), lse.gpu(), B, T, C, NH, a.causal);
    EXPECT_EQ(dqkv.gpu_values(), first) << label << " determinism";
  }
}

TEST_F(CudaOps, AttentionDecode) {
  const int B = 2, maxT = 40, C = 64, NH = 4;
  Pair kc(*gpu, randn((size_t)B * maxT * C, 1)), vc(*gpu, randn((size_t)B * maxT * C, 2));
  for (int pos : {0, 17, 39}) {
    Pair qkv(*gpu, randn((size_t)B * 3 * C, 3 + pos)), out(*gpu, (size_t)B * C, kNaN);
    cpu->attention_decode(out.cpu(), kc.cpu(), vc.cpu(), qkv.cpu(), B, pos, maxT, C, NH);
    gpu->attention_decode(out.gpu(), kc.gpu(), vc.gpu(), qkv.gpu(), B, pos, maxT, C, NH);
    EXPECT_LT(out.error(), 1e-5) << "pos " << pos;
    EXPECT_LT(kc.error(), 1e-7) << "kcache after pos " << pos;
    EXPECT_LT(vc.error(), 1e-7) << "vcache after pos " << pos;
  }
}

TEST_F(CudaOps, Rope) {
  const int B = 2, T = 300, C = 96, NH = 3;
  Pair qkv(*gpu, randn((size_t)B * T * 3 * C, 1));
  cpu->rope_forward(qkv.cpu(), B, T, C, NH, 700);
  gpu->rope_forward(qkv.gpu(), B, T, C, NH, 700);
  // Angles reach ~1000 rad: CUDA's powf (2 ulp) and glibc's may differ by an ulp in the
  // frequency, which moves the angle by ~1e-4 rad at that position — both are fp32-correct.
  EXPECT_LT(qkv.error(), 5e-4) << "rope_forward";
  Pair d(*gpu, randn((size_t)B * T * 3 * C, 2));
  cpu->rope_backward(d.cpu(), B, T, C, NH);
  gpu->rope_backward(d.gpu(), B, T, C, NH);
  EXPECT_LT(d.error(), 1e-5) << "rope_backward";  // positions 0..299 only
}

TEST_F(CudaOps, GeluResidualAccumulate) {
  const size_t n = 100003;
  Pair x(*gpu, randn(n, 1, 3.0f)), y(*gpu, n, kNaN);
  cpu->gelu_forward(y.cpu(), x.cpu(), n);
  gpu->gelu_forward(y.gpu(), x.gpu(), n);
  EXPECT_LT(y.error(), 1e-5) << "gelu_forward";  // CPU: tanh_approx (abs error ~1e-7)
  Pair dout(*gpu, randn(n, 2)), dx(*gpu, n, kNaN);
  cpu->gelu_backward(dx.cpu(), x.cpu(), dout.cpu(), n);
  gpu->gelu_backward(dx.gpu(), x.gpu(), dout.gpu(), n);
  EXPECT_LT(dx.error(), 1e-5) << "gelu_backward";
  cpu->gelu_backward(dout.cpu(), x.cpu(), dout.cpu(), n);  // in place (dinp aliases dout)
  gpu->gelu_backward(dout.gpu(), x.gpu(), dout.gpu(), n);
  EXPECT_LT(dout.error(), 1e-5) << "gelu_backward in place";
  Pair a(*gpu, randn(n, 3)), r(*gpu, n, kNaN);
  cpu->residual_forward(r.cpu(), a.cpu(), x.cpu(), n);
  gpu->residual_forward(r.gpu(), a.gpu(), x.gpu(), n);
  EXPECT_EQ(r.error(), 0.0) << "residual_forward";
  cpu->accumulate(a.cpu(), x.cpu(), n);
  gpu->accumulate(a.gpu(), x.gpu(), n);
  EXPECT_EQ(a.error(), 0.0) << "accumulate";
}

TEST_F(CudaOps, CrossEntropy) {
  for (int V : {65, 50257}) {
    const int N = 70, Vp = (V + 63) / 64 * 64;
    auto targets = random_tokens(N, V, 1);
    targets[3] = -1;  // ignored rows
    targets[N - 1] = -1;
    // Padded columns hold garbage the op must not read.
    auto values = randn((size_t)N * Vp, 2, 4.0f);
    Pair logits(*gpu, values), losses(*gpu, N, kNaN), lse(*gpu, N, kNaN);
    cpu->crossentropy_forward(losses.cpu(), lse.cpu(), logits.cpu(), targets.data(), N, V, Vp);
    gpu->crossentropy_forward(losses.gpu(), lse.gpu(), logits.gpu(), targets.data(), N, V, Vp);
    EXPECT_LT(losses.error(), 1e-5) << "V " << V;
    EXPECT_LT(lse.error(), 1e-6) << "V " << V;
    cpu->crossentropy_backward(logits.cpu(), lse.cpu(), targets.data(), 1.0f / N, N, V, Vp);
    gpu->crossentropy_backward(logits.gpu(), lse.gpu(), targets.data(), 1.0f / N, N, V, Vp);
    EXPECT_LT(logits.error(), 1e-5) << "dlogits V " << V;
  }
}

TEST_F(CudaOps, SumSquaresAndAdamW) {
  const size_t n = 1000003;
  Pair g(*gpu, randn(n, 1));
  const double expect = cpu->sum_squares(g.cpu(), n);
  EXPECT_NEAR(gpu->sum_squares(g.gpu(), n), expect, 1e-9 * expect);
  Pair p(*gpu, randn(n, 2)), m(*gpu, randn(n, 3, 0.01f)), v(*gpu, randn(n, 4, 0.01f));
  for (size_t i = 0; i < n; i++) v.cpu()[i] = std::fabs(v.cpu()[i]);  // second moments are >= 0
  gpu->to_device(v.gpu(), v.cpu(), n);
  for (int step = 1; step <= 3; step++) {
    const float bc1 = 1.0f - std::pow(0.9f, step), bc2 = 1.0f - std::pow(0.95f, step);
    cpu->adamw_update(p.cpu(), g.cpu(), m.cpu(), v.cpu(), n, 6e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, bc1, bc2, 0.5f);
    gpu->adamw_update(p.gpu(), g.gpu(), m.gpu(), v.gpu(), n, 6e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, bc1, bc2, 0.5f);
  }
  EXPECT_LT(p.error(), 1e-6);
  EXPECT_LT(m.error(), 1e-6);
  EXPECT_LT(v.error(), 1e-6);
}

// The backward ops that reduce (attention, norms, embedding scatter, bias) give the same
// bits on a second run: no atomics anywhere.
TEST_F(CudaOps, BackwardIsDeterministic) {
  const int B = 2, T = 128, C = 256, NH = 4, Vp = 64;
  Pair qkv(*gpu, randn((size_t)B * T * 3 * C, 1)), out(*gpu, (size_t)B * T * C, 0.0f), lse(*gpu, B * NH * T, 0.0f);
  gpu->attention_forward(out.gpu(), lse.gpu(), qkv.gpu(), B, T, C, NH, true);
  Pair dout(*gpu, randn((size_t)B * T * C, 2));
  const auto tokens = random_tokens(B * T, 7, 3);
  auto run = [&] {
    Pair dqkv(*gpu, (size_t)B * T * 3 * C, 0.0f), dwte(*gpu, (size_t)Vp * C, 0.0f);
    Pair dw(*gpu, (size_t)C * C, 0.0f), db(*gpu, C, 0.0f), dw_ln(*gpu, C, 0.0f), db_ln(*gpu, C, 0.0f);
    Pair dx(*gpu, (size_t)B * T * C, 0.0f), mean(*gpu, B * T, 0.0f), rstd(*gpu, B * T, 0.0f);
    gpu->attention_backward(dqkv.gpu(), dout.gpu(), qkv.gpu(), out.gpu(), lse.gpu(), B, T, C, NH, true);
    gpu->encoder_backward(dwte.gpu(), nullptr, dout.gpu(), tokens.data(), B, T, C);
    gpu->matmul_backward(nullptr, dw.gpu(), db.gpu(), dout.gpu(), out.gpu(), dw.gpu(), B * T, C, C);
    gpu->layernorm_forward(dx.gpu(), mean.gpu(), rstd.gpu(), out.gpu(), db.gpu(), db.gpu(), B * T, C);
    gpu->layernorm_backward(dx.gpu(), dw_ln.gpu(), db_ln.gpu(), dout.gpu(), out.gpu(), db.gpu(), mean.gpu(),
                            rstd.gpu(), B * T, C);
    std::vector<float> all;
    for (const Pair* p : {&dqkv, &dwte, &dw, &db, &dw_ln, &db_ln, &dx}) {
      const auto v = p->gpu_values();
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  };
  EXPECT_EQ(run(), run());
}

// The mixed-precision configuration (bf16 matmuls, tensor-core attention) follows the CPU
// backend's loss curve within bf16 accuracy.
TEST_F(CudaOps, GptMixedPrecisionFollowsTheCpuBackend) {
  auto mixed = make_cuda_backend({.matmul = MatmulPrecision::kBf16, .attention = AttentionKernel::kBf16TensorCores});
  trainer::GPTConfig config{.max_seq_len = 128, .vocab_size = 97, .num_layers = 2, .num_heads = 4, .channels = 128};
  trainer::GPT cpu_model(config, *cpu), gpu_model(config, *mixed);
  cpu_model.init_random(42);
  gpu_model.upload_params(cpu_model.download_params());
  trainer::AdamW cpu_opt(cpu_model, {}), gpu_opt(gpu_model, {});
  const int B = 4, T = 128;
  for (int step = 0; step < 5; step++) {
    const auto x = random_tokens(B * T, config.vocab_size, 100 + step);
    const auto y = random_tokens(B * T, config.vocab_size, 200 + step);
    const float cpu_loss = cpu_model.forward(x.data(), y.data(), B, T);
    const float gpu_loss = gpu_model.forward(x.data(), y.data(), B, T);
    EXPECT_NEAR(gpu_loss, cpu_loss, 1e-2 * cpu_loss) << "step " << step;
    cpu_model.zero_grad();
    gpu_model.zero_grad();
    cpu_model.backward();
    gpu_model.backward();
    cpu_opt.step(1e-3f);
    gpu_opt.step(1e-3f);
  }
}

// The whole model on both backends: the same initial weights and batches, a few AdamW steps;
// the losses follow each other (fp32 matmuls on the GPU for a tight bound).
TEST_F(CudaOps, GptTrainingStepsFollowTheCpuBackend) {
  for (auto position : {trainer::PositionEncoding::kLearned, trainer::PositionEncoding::kRope}) {
    trainer::GPTConfig config{.max_seq_len = 64, .vocab_size = 97, .num_layers = 2, .num_heads = 4, .channels = 64,
                              .position = position};
    trainer::GPT cpu_model(config, *cpu), gpu_model(config, *gpu);
    cpu_model.init_random(42);
    gpu_model.upload_params(cpu_model.download_params());
    trainer::AdamW cpu_opt(cpu_model, {}), gpu_opt(gpu_model, {});
    const int B = 4, T = 48;
    for (int step = 0; step < 5; step++) {
      const auto x = random_tokens(B * T, config.vocab_size, 100 + step);
      const auto y = random_tokens(B * T, config.vocab_size, 200 + step);
      const float cpu_loss = cpu_model.forward(x.data(), y.data(), B, T);
      const float gpu_loss = gpu_model.forward(x.data(), y.data(), B, T);
      EXPECT_NEAR(gpu_loss, cpu_loss, 1e-4 * cpu_loss) << "step " << step;
      cpu_model.zero_grad();
      gpu_model.zero_grad();
      cpu_model.backward();
      gpu_model.backward();
      std::vector<float> cpu_grads(cpu_model.num_params()), gpu_grads(gpu_model.num_params());
      cpu->to_host(cpu_grads.data(), cpu_model.grads(), cpu_grads.size());
      gpu->to_host(gpu_grads.data(), gpu_model.grads(), gpu_grads.size());
      EXPECT_LT(normalized_error(gpu_grads, cpu_grads), 1e-4) << "gradients, step " << step;
      const float gpu_norm = gpu_opt.step(1e-3f), cpu_norm = cpu_opt.step(1e-3f);
      EXPECT_NEAR(gpu_norm, cpu_norm, 1e-4 * cpu_norm) << "grad norm, step " << step;
    }
    // Adam divides by sqrt(v): parameters whose gradient is ~0 move by lr either way, so the
    // parameters drift apart faster than the losses do.
    EXPECT_LT(normalized_error(gpu_model.download_params(), cpu_model.download_params()), 1e-3);
  }
}

}  // namespace
}  // namespace kiln::kernels
