// Row statistics against closed forms: uniform rows, a two-point distribution, ties in rank and
// top-k, and the t−1 alignment of PositionCollector.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "analysis/token_metrics.h"

namespace lsc::analysis {
namespace {

TEST(RowStats, UniformRowHasEntropyLogV) {
  const std::vector<float> l(151936, 3.5f);
  const RowStats s = row_stats(l);
  EXPECT_NEAR(s.entropy_nats, std::log(151936.0), 1e-9);
  EXPECT_NEAR(s.logsumexp, 3.5 + std::log(151936.0), 1e-9);
  EXPECT_EQ(s.argmax, 0);
}

TEST(RowStats, TwoPointDistribution) {
  // logits [ln 3, 0] → p = [3/4, 1/4]; H = −(¾ ln ¾ + ¼ ln ¼)
  const std::vector<float> l = {std::log(3.0f), 0.0f};
  const RowStats s = row_stats(l);
  EXPECT_NEAR(s.entropy_nats, -(0.75 * std::log(0.75) + 0.25 * std::log(0.25)), 1e-7);
  EXPECT_NEAR(s.logsumexp, std::log(4.0), 1e-7);
  EXPECT_EQ(s.argmax, 0);
}

TEST(RowStats, ExtremeLogitsDoNotOverflow) {
  const std::vector<float> l = {1000.0f, -1000.0f, 999.0f};
  const RowStats s = row_stats(l);
  EXPECT_TRUE(std::isfinite(s.entropy_nats));
  EXPECT_NEAR(s.logsumexp, 1000.0 + std::log(1.0 + std::exp(-1.0)), 1e-9);
}

TEST(Rank, CountsStrictlyGreaterLogitsPlusOneSoTiesFavourTheToken) {
  const std::vector<float> l = {1, 5, 5, 2, 5};
  EXPECT_EQ(rank_of(l, 1), 1);
  EXPECT_EQ(rank_of(l, 2), 1);
  EXPECT_EQ(rank_of(l, 3), 4);
  EXPECT_EQ(rank_of(l, 0), 5);
}

TEST(TopK, DescendingWithTiesBySmallerId) {
  const std::vector<float> l = {1, 5, 5, 2, 7};
  const auto t = top_k(l, 3);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].first, 4);
  EXPECT_EQ(t[1].first, 1);
  EXPECT_EQ(t[2].first, 2);
  EXPECT_EQ(top_k(l, 10).size(), 5u);
}

// k = 0 once read best.back() of an empty vector (found by ASan through RowReduce's k = 0 case).
TEST(TopK, ZeroOrNegativeKAndEmptyRowGiveNothing) {
  const std::vector<float> l = {1, 5, 2};
  EXPECT_TRUE(top_k(l, 0).empty());
  EXPECT_TRUE(top_k(l, -1).empty());
  EXPECT_TRUE(top_k(std::span<const float>(), 3).empty());
}

TEST(PositionCollector, ReadsTokenTFromRowTMinusOne) {
  // vocab 2; row 0 favours id 1 strongly, row 1 favours id 0.
  const std::vector<int32_t> ids = {0, 1, 1};
  const std::vector<float> logits = {0, 10, 10, 0, 0, 0};
  PositionCollector c(ids);
  c.add_rows(0, 2, 2, logits.data());
  c.add_rows(2, 1, 2, logits.data() + 4);  // last row predicts past the end: no metric
  ASSERT_EQ(c.metrics().size(), 2u);
  EXPECT_EQ(c.metrics()[0].pos, 1);
  EXPECT_NEAR(c.metrics()[0].logprob, -std::log1p(std::exp(-10.0)), 1e-6);
  EXPECT_EQ(c.metrics()[0].rank, 1);
  EXPECT_EQ(c.metrics()[1].pos, 2);
  EXPECT_NEAR(c.metrics()[1].logprob, -10 - std::log1p(std::exp(-10.0)), 1e-5);
  EXPECT_EQ(c.metrics()[1].rank, 2);
}

}  // namespace
}  // namespace lsc::analysis
