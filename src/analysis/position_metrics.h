// Everything measured at one position from one model's logits row (DESIGN §2): observed token's
// log p and rank, entropy, top-k with tail mass, top-1 margin, and each keyword family's
// propensity. One call per row; fp32 logits in, double sums.
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

// Cross-model quantities at one position, from two rows over the same token ids (DESIGN §2).
// Rows of different lengths (padded vocabularies) are compared over the common ids, each
// renormalised there; the mass each model puts outside the common ids is reported.
struct PairSummary {
  double kl_ab = 0.0, kl_ba = 0.0;  // nats, exact over the vocabulary, ≥ 0
  double js_bits = 0.0;             // Jensen-Shannon divergence in bits, in [0, 1]
  double tv = 0.0;                  // total variation, in [0, 1]
  double extra_mass_a = 0.0, extra_mass_b = 0.0;  // probability on ids the other model lacks
};

void compare_rows(std::span<const float> a, std::span<const float> b, PairSummary* out);

// The same, reusing each row's log-partition and entropy from summarize_row (one exp per entry
// and model, one log per entry instead of recomputing both rows' statistics).
// Uses AVX-512 where the CPU has it (exp and log polynomials, relative error < 5e-7; sums in double).
void compare_rows(std::span<const float> a, std::span<const float> b, const RowSummary& sa, const RowSummary& sb,
                  PairSummary* out);
// The same through the portable loop only (libm exp/log); tests compare the two on one machine.
void compare_rows_portable(std::span<const float> a, std::span<const float> b, const RowSummary& sa,
                           const RowSummary& sb, PairSummary* out);

}  // namespace lsc::analysis
