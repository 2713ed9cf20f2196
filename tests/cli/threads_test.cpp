// The default thread count: the affinity mask's CPUs, lowered to a cgroup's CPU quota and to an
// equal share among MPI ranks whose masks overlap; a warning for ranks bound to too few CPUs.
#include <gtest/gtest.h>

#include <cstdlib>

#include "cli/mpi_world.h"
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

// The first variable a launcher set wins, 0 included: Open MPI's local rank 0 is rank 0 even where
// a Slurm allocation around mpirun left SLURM_LOCALID of the batch step in the environment.
TEST(LauncherValue, TheFirstSetVariableWinsAndZeroIsAValue) {
  ::setenv("LSC_TEST_LV_A", "0", 1);
  ::setenv("LSC_TEST_LV_B", "3", 1);
  EXPECT_EQ(launcher_value({"LSC_TEST_LV_A", "LSC_TEST_LV_B"}), 0);
  ::unsetenv("LSC_TEST_LV_A");
  EXPECT_EQ(launcher_value({"LSC_TEST_LV_A", "LSC_TEST_LV_B"}), 3);
  ::setenv("LSC_TEST_LV_B", "2(x3)", 1);  // Slurm's "2 tasks on each of 3 nodes"
  EXPECT_EQ(launcher_value({"LSC_TEST_LV_B"}), 2);
  for (const char* not_a_count : {"", "x", "-1", "99999999999"}) {
    ::setenv("LSC_TEST_LV_B", not_a_count, 1);
    EXPECT_EQ(launcher_value({"LSC_TEST_LV_A", "LSC_TEST_LV_B"}), std::nullopt) << '"' << not_a_count << '"';
  }
  ::unsetenv("LSC_TEST_LV_B");
}

}  // namespace
}  // namespace lsc::cli
