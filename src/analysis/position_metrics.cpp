// Row reductions. exp/log in float where only a probability is needed (DESIGN: fp32
// probabilities, double sums); sums in double.
#include "analysis/position_metrics.h"

#include <algorithm>
#include <cmath>

#include "analysis/row_reduce.h"
#include "analysis/token_metrics.h"
#include "io/error.h"

namespace lsc::analysis {

namespace {

// The part of a summary both paths share: from the row's log-partition and its top entries
// (descending, at least two where the vocabulary has them) to top-1, margin, top-k, tail mass and
// the families' propensities.
void finish_summary(std::span<const float> l, double logsumexp, std::span<const std::pair<int32_t, float>> top,
                    int n_top, const std::vector<KeywordFamily>& families, RowSummary* out) {
  out->top1 = top[0].first;
  out->top1_margin = top.size() > 1 ? static_cast<double>(top[0].second) - static_cast<double>(top[1].second) : 0.0;
  out->topk_ids.clear();
  out->topk_logprobs.clear();
  double mass = 0.0;
  for (int i = 0; i < n_top && i < static_cast<int>(top.size()); ++i) {
    const double lp = static_cast<double>(top[size_t(i)].second) - logsumexp;
    out->topk_ids.push_back(top[size_t(i)].first);
    out->topk_logprobs.push_back(static_cast<float>(lp));
    mass += std::exp(lp);
  }
  out->tail_mass = std::max(0.0, 1.0 - mass);
  out->propensity.assign(families.size(), 0.0f);
  for (size_t f = 0; f < families.size(); ++f) {
    double p = 0.0;
    for (int32_t id : families[f].token_ids) {
      if (static_cast<size_t>(id) < l.size()) p += std::exp(static_cast<double>(l[size_t(id)]) - logsumexp);
    }
    out->propensity[f] = static_cast<float>(p);
  }
}

}  // namespace

void summarize_row(std::span<const float> l, int32_t observed, int n_top, const std::vector<KeywordFamily>& families,
                   RowSummary* out) {
  LSC_CHECK(observed >= 0 && static_cast<size_t>(observed) < l.size());
  const RowStats s = row_stats(l);
  out->logsumexp = s.logsumexp;
  out->entropy_nats = s.entropy_nats;
  out->logprob = static_cast<double>(l[size_t(observed)]) - s.logsumexp;
  out->rank = rank_of(l, observed);
  const auto top = top_k(l, std::max(n_top, 2));
  finish_summary(l, s.logsumexp, top, n_top, families, out);
}

void summarize_rows(const float* logits, int64_t n_rows, int64_t vocab, const int32_t* observed, int n_top,
                    const std::vector<KeywordFamily>& families, RowSummary* out) {
  const int k = std::max(n_top, 2);  // the top-1 margin needs two
  if (k > kMaxTopK) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t r = 0; r < n_rows; ++r) {
      summarize_row({logits + r * vocab, static_cast<size_t>(vocab)}, observed[r], n_top, families, out + r);
    }
    return;
  }
  for (int64_t r = 0; r < n_rows; ++r) LSC_CHECK(observed[r] >= 0 && observed[r] < vocab);
  std::vector<ReducedRow> reduced(static_cast<size_t>(n_rows));
  reduce_rows(logits, n_rows, vocab, observed, k, reduced.data());
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n_rows; ++r) {
    const ReducedRow& s = reduced[size_t(r)];
    RowSummary& o = out[r];
    o.logsumexp = s.logsumexp;
    o.entropy_nats = s.entropy_nats;
    o.logprob = s.logprob();
    o.rank = s.rank;
    finish_summary({logits + r * vocab, static_cast<size_t>(vocab)}, s.logsumexp,
                   {s.top, static_cast<size_t>(s.n_top)}, n_top, families, &o);
  }
}

}  // namespace lsc::analysis
