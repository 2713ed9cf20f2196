// Benjamini-Hochberg step-up q-values (multiple_testing.h).
#include "analysis/stats/multiple_testing.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "analysis/stats/result.h"

namespace lsc::stats {

std::vector<double> bh_qvalues(std::span<const double> p) {
  std::vector<double> q(p.size(), kNaN);
  std::vector<size_t> idx;
  for (size_t i = 0; i < p.size(); ++i) {
    if (std::isfinite(p[i])) idx.push_back(i);
  }
  // Stable order by p, ties by input index, so the result does not depend on sort internals.
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  const double m = double(idx.size());
  double running = 1.0;
  for (size_t k = idx.size(); k-- > 0;) {
    running = std::min(running, m * p[idx[k]] / double(k + 1));
    q[idx[k]] = std::min(running, 1.0);
  }
  return q;
}

}  // namespace lsc::stats
