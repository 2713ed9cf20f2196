// Row statistics with double accumulation; rank and top-k by direct comparison of fp32 logits.
#include "analysis/token_metrics.h"

#include <algorithm>
#include <cmath>

#include "io/error.h"

namespace lsc::analysis {

RowStats row_stats(std::span<const float> l) {
  LSC_CHECK(!l.empty());
  RowStats s;
  float m = l[0];
  for (size_t j = 1; j < l.size(); ++j) {
    if (l[j] > m) {
      m = l[j];
      s.argmax = static_cast<int32_t>(j);
    }
  }
  // With z_j = l_j − m: S = Σ e^{z_j}, logZ = m + log S, H = log S − Σ e^{z_j} z_j / S.
  double sum = 0.0, sum_ez = 0.0;
  const double md = static_cast<double>(m);
  for (float v : l) {
    const double z = static_cast<double>(v) - md;
    const double e = std::exp(z);
    sum += e;
    sum_ez += e * z;
  }
  s.logsumexp = md + std::log(sum);
  s.entropy_nats = std::log(sum) - sum_ez / sum;
  return s;
}

int64_t rank_of(std::span<const float> l, int32_t id) {
  const float x = l[static_cast<size_t>(id)];
  int64_t greater = 0;
  for (float v : l) greater += v > x ? 1 : 0;
  return greater + 1;
}

std::vector<std::pair<int32_t, float>> top_k(std::span<const float> l, int k) {
  k = std::min<int>(k, static_cast<int>(l.size()));
  std::vector<std::pair<int32_t, float>> best;  // kept sorted, best first
  if (k <= 0) return best;  // the loop below compares with best.back() once best holds k
  best.reserve(static_cast<size_t>(k) + 1);
  auto better = [](const std::pair<int32_t, float>& a, const std::pair<int32_t, float>& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  for (size_t j = 0; j < l.size(); ++j) {
    std::pair<int32_t, float> c{static_cast<int32_t>(j), l[j]};
    if (static_cast<int>(best.size()) == k && !better(c, best.back())) continue;
    best.insert(std::upper_bound(best.begin(), best.end(), c, better), c);
    if (static_cast<int>(best.size()) > k) best.pop_back();
  }
  return best;
}

void PositionCollector::add_rows(int64_t first_pos, int64_t n_rows, int64_t vocab, const float* logits) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const int64_t row = first_pos + r;
    const int64_t t = row + 1;  // row t−1 predicts x_t
    if (t >= static_cast<int64_t>(ids_.size())) break;
    std::span<const float> l(logits + r * vocab, static_cast<size_t>(vocab));
    const RowStats s = row_stats(l);
    const int32_t x = ids_[static_cast<size_t>(t)];
    metrics_.push_back({t, x, static_cast<double>(l[static_cast<size_t>(x)]) - s.logsumexp, rank_of(l, x),
                        s.entropy_nats});
  }
}

}  // namespace lsc::analysis
