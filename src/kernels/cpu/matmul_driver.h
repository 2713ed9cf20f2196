// The blocking shared by every ISA's matmul: tasks of up to 256 activation rows × one block of 16
// weight rows, the block converted to fp32 once per task and multiplied in tiles of 64 rows, the
// tasks spread over OpenMP threads in one loop. Each output element is one dot product computed by
// one thread in a fixed k-order, whatever the tiling or thread count.
// Included by exactly one TU per ISA, inside that TU's own namespace (no ODR sharing across ISAs).
// It includes nothing itself: the including TU includes <algorithm>, <vector> and kernels.h first.

// Requires, in the including namespace:
//   void tile_dot(const float* x, int64_t n_x, const float* w, int64_t n_w, int64_t k,
//                 float* out, int64_t out_stride);  // out[i*out_stride + j] = x_i · w_j
//   with n_x <= 64 and n_w <= 16.
inline void matmul_driver(const lsc::cpu::MatmulArgs& a) {
  using lsc::cpu::WType;
  constexpr int64_t kTileT = 64;    // rows per tile_dot call: 64·K·4 bytes stay in L2 for K ≤ 4k
  constexpr int64_t kTaskT = 256;   // rows per task: a weight block is converted once for these
  constexpr int64_t kBlockN = 16;   // weight rows converted together
  const int64_t n_t = a.n_rows, n_n = a.w.rows, n_k = a.w.cols;
  if (n_t == 0 || n_n == 0) return;
  const int64_t n_blocks = (n_n + kBlockN - 1) / kBlockN;
  const int64_t n_tasks = (n_t + kTaskT - 1) / kTaskT * n_blocks;
#pragma omp parallel
  {
    std::vector<float> wbuf(a.w.type == WType::F32 ? 0 : static_cast<size_t>(kBlockN * n_k));
    // Row-task-major: the threads share one task's activation rows (in L3) while they convert
    // and multiply different weight blocks. Dynamic, so a core slowed by other work does not hold
    // the others back; which thread computes a task changes no result.
#pragma omp for schedule(dynamic, 4)
    for (int64_t task = 0; task < n_tasks; ++task) {
      const int64_t t_begin = task / n_blocks * kTaskT, t_end = std::min(n_t, t_begin + kTaskT);
      const int64_t n0 = task % n_blocks * kBlockN;
      const int64_t n_rows_w = std::min(kBlockN, n_n - n0);
      const float* w;
      if (a.w.type == WType::F32) {
        w = static_cast<const float*>(a.w.data) + n0 * n_k;
      } else {
        for (int64_t j = 0; j < n_rows_w; ++j) convert_block_row(a.w, n0 + j, wbuf.data() + j * n_k);
        w = wbuf.data();
      }
      for (int64_t t0 = t_begin; t0 < t_end; t0 += kTileT) {
        const int64_t n_tile = std::min(kTileT, t_end - t0);
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
