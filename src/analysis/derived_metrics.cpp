#include "analysis/derived_metrics.h"

namespace lsc::analysis {

OccurrenceMetrics occurrence_metrics(const Occurrence& o, std::span<const RowSummary> rows) {
  OccurrenceMetrics m;
  for (int64_t t = o.tok_begin; t < o.tok_end; ++t) m.logprob_word += rows[size_t(t)].logprob;
  const RowSummary& first = rows[size_t(o.tok_begin)];
  m.logprob_first = first.logprob;
  m.rank_first = first.rank;
  m.entropy_before = first.entropy_nats;
  return m;
}

WindowPoint window_point(const RowSummary& row, int family) {
  return {row.logprob, row.entropy_nats, static_cast<double>(row.propensity[size_t(family)]), row.rank};
}

PairDelta pair_delta(const RowSummary& a, const RowSummary& b) {
  return {b.logprob - a.logprob, a.top1 == b.top1, b.rank - a.rank};
}

}  // namespace lsc::analysis
