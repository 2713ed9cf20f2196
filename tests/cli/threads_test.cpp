// The default thread count: the affinity mask's CPUs, lowered to a cgroup's CPU quota and to an
// equal share among MPI ranks whose masks overlap; a warning for ranks bound to too few CPUs.
#include <gtest/gtest.h>

#include "cli/threads.h"

namespace lsc::cli {
namespace {

TEST(DefaultThreads, TheMaskAloneWithoutQuotaOrRanks) {
  const ThreadDefault d = default_threads(64, 64, std::nullopt, 1);
  EXPECT_EQ(d.threads, 64);
  EXPECT_EQ(d.why, "");
  EXPECT_EQ(d.warning, "");
  EXPECT_EQ(default_threads(8, 64, std::nullopt, 1).threads, 8) << "taskset, or srun --cpus-per-task 8";
}

TEST(DefaultThreads, ACpuQuotaBelowTheMaskCaps) {
  const ThreadDefault d = default_threads(128, 128, 4, 1);
  EXPECT_EQ(d.threads, 4);
  EXPECT_NE(d.why.find("CPU quota"), std::string::npos) << d.why;
  EXPECT_EQ(default_threads(8, 128, 16, 1).threads, 8) << "a quota above the mask changes nothing";
}

TEST(DefaultThreads, RanksWithOverlappingMasksShareTheNode) {
  // mpirun -np 4 on one 64-CPU socket: every rank's mask is the socket.
  const ThreadDefault d = default_threads(64, 64, std::nullopt, 4);
  EXPECT_EQ(d.threads, 16);
  EXPECT_NE(d.why.find("equal share of the node's 64 CPUs among its 4 MPI ranks"), std::string::npos) << d.why;
  EXPECT_EQ(d.warning, "");
  // Two ranks each bound to its own socket of a 2 × 32-CPU node: masks apart, nothing changes.
  EXPECT_EQ(default_threads(32, 64, std::nullopt, 2).threads, 32);
  // More ranks than CPUs: one thread each.
  EXPECT_EQ(default_threads(2, 2, std::nullopt, 3).threads, 1);
}

TEST(DefaultThreads, RanksBoundToOneCoreOfAManyCoreNodeAreWarnedAbout) {
  // mpirun -np 2 binds each rank to one core.
  const ThreadDefault d = default_threads(1, 64, std::nullopt, 2);
  EXPECT_EQ(d.threads, 1);
  EXPECT_NE(d.warning.find("each of the 2 MPI ranks on this node may run on 1 of its 64 CPUs"), std::string::npos)
      << d.warning;
  EXPECT_NE(d.warning.find("--map-by socket:PE=32"), std::string::npos) << d.warning;
  // On a 2-CPU machine one core each is the share: no warning.
  EXPECT_EQ(default_threads(1, 2, std::nullopt, 2).warning, "");
}

}  // namespace
}  // namespace lsc::cli
