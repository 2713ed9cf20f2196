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
namespace avx2 {
void reduce_row(const float* l, int64_t vocab, int32_t target, int k, ReducedRow* out);
}

namespace {

#include "analysis/row_reduce_impl.h"

using ReduceRow = void (*)(const float* l, int64_t vocab, int32_t target, int k, ReducedRow* out);

void reduce_rows_by(ReduceRow fn, const float* logits, int64_t n_rows, int64_t vocab, const int32_t* targets,
                    int k, ReducedRow* out) {
  LSC_CHECK(vocab > 0 && k >= 0 && k <= kMaxTopK);
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t r = 0; r < n_rows; ++r)
    fn(logits + r * vocab, vocab, targets != nullptr ? targets[r] : -1, k, out + r);
}

// The reduction of an ISA of cpu_kernels' dispatch ("avx512", "avx2", "scalar"); null where the CPU
// cannot run it.
ReduceRow reduce_row_for(const char* isa) {
  if (cpu::cpu_kernels_for(isa) == nullptr) return nullptr;
  if (std::strcmp(isa, "avx512") == 0) return &avx512::reduce_row;
  if (std::strcmp(isa, "avx2") == 0) return &avx2::reduce_row;
  return &reduce_row_impl;
}

}  // namespace

void reduce_rows(const float* logits, int64_t n_rows, int64_t vocab, const int32_t* targets, int k,
                 ReducedRow* out) {
  static const ReduceRow fn = reduce_row_for(cpu::cpu_kernels().isa);
  reduce_rows_by(fn, logits, n_rows, vocab, targets, k, out);
}

bool reduce_rows_isa(const char* isa, const float* logits, int64_t n_rows, int64_t vocab, const int32_t* targets,
                     int k, ReducedRow* out) {
  const ReduceRow fn = reduce_row_for(isa);
  if (fn == nullptr) return false;
  reduce_rows_by(fn, logits, n_rows, vocab, targets, k, out);
  return true;
}

}  // namespace lsc::analysis
