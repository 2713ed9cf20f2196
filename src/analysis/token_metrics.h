// Per-position statistics of one logits row (DESIGN §2): log-partition, entropy, the observed
// token's log p and rank, top-k. One pass over fp32 logits with double sums. Knows logits and
// token ids, not weights.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace lsc::analysis {

struct RowStats {
  double logsumexp = 0.0;     // log Σ exp(l_j)
  double entropy_nats = 0.0;  // −Σ p_j log p_j
  int32_t argmax = 0;         // smallest id among the largest logits
};

RowStats row_stats(std::span<const float> logits);

// 1 + number of ids whose logit is strictly greater than logits[id] (ties favour the token).
int64_t rank_of(std::span<const float> logits, int32_t id);

// The k largest logits as (id, logit), descending, ties by smaller id; empty for k ≤ 0.
std::vector<std::pair<int32_t, float>> top_k(std::span<const float> logits, int k);

// Metrics of the observed token x_t at position t ≥ 1, read from row t−1 (the alignment rule).
struct PositionMetric {
  int64_t pos = 0;
  int32_t token = 0;
  double logprob = 0.0;
  int64_t rank = 0;
  double entropy_nats = 0.0;  // of row t−1
};

// Consumes logits chunks in position order and records a PositionMetric for every t ≥ 1.
class PositionCollector {
 public:
  explicit PositionCollector(std::span<const int32_t> ids) : ids_(ids) {}
  // rows [first_pos, first_pos + n_rows) of a [*, vocab] matrix
  void add_rows(int64_t first_pos, int64_t n_rows, int64_t vocab, const float* logits);
  const std::vector<PositionMetric>& metrics() const { return metrics_; }

 private:
  std::span<const int32_t> ids_;
  std::vector<PositionMetric> metrics_;
};

}  // namespace lsc::analysis
