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
      ("matmul", po::value<std::string>()->default_value("tf32"), "CUDA matmul operands: fp32 | tf32 | bf16")
      ("attention", po::value<std::string>()->default_value("fp32"), "CUDA attention kernel: fp32 | bf16 (tensor cores)");
}

// Empty for the CPU backend (the trainer's default), else a factory of the CUDA backend.
inline std::function<std::unique_ptr<trainer::Backend>()> backend_factory(const po::variables_map& v) {
  const std::string backend = v["backend"].as<std::string>();
  if (backend == "cpu") return {};
  if (backend != "cuda") throw Error(cat("--backend must be cpu or cuda, not '", backend, "'"));
  kernels::CudaBackendOptions o;
  const std::string matmul = v["matmul"].as<std::string>(), attention = v["attention"].as<std::string>();
  if (matmul == "fp32") o.matmul = kernels::MatmulPrecision::kFp32;
  else if (matmul == "tf32") o.matmul = kernels::MatmulPrecision::kTf32;
  else if (matmul == "bf16") o.matmul = kernels::MatmulPrecision::kBf16;
  else throw Error(cat("--matmul must be fp32, tf32 or bf16, not '", matmul, "'"));
  if (attention == "fp32") o.attention = kernels::AttentionKernel::kFp32;
  else if (attention == "bf16") o.attention = kernels::AttentionKernel::kBf16TensorCores;
  else throw Error(cat("--attention must be fp32 or bf16, not '", attention, "'"));
  return [o] { return kernels::make_cuda_backend(o); };
}

}  // namespace kiln::cli
