// Row reductions. exp/log in float where only a probability is needed (DESIGN: fp32
// probabilities, double sums); sums in double.
#include "analysis/position_metrics.h"

#include <algorithm>
#include <cmath>

#include "analysis/row_reduce.h"
#include "analysis/token_metrics.h"
#include "io/error.h"

namespace lsc::analysis {

namespace avx512 {
// position_metrics_avx512.cpp: the sums of compare_rows' fast path on 16 lanes.
void compare_sums(const float* a, const float* b, size_t n, float lse_a, float lse_b, double sums[6]);
}  // namespace avx512

void summarize_row(std::span<const float> l, int32_t observed, int n_top, const std::vector<KeywordFamily>& families,
                   RowSummary* out) {
  LSC_CHECK(observed >= 0 && static_cast<size_t>(observed) < l.size());
  const RowStats s = row_stats(l);
  out->logsumexp = s.logsumexp;
  out->entropy_nats = s.entropy_nats;
  out->logprob = static_cast<double>(l[size_t(observed)]) - s.logsumexp;
  out->rank = rank_of(l, observed);
  const auto top = top_k(l, std::max(n_top, 2));
  out->top1 = top[0].first;
  out->top1_margin = top.size() > 1 ? static_cast<double>(top[0].second) - static_cast<double>(top[1].second) : 0.0;
  out->topk_ids.clear();
  out->topk_logprobs.clear();
  double mass = 0.0;
  for (int i = 0; i < n_top && i < static_cast<int>(top.size()); ++i) {
    const double lp = static_cast<double>(top[size_t(i)].second) - s.logsumexp;
    out->topk_ids.push_back(top[size_t(i)].first);
    out->topk_logprobs.push_back(static_cast<float>(lp));
    mass += std::exp(lp);
  }
  out->tail_mass = std::max(0.0, 1.0 - mass);
  out->propensity.assign(families.size(), 0.0f);
  for (size_t f = 0; f < families.size(); ++f) {
    double p = 0.0;
    for (int32_t id : families[f].token_ids) {
      if (static_cast<size_t>(id) < l.size()) p += std::exp(static_cast<double>(l[size_t(id)]) - s.logsumexp);
    }
    out->propensity[f] = static_cast<float>(p);
  }
}

void summarize_rows(const float* logits, int64_t n_rows, int64_t vocab, const int32_t* observed, int n_top,
                    const std::vector<KeywordFamily>& families, RowSummary* out) {
  const int k = std::max(n_top, 2);  // the top-1 margin needs two
  if (k > kMaxTopK) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t r = 0; r < n_rows; ++r) {
      summarize_row({logits + r * vocab, static_cast<size_t>(vocab)}, observed[r], n_top, families, out + r);
    }
    return;
  }
  for (int64_t r = 0; r < n_rows; ++r) LSC_CHECK(observed[r] >= 0 && observed[r] < vocab);
  std::vector<ReducedRow> reduced(static_cast<size_t>(n_rows));
  reduce_rows(logits, n_rows, vocab, observed, k, reduced.data());
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n_rows; ++r) {
    const ReducedRow& s = reduced[size_t(r)];
    const float* l = logits + r * vocab;
    RowSummary& o = out[r];
    o.logsumexp = s.logsumexp;
    o.entropy_nats = s.entropy_nats;
    o.logprob = s.logprob();
    o.rank = s.rank;
    o.top1 = s.top[0].first;
    o.top1_margin = s.n_top > 1 ? static_cast<double>(s.top[0].second) - static_cast<double>(s.top[1].second) : 0.0;
    o.topk_ids.clear();
    o.topk_logprobs.clear();
    double mass = 0.0;
    for (int i = 0; i < n_top && i < s.n_top; ++i) {
      const double lp = static_cast<double>(s.top[i].second) - s.logsumexp;
      o.topk_ids.push_back(s.top[i].first);
      o.topk_logprobs.push_back(static_cast<float>(lp));
      mass += std::exp(lp);
    }
    o.tail_mass = std::max(0.0, 1.0 - mass);
    o.propensity.assign(families.size(), 0.0f);
    for (size_t f = 0; f < families.size(); ++f) {
      double p = 0.0;
      for (int32_t id : families[f].token_ids) {
        if (id < vocab) p += std::exp(static_cast<double>(l[id]) - s.logsumexp);
      }
      o.propensity[f] = static_cast<float>(p);
    }
  }
}

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
    // JS from the fp32 probabilities themselves, so that identical rows give exactly 0.
    const double da = static_cast<double>(pa), db = static_cast<double>(pb), m = 0.5 * (da + db);
    if (da > 0.0) js += 0.5 * da * std::log(da / m);
    if (db > 0.0) js += 0.5 * db * std::log(db / m);
    tv += std::fabs(static_cast<double>(pa) - static_cast<double>(pb));
  }
  // Rounding can leave tiny negatives for identical rows; KL and JS are ≥ 0 by definition.
  out->kl_ab = std::max(0.0, kl_ab);
  out->kl_ba = std::max(0.0, kl_ba);
  out->js_bits = std::clamp(js / std::log(2.0), 0.0, 1.0);
  out->tv = std::clamp(0.5 * tv, 0.0, 1.0);
}

}  // namespace lsc::analysis

namespace lsc::analysis {

namespace {

void compare_rows_impl(std::span<const float> a, std::span<const float> b, const RowSummary& sa, const RowSummary& sb,
                       PairSummary* out, bool simd) {
  if (a.size() != b.size()) {  // padded vocabularies: renormalise over the common ids (rare)
    compare_rows(a, b, out);
    return;
  }
  *out = PairSummary{};
  if (std::equal(a.begin(), a.end(), b.begin())) return;  // identical rows: every divergence is exactly 0
  // KL(a‖b) = Σ p_a (l_a − l_b) + (lse_b − lse_a)·Σ p_a ;  JS = H(m) − ½H(a) − ½H(b), m = (p_a + p_b)/2.
  const float fa = static_cast<float>(sa.logsumexp), fb = static_cast<float>(sb.logsumexp);
  double s_pa = 0, s_pb = 0, s_pa_d = 0, s_pb_d = 0, s_mlogm = 0, tv = 0;
  static const bool has_avx512 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  }();
  if (simd && has_avx512) {
    double sums[6];
    avx512::compare_sums(a.data(), b.data(), a.size(), fa, fb, sums);
    s_pa = sums[0], s_pb = sums[1], s_pa_d = sums[2], s_pb_d = sums[3], s_mlogm = sums[4], tv = sums[5];
  } else {
    for (size_t j = 0; j < a.size(); ++j) {
      const float pa = std::exp(a[j] - fa), pb = std::exp(b[j] - fb);
      const double d = static_cast<double>(a[j]) - static_cast<double>(b[j]);
      s_pa += static_cast<double>(pa);
      s_pb += static_cast<double>(pb);
      s_pa_d += static_cast<double>(pa) * d;
      s_pb_d += static_cast<double>(pb) * d;
      const float m = 0.5f * (pa + pb);
      if (m > 0.0f) s_mlogm += static_cast<double>(m * std::log(m));
      tv += std::fabs(static_cast<double>(pa) - static_cast<double>(pb));
    }
  }
  const double dl = sb.logsumexp - sa.logsumexp;
  out->kl_ab = std::max(0.0, s_pa_d + dl * s_pa);
  out->kl_ba = std::max(0.0, -s_pb_d - dl * s_pb);
  out->js_bits = std::clamp((-s_mlogm - 0.5 * (sa.entropy_nats + sb.entropy_nats)) / std::log(2.0), 0.0, 1.0);
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
