// Small helpers of the report data: rounding, a seeded percentile bootstrap, token names.
#include <algorithm>

#include "report/report_data.h"
#include "tokenizer/tokenizer.h"

namespace lsc::report {

io::Json rsig(double v, int sig) {
  if (!std::isfinite(v)) return nullptr;
  if (v == 0.0) return 0.0;
  const int mag = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  const double s = std::pow(10.0, sig - 1 - mag);
  return std::round(v * s) / s;
}

namespace {

// Linear interpolation between order statistics (numpy's default "linear" quantile).
double quantile_sorted(const std::vector<double>& s, double q) {
  const double h = q * double(s.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(h));
  if (i + 1 >= s.size()) return s.back();
  return s[i] + (h - double(i)) * (s[i + 1] - s[i]);
}

}  // namespace

MeanCi bootstrap_mean_ci(const std::vector<double>& x_in, int n_boot, uint64_t seed) {
  std::vector<double> x;
  for (double v : x_in) {
    if (std::isfinite(v)) x.push_back(v);
  }
  MeanCi c;
  c.n = static_cast<int64_t>(x.size());
  if (x.empty()) return c;
  double s = 0.0;
  for (double v : x) s += v;
  c.mean = s / double(x.size());
  if (x.size() < 2 || n_boot < 2) return c;
  SplitMix64 rng{seed};
  std::vector<double> means(static_cast<size_t>(n_boot));
  for (auto& m : means) {
    double t = 0.0;
    for (size_t i = 0; i < x.size(); ++i) t += x[rng.below(x.size())];
    m = t / double(x.size());
  }
  std::sort(means.begin(), means.end());
  c.lo = quantile_sorted(means, 0.025);
  c.hi = quantile_sorted(means, 0.975);
  return c;
}

io::Json ci_json(const MeanCi& c, int digits) {
  return io::Json::array(
      {c.n, round_num(c.mean, digits), round_num(c.lo, digits), round_num(c.hi, digits)});
}

std::string TokenNames::name(int32_t id) const {
  if (tok_ != nullptr && id >= 0 && id < tok_->vocab_size()) {
    const std::string& t = tok_->id_to_token(id);
    if (!t.empty()) return tok_->decode_token(id);
  }
  return "#" + std::to_string(id);
}

}  // namespace lsc::report
