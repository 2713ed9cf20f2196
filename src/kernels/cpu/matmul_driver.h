// The blocking shared by every ISA's matmul: tiles of 64 activation rows, blocks of 16 weight rows
// converted to fp32 once per tile, blocks spread over OpenMP threads. Each output element is one
// dot product computed by one thread in a fixed k-order, whatever the tiling or thread count.
// Included by exactly one TU per ISA, inside that TU's own namespace (no ODR sharing across ISAs).
// It includes nothing itself: the including TU includes <algorithm>, <vector> and kernels.h first.

// Requires, in the including namespace:
//   void tile_dot(const float* x, int64_t n_x, const float* w, int64_t n_w, int64_t k,
//                 float* out, int64_t out_stride);  // out[i*out_stride + j] = x_i · w_j
inline void matmul_driver(const lsc::cpu::MatmulArgs& a) {
  using lsc::cpu::WType;
  constexpr int64_t kTileT = 64;   // activation rows per tile: 64·K·4 bytes stay in L2 for K ≤ 4k
  constexpr int64_t kBlockN = 16;  // weight rows converted together
  const int64_t n_t = a.n_rows, n_n = a.w.rows, n_k = a.w.cols;
  if (n_t == 0 || n_n == 0) return;
  const int64_t n_blocks = (n_n + kBlockN - 1) / kBlockN;
#pragma omp parallel
  {
    std::vector<float> wbuf(a.w.type == WType::F32 ? 0 : static_cast<size_t>(kBlockN * n_k));
    for (int64_t t0 = 0; t0 < n_t; t0 += kTileT) {
      const int64_t n_tile = std::min(kTileT, n_t - t0);
#pragma omp for schedule(static)
      for (int64_t b = 0; b < n_blocks; ++b) {
        const int64_t n0 = b * kBlockN;
        const int64_t n_rows_w = std::min(kBlockN, n_n - n0);
        const float* w;
        if (a.w.type == WType::F32) {
          w = static_cast<const float*>(a.w.data) + n0 * n_k;
        } else {
          for (int64_t j = 0; j < n_rows_w; ++j) convert_block_row(a.w, n0 + j, wbuf.data() + j * n_k);
          w = wbuf.data();
        }
        float* out = a.out + t0 * n_n + n0;
        tile_dot(a.x + t0 * n_k, n_tile, w, n_rows_w, n_k, out, n_n);
        if (a.bias != nullptr) {
          for (int64_t i = 0; i < n_tile; ++i) {
            for (int64_t j = 0; j < n_rows_w; ++j) out[i * n_n + j] += a.bias[n0 + j];
          }
        }
      }
    }
  }
}
