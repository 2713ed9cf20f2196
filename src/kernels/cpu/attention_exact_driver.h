// The task structure of the fp32 precision's fast attention, shared by its AVX-512 and AVX2
// translation units (each includes it inside its own namespace, after defining the lane code):
// the reference's (attention_causal_rows in ops.cpp) arithmetic per (head, query), in blocks.
// It includes nothing itself: the including TU includes <algorithm>, <cmath>, <vector> first.
//
// Requires, in the including namespace (each the reference's operations in its order):
//   float score1(const float* q, const float* key, int64_t d);  // dot16(q, key)
//   void score16(const float* q, const float* k, int64_t s0, int64_t kv_stride, int64_t d,
//                float scale, float* p);  // p[s0 + i] = dot16(q, key s0 + i)·scale, i < 16
//   float row_max(const float* p, int64_t n);  // the reference's max: std::max over p[0..n)
//   void exp_shifted(float* p, int64_t n, float m);  // p[s] = std::exp(p[s] − m), s < n
//   template <int NV> void weighted_sum(const float* w, int64_t n_keys, const float* v,
//       int64_t kv_stride, int64_t left, float* acc);  // acc[i] += w[s]·v_s[i], s in order, over
//       NV vectors of kLanes floats from v (the last masked to `left`)
//   constexpr int64_t kLanes;  // floats per vector

// Queries per task: the task's query heads of one kv head (the GQA group) at kQueryRows
// consecutive positions share every block of K and V while it is in L1, instead of each (head,
// query) streaming all its keys from L2 on its own. Blocking changes no result: each (head,
// query) still computes its own scores, softmax and weighted sum in key order.
constexpr int64_t kQueryRows = 4;
constexpr int64_t kScoreKeys = 16;  // keys per score block (one score16)
constexpr int64_t kValueKeys = 32;  // keys per weighted-sum block

// acc[i] += w[s]·v_s[i] over the d elements of a head: 8, then 4, then 1 vectors at a time (the
// accumulators in registers while the keys pass).
inline void weighted_sum_head(const float* w, int64_t n_keys, const float* v, int64_t kv_stride, int64_t d, float* acc) {
  const int64_t n_vec = (d + kLanes - 1) / kLanes;
  int64_t j = 0;
  for (; j + 8 <= n_vec; j += 8) weighted_sum<8>(w, n_keys, v + kLanes * j, kv_stride, d - kLanes * j, acc + kLanes * j);
  for (; j + 4 <= n_vec; j += 4) weighted_sum<4>(w, n_keys, v + kLanes * j, kv_stride, d - kLanes * j, acc + kLanes * j);
  for (; j < n_vec; ++j) weighted_sum<1>(w, n_keys, v + kLanes * j, kv_stride, d - kLanes * j, acc + kLanes * j);
}

inline void attention_exact_driver(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first,
                                   int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out) {
  const int64_t group = n_heads / n_heads_kv;
  const int64_t q_stride = n_heads * head_dim, kv_stride = n_heads_kv * head_dim;
  const int64_t d = head_dim;
  const int64_t n_row_blocks = (n_q + kQueryRows - 1) / kQueryRows;
  const int64_t p_stride = (q_first + n_q + kScoreKeys + 15) / 16 * 16;
  const int64_t n_pairs_max = group * kQueryRows;
#pragma omp parallel
  {
    std::vector<float> p(static_cast<size_t>(n_pairs_max * p_stride));
    std::vector<float> acc(static_cast<size_t>(n_pairs_max * d));
    // Later queries see more keys: dynamic scheduling balances the triangle.
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < n_heads_kv * n_row_blocks; ++task) {
      const int64_t hk = task / n_row_blocks, r0 = task % n_row_blocks * kQueryRows;
      const int64_t n_rows = std::min(kQueryRows, n_q - r0), n_pairs = group * n_rows;
      const float* kh = k + hk * d;
      const float* vh = v + hk * d;
      // Pair i: query head hk·group + i / n_rows at row r0 + i % n_rows, position t.
      auto q_of = [&](int64_t i) { return q + (r0 + i % n_rows) * q_stride + (hk * group + i / n_rows) * d; };
      auto t_of = [&](int64_t i) { return q_first + r0 + i % n_rows; };
      // Scores: whole blocks of 16 keys every row sees, then each pair's last keys one by one.
      const int64_t t_min = q_first + r0;
      int64_t s0 = 0;
      for (; s0 + kScoreKeys <= t_min + 1; s0 += kScoreKeys) {
        for (int64_t i = 0; i < n_pairs; ++i) score16(q_of(i), kh, s0, kv_stride, d, scale, p.data() + i * p_stride);
      }
      for (int64_t i = 0; i < n_pairs; ++i) {
        float* pi = p.data() + i * p_stride;
        const float* qi = q_of(i);
        const int64_t t = t_of(i);
        for (int64_t s = s0; s <= t; ++s) pi[s] = score1(qi, kh + s * kv_stride, d) * scale;
        exp_shifted(pi, t + 1, row_max(pi, t + 1));  // the reference's e^(s − max)
      }
      // The reference's double sums, each in key order; four pairs' chains interleaved (they are
      // independent), then w = p·inv in place.
      for (int64_t i0 = 0; i0 < n_pairs; i0 += 4) {
        const int64_t n_g = std::min<int64_t>(4, n_pairs - i0);
        float* pg[4];
        int64_t len[4];
        double sum[4] = {0.0, 0.0, 0.0, 0.0};
        int64_t common = 0;
        for (int64_t g = 0; g < n_g; ++g) {
          pg[g] = p.data() + (i0 + g) * p_stride;
          len[g] = t_of(i0 + g) + 1;
        }
        if (n_g == 4) {
          common = std::min(std::min(len[0], len[1]), std::min(len[2], len[3]));
          for (int64_t s = 0; s < common; ++s) {
            sum[0] += static_cast<double>(pg[0][s]);
            sum[1] += static_cast<double>(pg[1][s]);
            sum[2] += static_cast<double>(pg[2][s]);
            sum[3] += static_cast<double>(pg[3][s]);
          }
        }
        for (int64_t g = 0; g < n_g; ++g) {
          for (int64_t s = common; s < len[g]; ++s) sum[g] += static_cast<double>(pg[g][s]);
          const float inv = static_cast<float>(1.0 / sum[g]);
          for (int64_t s = 0; s < len[g]; ++s) pg[g][s] *= inv;
        }
      }
      // Weighted sums of V, keys in blocks, each pair's accumulators kept between blocks.
      std::fill(acc.begin(), acc.begin() + n_pairs * d, 0.0f);
      const int64_t t_max = q_first + r0 + n_rows - 1;
      for (int64_t b0 = 0; b0 <= t_max; b0 += kValueKeys) {
        for (int64_t i = 0; i < n_pairs; ++i) {
          const int64_t n_keys = std::min(b0 + kValueKeys, t_of(i) + 1) - b0;
          if (n_keys > 0)
            weighted_sum_head(p.data() + i * p_stride + b0, n_keys, vh + b0 * kv_stride, kv_stride, d, acc.data() + i * d);
        }
      }
      for (int64_t i = 0; i < n_pairs; ++i)
        std::copy(acc.data() + i * d, acc.data() + (i + 1) * d, out + (r0 + i % n_rows) * q_stride + (hk * group + i / n_rows) * d);
    }
  }
}
