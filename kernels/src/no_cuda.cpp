// The CUDA backend's entry points in a build without nvcc: no device, and a clear error.
#include "corpus/error.h"
#include "kernels/cuda_backend.h"

namespace kiln::kernels {

bool cuda_compiled() { return false; }
bool cuda_device_available() { return false; }
std::string cuda_device_description(int) { return "kiln was built without CUDA (no nvcc found by CMake)"; }
std::unique_ptr<trainer::Backend> make_cuda_backend(const CudaBackendOptions&) {
  throw Error("CUDA backend: kiln was built without CUDA (no nvcc found by CMake)");
}

}  // namespace kiln::kernels
