// Thin wrappers over Boost.Math distributions (survival functions in the tails, no 1 − cdf
// cancellation). Internal to lsc_stats: Boost is a private, SYSTEM include of this library.
#pragma once

#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/hypergeometric.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>

namespace lsc::stats::detail {

// Standard normal upper tail P(Z > z).
inline double normal_sf(double z) {
  if (std::isinf(z)) return z > 0 ? 0.0 : 1.0;
  return boost::math::cdf(boost::math::complement(boost::math::normal_distribution<double>(), z));
}

// Two-sided normal p-value 2·P(Z > |z|), as SciPy's 2 * norm.sf(abs(z)).
inline double normal_two_sided(double z) { return 2.0 * normal_sf(std::fabs(z)); }

// Student t upper tail P(T > t) with df > 0.
inline double t_sf(double t, double df) {
  if (std::isinf(t)) return t > 0 ? 0.0 : 1.0;
  return boost::math::cdf(
      boost::math::complement(boost::math::students_t_distribution<double>(df), t));
}

// Chi-square upper tail P(X > x), df > 0.
inline double chi2_sf(double x, double df) {
  if (x <= 0.0) return 1.0;
  if (std::isinf(x)) return 0.0;
  return boost::math::cdf(
      boost::math::complement(boost::math::chi_squared_distribution<double>(df), x));
}

}  // namespace lsc::stats::detail
