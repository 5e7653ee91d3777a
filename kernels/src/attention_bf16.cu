// Multi-head attention on tensor cores: the flash-style algorithm of attention.cu with
// every product (QK^T, PV, and the backward's five) as bf16 x bf16 -> fp32 WMMA
// (16x16x16 mma.sync). Softmax, the running max/sum, lse and all accumulators stay fp32;
// Q, K, V, dO, P and dS are rounded to bf16 in shared memory. Same contract and the same
// determinism as the fp32 kernels (no atomics: dK/dV and dQ are separate kernels that
// recompute P). Chosen with CudaBackendOptions::attention = kBf16TensorCores; head sizes
// must be multiples of 16 (<= 128), others run the fp32 kernels.
//
// Tiles: a block of 4 warps takes 64 rows (queries for forward and dQ, keys for dK/dV);
// each warp owns 16 of them. The other side streams through in tiles of 64. Per warp,
// the 16x64 score block goes through shared memory (WMMA's accumulator layout is opaque,
// so the row-wise softmax reads it back), and so do the running output/gradient
// accumulators (16 x hs fp32), which are rescaled or added to between products.
//
// Shared memory rows are padded (+8 bf16, +4 fp32): the WMMA loads need 32-byte aligned
// fragments and ldm a multiple of 16 bytes, and the padding spreads rows over banks.
//
// Status: compiled for sm_90 but NOT YET RUN on a GPU (written in a session without
// one); tests/kernels checks it against the CPU backend within the bf16 bound (1e-2)
// when a device is present. Not tuned: no cp.async/TMA pipelining, one block per SM at
// hs 128 (~190 KB of shared memory); the next steps are in kernels/README.md.
#include <cuda_bf16.h>
#include <mma.h>

#include "kernels/src/cuda_common.cuh"
#include "kernels/src/ops.h"

