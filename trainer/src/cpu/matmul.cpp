// Linear layers through oneDNN: fp32 sgemm, or bf16 operands with fp32 accumulation.
//
// fp32: dnnl_sgemm (its JIT AVX2/AVX-512 kernels). Tried first: dnnl::matmul primitives,
// which need a primitive per shape and memory descriptors per call for the same kernels.
// bf16: there is no public bf16 gemm call in oneDNN 2.x, so matmul primitives with bf16
// source/weights and an fp32 destination (brgemm kernels on AVX512-BF16/AMX), one primitive
// per shape kept in a small cache. Operands are rounded to bf16 (nearest even) on every
// call: weights change every step, and rounding is O(rows·cols) against the product's
// O(rows·cols·N). Accumulation into dweight is oneDNN's sum post-op, still in fp32.
#include <oneapi/dnnl/dnnl.h>

#include <cstring>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "corpus/error.h"
#include "trainer/src/cpu/cpu_ops.h"

namespace kiln::trainer::cpu {

void sgemm(char ta, char tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc) {
  if (dnnl_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) != dnnl_success)
    throw Error(cat("oneDNN sgemm failed (", M, "x", N, "x", K, ")"));
}

namespace {

// fp32 → bf16, round to nearest even; NaN stays NaN (quieted). Plain integer ops so the
// loop vectorizes on any x86-64-v3 CPU.
void round_to_bf16(uint16_t* dst, const float* src, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) {
    const uint32_t u = std::bit_cast<uint32_t>(src[i]);
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
    dst[i] = (uint16_t)(nan ? ((u >> 16) | 0x40u) : rounded);
  }
}

}  // namespace

struct Matmul::Bf16 {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  struct Primitive {
    dnnl::matmul matmul;
    dnnl::memory::desc a, b, c;  // carry the strides of the transposes
  };
  // (M, N, K, ta, tb, accumulate) → primitive.
  std::map<std::tuple<int, int, int, char, char, bool>, Primitive> primitives;
  std::vector<uint16_t> a16, b16;

  Primitive& primitive(int M, int N, int K, char ta, char tb, bool accumulate) {
    const auto key = std::make_tuple(M, N, K, ta, tb, accumulate);
    auto it = primitives.find(key);
    if (it != primitives.end()) return it->second;
    using dims = dnnl::memory::dims;
    const auto bf16 = dnnl::memory::data_type::bf16;
    // Row-major A (M,K) stored as given ('N': rows of K) or transposed ('T': rows of M);
    // the same for B (K,N). Strides describe the transposes, no copies.
    const dnnl::memory::desc a({M, K}, bf16, ta == 'N' ? dims{K, 1} : dims{1, M});
    const dnnl::memory::desc b({K, N}, bf16, tb == 'N' ? dims{N, 1} : dims{1, K});
    const dnnl::memory::desc c({M, N}, dnnl::memory::data_type::f32, dims{N, 1});
    dnnl::primitive_attr attr;
    if (accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);
      attr.set_post_ops(ops);
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, engine);
    const std::string impl = pd.impl_info_str();
    // Without AVX512-BF16/AMX oneDNN falls back to reference loops, orders of magnitude slower.
    if (impl.find("ref") != std::string::npos)
      throw Error(cat("bf16 matmuls need a CPU with AVX512-BF16 or AMX; oneDNN offers only '", impl,
                      "' here (use --matmul fp32)"));
    return primitives.emplace(key, Primitive{dnnl::matmul(pd), a, b, c}).first->second;
  }

  // C (M,N) [+]= op(A) (M,K) @ op(B) (K,N); all matrices contiguous.
  void gemm(char ta, char tb, int M, int N, int K, const float* A, const float* B, bool accumulate, float* C) {
    Primitive& p = primitive(M, N, K, ta, tb, accumulate);
    a16.resize((size_t)M * K);
    b16.resize((size_t)K * N);
    round_to_bf16(a16.data(), A, a16.size());
    round_to_bf16(b16.data(), B, b16.size());
    dnnl::memory am(p.a, engine, a16.data()), bm(p.b, engine, b16.data()), cm(p.c, engine, C);
    p.matmul.execute(stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    stream.wait();
  }
};

Matmul::Matmul(bool bf16) {
  if (bf16) {
    bf16_ = std::make_unique<Bf16>();
    bf16_->primitive(64, 64, 64, 'N', 'T', false);  // fail at construction on a CPU without bf16
  }
}
Matmul::~Matmul() = default;

void Matmul::gemm(char ta, char tb, int M, int N, int K, const float* A, const float* B, bool accumulate, float* C) {
  if (bf16_) return bf16_->gemm(ta, tb, M, N, K, A, B, accumulate, C);
  sgemm(ta, tb, M, N, K, 1.0f, A, ta == 'N' ? K : M, B, tb == 'N' ? N : K, accumulate ? 1.0f : 0.0f, C, N);
}

// out (N,OC) = inp (N,C) @ weight (OC,C)^T + bias (OC)
void Matmul::forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC) {
  if (bias) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) std::memcpy(out + (size_t)n * OC, bias, sizeof(float) * OC);
  }
  gemm('N', 'T', N, OC, C, inp, weight, bias != nullptr, out);
}

// dinp (N,C) = dout (N,OC) @ weight (OC,C); dweight (OC,C) += dout^T @ inp; dbias (OC) += sum_n dout
void Matmul::backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                      const float* weight, int N, int C, int OC) {
  if (dinp) gemm('N', 'N', N, C, OC, dout, weight, false, dinp);
  gemm('T', 'N', OC, C, N, dout, inp, true, dweight);
  if (!dbias) return;
  constexpr int kSlice = 64;  // columns per task; each task sums all rows for its columns
  const int slices = (OC + kSlice - 1) / kSlice;
#pragma omp parallel for schedule(static)
  for (int s = 0; s < slices; s++) {
    const int o0 = s * kSlice, width = o0 + kSlice < OC ? kSlice : OC - o0;
    float acc[kSlice] = {};
    for (int n = 0; n < N; n++) {
      const float* d = dout + (size_t)n * OC + o0;
#pragma omp simd
      for (int i = 0; i < width; i++) acc[i] += d[i];
    }
    for (int i = 0; i < width; i++) dbias[o0 + i] += acc[i];
  }
}

}  // namespace kiln::trainer::cpu
