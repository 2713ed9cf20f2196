// Benjamini-Hochberg q-values (FDR), as scipy.stats.false_discovery_control(p, method='bh')
// (SciPy ≥ 1.11) and statsmodels multipletests(method='fdr_bh')[1].
#pragma once

#include <span>
#include <vector>

namespace lsc::stats {

// q_(i) = min over j ≥ i of m·p_(j)/j (p sorted ascending, 1-based j), capped at 1; returned in
// input order. NaN entries (undefined tests) are not part of the family: m counts only the
// finite p-values and NaN stays NaN.
std::vector<double> bh_qvalues(std::span<const double> p);

}  // namespace lsc::stats
