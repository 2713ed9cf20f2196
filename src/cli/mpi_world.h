// The MPI job this process belongs to, if it was started by mpirun/srun. MPI is initialised only
// then: without a launcher the program runs as a single process, exactly as without MPI. The
// build works without MPI (LSC_MPI=OFF or no MPI found); such a build refuses to run under a
// launcher with more than one rank rather than have every rank do the whole job.
#pragma once

#include <initializer_list>
#include <optional>

namespace lsc::cli {

// The value of the first of `vars` that a launcher set to a whole number >= 0 (its leading
// digits: Slurm writes some counts as "2(x3)"), nothing where none is. Launchers name the same
// fact differently: Open MPI, MPICH's Hydra, Slurm.
std::optional<int> launcher_value(std::initializer_list<const char*> vars);

class MpiWorld {
 public:
  MpiWorld();   // initialises MPI when launched as one of several ranks
  ~MpiWorld();  // finalises it
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // The largest of every rank's value (collective: every rank must call it).
  int max_over_ranks(int value) const;

  static bool compiled_with_mpi();
  // The number of ranks a launcher (mpirun, srun) started, from its environment; 0 without one.
  static int launched_ranks();

 private:
  int rank_ = 0, size_ = 1;
  bool initialised_ = false;
};

}  // namespace lsc::cli
