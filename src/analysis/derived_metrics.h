// What a run derives from row summaries (position_metrics.h) and pair divergences (divergence.h):
// a keyword occurrence's metrics, a point of the window around it, the per-token deltas between
// two models, and the mean KL to the other models at a position (DESIGN §2).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "analysis/keywords.h"
#include "analysis/position_metrics.h"

namespace lsc::analysis {

// rows[t] summarises the prediction of token t (t ≥ 1); the occurrence's tokens are
// [tok_begin, tok_end) with tok_begin ≥ 1.
struct OccurrenceMetrics {
  double logprob_word = 0.0;    // Σ log p over the word's tokens
  double logprob_first = 0.0;   // log p of its first token
  double entropy_before = 0.0;  // entropy of the row that predicts the first token
  int64_t rank_first = 0;
};
OccurrenceMetrics occurrence_metrics(const Occurrence& o, std::span<const RowSummary> rows);

// One position of the window around an occurrence of `family`.
struct WindowPoint {
  double logprob = 0.0, entropy = 0.0, propensity = 0.0;
  int64_t rank = 0;
};
WindowPoint window_point(const RowSummary& row, int family);

// Model b against model a at one answer token.
struct PairDelta {
  double dlogp = 0.0;       // log p_b − log p_a of the observed token
  bool top1_agree = false;
  int64_t rank_shift = 0;   // rank_b − rank_a
};
PairDelta pair_delta(const RowSummary& a, const RowSummary& b);

// KL(this model ‖ other) summed per position over the other models, for the mean at a position.
class PositionKl {
 public:
  explicit PositionKl(int64_t n_positions) : sum_(size_t(n_positions), 0.0), n_(size_t(n_positions), 0) {}
  void add(int64_t pos, double kl) {
    sum_[size_t(pos)] += kl;
    ++n_[size_t(pos)];
  }
  bool has(int64_t pos) const { return n_[size_t(pos)] > 0; }
  double mean(int64_t pos) const { return sum_[size_t(pos)] / n_[size_t(pos)]; }

 private:
  std::vector<double> sum_;
  std::vector<int> n_;
};

}  // namespace lsc::analysis
