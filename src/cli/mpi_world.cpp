#include "cli/mpi_world.h"

#include <cstdlib>
#include <string>

#include "io/error.h"

#ifdef LSC_HAVE_MPI
// The C API only: Open MPI's header would otherwise pull in its deprecated C++ bindings.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace lsc::cli {

std::optional<int> launcher_value(std::initializer_list<const char*> vars) {
  for (const char* var : vars) {
    const char* v = std::getenv(var);
    if (v == nullptr || *v < '0' || *v > '9') continue;
    long n = 0;
    for (; *v >= '0' && *v <= '9' && n <= 1000000000L; ++v) n = n * 10 + (*v - '0');
    if (n <= 1000000000L) return static_cast<int>(n);
  }
  return std::nullopt;
}

namespace {

// World size announced by a launcher: Open MPI's mpirun, PMI-2 (MPICH's mpiexec, srun
// --mpi=pmi2), or srun --mpi=pmix (PMIX_RANK set, size in SLURM_NTASKS).
int launcher_world_size() {
  if (const auto n = launcher_value({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}); n && *n > 0) return *n;
  if (std::getenv("PMIX_RANK") != nullptr) return launcher_value({"SLURM_NTASKS"}).value_or(0);
  return 0;
}

}  // namespace

bool MpiWorld::compiled_with_mpi() {
#ifdef LSC_HAVE_MPI
  return true;
#else
  return false;
#endif
}

int MpiWorld::launched_ranks() { return launcher_world_size(); }

MpiWorld::MpiWorld() {
  const int announced = launcher_world_size();
  if (announced <= 1) return;
#ifdef LSC_HAVE_MPI
  // Only the main thread calls MPI; OpenMP threads never do.
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  initialised_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
#else
  throw UsageError("started as one of " + std::to_string(announced) +
                   " MPI ranks, but this logitscope was built without MPI (install libopenmpi-dev and rebuild, "
                   "or use --shard I/N per process and 'logitscope merge')");
#endif
}

MpiWorld::~MpiWorld() {
#ifdef LSC_HAVE_MPI
  if (initialised_) MPI_Finalize();
#endif
}

int MpiWorld::max_over_ranks(int value) const {
#ifdef LSC_HAVE_MPI
  if (initialised_) {
    int out = value;
    MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return out;
  }
#endif
  return value;
}

}  // namespace lsc::cli
