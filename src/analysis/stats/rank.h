// Ranking helpers with SciPy's conventions: average ranks for ties (scipy.stats.rankdata
// method='average'), 1-based. Tie-group sizes feed the tie corrections of the rank tests.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lsc::stats {

// Average ranks, 1-based, like scipy.stats.rankdata(x) (method='average'). NaN not allowed.
std::vector<double> rank_average(std::span<const double> x);

// Sizes of groups of equal values (every group, including size 1), in ascending value order.
std::vector<int64_t> tie_group_sizes(std::span<const double> x);

// Σ (t³ − t) over tie groups: the term every tie correction uses.
double tie_term(std::span<const double> x);

// Arithmetic mean and sample variance (ddof = 1) with a two-pass sum in index order.
double mean_of(std::span<const double> x);
double variance_of(std::span<const double> x, double mean);  // ddof = 1; 0 if n < 2

}  // namespace lsc::stats
