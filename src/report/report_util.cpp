// Small helpers of the report data: rounding, CI cells, token names.
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

MeanCi to_mean_ci(const stats::BootstrapCI& c) {
  MeanCi r;
  r.n = c.n;
  if (!c.defined) return r;
  r.mean = c.estimate;
  r.lo = c.low;  // n = 1: the degenerate [x, x], as in stats.json
  r.hi = c.high;
  return r;
}

}  // namespace lsc::report
