// The row reduction itself, included by row_reduce.cpp (baseline ISA) and row_reduce_avx512.cpp
// (compiled with AVX-512 flags) inside their own namespaces; the including TU includes
// <algorithm>, <cmath>, <cstring> and row_reduce.h first. Plain loops over 16 fixed lanes: the
// compiler vectorises them at either width without reassociating (ISO C++ mode: no FMA
// contraction), so both TUs compute the same values.

constexpr int kLanes = 16;
constexpr int64_t kBlock = 2048;

// e^z for z ≤ 0 in float: z = n·ln2 + r, |r| ≤ ln2/2, e^r by its degree-6 Taylor polynomial
// (truncation ≤ 0.347^7/7! ≈ 1.2e-7 relative), 2^n through the exponent bits. Below −87 the true
// value is under 1.7e-38 and is returned as 0.
inline float exp_nonpos(float z) {
  const float zc = z < -87.0f ? -87.0f : z;
  const float t = zc * 1.44269504088896341f;
  const int n = static_cast<int>(t - 0.5f);  // t ≤ 0: truncation of t − ½ rounds to nearest
  const float nf = static_cast<float>(n);
  const float r = (zc - nf * 0.693145751953125f) - nf * 1.428606765330187045e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const uint32_t bits = static_cast<uint32_t>(n + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return z < -87.0f ? 0.0f : p * scale;
}

struct TopK {
  int k = 1, n = 0;
  std::pair<int32_t, float> v[kMaxTopK];
  // Current entry threshold: a value must exceed it (equal values arrive with larger ids).
  float threshold() const { return n < k ? -INFINITY : v[n - 1].second; }
  void offer(int32_t id, float x) {
    if (n == k && !(x > v[n - 1].second)) return;
    int i = n < k ? n++ : n - 1;
    while (i > 0 && x > v[i - 1].second) {
      v[i] = v[i - 1];
      --i;
    }
    v[i] = {id, x};
  }
  // Offers a block of logits x[0, len) (ids from b0) whose maximum is m: scanned only if m
  // reaches the threshold (rare once k values are in).
  void offer_block(const float* x, int64_t len, int64_t b0, float m) {
    if (!(m > threshold())) return;
    for (int64_t t = 0; t < len; ++t) {
      if (x[t] > threshold()) offer(static_cast<int32_t>(b0 + t), x[t]);
    }
  }
};

// The row's statistics from its merged sums — S = Σ e^{l−M}, E = Σ e^{l−M}(l−M) against the final
// maximum M, and the count of logits above the target's — and its top-k; shared by every ISA's
// reduction.
inline void finish_row(float run_max, double S, double E, int64_t greater, bool has_target, float tl,
                       const TopK& top, int k, ReducedRow* out) {
  ReducedRow s;
  s.logsumexp = static_cast<double>(run_max) + std::log(S);
  s.entropy_nats = std::log(S) - E / S;
  s.argmax = top.v[0].first;
  if (has_target) {
    s.target_logit = tl;
    s.rank = greater + 1;
  }
  s.n_top = std::min(k, top.n);
  for (int j = 0; j < s.n_top; ++j) s.top[j] = top.v[j];
  *out = s;
}

inline void reduce_row_impl(const float* l, int64_t vocab, int32_t target, int k, ReducedRow* out) {
  const bool has_target = target >= 0;
  const float tl = has_target ? l[target] : 0.0f;
  TopK top;
  top.k = std::max(1, k);
  float run_max = -INFINITY;
  double sum[kLanes] = {}, sum_ez[kLanes] = {};
  int64_t greater[kLanes] = {};
  for (int64_t b0 = 0; b0 < vocab; b0 += kBlock) {
    const int64_t n = std::min(kBlock, vocab - b0);
    const float* x = l + b0;
    // Look 1: block maximum and rank count.
    float bmax[kLanes];
    std::fill(bmax, bmax + kLanes, -INFINITY);
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
      for (int j = 0; j < kLanes; ++j) {
        bmax[j] = x[i + j] > bmax[j] ? x[i + j] : bmax[j];
        greater[j] += x[i + j] > tl ? 1 : 0;
      }
    }
    for (int j = 0; i + j < n; ++j) {
      bmax[j] = x[i + j] > bmax[j] ? x[i + j] : bmax[j];
      greater[j] += x[i + j] > tl ? 1 : 0;
    }
    float m = bmax[0];
    for (int j = 1; j < kLanes; ++j) m = bmax[j] > m ? bmax[j] : m;
    top.offer_block(x, n, b0, m);
    if (m > run_max) {  // rescale: e^{l−M} = e^{l−M'}·e^{M'−M}, (l−M) = (l−M') + (M'−M)
      if (run_max != -INFINITY) {
        const double d = static_cast<double>(run_max) - static_cast<double>(m);  // < 0
        const double c = std::exp(d);
        for (int j = 0; j < kLanes; ++j) {
          sum_ez[j] = c * (sum_ez[j] + d * sum[j]);
          sum[j] *= c;
        }
      }
      run_max = m;
    }
    // Look 2 (from L1): exponential sums against the running maximum.
    i = 0;
    for (; i + kLanes <= n; i += kLanes) {
      for (int j = 0; j < kLanes; ++j) {
        const float z = x[i + j] - run_max;
        const float e = exp_nonpos(z);
        sum[j] += static_cast<double>(e);
        sum_ez[j] += static_cast<double>(e * z);
      }
    }
    for (int j = 0; i + j < n; ++j) {
      const float z = x[i + j] - run_max;
      const float e = exp_nonpos(z);
      sum[j] += static_cast<double>(e);
      sum_ez[j] += static_cast<double>(e * z);
    }
  }
  double S = 0.0, E = 0.0;
  int64_t g = 0;
  for (int j = 0; j < kLanes; ++j) {
    S += sum[j];
    E += sum_ez[j];
    g += greater[j];
  }
  finish_row(run_max, S, E, g, has_target, tl, top, k, out);
}
