// The measuring step's row reductions on the GPU (kernels_cuda.h): one block per logits row, so a
// row's result does not depend on the rows around it. exp in float where only a probability is
// needed, sums in double, as the CPU's reduce_rows and compare_rows (analysis/).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/cuda/kernels_cuda.h"
#include "kernels/js_shape.h"

namespace lsc::cuda {

namespace {

constexpr int kThreads = 256;

template <class T, class Op>
__device__ T block_reduce(T v, T* shared, Op op) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s /= 2) {
    if (int(threadIdx.x) < s) shared[threadIdx.x] = op(shared[threadIdx.x], shared[threadIdx.x + s]);
    __syncthreads();
  }
  const T out = shared[0];
  __syncthreads();
  return out;
}

struct Entry {
  float v;
  int32_t id;
};
// The order of the top-k: larger value first, equal values by smaller id.
__device__ __forceinline__ bool before(Entry a, Entry b) { return a.v > b.v || (a.v == b.v && a.id < b.id); }

__global__ void reduce_rows_kernel(const float* logits, int64_t vocab, const int32_t* targets, int k,
                                   const int32_t* fam_ids, const int64_t* fam_off, int n_fam, RowStatsGpu* out,
                                   double* prop) {
  __shared__ double sd[kThreads];
  __shared__ float sf[kThreads];
  __shared__ long long si[kThreads];
  __shared__ Entry se[kThreads];
  const int64_t r = blockIdx.x;
  const float* l = logits + r * vocab;
  float mx = -INFINITY;
  for (int64_t j = threadIdx.x; j < vocab; j += kThreads) mx = fmaxf(mx, l[j]);
  mx = block_reduce(mx, sf, [](float a, float b) { return fmaxf(a, b); });
  const int32_t target = targets != nullptr ? targets[r] : -1;
  const float lt = target >= 0 ? l[target] : 0.0f;
  double s = 0.0, e = 0.0;
  long long above = 0;
  for (int64_t j = threadIdx.x; j < vocab; j += kThreads) {
    const float z = l[j] - mx;
    const float p = expf(z);
    s += double(p);
    e += double(p) * double(z);
    above += target >= 0 && l[j] > lt;
  }
  s = block_reduce(s, sd, [](double a, double b) { return a + b; });
  e = block_reduce(e, sd, [](double a, double b) { return a + b; });
  above = block_reduce(above, si, [](long long a, long long b) { return a + b; });
  const double lse = double(mx) + log(s);
  RowStatsGpu& o = out[r];
  if (threadIdx.x == 0) {
    o.logsumexp = lse;
    o.entropy = log(s) - e / s;
    o.target_logit = double(lt);
    o.rank = target >= 0 ? 1 + above : 0;
  }
  // Top-k: k rounds, each the best entry after the previous pick in the order.
  Entry prev{INFINITY, -1};
  for (int t = 0; t < k && t < vocab; ++t) {
    Entry best{-INFINITY, 0x7fffffff};
    for (int64_t j = threadIdx.x; j < vocab; j += kThreads) {
      const Entry c{l[j], int32_t(j)};
      if ((t == 0 || before(prev, c)) && (best.id == 0x7fffffff || before(c, best))) best = c;
    }
    best = block_reduce(best, se, [](Entry a, Entry b) {
      if (a.id == 0x7fffffff) return b;
      if (b.id == 0x7fffffff) return a;
      return before(a, b) ? a : b;
    });
    if (threadIdx.x == 0) {
      o.top_ids[t] = best.id;
      o.top_logits[t] = best.v;
    }
    prev = best;
  }
  for (int f = 0; f < n_fam; ++f) {
    double pf = 0.0;
    for (int64_t i = fam_off[f] + threadIdx.x; i < fam_off[f + 1]; i += kThreads) {
      const int32_t id = fam_ids[i];
      if (id >= 0 && id < vocab) pf += exp(double(l[id]) - lse);
    }
    pf = block_reduce(pf, sd, [](double a, double b) { return a + b; });
    if (threadIdx.x == 0) prop[r * n_fam + f] = pf;
  }
}

__global__ void pair_sums_kernel(const float* a, const float* b, int64_t vocab, const double* lse_a,
                                 const double* lse_b, double* sums) {
  __shared__ double sd[kThreads];
  __shared__ int si[kThreads];
  const int64_t r = blockIdx.x;
  const float* la = a + r * vocab;
  const float* lb = b + r * vocab;
  const float fa = float(lse_a[r]), fb = float(lse_b[r]), dlse = float(lse_a[r] - lse_b[r]);
  double s_pa = 0, s_pb = 0, s_pa_d = 0, s_pb_d = 0, s_js = 0, tv = 0;
  int differ = 0;
  for (int64_t j = threadIdx.x; j < vocab; j += kThreads) {
    const float pa = expf(la[j] - fa), pb = expf(lb[j] - fb);
    const double d = double(la[j]) - double(lb[j]);
    differ |= la[j] != lb[j];
    s_pa += double(pa);
    s_pb += double(pb);
    s_pa_d += double(pa) * d;
    s_pb_d += double(pb) * d;
    if (pa + pb > 0.0f) {  // Jensen-Shannon from the log-ratio, as the CPU (kernels/js_shape.h)
      const float y = 0.5f * fabsf((la[j] - lb[j]) - dlse);
      const float t = y < 0.4f ? 0.0f : expf(-2.0f * y);
      s_js += double((pa + pb) * kernels::js_shape<float>(y, t, log1pf(t)));
    }
    tv += fabs(double(pa) - double(pb));
  }
  const auto add = [](double x, double y) { return x + y; };
  double* o = sums + r * 7;
  s_pa = block_reduce(s_pa, sd, add);
  s_pb = block_reduce(s_pb, sd, add);
  s_pa_d = block_reduce(s_pa_d, sd, add);
  s_pb_d = block_reduce(s_pb_d, sd, add);
  s_js = block_reduce(s_js, sd, add);
  tv = block_reduce(tv, sd, add);
  differ = block_reduce(differ, si, [](int x, int y) { return x | y; });
  if (threadIdx.x == 0) {
    o[0] = s_pa, o[1] = s_pb, o[2] = s_pa_d, o[3] = s_pb_d, o[4] = s_js, o[5] = tv, o[6] = differ;
  }
}

}  // namespace

void reduce_rows(const float* logits, int64_t rows, int64_t vocab, const int32_t* targets, int k,
                 const int32_t* fam_ids, const int64_t* fam_off, int n_fam, RowStatsGpu* out, double* prop,
                 cudaStream_t st) {
  if (rows <= 0) return;
  LSC_CHECK(k >= 1 && k <= kMaxTopK && rows <= 0x7fffffff);
  reduce_rows_kernel<<<unsigned(rows), kThreads, 0, st>>>(logits, vocab, targets, k, fam_ids, fam_off, n_fam, out,
                                                           prop);
  LSC_CUDA_CHECK(cudaGetLastError());
}

void pair_sums(const float* a, const float* b, int64_t rows, int64_t vocab, const double* lse_a,
               const double* lse_b, double* sums, cudaStream_t st) {
  if (rows <= 0) return;
  pair_sums_kernel<<<unsigned(rows), kThreads, 0, st>>>(a, b, vocab, lse_a, lse_b, sums);
  LSC_CUDA_CHECK(cudaGetLastError());
}

}  // namespace lsc::cuda
