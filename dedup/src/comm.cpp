#include "dedup/src/comm.h"

#include <cstdlib>

#include "corpus/error.h"

#ifdef KILN_HAVE_MPI
#include <mpi.h>
#endif

namespace kiln::dedup {

namespace {

bool launched_with_ranks() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"}) {
    const char* v = std::getenv(var);
    if (v && std::atoi(v) > 1) return true;
  }
  return false;
}

#ifdef KILN_HAVE_MPI
void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw Error(cat("MPI ", what, " failed with code ", rc));
}
#endif

}  // namespace

Comm& Comm::world() {
  static Comm comm = [] {
    Comm c;
#ifdef KILN_HAVE_MPI
    if (launched_with_ranks()) {
      int initialised = 0;
      MPI_Initialized(&initialised);
      if (!initialised) {
        int provided = 0;
        check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "init");
        std::atexit([] {
          int finalised = 0;
          MPI_Finalized(&finalised);
          if (!finalised) MPI_Finalize();
        });
      }
      MPI_Comm_rank(MPI_COMM_WORLD, &c.rank_);
      MPI_Comm_size(MPI_COMM_WORLD, &c.size_);
    }
#else
    if (launched_with_ranks())
      throw Error("kiln was started with several MPI ranks but built without MPI (install libopenmpi-dev and rebuild)");
#endif
    return c;
  }();
  return comm;
}

std::vector<uint64_t> Comm::allgather(uint64_t value) {
  std::vector<uint64_t> all(size_t(size_), value);
#ifdef KILN_HAVE_MPI
  if (size_ > 1) check(MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD), "allgather");
#endif
  return all;
}

void Comm::allreduce_sum(uint64_t* values, int n) {
#ifdef KILN_HAVE_MPI
  if (size_ > 1) check(MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD), "allreduce");
#else
  (void)values, (void)n;
#endif
}

std::vector<std::string> Comm::alltoallv(const std::vector<std::string>& send) {
  if (size_ == 1) return send;
  std::vector<std::string> received(static_cast<size_t>(size_));
#ifdef KILN_HAVE_MPI
  // Counts in bytes as int: callers keep each round below 2 GB per destination.
  const size_t R = size_t(size_);
  std::vector<int> send_counts(R), recv_counts(R), send_off(R), recv_off(R);
  std::string send_buf;
  for (int d = 0; d < size_; ++d) {
    send_off[size_t(d)] = int(send_buf.size());
    send_counts[size_t(d)] = int(send[size_t(d)].size());
    send_buf += send[size_t(d)];
  }
  check(MPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "alltoall");
  int total = 0;
  for (int d = 0; d < size_; ++d) recv_off[size_t(d)] = total, total += recv_counts[size_t(d)];
  std::string recv_buf(size_t(total), '\0');
  check(MPI_Alltoallv(send_buf.data(), send_counts.data(), send_off.data(), MPI_BYTE, recv_buf.data(),
                      recv_counts.data(), recv_off.data(), MPI_BYTE, MPI_COMM_WORLD),
        "alltoallv");
  for (int d = 0; d < size_; ++d)
    received[size_t(d)] = recv_buf.substr(size_t(recv_off[size_t(d)]), size_t(recv_counts[size_t(d)]));
#endif
  return received;
}

std::vector<std::string> Comm::gather(const std::string& bytes) {
  if (size_ == 1) return {bytes};
  std::vector<std::string> all;
#ifdef KILN_HAVE_MPI
  // Sent in pieces of at most 1 GB so counts fit an int.
  const uint64_t piece = uint64_t(1) << 30;
  uint64_t mine = bytes.size();
  std::vector<uint64_t> sizes = allgather(mine);
  if (rank_ == 0) {
    all.resize(size_t(size_));
    all[0] = bytes;
  }
  for (int r = 1; r < size_; ++r) {
    for (uint64_t off = 0; off < sizes[size_t(r)]; off += piece) {
      int n = int(std::min(piece, sizes[size_t(r)] - off));
      if (rank_ == r) check(MPI_Send(bytes.data() + off, n, MPI_BYTE, 0, 7, MPI_COMM_WORLD), "send");
      if (rank_ == 0) {
        std::string buf(size_t(n), '\0');
        check(MPI_Recv(buf.data(), n, MPI_BYTE, r, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "recv");
        all[size_t(r)] += buf;
      }
    }
  }
#endif
  return all;
}

void Comm::barrier() {
#ifdef KILN_HAVE_MPI
  if (size_ > 1) check(MPI_Barrier(MPI_COMM_WORLD), "barrier");
#endif
}

}  // namespace kiln::dedup
