// The CUDA backend's public entry points (kernels/cuda_backend.h, make_nccl_communicator)
// in every build: they load the CUDA plugin, libkiln_cuda.so, on first use.
//
// Why a plugin: the CUDA code needs cuBLAS, cuBLASLt and NCCL, which together map several
// hundred MB and cost ~0.2 s at process start. Linked into `kiln`, every command paid that
// (`kiln cat` had ~224 MB RSS); loaded on demand, only `--backend cuda` does.
//
// Where it is looked for, first hit wins: $KILN_CUDA_PLUGIN; beside the running executable;
// ../lib from it; the build tree's copy (tests run from their own folders); then the
// dynamic loader's own search (LD_LIBRARY_PATH, the cache).
#include <dlfcn.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "corpus/error.h"
#include "kernels/cuda_backend.h"
#include "kernels/data_parallel.h"
#include "kernels/src/cuda_plugin.h"

namespace kiln::kernels {
namespace {

struct Plugin {
  const CudaPluginApi* api = nullptr;
  std::string why_not;  // when api is null
};

std::vector<std::string> candidates() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("KILN_CUDA_PLUGIN"); env && *env) paths.push_back(env);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    paths.push_back((exe.parent_path() / kCudaPluginFile).string());
    paths.push_back((exe.parent_path().parent_path() / "lib" / kCudaPluginFile).string());
  }
#ifdef KILN_CUDA_PLUGIN_BUILD_PATH
  paths.push_back(KILN_CUDA_PLUGIN_BUILD_PATH);
#endif
  paths.push_back(kCudaPluginFile);
  return paths;
}

const Plugin& plugin() {
  static Plugin loaded;
  static std::once_flag once;
  std::call_once(once, [] {
#ifndef KILN_CUDA_PLUGIN_BUILT
    loaded.why_not = "kiln was built without CUDA (no nvcc found by CMake)";
    return;
#endif
    std::string errors;
    for (const std::string& path : candidates()) {
      const bool bare = path.find('/') == std::string::npos;
      if (!bare && !std::filesystem::exists(path)) continue;
      void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {  // found but unloadable (e.g. libcublas missing): say why
        errors += cat("; ", ::dlerror());
        continue;
      }
      auto entry = reinterpret_cast<const CudaPluginApi* (*)()>(::dlsym(handle, kCudaPluginEntry));
      const CudaPluginApi* api = entry ? entry() : nullptr;
      if (!api || api->abi_version != kCudaPluginAbiVersion) {
        errors += cat("; ", path, ": not a kiln CUDA plugin of ABI version ", kCudaPluginAbiVersion);
        continue;
      }
      loaded.api = api;  // never unloaded: backends and communicators live in it
      return;
    }
    loaded.why_not = cat("the CUDA plugin ", kCudaPluginFile, " could not be loaded",
                         errors.empty() ? " (not found beside the executable or in the library path)" : errors);
  });
  return loaded;
}

}  // namespace

bool cuda_compiled() {
#ifdef KILN_CUDA_PLUGIN_BUILT
  return true;
#else
  return false;
#endif
}

bool cuda_device_available() {
  const Plugin& p = plugin();
  return p.api && p.api->device_available();
}

std::string cuda_device_description(int device) {
  const Plugin& p = plugin();
  return p.api ? p.api->device_description(device) : p.why_not;
}

std::unique_ptr<trainer::Backend> make_cuda_backend(const CudaBackendOptions& options) {
  const Plugin& p = plugin();
  if (!p.api) throw Error(cat("CUDA backend: ", p.why_not));
  return p.api->make_backend(options);
}

bool nccl_compiled() {
  const Plugin& p = plugin();
  return p.api && p.api->nccl_compiled();
}

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> bootstrap, int device) {
  const Plugin& p = plugin();
  if (!p.api) throw Error(cat("data parallel: NCCL needs the CUDA backend: ", p.why_not));
  return p.api->make_nccl_communicator(std::move(bootstrap), device);
}

}  // namespace kiln::kernels
