// Multi-head self-attention, flash-style (FlashAttention-2's tiling, fp32 SIMT): scores are
// computed a 32x32 tile at a time with an online softmax, and only lse (B,NH,T) is kept for
// the backward pass — nothing of size (T,T) touches device memory.
//
// qkv (B,T,3C): q = [0,C), k = [C,2C), v = [2C,3C); head h owns channels [h*hs, (h+1)*hs).
//
// Forward: a block of 4 warps per (32 queries, b, h); warp w owns query rows w, w+4, ...
// (8 rows) and, in each row, output channels lane, lane+32, ... (hs <= 128: 8x4 fp32
// accumulators per thread). Per key tile: K and V go to shared memory; lane c computes the
// scores of key c against the warp's 8 queries (K rows padded by one float so the 32 lanes
// read 32 different banks; the query row is a broadcast); the row max and sum are warp
// shuffles; P @ V broadcasts each lane's probability with a shuffle and reads V rows
// (consecutive lanes, consecutive channels: no conflicts).
//
// Backward, deterministic (no atomics): FlashAttention-2 runs one pass over key tiles and
// adds dQ with atomics across them. Here two kernels recompute the probabilities instead:
//   dK/dV: a block per key tile loops over the query tiles that see it; warp w owns key
//          rows w, w+4, ... and accumulates their dK, dV in registers;
//   dQ:    a block per query tile loops over key tiles, like the forward pass.
// That does the QK^T and dO V^T products twice (4 of the backward's 5 matmuls run once
// more), the price of results that repeat bit for bit. D = rowsum(dO * O) (B,NH,T) comes
// from a small kernel first.
//
// Performance notes. This is the fp32 baseline: FFMA from shared memory, no tensor cores.
// The forward and dQ kernels compute a lane's 8 scores in one pass over the channels
// (about 1.1 shared loads per FMA instead of 2); the dK/dV kernel keeps the row-by-row dot
// products, as its 64 accumulators already take 255 registers and blocking would spill.
// At GPT-2 124M (T 1024, hs 64) attention is ~10% of a step's FLOPs, so the matmuls
// (cuBLASLt, bf16 tensor cores) dominate; the next step here is a bf16 mma.sync / wgmma
// kernel (or cuDNN's SDPA, which the toolkit ships) — not attempted without a GPU to check
// it on.
#include "kernels/src/cuda_common.cuh"
#include "kernels/src/ops.h"

