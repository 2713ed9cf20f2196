// Row summaries and cross-model divergences against closed forms.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "analysis/divergence.h"
#include "analysis/position_metrics.h"
#include "analysis/row_reduce.h"

namespace lsc::analysis {
namespace {

std::vector<float> random_row(size_t n, unsigned seed, float sd) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

TEST(CompareRows, KlOfARowWithItselfIsZeroAndJsIsBoundedByOneBit) {
  const auto a = random_row(151936, 1, 3.0f);
  PairSummary p;
  compare_rows(a, a, &p);
  EXPECT_EQ(p.kl_ab, 0.0);
  EXPECT_EQ(p.kl_ba, 0.0);
  EXPECT_EQ(p.js_bits, 0.0);
  EXPECT_EQ(p.tv, 0.0);
  // Disjoint supports (as near as fp32 allows): JS → 1 bit, TV → 1.
  std::vector<float> x = {100, -100}, y = {-100, 100};
  compare_rows(x, y, &p);
  EXPECT_NEAR(p.js_bits, 1.0, 1e-9);
  EXPECT_NEAR(p.tv, 1.0, 1e-9);
  EXPECT_NEAR(p.kl_ab, 200.0, 1e-6);
}

TEST(CompareRows, TwoPointDistributionsByHand) {
  // P = (3/4, 1/4), Q = (1/2, 1/2): KL(P‖Q) = ¾ln(3/2) + ¼ln(1/2); TV = 1/4.
  const std::vector<float> a = {std::log(3.0f), 0.0f}, b = {0.0f, 0.0f};
  PairSummary p;
  compare_rows(a, b, &p);
  EXPECT_NEAR(p.kl_ab, 0.75 * std::log(1.5) + 0.25 * std::log(0.5), 1e-7);
  EXPECT_NEAR(p.kl_ba, 0.5 * std::log(0.5 / 0.75) + 0.5 * std::log(0.5 / 0.25), 1e-7);
  EXPECT_NEAR(p.tv, 0.25, 1e-7);
  const double m0 = 0.625, m1 = 0.375;
  const double js = 0.5 * (0.75 * std::log(0.75 / m0) + 0.25 * std::log(0.25 / m1)) +
                    0.5 * (0.5 * std::log(0.5 / m0) + 0.5 * std::log(0.5 / m1));
  EXPECT_NEAR(p.js_bits, js / std::log(2.0), 1e-7);
}

TEST(CompareRows, PaddedVocabularyComparesCommonIdsAndReportsExtraMass) {
  const std::vector<float> a = {0, 0, 0}, b = {0, 0};
  PairSummary p;
  compare_rows(a, b, &p);
  EXPECT_NEAR(p.extra_mass_a, 1.0 / 3, 1e-7);
  EXPECT_EQ(p.extra_mass_b, 0.0);
  EXPECT_NEAR(p.kl_ab, 0.0, 1e-7);
}

TEST(SummarizeRow, TopKTailMassMarginAndPropensity) {
  // logits ln(4), ln(2), ln(1), ln(1) → p = 1/2, 1/4, 1/8, 1/8
  const std::vector<float> l = {std::log(4.0f), std::log(2.0f), 0.0f, 0.0f};
  std::vector<KeywordFamily> fam = {{"x", {1, 3}, false}};
  RowSummary r;
  summarize_row(l, 2, 2, fam, &r);
  EXPECT_NEAR(r.logprob, std::log(0.125), 1e-6);
  EXPECT_EQ(r.rank, 3);
  EXPECT_EQ(r.top1, 0);
  EXPECT_NEAR(r.top1_margin, std::log(2.0), 1e-6);
  EXPECT_EQ(r.topk_ids, (std::vector<int32_t>{0, 1}));
  EXPECT_NEAR(r.tail_mass, 0.25, 1e-6);
  ASSERT_EQ(r.propensity.size(), 1u);
  EXPECT_NEAR(r.propensity[0], 0.375, 1e-6);
  EXPECT_NEAR(r.entropy_nats, -(0.5 * std::log(0.5) + 0.25 * std::log(0.25) + 0.25 * std::log(0.125)), 1e-6);
}

}  // namespace
}  // namespace lsc::analysis

