// Collective: what data-parallel training needs from the processes it runs on (README "Scaling
// out"): its rank and their count, a deterministic sum of a float buffer, and a gather of one
// number per rank. The trainer uses only this interface; MPI lives behind it in mpi_comm.cc
// (built with MPI=1; mpi_none.cc otherwise), so nothing else includes an MPI header.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rpg {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // data[0, n) becomes, on every rank, the sum over the ranks of their data[0, n), added in rank
  // order (((r0 + r1) + r2) + ...) element by element: the same bits on every rank and in every
  // run with the same ranks. Every rank calls it with the same n. Error(CommError) when another
  // rank has died or has not called it within the timeout.
  virtual void sum(float* data, int64_t n) = 0;
  // Every rank's value, in rank order (the same vector on every rank).
  virtual std::vector<uint64_t> gather(uint64_t value) = 0;
  // Bytes this rank has handed to the transport so far (sent; what it receives is the same).
  virtual int64_t bytes_sent() const = 0;
  // "rank 1 of 4 (host)": for messages.
  virtual std::string describe() const = 0;
  // True after a failed or timed-out exchange: the other ranks may be anywhere, so the program
  // should end the job (abort_job) rather than wait for them (MPI_Finalize).
  virtual bool broken() const = 0;
  // Ends every process of the job at once (MPI_Abort). For a program's last resort after a
  // communication error; the library itself never calls it.
  virtual void abort_job(int exit_code) noexcept = 0;
};

// One process: rank 0 of 1, sums and gathers are identities.
class SingleProcess final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void sum(float*, int64_t) override {}
  std::vector<uint64_t> gather(uint64_t value) override { return {value}; }
  int64_t bytes_sent() const override { return 0; }
  std::string describe() const override { return "rank 0 of 1"; }
  bool broken() const override { return false; }
  void abort_job(int) noexcept override {}
};

// What the build supports and how the process was started.
bool built_with_mpi();
// True when an MPI launcher (mpirun, mpiexec, srun with PMI) started this process.
bool launched_by_mpi();

// The value of `communicator` that means MPI_COMM_WORLD (else: a communicator's Fortran handle,
// MPI_Comm_c2f, which is an integer and so crosses any language boundary).
constexpr int64_t kCommWorld = -1;

// Data-parallel training over MPI on a duplicate of `communicator`. Initialises MPI
// (MPI_Init_thread, serialized) when the program has not. timeout_seconds (> 0) bounds every
// wait for the other ranks: past it, sum and gather fail with Error(CommError) instead of
// hanging. Error(Unsupported) in a build without MPI; Error(CommError) when MPI fails.
std::unique_ptr<Collective> connect_mpi(int64_t communicator, double timeout_seconds);
// MPI_Finalize when MPI is initialised and not yet finalised (a program that let connect_mpi
// initialise MPI calls this once before it exits); nothing otherwise or without MPI.
void finalize_mpi();

}  // namespace rpg
