// KL, JS and TV between two rows. exp/log in float where only a probability is needed, sums in
// double; JS term by term from the log-ratio (kernels/js_shape.h).
#include "analysis/divergence.h"

#include <algorithm>
#include <cmath>

#include "analysis/token_metrics.h"
#include "io/error.h"
#include "kernels/js_shape.h"
#include "kernels/cpu/kernels.h"

namespace lsc::analysis {

namespace avx512 {
// divergence_avx512.cpp: the sums of compare_rows' fast path on 16 lanes.
void compare_sums(const float* a, const float* b, size_t n, float lse_a, float lse_b, float dlse, double sums[6]);
}  // namespace avx512

namespace {

// js_shape's F(y) in double through libm (the reference path).
double js_shape(double y) {
  if (y < 0.4) return kernels::js_shape<double>(y, 0.0, 0.0);
  const double t = std::exp(-2.0 * y);
  return kernels::js_shape<double>(y, t, std::log1p(t));
}

}  // namespace

void compare_rows(std::span<const float> a, std::span<const float> b, PairSummary* out) {
  const size_t n = std::min(a.size(), b.size());
  const RowStats sa = row_stats(a), sb = row_stats(b);
  // Log-partition over the common ids, and the mass outside them.
  auto common_lse = [n](std::span<const float> l, double full_lse, double* extra) {
    if (l.size() == n) {
      *extra = 0.0;
      return full_lse;
    }
    double sum = 0.0;
    for (size_t j = 0; j < n; ++j) sum += std::exp(static_cast<double>(l[j]) - full_lse);
    *extra = std::max(0.0, 1.0 - sum);
    return full_lse + std::log(sum);
  };
  const double lse_a = common_lse(a, sa.logsumexp, &out->extra_mass_a);
  const double lse_b = common_lse(b, sb.logsumexp, &out->extra_mass_b);
  const float fa = static_cast<float>(lse_a), fb = static_cast<float>(lse_b);
  double kl_ab = 0.0, kl_ba = 0.0, js = 0.0, tv = 0.0;
  for (size_t j = 0; j < n; ++j) {
    // log-probs in double from fp32 logits; probabilities as float exp of them.
    const double la = static_cast<double>(a[j]) - lse_a, lb = static_cast<double>(b[j]) - lse_b;
    const float pa = std::exp(a[j] - fa), pb = std::exp(b[j] - fb);
    const double d = la - lb;
    kl_ab += static_cast<double>(pa) * d;
    kl_ba -= static_cast<double>(pb) * d;
    // JS from the log-ratio (js_shape); identical entries give exactly 0.
    if (pa + pb > 0.0f) js += 0.25 * (static_cast<double>(pa) + static_cast<double>(pb)) * js_shape(0.5 * std::fabs(d));
    tv += std::fabs(static_cast<double>(pa) - static_cast<double>(pb));
  }
  // Rounding can leave tiny negatives for identical rows; KL and JS are ≥ 0 by definition.
  out->kl_ab = std::max(0.0, kl_ab);
  out->kl_ba = std::max(0.0, kl_ba);
  out->js_bits = std::clamp(js / std::log(2.0), 0.0, 1.0);
  out->tv = std::clamp(0.5 * tv, 0.0, 1.0);
}


namespace {

void compare_rows_impl(std::span<const float> a, std::span<const float> b, const RowSummary& sa, const RowSummary& sb,
                       PairSummary* out, bool simd) {
  if (a.size() != b.size()) {  // padded vocabularies: renormalise over the common ids (rare)
    compare_rows(a, b, out);
    return;
  }
  *out = PairSummary{};
  if (std::equal(a.begin(), a.end(), b.begin())) return;  // identical rows: every divergence is exactly 0
  // KL(a‖b) = Σ p_a (l_a − l_b) + (lse_b − lse_a)·Σ p_a ;  JS = ¼ Σ (p_a + p_b)·F(|log p_a − log p_b|/2)
  // (kernels/js_shape.h), the log-ratio formed as (a − b) − (lse_a − lse_b).
  const float fa = static_cast<float>(sa.logsumexp), fb = static_cast<float>(sb.logsumexp);
  const float dlse = static_cast<float>(sa.logsumexp - sb.logsumexp);
  double s_pa = 0, s_pb = 0, s_pa_d = 0, s_pb_d = 0, s_js = 0, tv = 0;
  if (simd && cpu::cpu_kernels().avx512) {
    double sums[6];
    avx512::compare_sums(a.data(), b.data(), a.size(), fa, fb, dlse, sums);
    s_pa = sums[0], s_pb = sums[1], s_pa_d = sums[2], s_pb_d = sums[3], s_js = sums[4], tv = sums[5];
  } else {
    for (size_t j = 0; j < a.size(); ++j) {
      const float pa = std::exp(a[j] - fa), pb = std::exp(b[j] - fb);
      const double d = static_cast<double>(a[j]) - static_cast<double>(b[j]);
      s_pa += static_cast<double>(pa);
      s_pb += static_cast<double>(pb);
      s_pa_d += static_cast<double>(pa) * d;
      s_pb_d += static_cast<double>(pb) * d;
      if (pa + pb > 0.0f) {
        const float y = 0.5f * std::fabs((a[j] - b[j]) - dlse);
        const float t = y < 0.4f ? 0.0f : std::exp(-2.0f * y);
        s_js += static_cast<double>((pa + pb) * kernels::js_shape<float>(y, t, std::log1p(t)));
      }
      tv += std::fabs(static_cast<double>(pa) - static_cast<double>(pb));
    }
  }
  const double dl = sb.logsumexp - sa.logsumexp;
  out->kl_ab = std::max(0.0, s_pa_d + dl * s_pa);
  out->kl_ba = std::max(0.0, -s_pb_d - dl * s_pb);
  out->js_bits = std::clamp(0.25 * s_js / std::log(2.0), 0.0, 1.0);
  out->tv = std::clamp(0.5 * tv, 0.0, 1.0);
}

}  // namespace

void compare_rows(std::span<const float> a, std::span<const float> b, const RowSummary& sa, const RowSummary& sb,
                  PairSummary* out) {
  compare_rows_impl(a, b, sa, sb, out, true);
}

void compare_rows_portable(std::span<const float> a, std::span<const float> b, const RowSummary& sa,
                           const RowSummary& sb, PairSummary* out) {
  compare_rows_impl(a, b, sa, sb, out, false);
}

}  // namespace lsc::analysis
