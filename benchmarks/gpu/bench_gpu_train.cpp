// GPU training benchmark: GPT-2 124M shape (12 layers, 12 heads, 768 channels, T 1024) on
// the CUDA backend, and optionally its first steps beside the CPU backend on the same data.
//
//   bench_gpu_train [--steps 300] [--batch 8] [--seq 1024] [--layers 12] [--heads 12]
//                   [--channels 768] [--vocab 50257] [--precision bf16|tf32|fp32]
//                   [--tokens FILE] [--compare-cpu-steps 3] [--compare-batch 1] [--warmup 10]
//                   [--backend cuda|cpu] [--ops] [--attention fp32|bf16]
//
// --attention bf16: the tensor-core attention kernels (kernels/src/attention_bf16.cu).
//
// --ops: times each backend op alone at the model's shapes (B x T rows) before training
// and prints a table with each op's share of an estimated step — where the time goes,
// without a profiler (on the GPU machine's gVisor runtime ncu may not work).
//
// --backend cpu runs the same loop on the CPU backend: a smoke test of this driver on a
// machine without a GPU (use a tiny shape), not a comparison.
// Prints one line per 25 steps and, last, a summary: median ms/step over the steps after
// --warmup, tokens/s, and MFU = model FLOPs/s over the H100/H200 dense bf16 peak, 989.4
// TFLOP/s (NVIDIA's datasheet; HOPPER.md/H200.md here measured ~790 on random data). Model
// FLOPs per token are llm.c's and nanoGPT's count: 6 N (forward + backward of every weight)
// + 6 L T C (causal attention's two T x T products, halved) — the convention llm.c's MFU
// uses, so the numbers compare.
//
// --tokens: a token file (llm.c .bin shard, nanoGPT uint16) or text (tokenized byte-level,
// which leaves most of the 50257 rows unused but is real data); without it, uniform random
// tokens (timing is the same; the loss then stays near ln V).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "corpus/error.h"
#include "kernels/cuda_backend.h"
#include "trainer/data.h"
#include "trainer/model.h"
#include "trainer/optimizer.h"

namespace {
using namespace kiln;

struct Options {
  int steps = 300, batch = 8, seq = 1024, layers = 12, heads = 12, channels = 768, vocab = 50257, warmup = 10;
  int compare_cpu_steps = 0, compare_batch = 1;
  std::string precision = "bf16", tokens, backend = "cuda", attention = "fp32";
  bool ops = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(cat(a, ": missing value"));
      return argv[++i];
    };
    if (a == "--steps") o.steps = std::stoi(value());
    else if (a == "--batch") o.batch = std::stoi(value());
    else if (a == "--seq") o.seq = std::stoi(value());
    else if (a == "--layers") o.layers = std::stoi(value());
    else if (a == "--heads") o.heads = std::stoi(value());
    else if (a == "--channels") o.channels = std::stoi(value());
    else if (a == "--vocab") o.vocab = std::stoi(value());
    else if (a == "--warmup") o.warmup = std::stoi(value());
    else if (a == "--precision") o.precision = value();
    else if (a == "--tokens") o.tokens = value();
    else if (a == "--backend") o.backend = value();
    else if (a == "--ops") o.ops = true;
    else if (a == "--attention") o.attention = value();
    else if (a == "--compare-cpu-steps") o.compare_cpu_steps = std::stoi(value());
    else if (a == "--compare-batch") o.compare_batch = std::stoi(value());
    else throw Error(cat("unknown option ", a));
  }
  return o;
}

kernels::MatmulPrecision precision(const std::string& name) {
  if (name == "bf16") return kernels::MatmulPrecision::kBf16;
  if (name == "tf32") return kernels::MatmulPrecision::kTf32;
  if (name == "fp32") return kernels::MatmulPrecision::kFp32;
  throw Error(cat("--precision ", name, ": expected bf16, tf32 or fp32"));
}

