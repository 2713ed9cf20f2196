// The CUDA kernels of the GPU backend: arrays and shapes on one device, not models (model/
// gpu_model.cpp runs a model with them). Every function enqueues on the given stream and returns;
// pointers are device pointers unless named host_. Values are fp32 with sums in double where a
// long sum would lose digits, as the CPU kernels; matrix products are cuBLASLt's (Gemm).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "kernels/cuda/check.h"

typedef struct CUstream_st* cudaStream_t;

namespace lsc::cuda {

// How a matrix is stored on the device: as in the checkpoint.
enum class DType { F32, F16, BF16 };
int64_t dtype_bytes(DType t);

// out[n, cols] = fp32(table[ids[i], :]) (an embedding gather; ids on the device).
void embed_rows(const void* table, DType type, int64_t cols, const int32_t* ids, int64_t n, float* out,
                cudaStream_t st);
// out[i] = fp32(w[i]) for n values of type `type`; bf16 out (to_bf16) rounds to nearest even.
void widen_f32(const void* w, DType type, int64_t n, float* out, cudaStream_t st);
void to_bf16(const float* x, uint16_t* out, int64_t n, cudaStream_t st);
// out[r, :] = w ⊙ (x[r, :] / sqrt(mean(x[r, :]²) + eps)), the squares summed in double (in place
// allowed). out16 (optional, else null): the same rows rounded to bf16 instead of out.
void rms_norm(const float* x, const float* w, int64_t rows, int64_t n, float eps, float* out, uint16_t* out16,
              cudaStream_t st);
// y[r, :] += b for rows × n.
void add_bias(float* y, const float* b, int64_t rows, int64_t n, cudaStream_t st);
// HF rotate-half RoPE on x [rows, heads, d] for positions pos0 … pos0 + rows − 1: angle =
// float(pos) · inv_freq[i] in fp32, cos/sin in fp32 (precise, not the fast intrinsics).
void rope(float* x, int64_t rows, int64_t heads, int64_t d, const float* inv_freq, int64_t pos0, cudaStream_t st);
// Causal grouped-query attention, flash-style (keys in tiles in shared memory, online softmax in
// fp32): out[i, h, :] for queries at positions q_first + i (i < n_q) over keys 0 … q_first + i of
// k, v [·, kv_heads, d]. d a multiple of 32, at most 256.
void attention(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first, int64_t heads,
               int64_t kv_heads, int64_t d, float scale, float* out, cudaStream_t st);
// out[i] = silu(gate[i]) · up[i] (in place allowed).
void swiglu(const float* gate, const float* up, int64_t n, float* out, cudaStream_t st);

// Per-row statistics of logits [rows, vocab] for the measuring step (analysis::RowSummary's
// ingredients): log-partition and entropy (sums in double), the target's logit and rank, the top
// k entries (descending, ties by smaller id), and each family's probability mass.
inline constexpr int kMaxTopK = 64;
struct RowStatsGpu {
  double logsumexp, entropy, target_logit;
  int64_t rank;
  int32_t top_ids[kMaxTopK];
  float top_logits[kMaxTopK];
};
// fam_ids[fam_off[f] … fam_off[f + 1]) = family f's token ids (device); prop[r * n_fam + f].
void reduce_rows(const float* logits, int64_t rows, int64_t vocab, const int32_t* targets, int k,
                 const int32_t* fam_ids, const int64_t* fam_off, int n_fam, RowStatsGpu* out, double* prop,
                 cudaStream_t st);
// The sums of analysis::compare_rows for rows of equal length (divergence.cpp): per row
// sums[r * 7 + ·] = Σp_a, Σp_b, Σp_a·d, Σp_b·d, Σ(p_a + p_b)·F(|d − (lse_a − lse_b)|/2) (the
// Jensen-Shannon terms of kernels/js_shape.h), Σ|p_a − p_b| (d = l_a − l_b, p = float exp of the
// logit minus the row's float log-partition) and 1 where the rows differ anywhere.
void pair_sums(const float* a, const float* b, int64_t rows, int64_t vocab, const double* lse_a,
               const double* lse_b, double* sums, cudaStream_t st);

// C[n, m] (row-major, fp32) = X[n, k] · W[m, k]ᵀ (+ C if accumulate) through cuBLASLt: X and W both
// bf16 (tensor cores, fp32 accumulation) or both fp32 (CUBLAS_COMPUTE_32F: no TF32). Plans per
// shape are cached.
class Gemm {
 public:
  explicit Gemm(int device);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;
  void run(const void* x, const void* w, bool bf16, int64_t n, int64_t k, int64_t m, float* c, bool accumulate,
           cudaStream_t st);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lsc::cuda
