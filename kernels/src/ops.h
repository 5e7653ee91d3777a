// Private: the CUDA backend's ops as host functions that launch kernels on `stream`, one
// .cu file per op (see trainer/backend.h for each contract). Pointers are device memory
// unless a name says host; token ids and targets are already copied to the device.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace kiln::kernels::cuda {

// encoder.cu. The backward pass takes the positions of (B,T) grouped by token (a CSR built
// on the host from the host token ids): tokens (U) unique ids, offsets (U+1), positions
// (B*T) = flat bt indices, each token's in increasing order.
void encoder_forward(cudaStream_t stream, float* out, const int32_t* inp, const float* wte, const float* wpe, int B,
                     int T, int C, int pos_offset);
void encoder_backward(cudaStream_t stream, float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                      const int32_t* offsets, const int32_t* positions, int num_unique, int B, int T, int C);

// layernorm.cu. `partial` is scratch of layernorm_partial_floats(N, C) floats.
size_t layernorm_partial_floats(int N, int C);
void layernorm_forward(cudaStream_t stream, float* out, float* mean, float* rstd, const float* inp,
                       const float* weight, const float* bias, int N, int C);
void layernorm_backward(cudaStream_t stream, float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd, int N, int C,
                        float* partial);
void rmsnorm_forward(cudaStream_t stream, float* out, float* rstd, const float* inp, const float* weight, int N, int C);
void rmsnorm_backward(cudaStream_t stream, float* dinp, float* dweight, const float* dout, const float* inp,
                      const float* weight, const float* rstd, int N, int C, float* partial);

// matmul.cu: the bias gradient (the matmuls themselves are cuBLASLt calls in cuda_backend.cu).
// dbias (OC) += column sums of dout (N,OC).
void bias_backward(cudaStream_t stream, float* dbias, const float* dout, int N, int OC);
// out (N,OC) rows = bias (OC): the start of a matmul with beta = 1 when the bias epilogue
// cannot be used.
void broadcast_rows(cudaStream_t stream, float* out, const float* bias, int N, int OC);

// attention.cu. `delta` is scratch of B*NH*T floats.
void attention_forward(cudaStream_t stream, float* out, float* lse, const float* qkv, int B, int T, int C, int NH,
                       bool causal);
void attention_backward(cudaStream_t stream, float* dqkv, const float* dout, const float* qkv, const float* out,
                        const float* lse, int B, int T, int C, int NH, bool causal, float* delta);
void attention_decode(cudaStream_t stream, float* out, float* kcache, float* vcache, const float* qkv, int B, int pos,
                      int maxT, int C, int NH);
// The largest head size the attention kernels take.
constexpr int kMaxHeadSize = 128;
// delta (B,NH,T) = rowsum over each head's channels of dout * out (the backward's D).
void attention_delta(cudaStream_t stream, float* delta, const float* dout, const float* out, int B, int T, int C,
                     int NH);

// attention_bf16.cu: the same contract on tensor cores (bf16 operands, fp32 accumulation
// and softmax), for head sizes that are multiples of 16 up to 128; the backend falls back
// to the fp32 kernels for others. `delta` as above.
bool attention_bf16_supported(int C, int NH);
void attention_forward_bf16(cudaStream_t stream, float* out, float* lse, const float* qkv, int B, int T, int C,
                            int NH, bool causal);
void attention_backward_bf16(cudaStream_t stream, float* dqkv, const float* dout, const float* qkv,
                             const float* out, const float* lse, int B, int T, int C, int NH, bool causal,
                             float* delta);

// rope.cu
void rope_forward(cudaStream_t stream, float* qkv, int B, int T, int C, int NH, int pos_offset);
void rope_backward(cudaStream_t stream, float* dqkv, int B, int T, int C, int NH);

// elementwise.cu
void gelu_forward(cudaStream_t stream, float* out, const float* inp, size_t n);
void gelu_backward(cudaStream_t stream, float* dinp, const float* inp, const float* dout, size_t n);
void residual_forward(cudaStream_t stream, float* out, const float* a, const float* b, size_t n);
void accumulate(cudaStream_t stream, float* dst, const float* src, size_t n);

// crossentropy.cu
void crossentropy_forward(cudaStream_t stream, float* losses, float* lse, const float* logits,
                          const int32_t* targets, int N, int V, int Vp);
void crossentropy_backward(cudaStream_t stream, float* logits, const float* lse, const int32_t* targets, float dloss,
                           int N, int V, int Vp);

// adamw.cu. sum_squares: `partial` is scratch of kSumSquaresBlocks doubles on the device,
// `host_partial` the same on the host (pinned or not); synchronizes the stream.
constexpr int kSumSquaresBlocks = 264;
double sum_squares(cudaStream_t stream, const float* x, size_t n, double* partial, double* host_partial);
void adamw_update(cudaStream_t stream, float* params, const float* grads, float* m, float* v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float bc1, float bc2, float grad_scale);

}  // namespace kiln::kernels::cuda
