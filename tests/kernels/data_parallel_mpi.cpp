// Run under `mpirun -np 2` (tests/kernels/mpi_test.sh): data-parallel training on the CPU
// backend. Each rank trains on its half of every global batch, the gradients are averaged
// with MPI_Allreduce, and every rank applies the same AdamW update. Rank 0 then trains a
// fresh model in one process on the whole global batches and checks that the two loss
// curves agree (the sums run in another order, so within a tolerance, not bitwise) and that
// the ranks' parameters stayed bit-identical. Exit status 0 = pass.
#include <cmath>
#include <cstdio>
#include <vector>

#include "corpus/error.h"
#include "kernels/data_parallel.h"
#include "kernels/ops_compare.h"
#include "trainer/model.h"
#include "trainer/optimizer.h"

namespace {
using namespace kiln;

constexpr int kGlobalBatch = 8, kSeqLen = 32, kSteps = 12;
const trainer::GPTConfig kConfig{.max_seq_len = 32, .vocab_size = 64, .num_layers = 2, .num_heads = 4,
                                 .channels = 64};

// The global batch of `step`, the same on every rank: a learnable pattern (next token =
// token + 1 mod V, with noise) so the loss falls.
void global_batch(int step, std::vector<int32_t>& x, std::vector<int32_t>& y) {
  const int n = kGlobalBatch * kSeqLen;
  x = kernels::testing::random_tokens(n, kConfig.vocab_size, 1000 + step);
  const auto noise = kernels::testing::random_tokens(n, 10, 2000 + step);
  y.resize(n);
  for (int i = 0; i < n; i++) y[i] = noise[i] == 0 ? (x[i] * 7) % kConfig.vocab_size : (x[i] + 1) % kConfig.vocab_size;
}

// Trains kSteps steps; `comm` decides the slice. Returns the global mean loss per step.
std::vector<float> train(kernels::Communicator& comm, trainer::Backend& backend, std::vector<float>* final_params) {
  trainer::GPT model(kConfig, backend);
  model.init_random(1337);
  comm.broadcast(backend, model.params(), model.num_params(), 0);  // start identical (they already are)
  trainer::AdamW optimizer(model, {.weight_decay = 0.1f, .grad_clip = 1.0f});
  const kernels::BatchSlice mine = kernels::batch_slice(kGlobalBatch, comm.rank(), comm.size());
  std::vector<int32_t> x, y;
  std::vector<float> losses;
  for (int step = 0; step < kSteps; step++) {
    global_batch(step, x, y);
    model.zero_grad();
    const float loss = model.forward(x.data() + mine.begin * kSeqLen, y.data() + mine.begin * kSeqLen, mine.rows, kSeqLen);
    model.backward();
    comm.allreduce_mean(backend, model.grads(), model.num_params());
    losses.push_back((float)(comm.allreduce_sum(loss) / comm.size()));
    optimizer.step(trainer::cosine_lr({.max_lr = 3e-3f, .min_lr = 3e-4f, .warmup_steps = 2, .decay_steps = kSteps},
                                      step));
  }
  if (final_params) *final_params = model.download_params();
  return losses;
}
}  // namespace

int main() {
  try {
    auto comm = kernels::make_mpi_communicator();
    auto backend = trainer::make_cpu_backend({.threads = 1});
    std::vector<float> params;
    const std::vector<float> distributed = train(*comm, *backend, &params);

    // Bit-identical parameters on every rank: x + x == 2x exactly.
    double checksum = 0.0;
    for (size_t i = 0; i < params.size(); i++) checksum += params[i] * (1.0 + (double)i / params.size());
    const double sum = comm->allreduce_sum(checksum);
    const bool same_params = sum == comm->size() * checksum;

    int failures = 0;
    if (comm->rank() == 0) {
      auto single = kernels::make_single_process_communicator();
      const std::vector<float> reference = train(*single, *backend, nullptr);
      std::printf("%d MPI ranks, global batch %d x %d, %d steps\nstep  %d ranks      1 process   rel diff\n",
                  comm->size(), kGlobalBatch, kSeqLen, kSteps, comm->size());
      for (int s = 0; s < kSteps; s++) {
        const double rel = std::fabs(distributed[s] - reference[s]) / reference[s];
        std::printf("%4d  %.6f   %.6f   %.1e\n", s, distributed[s], reference[s], rel);
        if (!(rel <= 1e-4)) failures++;
      }
      if (!(distributed.back() < distributed.front() - 0.1f)) {
        std::printf("FAIL: the loss did not fall (%.4f -> %.4f)\n", distributed.front(), distributed.back());
        failures++;
      }
      if (!same_params) {
        std::printf("FAIL: the ranks' parameters differ after training\n");
        failures++;
      }
      if (comm->size() < 2) {
        std::printf("FAIL: run with at least 2 ranks (mpirun -np 2)\n");
        failures++;
      }
      std::printf(failures ? "FAIL: %d problems\n" : "PASS: the 2-rank loss curve matches one process\n", failures);
    }
    const double all_failures = comm->allreduce_sum(failures);
    return all_failures == 0 ? 0 : 1;
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
