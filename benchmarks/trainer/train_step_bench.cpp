// One training step of kiln's CPU trainer (forward, backward, clip, AdamW), timed.
//
//   train_step_bench --layers 4 --heads 4 --embd 128 --seq 64 --batch 12 --vocab 65 --threads 1 [--bf16]
//
// Prints one JSON line with the median ms/step and tokens/s over --steps timed steps, after
// --warmup untimed ones. Before timing it checks the output: the first loss of the random
// init must be near ln(V), and the loss must fall when training on one fixed batch.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "trainer/model.h"
#include "trainer/optimizer.h"
#include "trainer/rng.h"

using namespace kiln::trainer;

int main(int argc, char** argv) {
  int L = 4, NH = 4, C = 128, T = 64, B = 12, V = 65, threads = 1, steps = 20, warmup = 3;
  bool bf16 = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--bf16") {  // the only flag without a value
      bf16 = true;
      i--;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "flag %s needs a value\n", flag.c_str());
      return 2;
    }
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--layers") L = value;
    else if (flag == "--heads") NH = value;
    else if (flag == "--embd") C = value;
    else if (flag == "--seq") T = value;
    else if (flag == "--batch") B = value;
    else if (flag == "--vocab") V = value;
    else if (flag == "--threads") threads = value;
    else if (flag == "--steps") steps = value;
    else if (flag == "--warmup") warmup = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  auto backend = make_cpu_backend({.threads = threads, .bf16_matmul = bf16});
  GPT model({.max_seq_len = T, .vocab_size = V, .num_layers = L, .num_heads = NH, .channels = C}, *backend);
  model.init_random(1);
  AdamW opt(model, {.weight_decay = 0.1f, .grad_clip = 1.0f});
  Rng rng(2);
  std::vector<int32_t> x((size_t)B * T), y(x.size());
  for (size_t i = 0; i < x.size(); i++) x[i] = (int32_t)rng.below(V), y[i] = (int32_t)rng.below(V);
  auto step = [&] {
    const float loss = model.forward(x.data(), y.data(), B, T);
    model.zero_grad();
    model.backward();
    opt.step(1e-3f);
    return loss;
  };
  // Check before timing.
  const float first = step();
  if (std::fabs(first - std::log((float)V)) > 0.5f) {
    std::fprintf(stderr, "check failed: initial loss %.4f, expected about ln(V) = %.4f\n", first, std::log((float)V));
    return 1;
  }
  float loss = first;
  for (int i = 1; i < warmup; i++) loss = step();
  // Wall time per step, and process CPU time per step: on a shared, oversubscribed machine
  // the CPU time of a 1-thread run is close to its uncontended wall time.
  auto cpu_ms = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
  };
  std::vector<double> ms, cpu;
  for (int i = 0; i < steps; i++) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_ms();
    loss = step();
    cpu.push_back(cpu_ms() - c0);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  if (!(loss < first)) {
    std::fprintf(stderr, "check failed: loss did not fall (%.4f -> %.4f)\n", first, loss);
    return 1;
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  const double median = ms[ms.size() / 2];
  std::printf("{\"impl\":\"%s\",\"L\":%d,\"NH\":%d,\"C\":%d,\"T\":%d,\"B\":%d,\"V\":%d,\"threads\":%d,"
              "\"ms_per_step\":%.2f,\"min_ms\":%.2f,\"cpu_ms_per_step\":%.2f,\"tokens_per_second\":%.0f,\"loss_first\":%.4f,\"loss_last\":%.4f}\n",
              bf16 ? "kiln-bf16" : "kiln", L, NH, C, T, B, V, threads, median, ms.front(), cpu[cpu.size() / 2], B * T / (median / 1000), first, loss);
  return 0;
}
