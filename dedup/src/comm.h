// The few collective operations the distributed dedup needs, over MPI when kiln was
// built with it and started by mpirun with more than one rank; otherwise a single-rank
// stand-in, so the rest of the code has one path. Private to dedup/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::dedup {

class Comm {
 public:
  // The world communicator. Initialises MPI (once) when launched by mpirun/srun with
  // more than one rank; finalises it at exit.
  static Comm& world();
  int rank() const { return rank_; }
  int size() const { return size_; }

  std::vector<uint64_t> allgather(uint64_t value);
  void allreduce_sum(uint64_t* values, int n);
  // send[d] goes to rank d; returns what each rank sent here, in rank order.
  std::vector<std::string> alltoallv(const std::vector<std::string>& send);
  // Rank 0 gets every rank's bytes in rank order; other ranks get an empty vector.
  std::vector<std::string> gather(const std::string& bytes);
  void barrier();

 private:
  int rank_ = 0, size_ = 1;
};

}  // namespace kiln::dedup