kernels::CudaBackendOptions cuda_options(const Options& o) {
  if (o.attention != "fp32" && o.attention != "bf16") throw Error(cat("--attention ", o.attention, ": expected fp32 or bf16"));
  return {.matmul = precision(o.precision),
          .attention = o.attention == "bf16" ? kernels::AttentionKernel::kBf16TensorCores : kernels::AttentionKernel::kFp32};
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// The first steps on the CPU and the GPU backend from the same weights and batches.
void compare_with_cpu(const Options& o, const trainer::GPTConfig& config, const trainer::TokenSource& data) {
  auto cpu = trainer::make_cpu_backend({});
  auto gpu = kernels::make_cuda_backend(cuda_options(o));
  trainer::GPT cpu_model(config, *cpu), gpu_model(config, *gpu);
  cpu_model.init_random(1337);
  gpu_model.upload_params(cpu_model.download_params());
  trainer::AdamW cpu_opt(cpu_model, {}), gpu_opt(gpu_model, {});
  trainer::DataLoader loader(data, {.batch_size = o.compare_batch, .seq_len = o.seq,
                                    .order = trainer::DataOrder::kSequential});
  std::vector<int32_t> x((size_t)o.compare_batch * o.seq), y(x.size());
  std::printf("loss curve, CPU vs CUDA (%s matmuls, %s attention), B=%d T=%d:\nstep  cpu        cuda       rel diff\n",
              o.precision.c_str(), o.attention.c_str(), o.compare_batch, o.seq);
  double worst = 0.0;
  for (int step = 0; step < o.compare_cpu_steps; step++) {
    loader.next(x.data(), y.data());
    const double t0 = now();
    cpu_model.zero_grad();
    const float lc = cpu_model.forward(x.data(), y.data(), o.compare_batch, o.seq);
    cpu_model.backward();
    cpu_opt.step(3e-4f);
    const double t1 = now();
    gpu_model.zero_grad();
    const float lg = gpu_model.forward(x.data(), y.data(), o.compare_batch, o.seq);
    gpu_model.backward();
    gpu_opt.step(3e-4f);
    const double rel = std::fabs(lg - lc) / lc;
    worst = std::max(worst, rel);
    std::printf("%4d  %.6f   %.6f   %.1e   (cpu step %.1f s)\n", step, lc, lg, rel, t1 - t0);
  }
  std::printf("compare: max relative loss difference %.2e over %d steps (%s)\n", worst, o.compare_cpu_steps,
              worst <= 1e-2 ? "follows" : "DIVERGES");
}
// Times every op of a training step on its own at GPT shapes: mean of 10 runs after 2
// warm-up runs, the stream drained (to_host of one float) before and after.
void time_ops(const Options& o, trainer::Backend& be) {
  const int B = o.batch, T = o.seq, C = o.channels, NH = o.heads, L = o.layers, V = o.vocab;
  const int Vp = (V + 63) / 64 * 64;
  const size_t N = (size_t)B * T;
  struct Buf {
    trainer::Backend& be;
    float* p;
    Buf(trainer::Backend& b, size_t n, uint64_t seed) : be(b), p(b.alloc(n)) {
      trainer::Rng rng(seed);
      std::vector<float> h(n);
      for (float& x : h) x = 0.5f * rng.normal();
      be.to_device(p, h.data(), n);
    }
    ~Buf() { be.release(p); }
  };
  // Buffer sizes: x, y, dy hold the widest activation (N, 4C); w, dw the largest weight
  // (max(Vp, 4C), C); the LM head writes logits (N, Vp).
  const size_t W = (size_t)std::max(Vp, 4 * C) * C;
  Buf x(be, N * 4 * C, 1), y(be, N * 4 * C, 2), dy(be, N * 4 * C, 3), w(be, W, 4), dw(be, W, 5);
  Buf bias(be, 4 * C, 6), dbias(be, 4 * C, 7), qkv(be, N * 3 * C, 8), dqkv(be, N * 3 * C, 9), att(be, N * C, 10);
  Buf lse(be, (size_t)B * NH * T, 11), mean(be, N, 12), rstd(be, N, 13), logits(be, N * Vp, 14), losses(be, N, 15);
  std::vector<int32_t> tokens(N), targets(N);
  trainer::Rng rng(3);
  for (size_t i = 0; i < N; i++) tokens[i] = (int32_t)rng.below(V), targets[i] = (int32_t)rng.below(V);
  float sink;
  auto drain = [&] { be.to_host(&sink, x.p, 1); };
  struct Row {
    std::string name;
    double ms, per_step, flops, bytes;
  };
  std::vector<Row> rows;
  auto time = [&](const std::string& name, double per_step, double flops, double bytes, auto&& op) {
    for (int i = 0; i < 2; i++) op();
    drain();
    const double t0 = now();
    for (int i = 0; i < 10; i++) op();
    drain();
    rows.push_back({name, (now() - t0) * 100.0, per_step, flops, bytes});
  };
  const double f = 4.0;  // bytes per float
  auto matmul = [&](const char* name, int in, int out, bool has_bias, double per_step) {
    float* o = out > 4 * C ? logits.p : y.p;  // (N, out)
    time(std::string(name) + " fwd", per_step, 2.0 * N * in * out, f * (N * in + (double)in * out + N * out),
         [&] { be.matmul_forward(o, x.p, w.p, has_bias ? bias.p : nullptr, (int)N, in, out); });
    time(std::string(name) + " bwd", per_step, 4.0 * N * in * out, f * 2 * (N * in + (double)in * out + N * out),
         [&] { be.matmul_backward(dy.p, dw.p, has_bias ? dbias.p : nullptr, o, x.p, w.p, (int)N, in, out); });
  };
  matmul("matmul qkv", C, 3 * C, true, L);
  matmul("matmul attproj", C, C, true, L);
  matmul("matmul fc", C, 4 * C, true, L);
  matmul("matmul fcproj", 4 * C, C, true, L);
  matmul("matmul lm head", C, Vp, false, 1);
  const double att_flops = 4.0 * B * NH * (double)T * T * (C / NH) / 2;  // QK^T and PV, causal half
  time("attention fwd", L, att_flops, f * (N * 3 * C + N * C), [&] {
    be.attention_forward(att.p, lse.p, qkv.p, B, T, C, NH, true);
  });
  time("attention bwd", L, 2.5 * att_flops, f * (2 * N * 3 * C + 2 * N * C), [&] {
    be.attention_backward(dqkv.p, att.p, qkv.p, att.p, lse.p, B, T, C, NH, true);
  });
  time("layernorm fwd", 2 * L + 1, 0, f * 2 * N * C, [&] {
    be.layernorm_forward(y.p, mean.p, rstd.p, x.p, w.p, bias.p, (int)N, C);
  });
  time("layernorm bwd", 2 * L + 1, 0, f * 4 * N * C, [&] {
    be.layernorm_backward(dy.p, dw.p, dbias.p, y.p, x.p, w.p, mean.p, rstd.p, (int)N, C);
  });
  time("gelu fwd", L, 0, f * 2 * N * 4 * C, [&] { be.gelu_forward(y.p, x.p, N * 4 * C); });
  time("gelu bwd", L, 0, f * 3 * N * 4 * C, [&] { be.gelu_backward(dy.p, x.p, y.p, N * 4 * C); });
  time("residual / accumulate", 4 * L, 0, f * 3 * N * C, [&] { be.residual_forward(y.p, x.p, dy.p, N * C); });
  time("crossentropy fwd", 1, 0, f * N * Vp, [&] {
    be.crossentropy_forward(losses.p, mean.p, logits.p, targets.data(), (int)N, V, Vp);
  });
  time("crossentropy bwd", 1, 0, f * 2 * N * Vp, [&] {
    be.crossentropy_backward(logits.p, mean.p, targets.data(), 1.0f / N, (int)N, V, Vp);
  });
  time("encoder fwd", 1, 0, f * 3 * N * C, [&] { be.encoder_forward(y.p, tokens.data(), w.p, x.p, B, T, C, 0); });
  time("encoder bwd", 1, 0, f * 3 * N * C, [&] { be.encoder_backward(dw.p, y.p, x.p, tokens.data(), B, T, C); });
  const size_t P = W;  // stands in for the parameter count (a third of GPT-2 124M's)
  Buf m(be, P, 16), v(be, P, 17);
  time("adamw (wte-sized)", 3, 0, f * 7 * P, [&] {
    be.adamw_update(w.p, dw.p, m.p, v.p, P, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 0.5f, 1.0f);
  });
  time("sum_squares (wte-sized)", 3, 0, f * P, [&] { (void)be.sum_squares(dw.p, P); });
  double total = 0.0;
  for (const Row& r : rows) total += r.ms * r.per_step;
  std::printf("\nops at B %d T %d C %d NH %d Vp %d (%s matmuls)\n%-24s %9s %6s %9s %9s %7s\n", B, T, C, NH, Vp,
              o.precision.c_str(), "op", "ms", "x/step", "TFLOP/s", "GB/s", "share");
  for (const Row& r : rows)
    std::printf("%-24s %9.3f %6.0f %9.1f %9.0f %6.1f%%\n", r.name.c_str(), r.ms, r.per_step,
                r.flops ? r.flops / r.ms / 1e9 : 0.0, r.bytes / r.ms / 1e6, 100.0 * r.ms * r.per_step / total);
  std::printf("estimated step from the ops: %.1f ms (the training loop below measures the real one)\n\n", total);
}
}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    const bool cuda = o.backend == "cuda";
    if (!cuda && o.backend != "cpu") throw Error(cat("--backend ", o.backend, ": expected cuda or cpu"));
    if (cuda && !kernels::cuda_device_available()) {
      std::printf("%s\n", kernels::cuda_device_description().c_str());
      return 2;
    }
    std::printf("device: %s\n", cuda ? kernels::cuda_device_description().c_str() : "CPU backend (smoke test)");
    const trainer::GPTConfig config{.max_seq_len = o.seq, .vocab_size = o.vocab, .num_layers = o.layers,
                                    .num_heads = o.heads, .channels = o.channels};
    std::unique_ptr<trainer::TokenArray> data;
    if (!o.tokens.empty()) {
      data = trainer::load_tokens(o.tokens);
    } else {
      trainer::Rng rng(7);
      std::vector<int32_t> t((size_t)1 << 24);
      for (int32_t& v : t) v = (int32_t)rng.below(o.vocab);
      data = std::make_unique<trainer::TokenArray>(std::move(t));
    }
    std::printf("data: %s, %llu tokens\n", o.tokens.empty() ? "random tokens" : o.tokens.c_str(),
                (unsigned long long)data->size());
    if (o.compare_cpu_steps > 0 && cuda) compare_with_cpu(o, config, *data);
    if (o.steps <= 0) return 0;

    auto backend = cuda ? kernels::make_cuda_backend(cuda_options(o)) : trainer::make_cpu_backend({});
    if (o.ops) time_ops(o, *backend);
    trainer::GPT model(config, *backend);
    model.init_random(1337);
    trainer::AdamW optimizer(model, {});
    trainer::DataLoader loader(*data, {.batch_size = o.batch, .seq_len = o.seq, .order = trainer::DataOrder::kSequential});
    std::vector<int32_t> x((size_t)o.batch * o.seq), y(x.size());
    const double N = (double)model.num_params();
    const double flops_per_token = 6.0 * N + 6.0 * o.layers * o.seq * o.channels;
    constexpr double kPeakBf16 = 989.4e12;
    std::printf("model: %d layers, %d heads, %d channels, T %d, V %d (Vp %d): %.1fM parameters; B %d, %s matmuls, "
                "%s attention\n",
                o.layers, o.heads, o.channels, o.seq, o.vocab, config.padded_vocab(), N / 1e6, o.batch,
                o.precision.c_str(), o.attention.c_str());
    std::vector<double> ms;
    float loss = 0.0f;
    for (int step = 0; step < o.steps; step++) {
      loader.next(x.data(), y.data());
      const double t0 = now();
      model.zero_grad();
      loss = model.forward(x.data(), y.data(), o.batch, o.seq);  // returns after the loss is on the host
      model.backward();
      const float lr = trainer::cosine_lr({.max_lr = 6e-4f, .min_lr = 6e-5f, .warmup_steps = 20,
                                           .decay_steps = o.steps}, step);
      optimizer.step(lr);  // the gradient norm comes back to the host: the step has finished
      const double dt = (now() - t0) * 1e3;
      ms.push_back(dt);
      if (!std::isfinite(loss)) throw Error(cat("loss became ", loss, " at step ", step));
      if (step % 25 == 0 || step == o.steps - 1)
        std::printf("step %4d  loss %.4f  %.1f ms  %.0f tok/s\n", step, loss, dt, o.batch * o.seq / dt * 1e3);
    }
    std::vector<double> timed(ms.begin() + std::min<size_t>(o.warmup, ms.size() - 1), ms.end());
    std::sort(timed.begin(), timed.end());
    const double median = timed[timed.size() / 2];
    const double tokens_per_s = o.batch * o.seq / median * 1e3;
    const double mfu = tokens_per_s * flops_per_token / kPeakBf16;
    std::printf("RESULT precision=%s attention=%s B=%d T=%d steps=%d median_ms_per_step=%.2f tokens_per_s=%.0f "
                "model_tflops=%.1f mfu_vs_989tflops=%.1f%% final_loss=%.4f\n",
                o.precision.c_str(), o.attention.c_str(), o.batch, o.seq, o.steps, median, tokens_per_s, tokens_per_s * flops_per_token / 1e12,
                100.0 * mfu, loss);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
