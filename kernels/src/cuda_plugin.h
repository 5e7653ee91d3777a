// Private: the table libkiln_cuda.so hands to the loader (cuda_loader.cpp). Both sides are
// built from the same tree with the same compiler, so the table holds C++ function
// pointers; the ABI version guards against a stale plugin beside a newer executable.
// Exceptions (kiln::Error) cross the boundary like any C++ exception between shared objects.
#pragma once

#include <memory>
#include <string>

#include "kernels/cuda_backend.h"
#include "kernels/data_parallel.h"

namespace kiln::kernels {

inline constexpr const char* kCudaPluginFile = "libkiln_cuda.so";
inline constexpr const char* kCudaPluginEntry = "kiln_cuda_plugin";  // extern "C" const CudaPluginApi* ()
inline constexpr int kCudaPluginAbiVersion = 1;

struct CudaPluginApi {
  int abi_version;
  bool (*device_available)();
  std::string (*device_description)(int device);
  std::unique_ptr<trainer::Backend> (*make_backend)(const CudaBackendOptions& options);
  bool (*nccl_compiled)();
  std::unique_ptr<Communicator> (*make_nccl_communicator)(std::unique_ptr<Communicator> bootstrap, int device);
};

}  // namespace kiln::kernels
