// Everything measured at one position from one model's logits row (DESIGN §2): observed token's
// log p and rank, entropy, top-k with tail mass, top-1 margin, and each keyword family's
// propensity. One call per row; fp32 logits in, double sums. Divergences between two models'
// rows: divergence.h.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "analysis/keywords.h"

namespace lsc::analysis {

struct RowSummary {
  double logsumexp = 0.0;
  double entropy_nats = 0.0;
  double logprob = 0.0;          // of the observed next token
  int64_t rank = 0;              // 1 + #{j : l_j > l_observed}
  int32_t top1 = 0;
  double top1_margin = 0.0;      // log p(top1) − log p(top2), nats
  double tail_mass = 0.0;        // 1 − Σ p over the top-k
  std::vector<int32_t> topk_ids;
  std::vector<float> topk_logprobs;
  std::vector<float> propensity;  // per family: Σ p over its id set
};

// `observed` is the token the row is scored against (x_t for row t−1).
void summarize_row(std::span<const float> logits, int32_t observed, int n_top,
                   const std::vector<KeywordFamily>& families, RowSummary* out);

// Rows [0, n_rows) of logits [n_rows, vocab], row r scored against observed[r]; rows spread over
// OpenMP threads, each reduced whole by one thread (results do not depend on the thread count).
// One read per row through reduce_rows (row_reduce.h) where n_top ≤ kMaxTopK; summarize_row
// otherwise. Against summarize_row: rank, top-1 and top-k ids exactly equal, log-probabilities
// and entropy within 1e-6 (tests/analysis/position_metrics_test.cpp).
void summarize_rows(const float* logits, int64_t n_rows, int64_t vocab, const int32_t* observed, int n_top,
                    const std::vector<KeywordFamily>& families, RowSummary* out);

}  // namespace lsc::analysis
