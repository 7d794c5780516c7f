// Collective over MPI (collective.h), built with MPI=1. The sum is a reduce-scatter then an
// all-gather, both as MPI collectives: chunk c of the buffer goes from every rank to rank c
// (MPI_Alltoallv), which adds the ranks' chunks in rank order, then every rank gets every
// summed chunk (MPI_Allgatherv). Each rank sends 2 (N - 1) / N of the buffer, as a ring
// all-reduce does, and the order of the additions is fixed (MPI_Allreduce leaves it to the
// implementation), so that every rank and every run gets the same bits. Waits poll the
// non-blocking forms with a deadline, so that a stopped or dead rank ends in an error.
#include <mpi.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "train/collective.h"

namespace rpg {

namespace {

std::string mpi_message(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, size_t(length));
}

class MpiCollective final : public Collective {
 public:
  MpiCollective(MPI_Comm comm, double timeout) : comm_(comm), timeout_(timeout) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    char host[MPI_MAX_PROCESSOR_NAME];
    int length = 0;
    if (MPI_Get_processor_name(host, &length) == MPI_SUCCESS) host_.assign(host, size_t(length));
  }
  ~MpiCollective() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && !broken_) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int64_t bytes_sent() const override { return bytes_sent_; }
  std::string describe() const override {
    return "rank " + std::to_string(rank_) + " of " + std::to_string(size_) + (host_.empty() ? "" : " (" + host_ + ")");
  }
  bool broken() const override { return broken_; }
  void abort_job(int exit_code) noexcept override { MPI_Abort(comm_, exit_code); }

  void sum(float* data, int64_t n) override {
    usable();
    if (size_ == 1 || n <= 0) return;
    // Chunk c: [start(c), start(c + 1)), as even as the division allows.
    auto start = [&](int c) { return n * c / size_; };
    if (start(1) + 1 > INT_MAX)
      fail(Status::InvalidArgument, describe() + ": " + std::to_string(n) + " floats are too many to sum at once");
    const size_t ranks = static_cast<size_t>(size_);
    std::vector<int> send_counts(ranks), send_at(ranks), recv_counts(ranks), recv_at(ranks);
    const int mine = int(start(rank_ + 1) - start(rank_));
    for (int c = 0; c < size_; ++c) {
      send_counts[size_t(c)] = int(start(c + 1) - start(c));
      send_at[size_t(c)] = int(start(c));
      recv_counts[size_t(c)] = mine;
      recv_at[size_t(c)] = c * mine;
    }
    received_.resize(size_t(size_) * size_t(mine));
    MPI_Request request;
    check(MPI_Ialltoallv(data, send_counts.data(), send_at.data(), MPI_FLOAT, received_.data(), recv_counts.data(),
                         recv_at.data(), MPI_FLOAT, comm_, &request),
          "MPI_Ialltoallv");
    wait(request, "exchanging the gradients (reduce-scatter)");
    // Rank order: ((r0 + r1) + r2) + ...
    float* out = data + start(rank_);
    for (int i = 0; i < mine; ++i) out[i] = received_[size_t(i)];
    for (int r = 1; r < size_; ++r) {
      const float* in = received_.data() + size_t(r) * size_t(mine);
      for (int i = 0; i < mine; ++i) out[i] += in[i];
    }
    check(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, data, send_counts.data(), send_at.data(), MPI_FLOAT, comm_,
                          &request),
          "MPI_Iallgatherv");
    wait(request, "exchanging the gradients (all-gather)");
    bytes_sent_ += int64_t(sizeof(float)) * ((n - mine) + int64_t(size_ - 1) * mine);
  }

  std::vector<uint64_t> gather(uint64_t value) override {
    usable();
    std::vector<uint64_t> all(static_cast<size_t>(size_));
    MPI_Request request;
    check(MPI_Iallgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, comm_, &request), "MPI_Iallgather");
    wait(request, "gathering a value from every rank");
    bytes_sent_ += int64_t(sizeof(value)) * (size_ - 1);
    return all;
  }

 private:
  void usable() const {
    if (broken_)
      fail(Status::CommError, describe() + ": an earlier exchange with the other ranks failed; the run cannot go on");
  }
  void check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    broken_ = true;
    fail(Status::CommError, describe() + ": " + call + " failed: " + mpi_message(code) +
                                " (another rank has probably died; see its output)");
  }
  // Polls the request: busy at first, then yielding the core, then in 100 us sleeps, so that a
  // rank waiting for a slower one leaves it the CPU.
  void wait(MPI_Request& request, const char* what) {
    using Clock = std::chrono::steady_clock;
    const auto begin = Clock::now();
    for (int64_t polls = 0;; ++polls) {
      int done = 0;
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (done) return;
      if (polls < 1000) continue;
      const double waited = std::chrono::duration<double>(Clock::now() - begin).count();
      if (waited > timeout_) {
        broken_ = true;
        char limit[32];
        std::snprintf(limit, sizeof limit, "%g", timeout_);
        fail(Status::CommError, describe() + ": no answer from the other ranks for " + limit + " s while " + what +
                                    ": a rank has stopped, hangs or died (raise the limit with --mpi-timeout if "
                                    "one is only slow)");
      }
      if (waited < 0.01)
        sched_yield();
      else
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  MPI_Comm comm_;
  double timeout_;
  int rank_ = 0, size_ = 1;
  std::string host_;
  std::vector<float> received_;
  int64_t bytes_sent_ = 0;
  bool broken_ = false;
};

}  // namespace

bool built_with_mpi() { return true; }

std::unique_ptr<Collective> connect_mpi(int64_t communicator, double timeout_seconds) {
  if (!(timeout_seconds > 0) || !std::isfinite(timeout_seconds))
    fail(Status::InvalidArgument, "the MPI timeout must be a positive number of seconds, got " + std::to_string(timeout_seconds));
  if (communicator != kCommWorld && (communicator < 0 || communicator > INT_MAX))
    fail(Status::InvalidArgument, "communicator " + std::to_string(communicator) +
                                      " is neither RPG_COMM_WORLD (-1) nor an MPI communicator's Fortran handle (MPI_Comm_c2f)");
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (finalized) fail(Status::CommError, "MPI has already been finalised in this process: it cannot be used again");
  if (!initialized) {
    int provided = 0;
    const int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    if (code != MPI_SUCCESS) fail(Status::CommError, "MPI_Init_thread failed: " + mpi_message(code));
  }
  MPI_Comm base = communicator == kCommWorld ? MPI_COMM_WORLD : MPI_Comm_f2c(MPI_Fint(communicator));
  if (base == MPI_COMM_NULL)
    fail(Status::InvalidArgument, "communicator " + std::to_string(communicator) + " is not a valid MPI communicator handle");
  // Errors come back as codes on the run's own communicator (a duplicate: its traffic never
  // mixes with the program's own), never MPI's default of aborting the job.
  MPI_Comm comm = MPI_COMM_NULL;
  int code = MPI_Comm_dup(base, &comm);
  if (code == MPI_SUCCESS) code = MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  if (code != MPI_SUCCESS) fail(Status::CommError, "MPI_Comm_dup failed: " + mpi_message(code));
  return std::make_unique<MpiCollective>(comm, timeout_seconds);
}

void finalize_mpi() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Finalize();
}

}  // namespace rpg
