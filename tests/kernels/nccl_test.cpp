// The NCCL communicator on one GPU (the GPU machine lent to this project has one): it
// initializes, and all-reduce/broadcast over one rank leave a device buffer unchanged.
// Multi-GPU runs are not tested anywhere yet. Skips without a device or without NCCL.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/cuda_backend.h"
#include "kernels/data_parallel.h"
#include "kernels/ops_compare.h"

namespace kiln::kernels {
namespace {

TEST(Nccl, OneRankAllReduceAndBroadcastAreTheIdentity) {
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device (" << cuda_device_description() << "): GPU test skipped";
  if (!nccl_compiled()) GTEST_SKIP() << "built without NCCL";
  auto backend = make_cuda_backend();
  auto comm = make_nccl_communicator(make_single_process_communicator(), 0);
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  const auto host = testing::randn(100003, 1);
  float* buf = backend->alloc(host.size());
  backend->to_device(buf, host.data(), host.size());
  comm->allreduce_mean(*backend, buf, host.size());
  comm->broadcast(*backend, buf, host.size(), 0);
  std::vector<float> back(host.size());
  backend->to_host(back.data(), buf, back.size());
  EXPECT_EQ(back, host);
  EXPECT_EQ(comm->allreduce_sum(3.5), 3.5);
  backend->release(buf);
}

}  // namespace
}  // namespace kiln::kernels
