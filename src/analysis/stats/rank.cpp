// Average ranks and tie groups (SciPy rankdata 'average' convention).
#include "analysis/stats/rank.h"

#include <algorithm>
#include <numeric>

namespace lsc::stats {

std::vector<double> rank_average(std::span<const double> x) {
  const size_t n = x.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> ranks(n);
  size_t i = 0;
  while (i < n) {
    size_t j = i + 1;
    while (j < n && x[order[j]] == x[order[i]]) ++j;
    // Positions i..j-1 (0-based) share the average of ranks i+1..j.
    const double avg = 0.5 * (double(i + 1) + double(j));
    for (size_t k = i; k < j; ++k) ranks[order[k]] = avg;
    i = j;
  }
  return ranks;
}

std::vector<int64_t> tie_group_sizes(std::span<const double> x) {
  std::vector<double> s(x.begin(), x.end());
  std::sort(s.begin(), s.end());
  std::vector<int64_t> groups;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i + 1;
    while (j < s.size() && s[j] == s[i]) ++j;
    groups.push_back(int64_t(j - i));
    i = j;
  }
  return groups;
}

double tie_term(std::span<const double> x) {
  double sum = 0.0;
  for (int64_t t : tie_group_sizes(x)) {
    const double td = double(t);
    sum += td * td * td - td;
  }
  return sum;
}

double mean_of(std::span<const double> x) {
  if (x.empty()) return 0.0;
  double s = 0.0;
  for (double v : x) s += v;
  return s / double(x.size());
}

double variance_of(std::span<const double> x, double mean) {
  if (x.size() < 2) return 0.0;
  double s = 0.0;
  for (double v : x) s += (v - mean) * (v - mean);
  return s / double(x.size() - 1);
}

}  // namespace lsc::stats
