// Single-pass reduction of logits rows to the per-position statistics (log-partition, entropy,
// argmax, the observed token's logit and rank, top-k), rows spread over OpenMP threads. The fast
// companion of row_stats / rank_of / top_k in token_metrics.h, which stay the reference; tests
// compare the two (rank, argmax and top-k exactly; logsumexp and entropy within 1e-6).
//
// One read of each row: a running maximum with rescaled sums (S = Σ e^{l−m}, E = Σ e^{l−m}(l−m)),
// 16 independent lanes merged in a fixed order, exp in float (relative error < 4e-7), sums in
// double. Every row is reduced by one thread, so results do not depend on the thread count.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "analysis/token_metrics.h"

namespace lsc::analysis {

inline constexpr int kMaxTopK = 64;

// A row's reference statistics (RowStats: log-partition, entropy, argmax) with what the single
// pass also finds: the observed token's logit and rank, and the top-k. position_metrics.h turns it
// into the stored RowSummary.
struct ReducedRow : RowStats {
  float target_logit = 0.0f;  // l[target] (0 if no target)
  int64_t rank = 0;           // 1 + #{j : l_j > l[target]} (0 if no target)
  int n_top = 0;
  std::pair<int32_t, float> top[kMaxTopK];  // descending, ties by smaller id
  double logprob() const { return static_cast<double>(target_logit) - logsumexp; }
};

// Reduces rows [0, n_rows) of logits [n_rows, vocab]. targets[r] is the observed token for row r,
// or −1 for none (targets may be null: no target anywhere). k ≤ kMaxTopK.
void reduce_rows(const float* logits, int64_t n_rows, int64_t vocab, const int32_t* targets, int k,
                 ReducedRow* out);
// The same through one ISA's code ("avx512", "avx2" or "scalar", the portable build), whatever
// the dispatch chose; false, with nothing written, where the CPU cannot run it. For tests, so each
// ISA's code is checked on the machines that can run it.
bool reduce_rows_isa(const char* isa, const float* logits, int64_t n_rows, int64_t vocab, const int32_t* targets,
                     int k, ReducedRow* out);

}  // namespace lsc::analysis
