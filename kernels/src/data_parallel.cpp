// The single-process communicator, batch slicing, and launcher detection.
#include <algorithm>
#include <cstdlib>
#include <string>

#include "corpus/error.h"
#include "kernels/data_parallel.h"

namespace kiln::kernels {
namespace {
class SingleProcess final : public Communicator {
 public:
  const char* name() const override { return "single"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_mean(trainer::Backend&, float*, size_t) override {}
  double allreduce_sum(double x) override { return x; }
  void broadcast(trainer::Backend&, float*, size_t, int) override {}
  void broadcast_bytes(void*, size_t, int) override {}
};

int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : 0;
}
}  // namespace

std::unique_ptr<Communicator> make_single_process_communicator() { return std::make_unique<SingleProcess>(); }

void Communicator::all_gather(trainer::Backend& backend, float* buf, size_t n) {
  for (int r = 0; r < size(); r++) {
    const ShardRange s = shard_range(n, r, size());
    broadcast(backend, buf + s.begin, s.size, r);
  }
}

ShardRange shard_range(size_t n, int rank, int size) {
  if (size <= 0 || rank < 0 || rank >= size) throw Error(cat("shard_range: rank ", rank, " of ", size));
  const size_t share = ((n + size - 1) / size + 15) / 16 * 16;
  const size_t begin = std::min(n, share * rank);
  return {begin, std::min(n, begin + share) - begin};
}

bool launched_under_mpi() {
  // Open MPI, MPICH/Hydra (PMI), PMIx launchers and Slurm's srun.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS"})
    if (env_int(name) > 1) return true;
  return false;
}

BatchSlice batch_slice(int global_batch, int rank, int size) {
  if (size <= 0 || rank < 0 || rank >= size) throw Error(cat("batch_slice: rank ", rank, " of ", size));
  if (global_batch % size != 0)
    throw Error(cat("data parallel: the global batch of ", global_batch, " sequences does not split evenly over ", size,
                    " ranks"));
  const int rows = global_batch / size;
  return {rank * rows, rows};
}

#ifndef KILN_KERNELS_HAVE_MPI
bool mpi_compiled() { return false; }
void abort_mpi_job(int) {}
std::unique_ptr<Communicator> make_mpi_communicator() {
  throw Error("data parallel: kiln was built without MPI (install libopenmpi-dev and reconfigure)");
}
#endif

}  // namespace kiln::kernels
