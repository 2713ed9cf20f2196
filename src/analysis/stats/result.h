// Result types shared by every test and estimate in lsc::stats. "Undefined" is explicit
// (defined = false plus a note) instead of a NaN that a caller could miss.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace lsc::stats {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One hypothesis test. statistic/p_value are NaN exactly when defined == false.
struct TestResult {
  double statistic = kNaN;
  double p_value = kNaN;
  int64_t n = 0;  // observations used (pairs, texts, or n1 + n2)
  bool defined = false;
  std::string method;  // e.g. "exact", "approx", "asymptotic", "t", "hypergeometric"
  std::string note;    // why undefined, or what SciPy would do differently here
  double df = kNaN;    // degrees of freedom where the reference distribution has them
  double z = kNaN;     // normal-approximation z where one was used
};

// A point estimate (effect size, mean, correlation) with its sample size.
struct Estimate {
  double value = kNaN;
  int64_t n = 0;
  bool defined = false;
  std::string note;
};

inline TestResult undefined_test(int64_t n, std::string note) {
  TestResult r;
  r.n = n;
  r.note = std::move(note);
  return r;
}

inline Estimate undefined_estimate(int64_t n, std::string note) {
  Estimate e;
  e.n = n;
  e.note = std::move(note);
  return e;
}

}  // namespace lsc::stats