namespace kiln::kernels::cuda {
using namespace detail;
namespace {
constexpr int kTile = 32;                    // queries and keys per tile
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRowsPerWarp = kTile / kWarps;  // 8
constexpr int kColsPerLane = kMaxHeadSize / 32;  // 4

// Copies rows [row0, row0+kTile) of one head (hs channels, row stride `stride` floats) to
// shared `dst` with row pitch `pitch`; rows >= T are zero.
__device__ __forceinline__ void load_tile(float* dst, int pitch, const float* src, size_t stride, int row0, int T,
                                          int hs) {
  for (int idx = threadIdx.x; idx < kTile * hs; idx += blockDim.x) {
    const int r = idx / hs, d = idx % hs;
    dst[r * pitch + d] = row0 + r < T ? src[(size_t)(row0 + r) * stride + d] : 0.0f;
  }
}

__device__ __forceinline__ float dot_shared(const float* a, const float* b, int hs) {
  float s = 0.0f;
  for (int d = 0; d < hs; d++) s += a[d] * b[d];
  return s;
}

// grid (ceil(T/32), B*NH), kThreads threads; shared: Q (32,hs), K (32,hs+1), V (32,hs).
__global__ void __launch_bounds__(kThreads) attention_forward_kernel(float* out, float* lse, const float* qkv, int T,
                                                                     int C, int NH, bool causal, float scale) {
  extern __shared__ float smem[];
  const int hs = C / NH, kp = hs + 1;
  float* Qs = smem;
  float* Ks = Qs + kTile * hs;
  float* Vs = Ks + kTile * kp;
  const int bh = blockIdx.y, b = bh / NH, h = bh % NH;
  const int q0 = blockIdx.x * kTile;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const size_t C3 = 3 * (size_t)C;
  const float* base = qkv + (size_t)b * T * C3 + (size_t)h * hs;
  load_tile(Qs, hs, base, C3, q0, T, hs);

  float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][kColsPerLane];
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; i++) {
    m[i] = -INFINITY;
    l[i] = 0.0f;
#pragma unroll
    for (int j = 0; j < kColsPerLane; j++) acc[i][j] = 0.0f;
  }
  const int last_key = causal ? min(T, q0 + kTile) : T;  // keys [0, last_key) can be seen
  for (int k0 = 0; k0 < last_key; k0 += kTile) {
    __syncthreads();  // the previous tile's K, V are no longer read (and Q is written)
    load_tile(Ks, kp, base + C, C3, k0, T, hs);
    load_tile(Vs, hs, base + 2 * C, C3, k0, T, hs);
    __syncthreads();
    const int key = k0 + lane;
    // The warp's 8 scores for key `lane` in one pass over the channels: one K load (own
    // row) and 8 broadcast Q loads per 8 FMAs, instead of 2 loads per FMA row by row.
    float dots[kRowsPerWarp];
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; i++) dots[i] = 0.0f;
    for (int d = 0; d < hs; d++) {
      const float kd = Ks[lane * kp + d];
#pragma unroll
      for (int i = 0; i < kRowsPerWarp; i++) dots[i] += Qs[(warp + kWarps * i) * hs + d] * kd;
    }
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; i++) {
      const int r = warp + kWarps * i, query = q0 + r;
      const bool visible = key < T && (!causal || key <= query);
      const float s = visible ? dots[i] * scale : -INFINITY;
      const float m_new = fmaxf(m[i], warp_max(s));
      // m_new is finite: key k0 <= query is visible in every tile this loop visits (causal)
      // and every row sees key 0; rows past T compute garbage that is never stored.
      const float p = visible ? expf(s - m_new) : 0.0f;
      const float correction = expf(m[i] - m_new);  // 0 on the first tile
      l[i] = l[i] * correction + warp_sum(p);
      m[i] = m_new;
#pragma unroll
      for (int j = 0; j < kColsPerLane; j++) acc[i][j] *= correction;
      for (int c = 0; c < kTile; c++) {
        const float pc = __shfl_sync(0xffffffffu, p, c);
        const float* v = Vs + c * hs;
#pragma unroll
        for (int j = 0; j < kColsPerLane; j++)
          if (lane + 32 * j < hs) acc[i][j] += pc * v[lane + 32 * j];
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; i++) {
    const int query = q0 + warp + kWarps * i;
    if (query >= T) continue;
    const float inv = 1.0f / l[i];
    float* o = out + ((size_t)b * T + query) * C + (size_t)h * hs;
#pragma unroll
    for (int j = 0; j < kColsPerLane; j++)
      if (lane + 32 * j < hs) o[lane + 32 * j] = acc[i][j] * inv;
    if (lane == 0) lse[(size_t)bh * T + query] = m[i] + logf(l[i]);
  }
}

