// The default number of OpenMP threads of a command (before --threads). OpenMP's own default is
// the CPUs of the affinity mask, which misses two cases that leave a run many times slower:
// - a container's CPU quota (docker --cpus, a Kubernetes CPU limit; cgroup cpu.max) does not
//   narrow the mask: 128 threads sharing a quota of 4 CPUs are throttled in turn at every barrier;
// - MPI ranks on one node whose masks overlap (Open MPI's mpirun binds each rank to a whole
//   socket when there are more than two) each start a thread per CPU of the mask.
// And one it can only warn about: ranks bound to fewer CPUs than their share of the node (mpirun
// binds each rank to one core when there are one or two; srun without --cpus-per-task).
#pragma once

#include <optional>
#include <string>

namespace lsc::cli {

struct ThreadDefault {
  int threads = 1;
  std::string why;      // why it is below the mask's CPUs (empty when it is not)
  std::string warning;  // a rank bound to far fewer CPUs than its share (empty otherwise)
};

// mask: CPUs of the affinity mask; online: the node's CPUs; quota: the cgroup's CPU quota;
// local_ranks: MPI ranks on this node (1 without MPI).
ThreadDefault default_threads(int mask, int online, std::optional<int> quota, int local_ranks);

// Sets OpenMP's default from default_threads() unless OMP_NUM_THREADS is set; says why under
// LSC_VERBOSE=1, and prints the warning (once per node: by the node's first rank) unless the
// command line sets the threads itself (`threads_given`: --threads).
void apply_default_threads(bool threads_given);

}  // namespace lsc::cli
