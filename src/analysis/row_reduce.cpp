// One read of each logits row, in blocks of 2048 that stay in L1 for their second look: block
// maximum, rank count and a top-k check; then the exponential sums against the running maximum
// (rescaled when a block raises it). Loops over 16 fixed lanes so the compiler vectorises them
// without reassociating anything; lanes are merged in a fixed order.
#include "analysis/row_reduce.h"
#include "kernels/cpu/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "io/error.h"

namespace lsc::analysis {
namespace avx512 {
void reduce_row(const float* l, int64_t vocab, int32_t target, int k, ReducedRow* out);
}

namespace {

#include "analysis/row_reduce_impl.h"

}  // namespace

void reduce_rows(const float* logits, int64_t n_rows, int64_t vocab, const int32_t* targets, int k,
                 ReducedRow* out) {
  LSC_CHECK(vocab > 0 && k >= 0 && k <= kMaxTopK);
  auto* const fn = cpu::cpu_kernels().avx512 ? &avx512::reduce_row : &reduce_row_impl;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t r = 0; r < n_rows; ++r)
    fn(logits + r * vocab, vocab, targets != nullptr ? targets[r] : -1, k, out + r);
}

void reduce_rows_portable(const float* logits, int64_t n_rows, int64_t vocab,
                          const int32_t* targets, int k, ReducedRow* out) {
  LSC_CHECK(vocab > 0 && k >= 0 && k <= kMaxTopK);
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t r = 0; r < n_rows; ++r) {
    reduce_row_impl(logits + r * vocab, vocab, targets != nullptr ? targets[r] : -1, k, out + r);
  }
}

}  // namespace lsc::analysis
