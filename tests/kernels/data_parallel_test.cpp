// Data parallelism without MPI: batch slicing, the single-process communicator, and the
// identity the multi-rank run rests on — the mean of the ranks' half-batch gradients is the
// whole batch's gradient.
#include <gtest/gtest.h>

#include <vector>

#include "corpus/error.h"
#include "kernels/data_parallel.h"
#include "kernels/ops_compare.h"
#include "trainer/model.h"

namespace kiln::kernels {
namespace {

TEST(DataParallel, BatchSlicesAreContiguousAndEqual) {
  EXPECT_EQ(batch_slice(8, 0, 2).begin, 0);
  EXPECT_EQ(batch_slice(8, 1, 2).begin, 4);
  EXPECT_EQ(batch_slice(8, 1, 2).rows, 4);
  EXPECT_EQ(batch_slice(8, 3, 4).begin, 6);
  EXPECT_EQ(batch_slice(5, 0, 1).rows, 5);
  EXPECT_THROW(batch_slice(7, 0, 2), Error);
  EXPECT_THROW(batch_slice(8, 2, 2), Error);
}

// ZeRO-1 shards tile the buffer exactly: contiguous, in rank order, 64-byte aligned starts.
TEST(DataParallel, ShardRangesTileTheBuffer) {
  for (size_t n : {0ul, 1ul, 15ul, 16ul, 17ul, 100ul, 1000003ul})
    for (int size : {1, 2, 3, 4, 7}) {
      size_t next = 0;
      for (int r = 0; r < size; r++) {
        const ShardRange s = shard_range(n, r, size);
        EXPECT_EQ(s.begin, next) << n << " " << r << "/" << size;
        if (s.size) {
          EXPECT_EQ(s.begin % 16, 0u);  // empty trailing shards sit at n
        }
        next = s.begin + s.size;
      }
      EXPECT_EQ(next, n) << n << " over " << size;
    }
  EXPECT_EQ(shard_range(100, 0, 2).size, 64u);  // ceil(100/2) = 50, rounded up to 64
  EXPECT_EQ(shard_range(100, 1, 2).size, 36u);
  EXPECT_THROW(shard_range(10, 2, 2), Error);
}

TEST(DataParallel, SingleProcessCommunicatorIsTheIdentity) {
  auto comm = make_single_process_communicator();
  auto backend = trainer::make_cpu_backend({.threads = 1});
  std::vector<float> g = {1.0f, -2.0f, 3.5f};
  comm->allreduce_mean(*backend, g.data(), g.size());
  EXPECT_EQ(g, (std::vector<float>{1.0f, -2.0f, 3.5f}));
  comm->reduce_scatter_mean(*backend, g.data(), g.size());
  comm->all_gather(*backend, g.data(), g.size());
  EXPECT_EQ(g, (std::vector<float>{1.0f, -2.0f, 3.5f}));
  EXPECT_EQ(comm->allreduce_sum(2.5), 2.5);
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
}

TEST(DataParallel, MpiIsOptional) {
  if (mpi_compiled()) GTEST_SKIP() << "built with MPI: the 2-rank ctest kernels_data_parallel_two_ranks covers it";
  EXPECT_THROW(make_mpi_communicator(), Error);
}

// What two ranks compute: each the gradient of its half's mean loss; their mean is the
// gradient of the whole batch's mean loss (equal halves, no ignored targets).
TEST(DataParallel, MeanOfHalfBatchGradientsIsTheFullBatchGradient) {
  auto backend = trainer::make_cpu_backend({.threads = 1});
  trainer::GPTConfig config{.max_seq_len = 32, .vocab_size = 50, .num_layers = 2, .num_heads = 2, .channels = 32};
  trainer::GPT model(config, *backend);
  model.init_random(7);
  const int B = 4, T = 16, n = (int)model.num_params();
  const auto x = testing::random_tokens(B * T, config.vocab_size, 1);
  const auto y = testing::random_tokens(B * T, config.vocab_size, 2);

  model.zero_grad();
  const float full_loss = model.forward(x.data(), y.data(), B, T);
  model.backward();
  const std::vector<float> full(model.grads(), model.grads() + n);

  std::vector<float> mean(n, 0.0f);
  double loss_sum = 0.0;
  for (int rank = 0; rank < 2; rank++) {
    const BatchSlice s = batch_slice(B, rank, 2);
    model.zero_grad();
    loss_sum += model.forward(x.data() + s.begin * T, y.data() + s.begin * T, s.rows, T);
    model.backward();
    for (int i = 0; i < n; i++) mean[i] += 0.5f * model.grads()[i];
  }
  EXPECT_NEAR(loss_sum / 2, full_loss, 1e-6 * full_loss);
  EXPECT_LT(testing::normalized_error(mean, full), 1e-6);
}

}  // namespace
}  // namespace kiln::kernels
