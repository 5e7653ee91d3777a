// Error reporting for code compiled by nvcc: the .cu files call these (declared in
// cuda_common.cuh) instead of including corpus/error.h, which keeps <sstream> out of nvcc's
// front end (it is the slow part of a .cu compile) and gives one place that formats
// messages.
#include <string>

#include "corpus/error.h"

namespace kiln::kernels::detail {

[[noreturn]] void throw_error(const char* what, const char* detail) {
  throw Error(cat("CUDA backend: ", what, ": ", detail));
}

[[noreturn]] void throw_cuda_error(const char* what, int code, const char* name, const char* message) {
  throw Error(cat("CUDA backend: ", what, ": ", name, " (", code, "): ", message));
}

}  // namespace kiln::kernels::detail
