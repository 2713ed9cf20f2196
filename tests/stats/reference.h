// Shared helpers for the stats tests: the committed SciPy/sklearn reference document and a
// relative-error check that also records the largest error seen per quantity (printed at exit,
// so the report can quote max relative error vs SciPy per test).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "io/json.h"

namespace lsc::stats::testing {

inline const io::Json& reference() {
  static const io::Json doc = [] {
    std::ifstream f(LSC_STATS_REFERENCE);
    EXPECT_TRUE(f.good()) << "missing " << LSC_STATS_REFERENCE
                          << " (regenerate with make_reference.py)";
    std::stringstream ss;
    ss << f.rdbuf();
    return io::parse_json(ss.str(), LSC_STATS_REFERENCE);
  }();
  return doc;
}

inline std::vector<double> vec(const io::Json& j) { return j.get<std::vector<double>>(); }

// Largest relative error per quantity name, printed once when the test binary exits.
struct ErrorLog {
  std::map<std::string, double> max_rel;
  ~ErrorLog() {
    for (const auto& [k, v] : max_rel) std::cout << "max_rel_err " << k << " = " << v << "\n";
  }
};
inline ErrorLog& error_log() {
  static ErrorLog log;
  return log;
}

// |got − ref| ≤ rel·|ref|; a zero reference requires |got| ≤ 1e-12 (absolute).
inline void expect_rel(double got, double ref, double rel, const std::string& what) {
  const double err = std::fabs(got - ref);
  const double r = ref == 0.0 ? (err <= 1e-12 ? 0.0 : err) : err / std::fabs(ref);
  auto& m = error_log().max_rel[what.substr(0, what.find('@'))];
  m = std::max(m, r);
  EXPECT_LE(r, rel) << what << ": got " << got << ", SciPy " << ref;
}

}  // namespace lsc::stats::testing
