#include "cli/threads.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "cli/mpi_world.h"
#include "io/cgroup.h"
#include "kernels/cpu/kernels.h"

namespace lsc::cli {
ThreadDefault default_threads(int mask, int online, std::optional<int> quota, int local_ranks) {
  ThreadDefault d;
  d.threads = std::max(1, mask);
  online = std::max(online, d.threads);
  local_ranks = std::max(1, local_ranks);
  if (local_ranks > 1 && d.threads * local_ranks > online) {
    d.threads = std::max(1, online / local_ranks);
    d.why = "an equal share of the node's " + std::to_string(online) + " CPUs among its " +
            std::to_string(local_ranks) + " MPI ranks, whose CPU masks overlap (" + std::to_string(mask) + " CPUs each)";
  }
  if (quota && *quota < d.threads) {
    d.threads = *quota;
    d.why = "the CPU quota of this process's cgroup (its mask has " + std::to_string(mask) + " CPUs)";
  }
  if (local_ranks > 1 && 2 * mask * local_ranks <= online) {
    d.warning = "each of the " + std::to_string(local_ranks) + " MPI ranks on this node may run on " + std::to_string(mask) +
                " of its " + std::to_string(online) + " CPUs (mpirun binds a rank to one core when there are one or two, "
                "srun to --cpus-per-task): give each its share (mpirun --bind-to none, or --map-by socket:PE=" +
                std::to_string(std::max(1, online / local_ranks)) + "; srun --cpus-per-task) or the run uses " +
                std::to_string(mask * local_ranks) + " CPUs";
  }
  return d;
}

void apply_default_threads(bool threads_given) {
  if (const char* e = std::getenv("OMP_NUM_THREADS"); e != nullptr && *e != '\0') return;
  // Ranks on this node: Open MPI, then MPICH's Hydra, then Slurm (with --ntasks-per-node).
  const int local_ranks = launcher_value({"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"}).value_or(1);
  const int local_rank = launcher_value({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}).value_or(0);
  const int mask = omp_get_max_threads();
  const ThreadDefault d = default_threads(mask, static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)), io::cgroup_cpu_limit(),
                                          local_ranks);
  if (d.threads != mask) omp_set_num_threads(d.threads);
  if (!d.why.empty() && cpu::verbose()) {
    std::fprintf(stderr, "logitscope: OpenMP threads by default: %d, %s; --threads or OMP_NUM_THREADS set another number\n",
                 d.threads, d.why.c_str());
  }
  if (!d.warning.empty() && local_rank == 0 && !threads_given) std::fprintf(stderr, "logitscope: warning: %s\n", d.warning.c_str());
}

}  // namespace lsc::cli