// delta (B,NH,T) = sum over the head's channels of dout * out; a warp per (b, t, h).
__global__ void attention_delta_kernel(float* delta, const float* dout, const float* out, int B, int T, int C, int NH) {
  const int hs = C / NH, lane = threadIdx.x % 32;
  const size_t row = (size_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;  // (b*T + t)*NH + h
  if (row >= (size_t)B * T * NH) return;
  const int h = row % NH;
  const size_t bt = row / NH;
  const float* d = dout + bt * C + (size_t)h * hs;
  const float* o = out + bt * C + (size_t)h * hs;
  float s = 0.0f;
  for (int i = lane; i < hs; i += 32) s += d[i] * o[i];
  s = warp_sum(s);
  const size_t b = bt / T, t = bt % T;
  if (lane == 0) delta[(b * NH + h) * T + t] = s;
}

// dK, dV of one key tile. grid (ceil(T/32), B*NH); shared: K, V, Q, dO (32,hs+1) and lse,
// delta (32).
__global__ void __launch_bounds__(kThreads) attention_backward_kv_kernel(float* dqkv, const float* dout,
                                                                         const float* qkv, const float* lse,
                                                                         const float* delta, int T, int C, int NH,
                                                                         bool causal, float scale) {
  extern __shared__ float smem[];
  const int hs = C / NH, kp = hs + 1;
  float* Ks = smem;
  float* Vs = Ks + kTile * kp;
  float* Qs = Vs + kTile * kp;
  float* dOs = Qs + kTile * kp;
  float* lse_s = dOs + kTile * kp;
  float* delta_s = lse_s + kTile;
  const int bh = blockIdx.y, b = bh / NH, h = bh % NH;
  const int k0 = blockIdx.x * kTile;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const size_t C3 = 3 * (size_t)C;
  const float* base = qkv + (size_t)b * T * C3 + (size_t)h * hs;
  const float* dbase = dout + (size_t)b * T * C + (size_t)h * hs;
  load_tile(Ks, kp, base + C, C3, k0, T, hs);
  load_tile(Vs, kp, base + 2 * C, C3, k0, T, hs);

  float dk[kRowsPerWarp][kColsPerLane], dv[kRowsPerWarp][kColsPerLane];
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; i++)
#pragma unroll
    for (int j = 0; j < kColsPerLane; j++) dk[i][j] = dv[i][j] = 0.0f;

  for (int q0 = causal ? k0 : 0; q0 < T; q0 += kTile) {
    __syncthreads();
    load_tile(Qs, kp, base, C3, q0, T, hs);
    load_tile(dOs, kp, dbase, C, q0, T, hs);
    if (threadIdx.x < kTile) {
      const int q = q0 + threadIdx.x;
      lse_s[threadIdx.x] = q < T ? lse[(size_t)bh * T + q] : 0.0f;
      delta_s[threadIdx.x] = q < T ? delta[(size_t)bh * T + q] : 0.0f;
    }
    __syncthreads();
    const int query = q0 + lane;  // lane = query row of the tile
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; i++) {
      const int c = warp + kWarps * i, key = k0 + c;
      const bool visible = query < T && key < T && (!causal || key <= query);
      float p = 0.0f, ds = 0.0f;
      if (visible) {
        p = expf(dot_shared(Qs + lane * kp, Ks + c * kp, hs) * scale - lse_s[lane]);
        ds = p * (dot_shared(dOs + lane * kp, Vs + c * kp, hs) - delta_s[lane]) * scale;
      }
      for (int r = 0; r < kTile; r++) {
        const float pr = __shfl_sync(0xffffffffu, p, r), dsr = __shfl_sync(0xffffffffu, ds, r);
#pragma unroll
        for (int j = 0; j < kColsPerLane; j++) {
          const int d = lane + 32 * j;
          if (d < hs) {
            dv[i][j] += pr * dOs[r * kp + d];
            dk[i][j] += dsr * Qs[r * kp + d];
          }
        }
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; i++) {
    const int key = k0 + warp + kWarps * i;
    if (key >= T) continue;
    float* row = dqkv + ((size_t)b * T + key) * C3 + (size_t)h * hs;
#pragma unroll
    for (int j = 0; j < kColsPerLane; j++) {
      const int d = lane + 32 * j;
      if (d < hs) {
        row[C + d] = dk[i][j];
        row[2 * C + d] = dv[i][j];
      }
    }
  }
}

// dQ of one query tile. grid (ceil(T/32), B*NH); shared: Q, dO, K, V (32,hs+1), lse, delta (32).
__global__ void __launch_bounds__(kThreads) attention_backward_q_kernel(float* dqkv, const float* dout,
                                                                        const float* qkv, const float* lse,
                                                                        const float* delta, int T, int C, int NH,
                                                                        bool causal, float scale) {
  extern __shared__ float smem[];
  const int hs = C / NH, kp = hs + 1;
  float* Qs = smem;
  float* dOs = Qs + kTile * kp;
  float* Ks = dOs + kTile * kp;
  float* Vs = Ks + kTile * kp;
  float* lse_s = Vs + kTile * kp;
  float* delta_s = lse_s + kTile;
  const int bh = blockIdx.y, b = bh / NH, h = bh % NH;
  const int q0 = blockIdx.x * kTile;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const size_t C3 = 3 * (size_t)C;
  const float* base = qkv + (size_t)b * T * C3 + (size_t)h * hs;
  load_tile(Qs, kp, base, C3, q0, T, hs);
  load_tile(dOs, kp, dout + (size_t)b * T * C + (size_t)h * hs, C, q0, T, hs);
  if (threadIdx.x < kTile) {
    const int q = q0 + threadIdx.x;
    lse_s[threadIdx.x] = q < T ? lse[(size_t)bh * T + q] : 0.0f;
    delta_s[threadIdx.x] = q < T ? delta[(size_t)bh * T + q] : 0.0f;
  }
  float dq[kRowsPerWarp][kColsPerLane];
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; i++)
#pragma unroll
    for (int j = 0; j < kColsPerLane; j++) dq[i][j] = 0.0f;

  const int last_key = causal ? min(T, q0 + kTile) : T;
  for (int k0 = 0; k0 < last_key; k0 += kTile) {
    __syncthreads();
    load_tile(Ks, kp, base + C, C3, k0, T, hs);
    load_tile(Vs, kp, base + 2 * C, C3, k0, T, hs);
    __syncthreads();
    const int key = k0 + lane;  // lane = key of the tile
    // q.k and dO.v for the warp's 8 rows in one pass (as in the forward kernel).
    float qk[kRowsPerWarp], dov[kRowsPerWarp];
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; i++) qk[i] = dov[i] = 0.0f;
    for (int d = 0; d < hs; d++) {
      const float kd = Ks[lane * kp + d], vd = Vs[lane * kp + d];
#pragma unroll
      for (int i = 0; i < kRowsPerWarp; i++) {
        qk[i] += Qs[(warp + kWarps * i) * kp + d] * kd;
        dov[i] += dOs[(warp + kWarps * i) * kp + d] * vd;
      }
    }
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; i++) {
      const int r = warp + kWarps * i, query = q0 + r;
      const bool visible = query < T && key < T && (!causal || key <= query);
      float ds = 0.0f;
      if (visible) {
        const float p = expf(qk[i] * scale - lse_s[r]);
        ds = p * (dov[i] - delta_s[r]) * scale;
      }
      for (int c = 0; c < kTile; c++) {
        const float dsc = __shfl_sync(0xffffffffu, ds, c);
#pragma unroll
        for (int j = 0; j < kColsPerLane; j++)
          if (lane + 32 * j < hs) dq[i][j] += dsc * Ks[c * kp + lane + 32 * j];
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; i++) {
    const int query = q0 + warp + kWarps * i;
    if (query >= T) continue;
    float* row = dqkv + ((size_t)b * T + query) * C3 + (size_t)h * hs;
#pragma unroll
    for (int j = 0; j < kColsPerLane; j++)
      if (lane + 32 * j < hs) row[lane + 32 * j] = dq[i][j];
  }
}

