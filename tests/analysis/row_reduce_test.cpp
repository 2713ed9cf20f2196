// reduce_rows (the fast single-pass statistics) against the reference row_stats / rank_of / top_k:
// argmax, rank and top-k exactly (they compare the same floats); logsumexp and entropy within
// 1e-6 (float exp with relative error < 4e-7 summed in double, against exp in double).
#include "analysis/row_reduce.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "analysis/token_metrics.h"

namespace lsc::analysis {
namespace {

void expect_matches_reference(const std::vector<float>& l, int64_t n_rows, int64_t vocab, int k,
                              const std::vector<int32_t>& targets, const char* what) {
  std::vector<std::vector<ReducedRow>> runs;  // the dispatch, then each ISA this CPU runs
  runs.emplace_back(static_cast<size_t>(n_rows));
  reduce_rows(l.data(), n_rows, vocab, targets.data(), k, runs.back().data());
  for (const char* isa : {"scalar", "avx2", "avx512"}) {
    std::vector<ReducedRow> got(static_cast<size_t>(n_rows));
    if (reduce_rows_isa(isa, l.data(), n_rows, vocab, targets.data(), k, got.data())) runs.push_back(got);
  }
  ASSERT_GE(runs.size(), 2u);  // the portable build runs everywhere
  for (const std::vector<ReducedRow>& got : runs) {
    for (int64_t r = 0; r < n_rows; ++r) {
      std::span<const float> row(l.data() + r * vocab, static_cast<size_t>(vocab));
      const RowStats ref = row_stats(row);
      const ReducedRow& g = got[size_t(r)];
      // |Δ log S| ≤ max relative error of one term (4e-7) + double rounding: 1e-6 with headroom;
      // entropy = log S − E/S carries the same relative error on values ≤ log V ≈ 12: 1e-6·12.
      EXPECT_NEAR(g.logsumexp, ref.logsumexp, 1e-6 * std::max(1.0, std::fabs(ref.logsumexp)))
          << what << " row " << r;
      EXPECT_NEAR(g.entropy_nats, ref.entropy_nats, 1.2e-5) << what << " row " << r;
      EXPECT_EQ(g.argmax, ref.argmax) << what << " row " << r;
      if (targets[size_t(r)] >= 0) {
        EXPECT_EQ(g.rank, rank_of(row, targets[size_t(r)])) << what << " row " << r;
        EXPECT_EQ(g.target_logit, row[size_t(targets[size_t(r)])]);
      }
      const auto top = top_k(row, k);
      ASSERT_EQ(g.n_top, static_cast<int>(top.size())) << what;
      for (size_t i = 0; i < top.size(); ++i) {
        EXPECT_EQ(g.top[i].first, top[i].first) << what << " row " << r << " top " << i;
        EXPECT_EQ(g.top[i].second, top[i].second) << what << " row " << r << " top " << i;
      }
    }
  }
}

TEST(RowReduce, MatchesReferenceOnRandomRowsOfManySizes) {
  std::mt19937 g(3);
  std::normal_distribution<float> d(0.0f, 3.0f);
  for (int64_t vocab : {1, 2, 15, 16, 17, 2047, 2048, 2049, 5000, 151936}) {
    const int64_t n_rows = vocab > 10000 ? 6 : 9;
    std::vector<float> l(static_cast<size_t>(n_rows * vocab));
    for (float& x : l) x = d(g);
    std::vector<int32_t> targets;
    for (int64_t r = 0; r < n_rows; ++r)
      targets.push_back(r == 2 ? -1 : static_cast<int32_t>((r * 7919) % vocab));
    for (int k : {0, 1, 5, 16}) expect_matches_reference(l, n_rows, vocab, k, targets, "random");
  }
}

// The AVX2 build compiles the portable loops at twice the width, without contraction: the same
// values, bit for bit (a reassociation or an FMA would show in the sums' last bits).
TEST(RowReduce, Avx2BuildRepeatsThePortableBuildBitForBit) {
  std::mt19937 g(5);
  std::normal_distribution<float> d(0.0f, 4.0f);
  const int64_t n_rows = 5, vocab = 151936;
  std::vector<float> l(static_cast<size_t>(n_rows * vocab));
  for (float& x : l) x = d(g);
  const std::vector<int32_t> t = {0, 17, -1, 151935, 4000};
  std::vector<ReducedRow> avx2(static_cast<size_t>(n_rows)), portable(static_cast<size_t>(n_rows));
  if (!reduce_rows_isa("avx2", l.data(), n_rows, vocab, t.data(), 16, avx2.data()))
    GTEST_SKIP() << "skipped: this CPU cannot run avx2";
  ASSERT_TRUE(reduce_rows_isa("scalar", l.data(), n_rows, vocab, t.data(), 16, portable.data()));
  for (int64_t r = 0; r < n_rows; ++r) {
    const ReducedRow &a = avx2[size_t(r)], &b = portable[size_t(r)];
    EXPECT_EQ(std::memcmp(&a.logsumexp, &b.logsumexp, 8), 0) << "row " << r;
    EXPECT_EQ(std::memcmp(&a.entropy_nats, &b.entropy_nats, 8), 0) << "row " << r;
    EXPECT_EQ(a.rank, b.rank);
    EXPECT_EQ(a.n_top, b.n_top);
    for (int i = 0; i < a.n_top; ++i) EXPECT_EQ(a.top[i], b.top[i]);
  }
}

TEST(RowReduce, TiesRisingMaximaAndExtremesMatchReference) {
  const int64_t vocab = 10000;
  std::vector<float> l(static_cast<size_t>(4 * vocab));
  for (int64_t j = 0; j < vocab; ++j) {
    l[size_t(j)] = 1.0f;                                     // all tied: argmax 0, ranks 1
    l[size_t(vocab + j)] = static_cast<float>(j) * 0.01f;    // maximum rises in every block
    l[size_t(2 * vocab + j)] = (j % 3 == 0) ? 2.0f : -1.0f;  // many ties at the top
    l[size_t(3 * vocab + j)] = j == 5 ? 80.0f : -80.0f;      // one dominant logit, e^-160 terms
  }
  expect_matches_reference(l, 4, vocab, 5, {7, 9999, 3, 5}, "constructed");
}

TEST(RowReduce, UniformRowHasEntropyLogV) {
  const std::vector<float> l(151936, 3.5f);
  ReducedRow s;
  reduce_rows(l.data(), 1, 151936, nullptr, 5, &s);
  EXPECT_NEAR(s.entropy_nats, std::log(151936.0), 1e-6);
  EXPECT_NEAR(s.logsumexp, 3.5 + std::log(151936.0), 1e-6);
  EXPECT_EQ(s.rank, 0);
}

TEST(RowReduce, BitwiseIdenticalForAnyThreadCount) {
  std::mt19937 g(9);
  std::normal_distribution<float> d(0.0f, 2.0f);
  const int64_t n_rows = 7, vocab = 30000;
  std::vector<float> l(static_cast<size_t>(n_rows * vocab));
  for (float& x : l) x = d(g);
  std::vector<int32_t> t(static_cast<size_t>(n_rows), 11);
  auto run = [&](int threads) {
    omp_set_num_threads(threads);
    std::vector<ReducedRow> out(static_cast<size_t>(n_rows));
    reduce_rows(l.data(), n_rows, vocab, t.data(), 5, out.data());
    return out;
  };
  const auto a = run(1), b = run(3);
  omp_set_num_threads(omp_get_num_procs());
  for (int64_t r = 0; r < n_rows; ++r) {
    EXPECT_EQ(a[size_t(r)].logsumexp, b[size_t(r)].logsumexp);
    EXPECT_EQ(a[size_t(r)].entropy_nats, b[size_t(r)].entropy_nats);
  }
}

}  // namespace
}  // namespace lsc::analysis
