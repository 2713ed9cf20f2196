// Effect sizes for the paired and two-group comparisons. No SciPy function computes these; the
// definitions are stated here and tested against direct numpy formulas (tests/stats/).
#pragma once

#include <span>

#include "analysis/stats/result.h"

namespace lsc::stats {

// d_z = mean(d) / sd(d), d = x − y, sd with ddof = 1. Undefined: n < 2 or sd = 0.
Estimate cohens_dz(std::span<const double> x, std::span<const double> y);

// Matched-pairs rank-biserial (Kerby 2014) on d = x − y with zeros dropped (as the Wilcoxon
// zero_method='wilcox'): r = (R+ − R−) / (R+ + R−) ∈ [−1, 1], positive when x > y.
// Undefined: no nonzero difference.
Estimate rank_biserial_paired(std::span<const double> x, std::span<const double> y);

// Cohen's d with pooled SD: (m1 − m2) / √(((n1−1)s1² + (n2−1)s2²)/(n1+n2−2)).
// Undefined: an empty group, n1 + n2 < 3, or pooled SD = 0.
Estimate cohens_d(std::span<const double> x, std::span<const double> y);

// Cliff's δ = P(X > Y) − P(X < Y) over all n1·n2 pairs. Undefined: an empty group.
// Equals the Mann-Whitney rank-biserial 2·U1/(n1·n2) − 1 (U1 for x, ties counted ½).
Estimate cliffs_delta(std::span<const double> x, std::span<const double> y);

}  // namespace lsc::stats
