// Shard specs and the balanced assignment of texts to shards.
#include "results/shard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "io/error.h"

namespace lsc::results {
namespace {

TEST(Shard, ParsesIOfN) {
  const ShardSpec s = parse_shard("2/5", "--shard");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 5);
  EXPECT_TRUE(s.sharded());
  EXPECT_FALSE(parse_shard("0/1", "--shard").sharded());
}

TEST(Shard, RejectsMalformedSpecsNamingTheFlag) {
  for (const char* bad : {"", "3", "/2", "1/", "2/2", "5/2", "-1/2", "1/0", "a/b", "1/2/3", "1.0/2", "0/99999999"}) {
    try {
      parse_shard(bad, "--shard");
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--shard: expected I/N"), std::string::npos) << e.what();
    }
  }
}

TEST(Shard, AssignmentCoversEveryTextOnceAndBalancesTokens) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> len(10, 4000);
  std::vector<int64_t> tokens(500);
  for (auto& t : tokens) t = len(rng);
  for (int n : {1, 2, 3, 7, 16}) {
    const auto shard = assign_shards(tokens, n);
    ASSERT_EQ(shard.size(), tokens.size());
    std::vector<int64_t> load(static_cast<size_t>(n), 0);
    for (size_t i = 0; i < tokens.size(); ++i) {
      ASSERT_GE(shard[i], 0);
      ASSERT_LT(shard[i], n);
      load[size_t(shard[i])] += tokens[i];
    }
    // Greedy longest-first: loads differ by at most the longest text.
    const auto [lo, hi] = std::minmax_element(load.begin(), load.end());
    EXPECT_LE(*hi - *lo, *std::max_element(tokens.begin(), tokens.end())) << n << " shards";
    EXPECT_EQ(assign_shards(tokens, n), shard) << "the assignment must be the same in every process";
  }
}

TEST(Shard, MoreShardsThanTextsLeavesSomeEmpty) {
  const auto shard = assign_shards({5, 9}, 4);
  EXPECT_EQ(shard, (std::vector<int>{1, 0}));
}

TEST(Shard, DirectoryNamesIndexAndCount) {
  EXPECT_EQ(shard_dir("out", ShardSpec{1, 4}), "out/shards/1-of-4");
}

}  // namespace
}  // namespace lsc::results