namespace lsc::analysis {
namespace {

TEST(CompareRows, FastPathFromRowSummariesMatchesTheDirectComputation) {
  for (unsigned seed = 1; seed < 6; ++seed) {
    const auto a = random_row(50000, seed, 2.0f + float(seed)), b = random_row(50000, seed + 100, 3.0f);
    RowSummary sa, sb;
    summarize_row(a, 0, 5, {}, &sa);
    summarize_row(b, 0, 5, {}, &sb);
    PairSummary slow, fast;
    compare_rows(a, b, &slow);
    compare_rows(a, b, sa, sb, &fast);
    // Both sum fp32 probabilities in double; they differ in rounding order only (≈1e-7 relative).
    EXPECT_NEAR(fast.kl_ab, slow.kl_ab, 1e-5 * (1 + slow.kl_ab));
    EXPECT_NEAR(fast.kl_ba, slow.kl_ba, 1e-5 * (1 + slow.kl_ba));
    EXPECT_NEAR(fast.js_bits, slow.js_bits, 1e-5);
    EXPECT_NEAR(fast.tv, slow.tv, 1e-6);
  }
}

}  // namespace
}  // namespace lsc::analysis

namespace lsc::analysis {
namespace {

// The batched one-read path (`run` uses it) against the reference, row by row, including ties
// (logits on a 1/4 grid), keyword families, top-k sizes around kMaxTopK and the fallback above it.
TEST(SummarizeRows, BatchedPathMatchesTheReferenceRowByRow) {
  const int64_t vocab = 20000, n_rows = 6;
  std::vector<float> logits;
  for (int64_t r = 0; r < n_rows; ++r) {
    auto row = random_row(size_t(vocab), unsigned(r + 11), 3.0f);
    if (r % 2 == 0) {
      for (auto& x : row) x = std::round(x * 4.0f) / 4.0f;
    }
    logits.insert(logits.end(), row.begin(), row.end());
  }
  const std::vector<int32_t> observed = {0, 17, 19999, 5000, 123, 77};
  std::vector<KeywordFamily> fam = {{"a", {1, 2, 3, 19999}, false}, {"b", {}, false}, {"c", {500, 17, 42}, true}};
  for (int n_top : {1, 2, 5, 20, kMaxTopK, kMaxTopK + 1, 100}) {
    std::vector<RowSummary> fast(static_cast<size_t>(n_rows));
    summarize_rows(logits.data(), n_rows, vocab, observed.data(), n_top, fam, fast.data());
    for (int64_t r = 0; r < n_rows; ++r) {
      RowSummary ref;
      summarize_row({logits.data() + r * vocab, size_t(vocab)}, observed[size_t(r)], n_top, fam, &ref);
      const RowSummary& f = fast[size_t(r)];
      SCOPED_TRACE("row " + std::to_string(r) + ", top-k " + std::to_string(n_top));
      EXPECT_EQ(f.rank, ref.rank);
      EXPECT_EQ(f.top1, ref.top1);
      EXPECT_EQ(f.topk_ids, ref.topk_ids);
      EXPECT_NEAR(f.logsumexp, ref.logsumexp, 1e-6);
      EXPECT_NEAR(f.logprob, ref.logprob, 1e-6);
      EXPECT_NEAR(f.entropy_nats, ref.entropy_nats, 1e-6);
      EXPECT_NEAR(f.top1_margin, ref.top1_margin, 1e-6);
      EXPECT_NEAR(f.tail_mass, ref.tail_mass, 1e-6);
      ASSERT_EQ(f.topk_logprobs.size(), ref.topk_logprobs.size());
      for (size_t i = 0; i < f.topk_logprobs.size(); ++i) EXPECT_NEAR(f.topk_logprobs[i], ref.topk_logprobs[i], 1e-5);
      ASSERT_EQ(f.propensity.size(), fam.size());
      for (size_t i = 0; i < fam.size(); ++i) EXPECT_NEAR(f.propensity[i], ref.propensity[i], 1e-6 * (1e-3 + double(ref.propensity[i])));
    }
  }
}

}  // namespace
}  // namespace lsc::analysis