// One new token per sequence: a block per (b, h) writes its k, v slice to row `pos` of the
// caches, then attends q to rows 0..pos. shared: q (hs), scores (pos+1).
__global__ void attention_decode_kernel(float* out, float* kcache, float* vcache, const float* qkv, int pos, int maxT,
                                        int C, int NH, float scale) {
  extern __shared__ float smem[];
  __shared__ float reduce[32];
  const int hs = C / NH, b = blockIdx.x / NH, h = blockIdx.x % NH, len = pos + 1;
  float* q = smem;
  float* s = smem + hs;
  const float* row = qkv + (size_t)b * 3 * C + (size_t)h * hs;
  float* kc = kcache + (size_t)b * maxT * C + (size_t)h * hs;
  float* vc = vcache + (size_t)b * maxT * C + (size_t)h * hs;
  for (int d = threadIdx.x; d < hs; d += blockDim.x) {
    q[d] = row[d];
    kc[(size_t)pos * C + d] = row[C + d];
    vc[(size_t)pos * C + d] = row[2 * C + d];
  }
  __syncthreads();  // the block's own cache writes are visible to it after the barrier
  float m = -INFINITY;
  for (int j = threadIdx.x; j < len; j += blockDim.x) {
    float x = 0.0f;
    for (int d = 0; d < hs; d++) x += q[d] * kc[(size_t)j * C + d];
    s[j] = x * scale;
    m = fmaxf(m, s[j]);
  }
  m = block_max(m, reduce);
  float sum = 0.0f;
  for (int j = threadIdx.x; j < len; j += blockDim.x) {
    s[j] = expf(s[j] - m);
    sum += s[j];
  }
  sum = block_sum(sum, reduce);  // its barriers also order the s[] writes before the reads
  const float inv = 1.0f / sum;
  for (int d = threadIdx.x; d < hs; d += blockDim.x) {
    float o = 0.0f;
    for (int j = 0; j < len; j++) o += s[j] * vc[(size_t)j * C + d];
    out[(size_t)b * C + (size_t)h * hs + d] = o * inv;
  }
}

