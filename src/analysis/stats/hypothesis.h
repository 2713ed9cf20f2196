// Hypothesis tests that mirror SciPy 1.10 definitions (defaults noted per function). Each returns
// a TestResult; inputs that SciPy rejects or answers with NaN/inf give defined = false and a note.
// Distributions come from Boost.Math; nothing here resamples (see bootstrap.h).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "analysis/stats/result.h"

namespace lsc::stats {

// --- paired (paired.cpp) ---------------------------------------------------------------------

// scipy.stats.wilcoxon(x, y) with defaults zero_method='wilcox', correction=False,
// alternative='two-sided', method='auto'. d = x − y. SciPy 1.10 'auto':
//  * len(d) ≤ 50 (zeros included in the count) and no zero differences → 'exact': the null
//    distribution of R+ for n = len(d) distinct ranks. Ties are NOT a reason to switch: SciPy
//    ranks |d| with average ranks and truncates R+ with int() before reading the exact pmf;
//    we do the same. statistic = min(R+, R−) (average ranks, not truncated).
//  * otherwise (len(d) > 50, or any zero difference) → 'approx': zeros dropped, n = #nonzero,
//    z = (T − n(n+1)/4) / sqrt((n(n+1)(2n+1) − ½Σ(t³−t)) / 24), p = 2·Φ(−|z|).
// Undefined: no pairs, or every difference zero (SciPy raises ValueError).
TestResult wilcoxon_signed_rank(std::span<const double> x, std::span<const double> y);

// scipy.stats.ttest_rel(x, y): t = mean(d) / (sd(d)/√n), sd with ddof = 1, df = n − 1,
// two-sided. Undefined: n < 2, or sd(d) = 0 (SciPy gives nan for mean 0, else ±inf with p = 0;
// the note says which).
TestResult paired_t(std::span<const double> x, std::span<const double> y);

// scipy.stats.friedmanchisquare(*groups): groups[j][i] = measurement of subject i under
// treatment j; k ≥ 3 treatments, equal lengths. Ranks within each subject, tie correction
// c = 1 − Σ(t³−t)/(k(k²−1)n), chi2 = (12/(kn(k+1))·Σ R_j² − 3n(k+1)) / c, df = k − 1.
// Undefined: k < 3, n < 1, or c = 0 (every subject has all values tied).
TestResult friedman(const std::vector<std::vector<double>>& groups);

// --- two independent samples (two_sample.cpp) ------------------------------------------------

// scipy.stats.mannwhitneyu(x, y) with use_continuity=True, alternative='two-sided',
// method='auto'. statistic = U1 = R1 − n1(n1+1)/2 (for x). SciPy 1.10 'auto': if n1 > 8 and
// n2 > 8 → asymptotic; else if any tie in x ∪ y → asymptotic; else exact. Exact p = 2·P(U ≥ max(U1,
// U2)); asymptotic z = (max(U1,U2) − n1n2/2 − ½) / s with s² = n1n2/12 · ((n+1) −
// Σ(t³−t)/(n(n−1))); p = 2·Φ(−z), both clipped to [0, 1]. Undefined: an empty group (SciPy raises),
// or s = 0 (all values equal: SciPy returns nan).
TestResult mann_whitney_u(std::span<const double> x, std::span<const double> y);

// scipy.stats.ttest_ind(x, y, equal_var=False) (Welch): t = (m1 − m2)/√(v1/n1 + v2/n2),
// Welch–Satterthwaite df (SciPy replaces a NaN df by 1). Undefined: n1 < 2 or n2 < 2, or both
// variances zero.
TestResult welch_t(std::span<const double> x, std::span<const double> y);

// --- correlation (correlation.cpp) -----------------------------------------------------------

// scipy.stats.spearmanr(x, y): ρ = Pearson correlation of average ranks; p from
// t = ρ·√((n−2)/((1+ρ)(1−ρ))) with df = n − 2, two-sided (|ρ| = 1 → p = 0).
// Undefined: n < 3 (SciPy gives p = nan or 1 for n = 2), or x or y constant.
TestResult spearman(std::span<const double> x, std::span<const double> y);

// scipy.stats.kendalltau(x, y) (variant 'b', method='auto'). SciPy 1.10 'auto': exact when
// neither x nor y has ties and (n ≤ 33 or min(dis, tot − dis) ≤ 1); else asymptotic with
// var = ((m(2n+5) − x1 − y1)/18 + 2·xtie·ytie/m + x0·y0/(9m(n−2))), m = n(n−1), z = (C − D)/√var.
// Undefined: n < 2, or x or y constant (SciPy returns nan).
TestResult kendall_tau_b(std::span<const double> x, std::span<const double> y);

// --- 2×2 contingency (contingency.cpp) -------------------------------------------------------

// Table [[a, b], [c, d]] of non-negative counts.
using Table2x2 = std::array<std::array<int64_t, 2>, 2>;

// scipy.stats.fisher_exact(table) two-sided: statistic = odds ratio ad/(bc) (inf when bc = 0
// and ad > 0, stored as +inf; see note), p = Σ of hypergeometric pmf(x) over every x with
// pmf(x) ≤ pmf(a)·(1 + 1e-14) (SciPy's "as extreme"; p = 1 when pmf(a) equals the mode's pmf
// to 1e-14 relative). A zero row or column sum gives statistic NaN and p = 1 in SciPy; we
// report defined = false with that note.
TestResult fisher_exact(const Table2x2& t);

// scipy.stats.chi2_contingency(table) (correction=True, lambda_=None): Yates correction moves
// each observed count towards its expected value by min(0.5, |E − O|); chi2 = Σ (O' − E)²/E,
// df = 1. Undefined: a zero row or column sum (SciPy raises: an expected frequency is zero).
TestResult chi2_yates(const Table2x2& t);

}  // namespace lsc::stats
