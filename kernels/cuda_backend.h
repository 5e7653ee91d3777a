// The trainer's CUDA backend: trainer/backend.h's table of ops on an NVIDIA GPU.
//
// Every op keeps the CPU backend's contract (fp32 tensors in device memory, row-major,
// parameter gradients accumulate, no atomics: a step gives the same bits every run on the
// same GPU). Matmuls run through cuBLASLt in the precision chosen below; every other op is
// a kernel of kernels/src/ (one file per op) checked against the CPU backend in
// tests/kernels/.
//
//   if (kiln::kernels::cuda_device_available()) {
//     auto backend = kiln::kernels::make_cuda_backend({.matmul = MatmulPrecision::kBf16});
//     kiln::trainer::GPT model(config, *backend);   // parameters and activations on the GPU
//   }
#pragma once

#include <memory>
#include <string>

#include "trainer/backend.h"

namespace kiln::kernels {

// What the tensor cores see in a matmul. Inputs, outputs and the accumulator are fp32 in
// every mode; the lower ones round the operands inside cuBLAS (CUBLAS_COMPUTE_32F_FAST_*).
enum class MatmulPrecision {
  kFp32,  // exact fp32 FMA (no tensor cores): for checking against the CPU backend
  kTf32,  // tf32 operands (10-bit mantissa), fp32 accumulation: llm.c's fp32 trainer default
  kBf16,  // bf16 operands (7-bit mantissa), fp32 accumulation: the mixed-precision matmul
};

// Which attention kernels run (kernels/src/attention*.cu).
enum class AttentionKernel {
  kFp32,             // fp32 FMA, flash-style tiles: the reference-exact one (default)
  kBf16TensorCores,  // bf16 WMMA products, fp32 softmax and accumulators; head sizes that are
                     // multiples of 16 (others fall back to kFp32). Not yet run on a GPU.
};

struct CudaBackendOptions {
  int device = 0;                                 // CUDA device ordinal
  MatmulPrecision matmul = MatmulPrecision::kTf32;
  AttentionKernel attention = AttentionKernel::kFp32;
  size_t cublas_workspace_bytes = 32u << 20;      // cuBLASLt workspace (Hopper wants >= 32 MiB)
};

// True when this build has the CUDA backend (kiln was compiled with nvcc).
bool cuda_compiled();
// True when the CUDA backend is built and a CUDA device is present and usable (driver
// loaded, at least one device). Never throws.
bool cuda_device_available();
// A one-line description of device `device` ("NVIDIA H200, sm_90, 132 SMs, 139 GiB"), or
// why there is none.
std::string cuda_device_description(int device = 0);

// Throws kiln::Error when built without CUDA or when the device cannot be used.
std::unique_ptr<trainer::Backend> make_cuda_backend(const CudaBackendOptions& options = {});

}  // namespace kiln::kernels
