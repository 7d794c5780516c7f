// What the process was started by (collective.h); the same in builds with and without MPI.
#include "train/collective.h"

#include <cstdlib>

namespace rpg {

bool launched_by_mpi() {
  // Open MPI's mpirun, PMIx launchers, MPICH's Hydra and Slurm's srun with PMI set these.
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

}  // namespace rpg
