// The NCCL communicator: gradients all-reduced GPU to GPU (NVLink/PCIe), no host staging.
//
// Built only with nvcc, an MPI and NCCL (found in the CUDA toolkit). Not yet run: the GPU
// machine lent to this project has one GPU, so only the 1-rank path can be checked there
// (tests/kernels/nccl_test.cpp).
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdlib>
#include <string>

#include "corpus/error.h"
#include "kernels/data_parallel.h"

namespace kiln::kernels {
namespace {

void check_nccl(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw Error(cat("data parallel: ", what, ": ", ncclGetErrorString(r)));
}
void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(cat("data parallel: ", what, ": ", cudaGetErrorString(e)));
}

int local_rank(int rank) {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID", "LOCAL_RANK"})
    if (const char* v = std::getenv(name)) return std::atoi(v);
  return rank;
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(std::unique_ptr<Communicator> bootstrap, int device) : bootstrap_(std::move(bootstrap)) {
    if (device < 0) {
      int count = 0;
      check_cuda(cudaGetDeviceCount(&count), "counting devices");
      if (count <= 0) throw Error("data parallel: NCCL needs a CUDA device");
      device = local_rank(bootstrap_->rank()) % count;
    }
    check_cuda(cudaSetDevice(device), "selecting the rank's device");
    ncclUniqueId id{};
    if (bootstrap_->rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    bootstrap_->broadcast_bytes(&id, sizeof id, 0);
    check_nccl(ncclCommInitRank(&comm_, bootstrap_->size(), id, bootstrap_->rank()), "ncclCommInitRank");
  }
  ~NcclCommunicator() override {
    if (comm_) ncclCommDestroy(comm_);
  }
  const char* name() const override { return "nccl"; }
  int rank() const override { return bootstrap_->rank(); }
  int size() const override { return bootstrap_->size(); }

  void allreduce_mean(trainer::Backend& backend, float* buf, size_t n) override {
    require_device(backend);
    if (n == 0) return;
    // The legacy default stream waits for the backend's (blocking) stream and is waited for
    // by it, so this is ordered between the backward pass and the optimizer step.
    check_nccl(ncclAllReduce(buf, buf, n, ncclFloat, ncclAvg, comm_, cudaStreamLegacy), "ncclAllReduce");
    check_cuda(cudaStreamSynchronize(cudaStreamLegacy), "ncclAllReduce");
  }
  double allreduce_sum(double x) override { return bootstrap_->allreduce_sum(x); }
  void broadcast(trainer::Backend& backend, float* buf, size_t n, int root) override {
    require_device(backend);
    if (n == 0) return;
    check_nccl(ncclBroadcast(buf, buf, n, ncclFloat, root, comm_, cudaStreamLegacy), "ncclBroadcast");
    check_cuda(cudaStreamSynchronize(cudaStreamLegacy), "ncclBroadcast");
  }
  void broadcast_bytes(void* data, size_t bytes, int root) override { bootstrap_->broadcast_bytes(data, bytes, root); }

 private:
  static void require_device(const trainer::Backend& backend) {
    if (std::string(backend.name()) != "cuda")
      throw Error(cat("data parallel: the NCCL communicator needs device buffers (backend '", backend.name(), "')"));
  }
  std::unique_ptr<Communicator> bootstrap_;
  ncclComm_t comm_ = nullptr;
};
}  // namespace

bool nccl_compiled() { return true; }
std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> bootstrap, int device) {
  if (!bootstrap) throw Error("data parallel: make_nccl_communicator needs a bootstrap communicator");
  return std::make_unique<NcclCommunicator>(std::move(bootstrap), device);
}

}  // namespace kiln::kernels
