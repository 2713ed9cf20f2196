// Element-wise and attention kernels in portable C++ (OpenMP over rows / heads). fp32 values,
// double where a long sum would otherwise lose digits.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/kernels.h"

namespace lsc::cpu {

namespace {

// Dot product with 16 independent partial sums: vectorisable without reassociation, and the
// same order on every call.
inline float dot16(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += a[k + j] * b[k + j];
  }
  for (int j = 0; k + j < n; ++j) acc[j] += a[k + j] * b[k + j];
  for (int s = 8; s >= 1; s /= 2) {
    for (int j = 0; j < s; ++j) acc[j] += acc[j + s];
  }
  return acc[0];
}

}  // namespace

namespace {

// 1 / sqrt(mean(x²) + eps) of one row; the squares summed in double by 8 interleaved partial sums
// combined in a fixed order (vectorisable, the same on every call).
inline float rms_inv(const float* xr, int64_t n, float eps) {
  double acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += static_cast<double>(xr[i + j]) * static_cast<double>(xr[i + j]);
  }
  for (int j = 0; i + j < n; ++j) acc[j] += static_cast<double>(xr[i + j]) * static_cast<double>(xr[i + j]);
  const double ss = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
  // transformers (LlamaRMSNorm/Qwen2RMSNorm): x * rsqrt(mean(x²) + eps), then weight * that.
  return static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + static_cast<double>(eps)));
}

}  // namespace

void rms_norm(const float* x, const float* w, int64_t n_rows, int64_t n, float eps, float* out) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * n;
    float* o = out + r * n;
    const float inv = rms_inv(xr, n, eps);
    for (int64_t i = 0; i < n; ++i) o[i] = w[i] * (xr[i] * inv);
  }
}

void rms_norm_bf16(const float* x, const float* w, int64_t n_rows, int64_t n, float eps, uint16_t* out) {
#pragma omp parallel
  {
    std::vector<float> row(static_cast<size_t>(n));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < n_rows; ++r) {
      const float* xr = x + r * n;
      const float inv = rms_inv(xr, n, eps);
      for (int64_t i = 0; i < n; ++i) row[static_cast<size_t>(i)] = w[i] * (xr[i] * inv);
      f32_to_bf16_rows(row.data(), out + r * n, n);
    }
  }
}

void apply_rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, const float* cos_t,
                const float* sin_t) {
  const int64_t half = head_dim / 2;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* c = cos_t + t * half;
    const float* s = sin_t + t * half;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + (t * n_heads + h) * head_dim;
      // HF rotate_half: pairs are (i, i + head_dim/2), not interleaved (2i, 2i+1).
      // out_i = x_i·cos_i − x_{i+half}·sin_i ; out_{i+half} = x_{i+half}·cos_i + x_i·sin_i
      for (int64_t i = 0; i < half; ++i) {
        const float a = v[i], b = v[i + half];
        v[i] = a * c[i] - b * s[i];
        v[i + half] = b * c[i] + a * s[i];
      }
    }
  }
}

void attention_causal_rows(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first,
                           int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out) {
  const int64_t group = n_heads / n_heads_kv;
  const int64_t q_stride = n_heads * head_dim, kv_stride = n_heads_kv * head_dim;
#pragma omp parallel
  {
    std::vector<float> p(static_cast<size_t>(q_first + n_q));
    std::vector<float> acc(static_cast<size_t>(head_dim));
    // Later queries see more keys: dynamic scheduling balances the triangle. Each (head, query)
    // is computed whole by one thread, so the schedule does not change any result.
#pragma omp for schedule(dynamic, 8)
    for (int64_t idx = 0; idx < n_heads * n_q; ++idx) {
      const int64_t h = idx / n_q, row = idx % n_q, t = q_first + row;  // t: the query's position
      const int64_t hk = h / group;
      const float* qv = q + row * q_stride + h * head_dim;
      float m = -INFINITY;
      for (int64_t s = 0; s <= t; ++s) {
        p[s] = dot16(qv, k + s * kv_stride + hk * head_dim, head_dim) * scale;
        m = std::max(m, p[s]);
      }
      double sum = 0.0;
      for (int64_t s = 0; s <= t; ++s) {
        p[s] = std::exp(p[s] - m);
        sum += static_cast<double>(p[s]);
      }
      const float inv = static_cast<float>(1.0 / sum);
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t s = 0; s <= t; ++s) {
        const float w = p[s] * inv;
        const float* vv = v + s * kv_stride + hk * head_dim;
        for (int64_t i = 0; i < head_dim; ++i) acc[i] += w * vv[i];
      }
      std::copy(acc.begin(), acc.end(), out + row * q_stride + h * head_dim);
    }
  }
}

float swiglu_one(float gate, float up) { return gate / (1.0f + std::exp(-gate)) * up; }

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = swiglu_one(gate[i], up[i]);
}

void add_inplace(float* x, const float* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace lsc::cpu
