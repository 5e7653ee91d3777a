// The MPI communicator: MPI_Allreduce over MPI_COMM_WORLD.
//
// Determinism: Open MPI's all-reduce picks its algorithm from the message size and the
// number of ranks, and each algorithm adds in a fixed order, so a given rank count gives
// the same bits every run (not the same bits as another rank count: the sum order differs,
// which is why the 2-rank test compares loss curves within a tolerance, not bitwise).
//
// Device buffers are staged through a host vector (to_host, MPI, to_device). That is one
// PCIe round trip of the gradients per step (0.5 GB at 124M fp32 params: ~40 ms at 25 GB/s,
// a lot next to a ~100 ms H200 step) — an NCCL communicator on device buffers is the
// replacement on GPUs; this one is for the CPU backend and for correctness.
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <exception>
#include <string_view>
#include <vector>

#include "corpus/error.h"
#include "kernels/data_parallel.h"

namespace kiln::kernels {
namespace {

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char message[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, message, &length);
  throw Error(cat("data parallel: ", what, ": ", std::string(message, length)));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    check_mpi(MPI_Initialized(&initialized), "MPI_Initialized");
    if (!initialized) {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (finalized) throw Error("data parallel: MPI was already finalized in this process (one communicator per process)");
      int provided = 0;
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      owns_mpi_ = true;
    }
    check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  }
  ~MpiCommunicator() override {
    // Destroyed by an exception on its way out (this rank failed): MPI_Finalize would wait
    // for ranks that wait for this one. Leave MPI up so the caller can report the error and
    // end the job with abort_mpi_job (kiln's main does).
    if (owns_mpi_ && std::uncaught_exceptions() == 0) MPI_Finalize();
  }
  const char* name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void allreduce_mean(trainer::Backend& backend, float* buf, size_t n) override {
    if (size_ == 1 || n == 0) return;
    float* host = buf;
    const bool staged = !is_host(backend);
    if (staged) {
      staging_.resize(n);
      backend.to_host(staging_.data(), buf, n);
      host = staging_.data();
    }
    for (size_t done = 0; done < n;) {  // MPI counts are int
      const int count = (int)std::min<size_t>(n - done, INT_MAX / 2);
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, host + done, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
                "MPI_Allreduce (gradients)");
      done += count;
    }
    const float inv = 1.0f / (float)size_;
    for (size_t i = 0; i < n; i++) host[i] *= inv;
    if (staged) backend.to_device(buf, host, n);
  }

  double allreduce_sum(double x) override {
    double sum = 0.0;
    check_mpi(MPI_Allreduce(&x, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce (scalar)");
    return sum;
  }

  void broadcast(trainer::Backend& backend, float* buf, size_t n, int root) override {
    if (size_ == 1 || n == 0) return;
    float* host = buf;
    const bool staged = !is_host(backend);
    if (staged) {
      staging_.resize(n);
      if (rank_ == root) backend.to_host(staging_.data(), buf, n);
      host = staging_.data();
    }
    for (size_t done = 0; done < n;) {
      const int count = (int)std::min<size_t>(n - done, INT_MAX / 2);
      check_mpi(MPI_Bcast(host + done, count, MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast");
      done += count;
    }
    if (staged) backend.to_device(buf, host, n);
  }

  // MPI_Reduce_scatter / MPI_Allgatherv with the shard_range counts. Counts are ints, so
  // sharded buffers are limited to 2^31 floats (8 GB of fp32 parameters) here.
  void reduce_scatter_mean(trainer::Backend& backend, float* buf, size_t n) override {
    if (size_ == 1 || n == 0) return;
    const std::vector<int> counts = shard_counts(n);
    float* host = stage_in(backend, buf, n);
    const ShardRange mine = shard_range(n, rank_, size_);
    std::vector<float> reduced(mine.size);
    check_mpi(MPI_Reduce_scatter(host, reduced.data(), counts.data(), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Reduce_scatter (gradients)");
    const float inv = 1.0f / (float)size_;  // the same rounding as allreduce_mean's
    for (size_t i = 0; i < mine.size; i++) host[mine.begin + i] = reduced[i] * inv;
    if (host != buf) backend.to_device(buf + mine.begin, host + mine.begin, mine.size);
  }

  void all_gather(trainer::Backend& backend, float* buf, size_t n) override {
    if (size_ == 1 || n == 0) return;
    const std::vector<int> counts = shard_counts(n);
    std::vector<int> displs(size_);
    for (int r = 0; r < size_; r++) displs[r] = (int)shard_range(n, r, size_).begin;
    float* host = stage_in(backend, buf, n);
    check_mpi(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, host, counts.data(), displs.data(), MPI_FLOAT,
                             MPI_COMM_WORLD),
              "MPI_Allgatherv (parameters)");
    if (host != buf) backend.to_device(buf, host, n);
  }

  void broadcast_bytes(void* data, size_t bytes, int root) override {
    if (size_ == 1 || bytes == 0) return;
    if (bytes > (size_t)INT_MAX) throw Error("data parallel: broadcast_bytes over 2 GB");
    check_mpi(MPI_Bcast(data, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast (bytes)");
  }

 private:
  static bool is_host(const trainer::Backend& backend) { return std::string_view(backend.name()).starts_with("cpu"); }
  // buf itself for host memory, else a host copy of it.
  float* stage_in(trainer::Backend& backend, float* buf, size_t n) {
    if (is_host(backend)) return buf;
    staging_.resize(n);
    backend.to_host(staging_.data(), buf, n);
    return staging_.data();
  }
  std::vector<int> shard_counts(size_t n) const {
    if (n > (size_t)INT_MAX) throw Error(cat("data parallel: ZeRO-1 over MPI shards at most 2^31 values, not ", n));
    std::vector<int> counts(size_);
    for (int r = 0; r < size_; r++) counts[r] = (int)shard_range(n, r, size_).size;
    return counts;
  }
  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false;
  std::vector<float> staging_;
};
}  // namespace

bool mpi_compiled() { return true; }

void abort_mpi_job(int code) {
  int initialized = 0, finalized = 0, size = 1;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}
std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace kiln::kernels