void check_head_size(int C, int NH, const char* what) {
  if (NH <= 0 || C % NH != 0 || C / NH > kMaxHeadSize)
    throw_error(what, "head size C/NH must divide C and be at most 128");
}

// Raises a kernel's dynamic shared memory limit above the 48 KB default when it needs to
// (hs = 128 needs 49-66 KB; Hopper allows 227 KB per block).
template <class Kernel>
void allow_shared(Kernel kernel, size_t bytes, const char* what) {
  if (bytes > 48 * 1024)
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes), what);
}
}  // namespace

void attention_delta(cudaStream_t stream, float* delta, const float* dout, const float* out, int B, int T, int C,
                     int NH) {
  const size_t rows = (size_t)B * T * NH;
  attention_delta_kernel<<<ceil_div(rows, 8), 256, 0, stream>>>(delta, dout, out, B, T, C, NH);
  check_launch("attention_backward (delta)");
}

void attention_forward(cudaStream_t stream, float* out, float* lse, const float* qkv, int B, int T, int C, int NH,
                       bool causal) {
  check_head_size(C, NH, "attention_forward");
  if (B <= 0 || T <= 0) return;
  const int hs = C / NH;
  const size_t shared = (size_t)(kTile * hs * 2 + kTile * (hs + 1)) * sizeof(float);
  allow_shared(attention_forward_kernel, shared, "attention_forward: shared memory limit");
  const dim3 grid(ceil_div(T, kTile), B * NH);
  attention_forward_kernel<<<grid, kThreads, shared, stream>>>(out, lse, qkv, T, C, NH, causal,
                                                               1.0f / sqrtf((float)hs));
  check_launch("attention_forward");
}

void attention_backward(cudaStream_t stream, float* dqkv, const float* dout, const float* qkv, const float* out,
                        const float* lse, int B, int T, int C, int NH, bool causal, float* delta) {
  check_head_size(C, NH, "attention_backward");
  if (B <= 0 || T <= 0) return;
  const int hs = C / NH;
  const float scale = 1.0f / sqrtf((float)hs);
  attention_delta(stream, delta, dout, out, B, T, C, NH);
  const size_t shared = (size_t)(4 * kTile * (hs + 1) + 2 * kTile) * sizeof(float);
  allow_shared(attention_backward_kv_kernel, shared, "attention_backward: shared memory limit");
  allow_shared(attention_backward_q_kernel, shared, "attention_backward: shared memory limit");
  const dim3 grid(ceil_div(T, kTile), B * NH);
  attention_backward_kv_kernel<<<grid, kThreads, shared, stream>>>(dqkv, dout, qkv, lse, delta, T, C, NH, causal,
                                                                   scale);
  check_launch("attention_backward (dk, dv)");
  attention_backward_q_kernel<<<grid, kThreads, shared, stream>>>(dqkv, dout, qkv, lse, delta, T, C, NH, causal,
                                                                  scale);
  check_launch("attention_backward (dq)");
}

void attention_decode(cudaStream_t stream, float* out, float* kcache, float* vcache, const float* qkv, int B, int pos,
                      int maxT, int C, int NH) {
  check_head_size(C, NH, "attention_decode");
  if (pos < 0 || pos >= maxT) throw_error("attention_decode", "position outside the KV cache");
  if (B <= 0) return;
  const int hs = C / NH;
  const size_t shared = (size_t)(hs + pos + 1) * sizeof(float);
  allow_shared(attention_decode_kernel, shared, "attention_decode: shared memory limit");
  attention_decode_kernel<<<B * NH, 128, shared, stream>>>(out, kcache, vcache, qkv, pos, maxT, C, NH,
                                                          1.0f / sqrtf((float)hs));
  check_launch("attention_decode");
}

}  // namespace kiln::kernels::cuda
