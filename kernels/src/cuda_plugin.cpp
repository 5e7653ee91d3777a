// The CUDA plugin's one exported symbol: the table of its entry points (cuda_plugin.h).
// Everything else in libkiln_cuda.so is hidden (-fvisibility=hidden), so its copies of
// the kernels' functions never collide with the executable's loader of the same names.
#include "kernels/src/cuda_plugin.h"

#include "corpus/error.h"

namespace kiln::kernels {

#ifndef KILN_KERNELS_HAVE_NCCL
bool nccl_compiled() { return false; }
std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator>, int) {
  throw Error("data parallel: kiln was built without NCCL (needs nvcc, an MPI and nccl.h in the CUDA toolkit)");
}
#endif

namespace {
const CudaPluginApi kApi{
    kCudaPluginAbiVersion,
    [] { return cuda_device_available(); },
    [](int device) { return cuda_device_description(device); },
    [](const CudaBackendOptions& options) { return make_cuda_backend(options); },
    [] { return nccl_compiled(); },
    [](std::unique_ptr<Communicator> bootstrap, int device) {
      return make_nccl_communicator(std::move(bootstrap), device);
    },
};
}  // namespace

}  // namespace kiln::kernels

extern "C" __attribute__((visibility("default"))) const kiln::kernels::CudaPluginApi* kiln_cuda_plugin() {
  return &kiln::kernels::kApi;
}
