// --backend / --matmul flags shared by `kiln train` and `kiln eval`: the CPU backend, or the
// CUDA one from kernels/ (which throws a clear error in builds without CUDA or a device).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "corpus/error.h"
#include "curate/cli/verb.h"
#include "kernels/cuda_backend.h"
#include "trainer/backend.h"

namespace kiln::cli {

inline void add_backend_flags(po::options_description& options) {
  options.add_options()
      ("backend", po::value<std::string>()->default_value("cpu"), "cpu | cuda")
      ("matmul", po::value<std::string>()->default_value("auto"),
       "matmul operands: fp32 | bf16 (CPU with AVX512-BF16, or CUDA) | tf32 (CUDA); auto = fp32 on CPU, tf32 on CUDA")
      ("attention", po::value<std::string>()->default_value("fp32"), "CUDA attention kernel: fp32 | bf16 (tensor cores)");
}

// Empty for the default CPU backend (fp32), else a factory of the chosen backend.
inline std::function<std::unique_ptr<trainer::Backend>()> backend_factory(const po::variables_map& v) {
  const std::string backend = v["backend"].as<std::string>();
  const std::string matmul = v["matmul"].as<std::string>(), attention = v["attention"].as<std::string>();
  if (backend == "cpu") {
    if (matmul == "auto" || matmul == "fp32") return {};
    if (matmul != "bf16") throw Error(cat("--matmul on the CPU backend must be fp32 or bf16, not '", matmul, "'"));
    const trainer::CpuBackendOptions o{.threads = v.count("threads") ? v["threads"].as<int>() : 0,
                                       .bf16_matmul = true};
    return [o] { return trainer::make_cpu_backend(o); };
  }
  if (backend != "cuda") throw Error(cat("--backend must be cpu or cuda, not '", backend, "'"));
  kernels::CudaBackendOptions o;
  if (matmul == "auto" || matmul == "tf32") o.matmul = kernels::MatmulPrecision::kTf32;
  else if (matmul == "fp32") o.matmul = kernels::MatmulPrecision::kFp32;
  else if (matmul == "bf16") o.matmul = kernels::MatmulPrecision::kBf16;
  else throw Error(cat("--matmul must be fp32, tf32 or bf16, not '", matmul, "'"));
  if (attention == "fp32") o.attention = kernels::AttentionKernel::kFp32;
  else if (attention == "bf16") o.attention = kernels::AttentionKernel::kBf16TensorCores;
  else throw Error(cat("--attention must be fp32 or bf16, not '", attention, "'"));
  return [o] { return kernels::make_cuda_backend(o); };
}

}  // namespace kiln::cli
