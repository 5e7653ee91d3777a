// The CUDA backend: device memory, the cuBLASLt matmuls, and the table of ops (each op's
// kernels are in their own file, see ops.h).
//
// One CUDA stream carries everything in order; host-visible results (to_host, sum_squares)
// synchronize it. Ops that take host data (token ids, targets) copy it into device
// buffers owned here; scratch (norm partials, attention's delta) grows on demand and is
// reused, so a training step allocates nothing after the first.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <cstdint>
#include <numeric>
#include <vector>

#include "kernels/cuda_backend.h"
#include "kernels/src/cuda_common.cuh"
#include "kernels/src/ops.h"

namespace kiln::kernels {
using namespace detail;
namespace {

void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw_cuda_error(what, (int)s, cublasGetStatusName(s), cublasGetStatusString(s));
}

// A device buffer that grows to the largest request and is kept.
class Scratch {
 public:
  ~Scratch() {
    if (ptr_) cudaFree(ptr_);
  }
  void* get(size_t bytes, const char* what) {
    if (bytes > bytes_) {
      if (ptr_) check(cudaFree(ptr_), what);  // cudaFree waits for work that may still use it
      ptr_ = nullptr;
      bytes_ = 0;
      check(cudaMalloc(&ptr_, bytes), what);
      bytes_ = bytes;
    }
    return ptr_;
  }
  template <class T>
  T* as(size_t count, const char* what) {
    return static_cast<T*>(get(count * sizeof(T), what));
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Largest power of two (<= 256) dividing the address: cuBLASLt picks kernels by it.
uint32_t alignment(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 256;
  while (align > 4 && a % align) align /= 2;
  return align;
}

class CudaBackend final : public trainer::Backend {
 public:
  explicit CudaBackend(const CudaBackendOptions& options) : options_(options) {
    check(cudaSetDevice(options.device), "selecting the device");
    check(cudaStreamCreate(&stream_), "creating a stream");
    check_cublas(cublasLtCreate(&lt_), "cublasLtCreate");
    check_cublas(cublasCreate(&cublas_), "cublasCreate");
    check_cublas(cublasSetStream(cublas_, stream_), "cublasSetStream");
    check(cudaMalloc(&workspace_, options.cublas_workspace_bytes), "allocating the cuBLASLt workspace");
    check_cublas(cublasSetWorkspace(cublas_, workspace_, options.cublas_workspace_bytes), "cublasSetWorkspace");
    check(cudaMallocHost(&host_partial_, cuda::kSumSquaresBlocks * sizeof(double)), "allocating pinned memory");
    switch (options.matmul) {
      case MatmulPrecision::kFp32: compute_ = CUBLAS_COMPUTE_32F; break;
      case MatmulPrecision::kTf32: compute_ = CUBLAS_COMPUTE_32F_FAST_TF32; break;
      case MatmulPrecision::kBf16: compute_ = CUBLAS_COMPUTE_32F_FAST_16BF; break;
    }
  }
  ~CudaBackend() override {
    // No throwing from a destructor: errors here (a device already in a fault state) are
    // dropped; the fault was reported by the call that caused it.
    cudaStreamSynchronize(stream_);
    cudaFreeHost(host_partial_);
    cudaFree(workspace_);
    cublasDestroy(cublas_);
    cublasLtDestroy(lt_);
    cudaStreamDestroy(stream_);
  }
  const char* name() const override { return "cuda"; }

  // ---- memory ----
  float* alloc(size_t count) override {
    void* p = nullptr;
    const size_t bytes = std::max<size_t>(count, 1) * sizeof(float);
    check(cudaMalloc(&p, bytes), "cudaMalloc");
    check(cudaMemsetAsync(p, 0, bytes, stream_), "zeroing an allocation");
    return static_cast<float*>(p);
  }
  void release(float* p) override {
    if (p) check(cudaFree(p), "cudaFree");
  }
  void zero(float* p, size_t count) override {
    if (count) check(cudaMemsetAsync(p, 0, count * sizeof(float), stream_), "zero");
  }
  void to_device(float* dst, const float* src, size_t count) override {
    if (!count) return;
    check(cudaMemcpyAsync(dst, src, count * sizeof(float), cudaMemcpyHostToDevice, stream_), "to_device");
    check(cudaStreamSynchronize(stream_), "to_device");
  }
  void to_host(float* dst, const float* src, size_t count) override {
    if (!count) return;
    check(cudaMemcpyAsync(dst, src, count * sizeof(float), cudaMemcpyDeviceToHost, stream_), "to_host");
    check(cudaStreamSynchronize(stream_), "to_host");
  }

  // ---- embedding ----
  void encoder_forward(float* out, const int32_t* inp, const float* wte, const float* wpe, int B, int T, int C,
                       int pos_offset) override {
    const int32_t* d_inp = upload_ints(tokens_, inp, (size_t)B * T, "encoder_forward: token ids");
    cuda::encoder_forward(stream_, out, d_inp, wte, wpe, B, T, C, pos_offset);
  }
  void encoder_backward(float* dwte, float* dwpe, const float* dout, const int32_t* inp, int B, int T,
                        int C) override {
    // CSR of positions by token, built on the host (B*T ints; a stable sort keeps each
    // token's positions in increasing order, which fixes the summation order).
    const int BT = B * T;
    order_.resize(BT);
    std::iota(order_.begin(), order_.end(), 0);
    std::stable_sort(order_.begin(), order_.end(), [&](int32_t a, int32_t b) { return inp[a] < inp[b]; });
    csr_.clear();  // [tokens (U) | offsets (U+1) | positions (BT)]
    std::vector<int32_t> offsets;
    for (int k = 0; k < BT; k++) {
      if (k == 0 || inp[order_[k]] != inp[order_[k - 1]]) {
        csr_.push_back(inp[order_[k]]);
        offsets.push_back(k);
      }
    }
    const int U = (int)csr_.size();
    offsets.push_back(BT);
    csr_.insert(csr_.end(), offsets.begin(), offsets.end());
    csr_.insert(csr_.end(), order_.begin(), order_.end());
    const int32_t* d = upload_ints(csr_buffer_, csr_.data(), csr_.size(), "encoder_backward: token groups");
    cuda::encoder_backward(stream_, dwte, dwpe, dout, d, d + U, d + 2 * U + 1, U, B, T, C);
  }

  // ---- norms ----
  void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                         const float* bias, int N, int C) override {
    cuda::layernorm_forward(stream_, out, mean, rstd, inp, weight, bias, N, C);
  }
  void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                          const float* weight, const float* mean, const float* rstd, int N, int C) override {
    float* partial = scratch_.as<float>(cuda::layernorm_partial_floats(N, C), "layernorm_backward: scratch");
    cuda::layernorm_backward(stream_, dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C, partial);
  }
  void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C) override {
    cuda::rmsnorm_forward(stream_, out, rstd, inp, weight, N, C);
  }
  void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                        const float* rstd, int N, int C) override {
    float* partial = scratch_.as<float>(cuda::layernorm_partial_floats(N, C), "rmsnorm_backward: scratch");
    cuda::rmsnorm_backward(stream_, dinp, dweight, dout, inp, weight, rstd, N, C, partial);
  }

  // ---- linear layers (row-major; cuBLAS is column-major, so each product is computed
  // transposed: out^T (OC,N) = W (C,OC)^T-as-stored @ inp^T (C,N)) ----
  void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C,
                      int OC) override {
    // out (N,OC) = inp (N,C) @ weight (OC,C)^T + bias. cuBLASLt adds the bias in its
    // epilogue when the bias is 16-byte aligned (it requires that); otherwise the rows are
    // preset to the bias and the product added with beta = 1.
    const bool epilogue = bias && alignment(bias) >= 16;
    if (bias && !epilogue) cuda::broadcast_rows(stream_, out, bias, N, OC);
    gemm(out, weight, inp, epilogue ? bias : nullptr, OC, N, C, true, false, C, C, OC, bias && !epilogue ? 1.0f : 0.0f,
         "matmul_forward");
  }
  void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                       const float* weight, int N, int C, int OC) override {
    // dinp (N,C) = dout (N,OC) @ weight (OC,C)
    if (dinp) gemm(dinp, weight, dout, nullptr, C, N, OC, false, false, C, OC, C, 0.0f, "matmul_backward (dinp)");
    // dweight (OC,C) += dout^T @ inp
    gemm(dweight, inp, dout, nullptr, C, OC, N, false, true, C, OC, C, 1.0f, "matmul_backward (dweight)");
    if (dbias) cuda::bias_backward(stream_, dbias, dout, N, OC);
  }

  // ---- attention ----
  // Document masking (span.doc_start) is not in the CUDA kernels yet: refused, not ignored.
  static bool causal_only(const trainer::AttentionSpan& span, const char* op) {
    if (span.doc_start)
      throw_error(op, "document masking of attention is not implemented on the CUDA backend yet (CPU only)");
    return span.causal;
  }
  void attention_forward(float* out, float* lse, const float* qkv, int B, int T, int C, int NH,
                         const trainer::AttentionSpan& span) override {
    const bool causal = causal_only(span, "attention_forward");
    if (tensor_core_attention(C, NH)) cuda::attention_forward_bf16(stream_, out, lse, qkv, B, T, C, NH, causal);
    else cuda::attention_forward(stream_, out, lse, qkv, B, T, C, NH, causal);
  }
  void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse, int B,
                          int T, int C, int NH, const trainer::AttentionSpan& span) override {
    const bool causal = causal_only(span, "attention_backward");
    float* delta = scratch_.as<float>((size_t)B * NH * T, "attention_backward: scratch");
    if (tensor_core_attention(C, NH))
      cuda::attention_backward_bf16(stream_, dqkv, dout, qkv, out, lse, B, T, C, NH, causal, delta);
    else
      cuda::attention_backward(stream_, dqkv, dout, qkv, out, lse, B, T, C, NH, causal, delta);
  }
  void attention_decode(float* out, float* kcache, float* vcache, const float* qkv, int B, int pos, int maxT, int C,
                        int NH) override {
    cuda::attention_decode(stream_, out, kcache, vcache, qkv, B, pos, maxT, C, NH);
  }
  void rope_forward(float* qkv, int B, int T, int C, int NH, int pos_offset) override {
    cuda::rope_forward(stream_, qkv, B, T, C, NH, pos_offset);
  }
  void rope_backward(float* dqkv, int B, int T, int C, int NH) override {
    cuda::rope_backward(stream_, dqkv, B, T, C, NH);
  }

  // ---- elementwise ----
  void gelu_forward(float* out, const float* inp, size_t n) override { cuda::gelu_forward(stream_, out, inp, n); }
  void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n) override {
    cuda::gelu_backward(stream_, dinp, inp, dout, n);
  }
  void residual_forward(float* out, const float* a, const float* b, size_t n) override {
    cuda::residual_forward(stream_, out, a, b, n);
  }
  void accumulate(float* dst, const float* src, size_t n) override { cuda::accumulate(stream_, dst, src, n); }

  // ---- loss ----
  void crossentropy_forward(float* losses, float* lse, const float* logits, const int32_t* targets, int N, int V,
                            int Vp) override {
    const int32_t* d = upload_ints(targets_, targets, N, "crossentropy_forward: targets");
    cuda::crossentropy_forward(stream_, losses, lse, logits, d, N, V, Vp);
  }
  void crossentropy_backward(float* logits, const float* lse, const int32_t* targets, float dloss, int N, int V,
                             int Vp) override {
    const int32_t* d = upload_ints(targets_, targets, N, "crossentropy_backward: targets");
    cuda::crossentropy_backward(stream_, logits, lse, d, dloss, N, V, Vp);
  }

  // ---- optimizer ----
  double sum_squares(const float* x, size_t n) override {
    double* partial = sum_partial_.as<double>(cuda::kSumSquaresBlocks, "sum_squares: scratch");
    return cuda::sum_squares(stream_, x, n, partial, host_partial_);
  }
  void adamw_update(float* params, const float* grads, float* m, float* v, size_t n, float lr, float beta1,
                    float beta2, float eps, float weight_decay, float bc1, float bc2, float grad_scale) override {
    cuda::adamw_update(stream_, params, grads, m, v, n, lr, beta1, beta2, eps, weight_decay, bc1, bc2, grad_scale);
  }

 private:
  bool tensor_core_attention(int C, int NH) const {
    return options_.attention == AttentionKernel::kBf16TensorCores && cuda::attention_bf16_supported(C, NH);
  }

  // Copies `count` host ints into `buffer` (stream-ordered: earlier kernels reading the
  // buffer finish first; the host array may be reused as soon as this returns).
  const int32_t* upload_ints(Scratch& buffer, const int32_t* host, size_t count, const char* what) {
    int32_t* d = buffer.as<int32_t>(std::max<size_t>(count, 1), what);
    if (count) check(cudaMemcpyAsync(d, host, count * sizeof(int32_t), cudaMemcpyHostToDevice, stream_), what);
    return d;
  }

  // Column-major D (m,n) = alpha op(A) (m,k) op(B) (k,n) [+ bias (m) per column] + beta D,
  // through cuBLASLt; cuBLAS's cublasGemmEx when cuBLASLt offers no algorithm (odd leading
  // dimensions in small test shapes) — it has no bias epilogue, so `bias` must be null then.
  void gemm(float* D, const float* A, const float* B, const float* bias, int m, int n, int k, bool trans_a,
            bool trans_b, int lda, int ldb, int ldd, float beta, const char* what) {
    if (m <= 0 || n <= 0) return;
    const float alpha = 1.0f;
    if (k <= 0) {  // an empty product: D = beta D (+ bias, never used with k = 0)
      if (beta == 0.0f) check(cudaMemsetAsync(D, 0, (size_t)m * n * sizeof(float), stream_), what);
      return;
    }
    if (lt_gemm(D, A, B, bias, m, n, k, trans_a, trans_b, lda, ldb, ldd, alpha, beta, what)) return;
    if (bias) {  // no Lt algorithm with the epilogue: preset the bias, then D += A B
      cuda::broadcast_rows(stream_, D, bias, n, m);
      beta = 1.0f;
    }
    check_cublas(cublasGemmEx(cublas_, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, m, n,
                              k, &alpha, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, &beta, D, CUDA_R_32F, ldd, compute_,
                              CUBLAS_GEMM_DEFAULT),
                 what);
  }

  bool lt_gemm(float* D, const float* A, const float* B, const float* bias, int m, int n, int k, bool trans_a,
               bool trans_b, int lda, int ldb, int ldd, float alpha, float beta, const char* what) {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a_layout = nullptr, b_layout = nullptr, d_layout = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    struct Cleanup {  // the descriptors are freed however this returns
      cublasLtMatmulDesc_t& op;
      cublasLtMatrixLayout_t &a, &b, &d;
      cublasLtMatmulPreference_t& pref;
      ~Cleanup() {
        if (pref) cublasLtMatmulPreferenceDestroy(pref);
        if (d) cublasLtMatrixLayoutDestroy(d);
        if (b) cublasLtMatrixLayoutDestroy(b);
        if (a) cublasLtMatrixLayoutDestroy(a);
        if (op) cublasLtMatmulDescDestroy(op);
      }
    } cleanup{op, a_layout, b_layout, d_layout, pref};

    check_cublas(cublasLtMatmulDescCreate(&op, compute_, CUDA_R_32F), what);
    const cublasOperation_t ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    check_cublas(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), what);
    check_cublas(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), what);
    if (bias) {
      const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
      check_cublas(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue), what);
      check_cublas(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias), what);
    }
    check_cublas(cublasLtMatrixLayoutCreate(&a_layout, CUDA_R_32F, trans_a ? k : m, trans_a ? m : k, lda), what);
    check_cublas(cublasLtMatrixLayoutCreate(&b_layout, CUDA_R_32F, trans_b ? n : k, trans_b ? k : n, ldb), what);
    check_cublas(cublasLtMatrixLayoutCreate(&d_layout, CUDA_R_32F, m, n, ldd), what);
    check_cublas(cublasLtMatmulPreferenceCreate(&pref), what);
    const size_t workspace = options_.cublas_workspace_bytes;
    check_cublas(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                                                      sizeof workspace),
                 what);
    const uint32_t align_a = alignment(A), align_b = alignment(B), align_d = alignment(D);
    check_cublas(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a,
                                                      sizeof align_a),
                 what);
    check_cublas(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b,
                                                      sizeof align_b),
                 what);
    check_cublas(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_d,
                                                      sizeof align_d),
                 what);
    check_cublas(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d,
                                                      sizeof align_d),
                 what);
    // The heuristic query costs tens of microseconds of host time; a step asks the same
    // few shapes every time, so its answer is kept per shape, layout and alignment.
    const AlgoKey key{m, n, k, trans_a, trans_b, lda, ldb, ldd, bias != nullptr, beta != 0.0f,
                      (int64_t)align_a << 32 | align_b, align_d};
    auto it = algos_.find(key);
    if (it == algos_.end()) {
      cublasLtMatmulHeuristicResult_t result{};
      int found = 0;
      const cublasStatus_t s =
          cublasLtMatmulAlgoGetHeuristic(lt_, op, a_layout, b_layout, d_layout, d_layout, pref, 1, &result, &found);
      // No algorithm (or a combination this cuBLASLt rejects): the caller falls back to cuBLAS.
      std::optional<cublasLtMatmulAlgo_t> algo;
      if (s == CUBLAS_STATUS_SUCCESS && found > 0) algo = result.algo;
      it = algos_.emplace(key, algo).first;
    }
    if (!it->second) return false;
    check_cublas(cublasLtMatmul(lt_, op, &alpha, A, a_layout, B, b_layout, &beta, D, d_layout, D, d_layout,
                                &*it->second, workspace_, workspace, stream_),
                 what);
    return true;
  }

  CudaBackendOptions options_;
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cublasComputeType_t compute_ = CUBLAS_COMPUTE_32F_FAST_TF32;
  void* workspace_ = nullptr;
  double* host_partial_ = nullptr;  // (kSumSquaresBlocks) pinned
  Scratch tokens_, targets_, csr_buffer_, scratch_, sum_partial_;
  using AlgoKey = std::array<int64_t, 12>;
  std::map<AlgoKey, std::optional<cublasLtMatmulAlgo_t>> algos_;  // cuBLASLt's choice per GEMM shape
  std::vector<int32_t> order_, csr_;
};

}  // namespace

bool cuda_compiled() { return true; }

bool cuda_device_available() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return false;
  }
  return count > 0;
}

std::string cuda_device_description(int device) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return std::string("no CUDA device: ") + cudaGetErrorString(e);
  }
  if (device < 0 || device >= count) return "no CUDA device " + std::to_string(device);
  cudaDeviceProp p{};
  e = cudaGetDeviceProperties(&p, device);
  if (e != cudaSuccess) return std::string("CUDA device properties: ") + cudaGetErrorString(e);
  return std::string(p.name) + ", sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
         std::to_string(p.multiProcessorCount) + " SMs, " + std::to_string(p.totalGlobalMem >> 30) + " GiB";
}

std::unique_ptr<trainer::Backend> make_cuda_backend(const CudaBackendOptions& options) {
  if (!cuda_device_available()) throw_error("make_cuda_backend", cuda_device_description(options.device).c_str());
  return std::make_unique<CudaBackend>(options);
}

}  // namespace kiln::kernels
