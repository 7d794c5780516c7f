// Collective without MPI (collective.h): the build made without MPI=1 (no mpicxx found) links
// this file instead of mpi_comm.cc, so that nothing depends on MPI.
#include "base/error.h"
#include "train/collective.h"

namespace rpg {

bool built_with_mpi() { return false; }

std::unique_ptr<Collective> connect_mpi(int64_t, double) {
  fail(Status::Unsupported,
       "this rpgnet was built without MPI: install libopenmpi-dev (make deps) and rebuild with make MPI=1");
}

void finalize_mpi() {}

}  // namespace rpg
