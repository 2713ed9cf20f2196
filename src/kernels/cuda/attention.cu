// Causal grouped-query attention of the GPU backend, flash-style: a block serves kBq query rows of
// one head (4 warps, kBq / 4 rows each); keys and values come through shared memory in tiles of
// kBk = 32 (one key per lane for the scores), causal tiles past the block's last query skipped;
// per row an online softmax in fp32 (running max, rescaled sum and output). No row of T scores is
// ever held, so memory does not grow with T beyond the KV cache.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/cuda/kernels_cuda.h"

namespace lsc::cuda {

namespace {

constexpr int kBq = 16, kBk = 32, kWarps = 4, kRowsPerWarp = kBq / kWarps;

size_t shared_bytes(int d) { return sizeof(float) * size_t(kBk * (d + 1) + kBk * d + kBq * d); }

template <int D>
__global__ void __launch_bounds__(kWarps * 32)
    attention_kernel(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first, int heads,
                     int kv_heads, float scale, float* out) {
  constexpr int DL = (D + 31) / 32;  // output dims per lane
  extern __shared__ float smem[];
  float* ks = smem;                   // [kBk][D + 1] (padded: lane j reads row j without bank conflicts)
  float* vs = ks + kBk * (D + 1);     // [kBk][D]
  float* qs = vs + kBk * D;           // [kBq][D]
  const int h = blockIdx.y, hk = h / (heads / kv_heads);
  const int64_t i0 = int64_t(blockIdx.x) * kBq;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t q_stride = int64_t(heads) * D, kv_stride = int64_t(kv_heads) * D;
  for (int idx = threadIdx.x; idx < kBq * D; idx += blockDim.x) {
    const int r = idx / D, c = idx % D;
    const int64_t i = i0 + r;
    qs[idx] = i < n_q ? q[i * q_stride + int64_t(h) * D + c] : 0.0f;
  }
  float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][DL];
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    m[rr] = -INFINITY;
    l[rr] = 0.0f;
    for (int t = 0; t < DL; ++t) acc[rr][t] = 0.0f;
  }
  const int64_t i_last = (i0 + kBq < n_q ? i0 + kBq : n_q) - 1;
  const int64_t n_keys = q_first + i_last + 1;  // keys the block's last query sees
  for (int64_t k0 = 0; k0 < n_keys; k0 += kBk) {
    __syncthreads();  // the previous tile is consumed (and, the first time, q is loaded)
    for (int idx = threadIdx.x; idx < kBk * D; idx += blockDim.x) {
      const int j = idx / D, c = idx % D;
      const int64_t key = k0 + j;
      const bool in = key < n_keys;
      ks[j * (D + 1) + c] = in ? k[key * kv_stride + int64_t(hk) * D + c] : 0.0f;
      vs[j * D + c] = in ? v[key * kv_stride + int64_t(hk) * D + c] : 0.0f;
    }
    __syncthreads();
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
      const int r = warp * kRowsPerWarp + rr;
      const int64_t i = i0 + r;
      const int64_t pos = q_first + i;
      if (i >= n_q || k0 > pos) continue;  // the same for every lane of the warp
      const int64_t key = k0 + lane;
      const bool valid = key <= pos;
      float s = -INFINITY;
      if (valid) {
        float dot = 0.0f;
        const float* qr = qs + r * D;
        const float* kr = ks + lane * (D + 1);
#pragma unroll 8
        for (int c = 0; c < D; ++c) dot = fmaf(qr[c], kr[c], dot);
        s = dot * scale;
      }
      float mx = s;
      for (int o = 16; o > 0; o /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
      const float m_new = fmaxf(m[rr], mx);  // finite: key k0 ≤ pos is valid
      const float p = valid ? expf(s - m_new) : 0.0f;
      float ps = p;
      for (int o = 16; o > 0; o /= 2) ps += __shfl_xor_sync(0xffffffffu, ps, o);
      const float alpha = expf(m[rr] - m_new);  // 0 for the first tile (m = −inf)
      l[rr] = l[rr] * alpha + ps;
      m[rr] = m_new;
      for (int t = 0; t < DL; ++t) acc[rr][t] *= alpha;
      for (int j = 0; j < kBk; ++j) {
        const float pj = __shfl_sync(0xffffffffu, p, j);
        const float* vr = vs + j * D;
        for (int t = 0; t < DL; ++t) {
          const int c = lane + 32 * t;
          if (c < D) acc[rr][t] = fmaf(pj, vr[c], acc[rr][t]);
        }
      }
    }
  }
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int64_t i = i0 + warp * kRowsPerWarp + rr;
    if (i >= n_q) continue;
    const float inv = 1.0f / l[rr];
    float* o = out + i * q_stride + int64_t(h) * D;
    for (int t = 0; t < DL; ++t) {
      const int c = lane + 32 * t;
      if (c < D) o[c] = acc[rr][t] * inv;
    }
  }
}

template <int D>
void launch(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first, int64_t heads,
            int64_t kv_heads, float scale, float* out, cudaStream_t st) {
  const size_t bytes = shared_bytes(D);
  if (bytes > 48 * 1024) {
    static bool raised = false;  // per template instance; benign if two threads both raise it
    if (!raised) {
      LSC_CUDA_CHECK(cudaFuncSetAttribute(attention_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
      raised = true;
    }
  }
  const dim3 grid(unsigned((n_q + kBq - 1) / kBq), unsigned(heads));
  attention_kernel<D><<<grid, kWarps * 32, bytes, st>>>(q, k, v, n_q, q_first, int(heads), int(kv_heads), scale, out);
  LSC_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void attention(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first, int64_t heads,
               int64_t kv_heads, int64_t d, float scale, float* out, cudaStream_t st) {
  if (n_q <= 0) return;
  LSC_CHECK(heads % kv_heads == 0 && heads < 65536);
  switch (d) {
    case 8: return launch<8>(q, k, v, n_q, q_first, heads, kv_heads, scale, out, st);
    case 16: return launch<16>(q, k, v, n_q, q_first, heads, kv_heads, scale, out, st);
    case 32: return launch<32>(q, k, v, n_q, q_first, heads, kv_heads, scale, out, st);
    case 64: return launch<64>(q, k, v, n_q, q_first, heads, kv_heads, scale, out, st);
    case 80: return launch<80>(q, k, v, n_q, q_first, heads, kv_heads, scale, out, st);
    case 96: return launch<96>(q, k, v, n_q, q_first, heads, kv_heads, scale, out, st);
    case 128: return launch<128>(q, k, v, n_q, q_first, heads, kv_heads, scale, out, st);
    case 256: return launch<256>(q, k, v, n_q, q_first, heads, kv_heads, scale, out, st);
    default:
      throw DeviceError("the CUDA attention kernel has no variant for head_dim " + std::to_string(d) +
                        " (it has 8, 16, 32, 64, 80, 96, 128, 256): use --device cpu for this model");
  }
}

}  // namespace lsc::cuda
