// Element-wise kernels, RMSNorm and RoPE of the GPU backend (kernels_cuda.h). The arithmetic
// follows the CPU kernels (kernels/cpu/ops.cpp): fp32 values, RMSNorm's squares summed in double,
// w ⊙ (x · inv) in that order, RoPE angles float(pos) · inv_freq in fp32.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/kernels_cuda.h"

namespace lsc::cuda {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float bf16_to_f32(uint16_t b) { return __uint_as_float(uint32_t(b) << 16); }

// Round to nearest even (NaN stays a quiet NaN), as the CPU's f32_to_bf16.
__device__ __forceinline__ uint16_t f32_to_bf16(float f) {
  const uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ float load_as_f32(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::F16: return __half2float(static_cast<const __half*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

unsigned blocks_for(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

__global__ void embed_kernel(const void* table, DType type, int64_t cols, const int32_t* ids, int64_t n, float* out) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= n * cols) return;
  const int64_t r = idx / cols, c = idx % cols;
  out[idx] = load_as_f32(table, type, int64_t(ids[r]) * cols + c);
}

__global__ void widen_kernel(const void* w, DType type, int64_t n, float* out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = load_as_f32(w, type, i);
}

__global__ void to_bf16_kernel(const float* x, uint16_t* out, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = f32_to_bf16(x[i]);
}

// One block per row.
__global__ void rms_norm_kernel(const float* x, const float* w, int64_t n, float eps, float* out, uint16_t* out16) {
  __shared__ double part[kThreads];
  const float* xr = x + int64_t(blockIdx.x) * n;
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += double(xr[i]) * double(xr[i]);
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s /= 2) {
    if (int(threadIdx.x) < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  const float inv = float(1.0 / sqrt(part[0] / double(n) + double(eps)));
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float y = w[i] * (xr[i] * inv);
    if (out16 != nullptr) {
      out16[int64_t(blockIdx.x) * n + i] = f32_to_bf16(y);
    } else {
      out[int64_t(blockIdx.x) * n + i] = y;
    }
  }
}

__global__ void add_bias_kernel(float* y, const float* b, int64_t rows, int64_t n) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx < rows * n) y[idx] += b[idx % n];
}

__global__ void rope_kernel(float* x, int64_t rows, int64_t heads, int64_t d, const float* inv_freq, int64_t pos0) {
  const int64_t half = d / 2;
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= rows * heads * half) return;
  const int64_t i = idx % half, rh = idx / half, r = rh / heads;
  const float angle = float(pos0 + r) * inv_freq[i];
  const float c = cosf(angle), s = sinf(angle);
  float* v = x + rh * d;
  const float a = v[i], b = v[i + half];
  v[i] = a * c - b * s;
  v[i + half] = b * c + a * s;
}

__global__ void swiglu_kernel(const float* gate, const float* up, int64_t n, float* out) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float g = gate[i];
  out[i] = g / (1.0f + expf(-g)) * up[i];
}

}  // namespace

int64_t dtype_bytes(DType t) { return t == DType::F32 ? 4 : 2; }

void embed_rows(const void* table, DType type, int64_t cols, const int32_t* ids, int64_t n, float* out,
                cudaStream_t st) {
  if (n <= 0) return;
  embed_kernel<<<blocks_for(n * cols), kThreads, 0, st>>>(table, type, cols, ids, n, out);
  LSC_CUDA_CHECK(cudaGetLastError());
}

void widen_f32(const void* w, DType type, int64_t n, float* out, cudaStream_t st) {
  if (n <= 0) return;
  widen_kernel<<<unsigned(std::min<int64_t>(blocks_for(n), 65535)), kThreads, 0, st>>>(w, type, n, out);
  LSC_CUDA_CHECK(cudaGetLastError());
}

void to_bf16(const float* x, uint16_t* out, int64_t n, cudaStream_t st) {
  if (n <= 0) return;
  to_bf16_kernel<<<unsigned(std::min<int64_t>(blocks_for(n), 65535)), kThreads, 0, st>>>(x, out, n);
  LSC_CUDA_CHECK(cudaGetLastError());
}

void rms_norm(const float* x, const float* w, int64_t rows, int64_t n, float eps, float* out, uint16_t* out16,
              cudaStream_t st) {
  if (rows <= 0) return;
  LSC_CHECK(rows <= 0x7fffffff);
  rms_norm_kernel<<<unsigned(rows), kThreads, 0, st>>>(x, w, n, eps, out, out16);
  LSC_CUDA_CHECK(cudaGetLastError());
}

void add_bias(float* y, const float* b, int64_t rows, int64_t n, cudaStream_t st) {
  if (rows <= 0) return;
  add_bias_kernel<<<blocks_for(rows * n), kThreads, 0, st>>>(y, b, rows, n);
  LSC_CUDA_CHECK(cudaGetLastError());
}

void rope(float* x, int64_t rows, int64_t heads, int64_t d, const float* inv_freq, int64_t pos0, cudaStream_t st) {
  if (rows <= 0) return;
  rope_kernel<<<blocks_for(rows * heads * (d / 2)), kThreads, 0, st>>>(x, rows, heads, d, inv_freq, pos0);
  LSC_CUDA_CHECK(cudaGetLastError());
}

void swiglu(const float* gate, const float* up, int64_t n, float* out, cudaStream_t st) {
  if (n <= 0) return;
  swiglu_kernel<<<blocks_for(n), kThreads, 0, st>>>(gate, up, n, out);
  LSC_CUDA_CHECK(cudaGetLastError());
}

}  // namespace lsc::cuda
