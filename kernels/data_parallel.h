// Data parallelism: every rank holds the whole model, runs forward/backward on its slice of
// the global batch, and the gradient buffer is averaged over the ranks before the
// optimizer step — so all ranks apply the same update and stay identical.
//
// All parameters live in one allocation (trainer/model.h), so the all-reduce is one call
// over GPT::grads(). Ranks run under mpirun, one per process (one per GPU on a GPU box);
// the MPI communicator works on the CPU backend's host buffers in place and stages other
// backends' device buffers through the host. An NCCL communicator (device buffers, no
// staging) would implement the same interface — NCCL is not in Debian, so it is not built
// here.
//
//   auto comm = kiln::kernels::launched_under_mpi() ? kiln::kernels::make_mpi_communicator()
//                                                   : kiln::kernels::make_single_process_communicator();
//   const BatchSlice mine = batch_slice(global_B, comm->rank(), comm->size());
//   model.zero_grad();
//   float loss = model.forward(inputs + mine.begin * T, targets + mine.begin * T, mine.rows, T);
//   model.backward();
//   comm->allreduce_mean(backend, model.grads(), model.num_params());
//   loss = comm->allreduce_sum(loss) / comm->size();
//   optimizer.step(lr);   // the clip norm is computed from the averaged gradient: same on all ranks
#pragma once

#include <cstddef>
#include <memory>

#include "trainer/backend.h"

namespace kiln::kernels {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual const char* name() const = 0;  // "single", "mpi"
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // buf (n floats in `backend`'s memory) <- its mean over all ranks, on every rank.
  virtual void allreduce_mean(trainer::Backend& backend, float* buf, size_t n) = 0;
  // The sum of x over all ranks (losses, token counts), on every rank.
  virtual double allreduce_sum(double x) = 0;
  // buf on every rank <- buf of rank `root` (initial parameters, a loaded checkpoint).
  virtual void broadcast(trainer::Backend& backend, float* buf, size_t n, int root) = 0;
  // Host bytes on every rank <- those of rank `root` (ids, small metadata).
  virtual void broadcast_bytes(void* data, size_t bytes, int root) = 0;

  // ZeRO-1 (sharded optimizer state): rank r owns shard_range(n, r, size()) of a buffer.
  // reduce_scatter_mean: buf's own shard <- its mean over all ranks; the rest of buf is
  // left unspecified. The default all-reduces everything (correct, no bandwidth saved).
  virtual void reduce_scatter_mean(trainer::Backend& backend, float* buf, size_t n) { allreduce_mean(backend, buf, n); }
  // all_gather: every rank's shard of buf, from its owner, on every rank. The default is
  // one broadcast per rank.
  virtual void all_gather(trainer::Backend& backend, float* buf, size_t n);
};

// The part of an n-element buffer that `rank` of `size` owns under ZeRO-1: contiguous,
// equal shares rounded up to 16 floats (64 bytes), the last rank's possibly shorter or empty.
struct ShardRange {
  size_t begin = 0;
  size_t size = 0;
};
ShardRange shard_range(size_t n, int rank, int size);

// One process: rank 0 of 1; every operation is the identity.
std::unique_ptr<Communicator> make_single_process_communicator();

// True when kiln_kernels was built with an MPI (Debian: libopenmpi-dev).
bool mpi_compiled();
// True when this process was started by mpirun/srun with more than one rank (reads the
// launcher's environment: OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_... — no MPI call).
bool launched_under_mpi();
// When this process is one rank of a running MPI job (MPI initialized, not finalized, more
// than one rank), ends the whole job with `code` (MPI_Abort) and does not return: a rank
// that fails must not leave the others waiting in a collective forever. Otherwise (no MPI
// job, or kiln built without MPI) it returns and the caller exits as usual.
void abort_mpi_job(int code);
// MPI_COMM_WORLD. Initializes MPI if no one has (and then finalizes it when destroyed: make
// one per process). Throws kiln::Error when built without MPI.
std::unique_ptr<Communicator> make_mpi_communicator();

// NCCL over the GPUs, one rank per GPU: all-reduce and broadcast on device buffers of a
// CUDA backend, on the legacy default stream (which orders itself after the backend's
// work). `bootstrap` (MPI under mpirun, or single-process) gives the rank and size,
// carries NCCL's unique id from rank 0, and does the host scalar sums. `device`: the CUDA
// device of this rank (-1 = local rank modulo the device count, from the launcher's
// environment). Throws kiln::Error when built without NCCL (it is found in the CUDA
// toolkit; Debian has none) or when NCCL fails.
std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> bootstrap, int device = -1);
bool nccl_compiled();

// The rows of a global batch of `global_batch` sequences that `rank` of `size` runs:
// contiguous and equal, so rank r's slice of the same global batch is rows
// [r * global_batch / size, (r + 1) * global_batch / size). Throws kiln::Error unless size
// divides global_batch (unequal slices would weight the ranks' mean losses unequally).
struct BatchSlice {
  int begin = 0;  // first row
  int rows = 0;   // B on this rank
};
BatchSlice batch_slice(int global_batch, int rank, int size);

}  // namespace kiln::kernels