namespace lsc::analysis {
namespace {

// Jensen-Shannon between nearly identical rows (a model and its RL copy: log-probs apart by
// 1e-3 to 1e-1) to the precision of fp32 inputs, against long double arithmetic term by term.
// The former H(m) − ½H(a) − ½H(b) cancelled ~11 nats of entropy down to a JS of 1e-4 and was off
// by up to 4% per position.
TEST(CompareRows, JensenShannonOfNearlyIdenticalRowsIsExact) {
  for (const float noise : {1e-3f, 1e-2f, 1e-1f, 1.0f}) {
    const auto a = random_row(151936, 11, 3.0f);
    auto b = a;
    const auto e = random_row(b.size(), 12, noise);
    for (size_t j = 0; j < b.size(); ++j) b[j] += e[j];
    long double lse_a = 0, lse_b = 0, max_a = -1e30L, max_b = -1e30L;
    for (size_t j = 0; j < a.size(); ++j) max_a = std::max<long double>(max_a, a[j]), max_b = std::max<long double>(max_b, b[j]);
    for (size_t j = 0; j < a.size(); ++j) lse_a += std::exp((long double)a[j] - max_a), lse_b += std::exp((long double)b[j] - max_b);
    lse_a = max_a + std::log(lse_a);
    lse_b = max_b + std::log(lse_b);
    long double js = 0;
    for (size_t j = 0; j < a.size(); ++j) {
      const long double pa = std::exp((long double)a[j] - lse_a), pb = std::exp((long double)b[j] - lse_b);
      const long double d = (pa - pb) / (pa + pb);
      js += 0.5L * (pa * std::log1p(d) + pb * std::log1p(-d));
    }
    const double want = double(js / std::log(2.0L));
    RowSummary sa, sb;
    summarize_row(a, 0, 2, {}, &sa);
    summarize_row(b, 0, 2, {}, &sb);
    PairSummary simd, portable, reference;
    compare_rows(a, b, sa, sb, &simd);
    compare_rows_portable(a, b, sa, sb, &portable);
    compare_rows(a, b, &reference);
    SCOPED_TRACE("noise " + std::to_string(noise) + ", JS " + std::to_string(want) + " bits");
    EXPECT_NEAR(simd.js_bits, want, 1e-5 * want);
    EXPECT_NEAR(portable.js_bits, want, 1e-5 * want);
    EXPECT_NEAR(reference.js_bits, want, 1e-5 * want);
  }
}

// The AVX-512 sums (polynomial exp and log) against the portable loop (libm), on rows of real
// vocabulary size, peaked and flat, including a length that is not a multiple of 16 and rows
// whose probabilities underflow.
TEST(CompareRows, SimdSumsMatchThePortableLoop) {
  for (unsigned seed = 1; seed < 7; ++seed) {
    const size_t v = seed % 2 == 0 ? 151936 : 50003;
    auto a = random_row(v, seed, 1.0f + 3.0f * float(seed)), b = random_row(v, seed + 50, 2.0f);
    if (seed == 5) a[7] = 200.0f;  // one dominant token: the rest underflow in a
    RowSummary sa, sb;
    summarize_row(a, 0, 2, {}, &sa);
    summarize_row(b, 0, 2, {}, &sb);
    PairSummary simd, portable;
    compare_rows(a, b, sa, sb, &simd);
    compare_rows_portable(a, b, sa, sb, &portable);
    SCOPED_TRACE("seed " + std::to_string(seed));
    EXPECT_NEAR(simd.kl_ab, portable.kl_ab, 2e-6 * (1 + portable.kl_ab));
    EXPECT_NEAR(simd.kl_ba, portable.kl_ba, 2e-6 * (1 + portable.kl_ba));
    EXPECT_NEAR(simd.js_bits, portable.js_bits, 2e-6 * portable.js_bits);
    EXPECT_NEAR(simd.tv, portable.tv, 2e-6);
  }
}

}  // namespace
}  // namespace lsc::analysis