namespace kiln::kernels::cuda {
using namespace detail;
using namespace nvcuda;
namespace {
constexpr int kRows = 64;     // rows per block (4 warps x 16)
constexpr int kCols = 64;     // rows of the streamed side per tile
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kSp = kCols + 4;  // fp32 score row pitch
constexpr int kPp = kCols + 8;  // bf16 probability row pitch

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major>;
using FragBRow = wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major>;
using FragBCol = wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

__host__ __device__ constexpr size_t align128(size_t bytes) { return (bytes + 127) / 128 * 128; }

// Shared memory carve-up, in bytes; every array starts 128-byte aligned.
struct Layout {
  int hp, op;  // bf16 tile pitch (hs + 8), fp32 accumulator pitch (hs + 4)
  size_t tile, scores, probs, acc, per_warp;
  __host__ __device__ explicit Layout(int hs)
      : hp(hs + 8),
        op(hs + 4),
        tile(align128((size_t)kRows * (hs + 8) * sizeof(__nv_bfloat16))),
        scores(align128((size_t)16 * kSp * sizeof(float))),
        probs(align128((size_t)16 * kPp * sizeof(__nv_bfloat16))),
        acc(align128((size_t)16 * (hs + 4) * sizeof(float))),
        per_warp(2 * scores + 2 * probs + 2 * acc) {}
  // 4 bf16 tiles, per-warp scratch, two fp32 row vectors (lse, delta).
  __host__ __device__ size_t total() const { return 4 * tile + kWarps * per_warp + 2 * align128(kRows * sizeof(float)); }
};

// bf16 tile (kRows, hp) <- rows [row0, row0+64) of one head (hs channels, row stride
// `stride` floats); rows >= T are zero.
__device__ __forceinline__ void load_bf16(__nv_bfloat16* dst, int pitch, const float* src, size_t stride, int row0,
                                          int T, int hs) {
  for (int idx = threadIdx.x; idx < kRows * hs; idx += blockDim.x) {
    const int r = idx / hs, d = idx % hs;
    dst[r * pitch + d] = __float2bfloat16(row0 + r < T ? src[(size_t)(row0 + r) * stride + d] : 0.0f);
  }
}

// S (16, 64) = A (16 rows of a, hs) . B^T where B is 64 rows of b (hs): b read column-major.
__device__ __forceinline__ void product_abt(float* S, const __nv_bfloat16* a, const __nv_bfloat16* b, int pitch,
                                            int hs) {
  for (int n = 0; n < kCols / 16; n++) {
    FragC c;
    wmma::fill_fragment(c, 0.0f);
    for (int k = 0; k < hs; k += 16) {
      FragA fa;
      FragBCol fb;
      wmma::load_matrix_sync(fa, a + k, pitch);
      wmma::load_matrix_sync(fb, b + n * 16 * pitch + k, pitch);
      wmma::mma_sync(c, fa, fb, c);
    }
    wmma::store_matrix_sync(S + n * 16, c, kSp, wmma::mem_row_major);
  }
}

// acc (16, hs) += P (16, 64) . B (64 rows of b, hs), acc fp32 in shared memory.
__device__ __forceinline__ void product_accumulate(float* acc, int acc_pitch, const __nv_bfloat16* P,
                                                   const __nv_bfloat16* b, int pitch, int hs) {
  for (int n = 0; n < hs; n += 16) {
    FragC c;
    wmma::load_matrix_sync(c, acc + n, acc_pitch, wmma::mem_row_major);
    for (int k = 0; k < kCols; k += 16) {
      FragA fa;
      FragBRow fb;
      wmma::load_matrix_sync(fa, P + k, kPp);
      wmma::load_matrix_sync(fb, b + k * pitch + n, pitch);
      wmma::mma_sync(c, fa, fb, c);
    }
    wmma::store_matrix_sync(acc + n, c, acc_pitch, wmma::mem_row_major);
  }
}

// grid (ceil(T/64), B*NH). Each lane owns half of one of its warp's 16 rows (row lane/2,
// columns (lane%2)*32 ..) in the softmax, and half the channels of that row in the output.
__global__ void __launch_bounds__(kThreads) attention_forward_bf16_kernel(float* out, float* lse, const float* qkv,
                                                                          int T, int C, int NH, bool causal,
                                                                          float scale) {
  extern __shared__ __align__(128) unsigned char smem[];
  const int hs = C / NH;
  const Layout L(hs);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __nv_bfloat16* Qs = reinterpret_cast<__nv_bfloat16*>(smem);
  __nv_bfloat16* Ks = reinterpret_cast<__nv_bfloat16*>(smem + L.tile);
  __nv_bfloat16* Vs = reinterpret_cast<__nv_bfloat16*>(smem + 2 * L.tile);
  unsigned char* mine = smem + 4 * L.tile + warp * L.per_warp;
  float* S = reinterpret_cast<float*>(mine);
  __nv_bfloat16* P = reinterpret_cast<__nv_bfloat16*>(mine + 2 * L.scores);
  float* O = reinterpret_cast<float*>(mine + 2 * L.scores + 2 * L.probs);

  const int bh = blockIdx.y, b = bh / NH, h = bh % NH, q0 = blockIdx.x * kRows;
  const size_t C3 = 3 * (size_t)C;
  const float* base = qkv + (size_t)b * T * C3 + (size_t)h * hs;
  load_bf16(Qs, L.hp, base, C3, q0, T, hs);
  const int r = lane / 2, half = lane % 2;  // this lane's row of the warp and half of it
  const int query = q0 + warp * 16 + r;
  for (int d = half; d < hs; d += 2) O[r * L.op + d] = 0.0f;
  float m = -INFINITY, l = 0.0f;

  const int last_key = causal ? min(T, q0 + kRows) : T;
  for (int k0 = 0; k0 < last_key; k0 += kCols) {
    __syncthreads();  // previous K, V no longer read; Q (first pass) written
    load_bf16(Ks, L.hp, base + C, C3, k0, T, hs);
    load_bf16(Vs, L.hp, base + 2 * C, C3, k0, T, hs);
    __syncthreads();
    product_abt(S, Qs + warp * 16 * L.hp, Ks, L.hp, hs);
    __syncwarp();
    // Online softmax over this lane's 32 columns, combined with its partner lane.
    float tile_max = -INFINITY;
    for (int c = half * 32; c < half * 32 + 32; c++) {
      const int key = k0 + c;
      const bool visible = key < T && (!causal || key <= query);
      const float s = visible ? S[r * kSp + c] * scale : -INFINITY;
      S[r * kSp + c] = s;
      tile_max = fmaxf(tile_max, s);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    const float m_new = fmaxf(m, tile_max);
    const float base_max = m_new == -INFINITY ? 0.0f : m_new;  // a row with nothing visible yet
    float sum = 0.0f;
    for (int c = half * 32; c < half * 32 + 32; c++) {
      const float p = expf(S[r * kSp + c] - base_max);  // exp(-inf) = 0 where masked
      sum += p;
      P[r * kPp + c] = __float2bfloat16(p);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    const float correction = expf(m - base_max);  // 0 on the first tile
    l = l * correction + sum;
    m = m_new;
    for (int d = half; d < hs; d += 2) O[r * L.op + d] *= correction;
    __syncwarp();
    product_accumulate(O, L.op, P, Vs, L.hp, hs);
    __syncwarp();
  }
  if (query < T) {
    const float inv = 1.0f / l;
    float* o = out + ((size_t)b * T + query) * C + (size_t)h * hs;
    for (int d = half; d < hs; d += 2) o[d] = O[r * L.op + d] * inv;
    if (half == 0) lse[(size_t)bh * T + query] = m + logf(l);
  }
}

// dK, dV of 64 keys (warp w: keys w*16 ..). grid (ceil(T/64), B*NH).
__global__ void __launch_bounds__(kThreads) attention_backward_kv_bf16_kernel(float* dqkv, const float* dout,
                                                                              const float* qkv, const float* lse,
                                                                              const float* delta, int T, int C,
                                                                              int NH, bool causal, float scale) {
  extern __shared__ __align__(128) unsigned char smem[];
  const int hs = C / NH;
  const Layout L(hs);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __nv_bfloat16* Ks = reinterpret_cast<__nv_bfloat16*>(smem);
  __nv_bfloat16* Vs = reinterpret_cast<__nv_bfloat16*>(smem + L.tile);
  __nv_bfloat16* Qs = reinterpret_cast<__nv_bfloat16*>(smem + 2 * L.tile);
  __nv_bfloat16* dOs = reinterpret_cast<__nv_bfloat16*>(smem + 3 * L.tile);
  unsigned char* mine = smem + 4 * L.tile + warp * L.per_warp;
  float* S = reinterpret_cast<float*>(mine);                 // (16 keys, 64 queries) scores
  float* dP = reinterpret_cast<float*>(mine + L.scores);     // (16, 64) dO . v
  __nv_bfloat16* P = reinterpret_cast<__nv_bfloat16*>(mine + 2 * L.scores);
  __nv_bfloat16* dS = reinterpret_cast<__nv_bfloat16*>(mine + 2 * L.scores + L.probs);
  float* dK = reinterpret_cast<float*>(mine + 2 * L.scores + 2 * L.probs);
  float* dV = reinterpret_cast<float*>(mine + 2 * L.scores + 2 * L.probs + L.acc);
  float* lse_s = reinterpret_cast<float*>(smem + 4 * L.tile + kWarps * L.per_warp);
  float* delta_s = lse_s + align128(kRows * sizeof(float)) / sizeof(float);

  const int bh = blockIdx.y, b = bh / NH, h = bh % NH, k0 = blockIdx.x * kRows;
  const size_t C3 = 3 * (size_t)C;
  const float* base = qkv + (size_t)b * T * C3 + (size_t)h * hs;
  const float* dbase = dout + (size_t)b * T * C + (size_t)h * hs;
  load_bf16(Ks, L.hp, base + C, C3, k0, T, hs);
  load_bf16(Vs, L.hp, base + 2 * C, C3, k0, T, hs);
  const int r = lane / 2, half = lane % 2;
  const int key = k0 + warp * 16 + r;
  for (int d = half; d < hs; d += 2) dK[r * L.op + d] = dV[r * L.op + d] = 0.0f;

  for (int q0 = causal ? k0 : 0; q0 < T; q0 += kCols) {
    __syncthreads();
    load_bf16(Qs, L.hp, base, C3, q0, T, hs);
    load_bf16(dOs, L.hp, dbase, C, q0, T, hs);
    for (int i = threadIdx.x; i < kCols; i += blockDim.x) {
      lse_s[i] = q0 + i < T ? lse[(size_t)bh * T + q0 + i] : 0.0f;
      delta_s[i] = q0 + i < T ? delta[(size_t)bh * T + q0 + i] : 0.0f;
    }
    __syncthreads();
    product_abt(S, Ks + warp * 16 * L.hp, Qs, L.hp, hs);    // k . q
    product_abt(dP, Vs + warp * 16 * L.hp, dOs, L.hp, hs);  // v . dO
    __syncwarp();
    for (int c = half * 32; c < half * 32 + 32; c++) {
      const int query = q0 + c;
      const bool visible = query < T && key < T && (!causal || key <= query);
      const float p = visible ? expf(S[r * kSp + c] * scale - lse_s[c]) : 0.0f;
      P[r * kPp + c] = __float2bfloat16(p);
      dS[r * kPp + c] = __float2bfloat16(p * (dP[r * kSp + c] - delta_s[c]) * scale);
    }
    __syncwarp();
    product_accumulate(dV, L.op, P, dOs, L.hp, hs);  // dV += P^T-rows . dO
    product_accumulate(dK, L.op, dS, Qs, L.hp, hs);  // dK += dS^T-rows . Q
    __syncwarp();
  }
  if (key < T) {
    float* row = dqkv + ((size_t)b * T + key) * C3 + (size_t)h * hs;
    for (int d = half; d < hs; d += 2) {
      row[C + d] = dK[r * L.op + d];
      row[2 * C + d] = dV[r * L.op + d];
    }
  }
}

// dQ of 64 queries (warp w: queries w*16 ..). grid (ceil(T/64), B*NH).
__global__ void __launch_bounds__(kThreads) attention_backward_q_bf16_kernel(float* dqkv, const float* dout,
                                                                             const float* qkv, const float* lse,
                                                                             const float* delta, int T, int C,
                                                                             int NH, bool causal, float scale) {
  extern __shared__ __align__(128) unsigned char smem[];
  const int hs = C / NH;
  const Layout L(hs);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __nv_bfloat16* Qs = reinterpret_cast<__nv_bfloat16*>(smem);
  __nv_bfloat16* dOs = reinterpret_cast<__nv_bfloat16*>(smem + L.tile);
  __nv_bfloat16* Ks = reinterpret_cast<__nv_bfloat16*>(smem + 2 * L.tile);
  __nv_bfloat16* Vs = reinterpret_cast<__nv_bfloat16*>(smem + 3 * L.tile);
  unsigned char* mine = smem + 4 * L.tile + warp * L.per_warp;
  float* S = reinterpret_cast<float*>(mine);              // (16 queries, 64 keys)
  float* dP = reinterpret_cast<float*>(mine + L.scores);  // (16, 64) dO . v
  __nv_bfloat16* dS = reinterpret_cast<__nv_bfloat16*>(mine + 2 * L.scores);
  float* dQ = reinterpret_cast<float*>(mine + 2 * L.scores + 2 * L.probs);
  float* lse_s = reinterpret_cast<float*>(smem + 4 * L.tile + kWarps * L.per_warp);
  float* delta_s = lse_s + align128(kRows * sizeof(float)) / sizeof(float);

  const int bh = blockIdx.y, b = bh / NH, h = bh % NH, q0 = blockIdx.x * kRows;
  const size_t C3 = 3 * (size_t)C;
  const float* base = qkv + (size_t)b * T * C3 + (size_t)h * hs;
  load_bf16(Qs, L.hp, base, C3, q0, T, hs);
  load_bf16(dOs, L.hp, dout + (size_t)b * T * C + (size_t)h * hs, C, q0, T, hs);
  for (int i = threadIdx.x; i < kRows; i += blockDim.x) {
    lse_s[i] = q0 + i < T ? lse[(size_t)bh * T + q0 + i] : 0.0f;
    delta_s[i] = q0 + i < T ? delta[(size_t)bh * T + q0 + i] : 0.0f;
  }
  const int r = lane / 2, half = lane % 2;
  const int rq = warp * 16 + r, query = q0 + rq;  // this lane's row within the block, and its query
  for (int d = half; d < hs; d += 2) dQ[r * L.op + d] = 0.0f;

  const int last_key = causal ? min(T, q0 + kRows) : T;
  for (int k0 = 0; k0 < last_key; k0 += kCols) {
    __syncthreads();
    load_bf16(Ks, L.hp, base + C, C3, k0, T, hs);
    load_bf16(Vs, L.hp, base + 2 * C, C3, k0, T, hs);
    __syncthreads();
    product_abt(S, Qs + warp * 16 * L.hp, Ks, L.hp, hs);    // q . k
    product_abt(dP, dOs + warp * 16 * L.hp, Vs, L.hp, hs);  // dO . v
    __syncwarp();
    for (int c = half * 32; c < half * 32 + 32; c++) {
      const int key = k0 + c;
      const bool visible = query < T && key < T && (!causal || key <= query);
      const float p = visible ? expf(S[r * kSp + c] * scale - lse_s[rq]) : 0.0f;
      dS[r * kPp + c] = __float2bfloat16(p * (dP[r * kSp + c] - delta_s[rq]) * scale);
    }
    __syncwarp();
    product_accumulate(dQ, L.op, dS, Ks, L.hp, hs);  // dQ += dS . K
    __syncwarp();
  }
  if (query < T) {
    float* row = dqkv + ((size_t)b * T + query) * C3 + (size_t)h * hs;
    for (int d = half; d < hs; d += 2) row[d] = dQ[r * L.op + d];
  }
}

template <class Kernel>
void set_shared(Kernel kernel, size_t bytes, const char* what) {
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes), what);
}
}  // namespace

bool attention_bf16_supported(int C, int NH) {
  if (NH <= 0 || C % NH != 0) return false;
  const int hs = C / NH;
  return hs % 16 == 0 && hs <= kMaxHeadSize;
}

void attention_forward_bf16(cudaStream_t stream, float* out, float* lse, const float* qkv, int B, int T, int C,
                            int NH, bool causal) {
  if (!attention_bf16_supported(C, NH)) throw_error("attention_forward_bf16", "head size must be a multiple of 16, <= 128");
  if (B <= 0 || T <= 0) return;
  const int hs = C / NH;
  const size_t shared = Layout(hs).total();
  set_shared(attention_forward_bf16_kernel, shared, "attention_forward_bf16: shared memory limit");
  const dim3 grid(ceil_div(T, kRows), B * NH);
  attention_forward_bf16_kernel<<<grid, kThreads, shared, stream>>>(out, lse, qkv, T, C, NH, causal,
                                                                    1.0f / sqrtf((float)hs));
  check_launch("attention_forward_bf16");
}

void attention_backward_bf16(cudaStream_t stream, float* dqkv, const float* dout, const float* qkv,
                             const float* out, const float* lse, int B, int T, int C, int NH, bool causal,
                             float* delta) {
  if (!attention_bf16_supported(C, NH)) throw_error("attention_backward_bf16", "head size must be a multiple of 16, <= 128");
  if (B <= 0 || T <= 0) return;
  const int hs = C / NH;
  const float scale = 1.0f / sqrtf((float)hs);
  attention_delta(stream, delta, dout, out, B, T, C, NH);
  const size_t shared = Layout(hs).total();
  set_shared(attention_backward_kv_bf16_kernel, shared, "attention_backward_bf16: shared memory limit");
  set_shared(attention_backward_q_bf16_kernel, shared, "attention_backward_bf16: shared memory limit");
  const dim3 grid(ceil_div(T, kRows), B * NH);
  attention_backward_kv_bf16_kernel<<<grid, kThreads, shared, stream>>>(dqkv, dout, qkv, lse, delta, T, C, NH, causal,
                                                                        scale);
  check_launch("attention_backward_bf16 (dk, dv)");
  attention_backward_q_bf16_kernel<<<grid, kThreads, shared, stream>>>(dqkv, dout, qkv, lse, delta, T, C, NH, causal,
                                                                       scale);
  check_launch("attention_backward_bf16 (dq)");
}

}  // namespace kiln::kernels::cuda
