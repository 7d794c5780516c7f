// Shards of a global batch and the gradient exchange of data-parallel training (data_parallel.h).
#include "train/data_parallel.h"

#include <algorithm>
#include <cstring>
#include <exception>

#include "base/error.h"

namespace rpg {

Shard shard_for(int batch, int max_pass, int rank, int ranks) {
  if (batch < 1 || max_pass < 1 || ranks < 1 || rank < 0 || rank >= ranks)
    fail(Status::InvalidArgument, "shard_for: batch " + std::to_string(batch) + ", pass " + std::to_string(max_pass) +
                                      ", rank " + std::to_string(rank) + " of " + std::to_string(ranks));
  if (batch < ranks)
    fail(Status::InvalidArgument, "batch=" + std::to_string(batch) + " is smaller than the " + std::to_string(ranks) +
                                      " ranks: every rank needs at least one image of each batch (raise batch or run fewer ranks)");
  Shard s;
  const int64_t base = batch / ranks, extra = batch % ranks;
  s.count = base + (rank < extra ? 1 : 0);
  s.offset = int64_t(rank) * base + std::min<int64_t>(rank, extra);
  const bool aligned = base % max_pass == 0 && (extra == 0 || (base + 1) % max_pass == 0);
  s.first_index = aligned ? s.offset / max_pass : s.offset;
  s.counter_step = aligned ? batch / max_pass : batch;
  for (int64_t p = std::min<int64_t>(max_pass, s.count); p >= 1; --p)
    if (s.count % p == 0) {
      s.pass = int(p);
      break;
    }
  s.passes = int(s.count / s.pass);
  s.index_step = aligned ? 1 : s.pass;
  return s;
}

void on_every_rank(Collective& comm, const std::string& what, const std::function<void()>& step) {
  std::exception_ptr error;
  try {
    step();
  } catch (...) {
    error = std::current_exception();
  }
  const std::vector<uint64_t> failed = comm.gather(error ? 1 : 0);
  if (error) std::rethrow_exception(error);
  for (size_t r = 0; r < failed.size(); ++r)
    if (failed[r])
      fail(Status::CommError, comm.describe() + ": " + what + " failed on rank " + std::to_string(r) +
                                  " (its own message says why)");
}

GradientExchange::GradientExchange(Network& net, Collective& comm)
    : net_(net), comm_(comm), trainable_(net.trainable()), statistics_(net.running_statistics()) {
  for (const Param& p : trainable_) gradient_floats_ += p.grad->size();
  for (const Buffer<float>* b : statistics_) statistic_floats_ += b->size();
  momentum_.resize(size_t(gradient_floats_));
  buffer_.resize(size_t(floats()));
}

void GradientExchange::begin_update() {
  float* at = momentum_.data();
  for (Param& p : trainable_) {
    p.grad->download(at, p.grad->size());
    net_.backend().fill(p.grad->data(), p.grad->size(), 0.f);
    at += p.grad->size();
  }
}

void GradientExchange::pack_statistics(float* at) {
  for (Buffer<float>* b : statistics_) {
    b->download(at, b->size());
    at += b->size();
  }
}

void GradientExchange::unpack_statistics(const float* at) {
  for (Buffer<float>* b : statistics_) {
    b->upload(at, b->size());
    at += b->size();
  }
  net_.statistics_changed();
}

GradientExchange::Outcome GradientExchange::exchange(double loss, bool stop, int64_t bad_samples, bool failed) {
  // [gradients | running statistics | loss, stop, bad samples, failed(rank 0..N-1)]
  float* at = buffer_.data();
  for (Param& p : trainable_) {
    p.grad->download(at, p.grad->size());
    at += p.grad->size();
  }
  pack_statistics(at);
  float* control = at + statistic_floats_;
  std::fill(control, buffer_.data() + buffer_.size(), 0.f);
  control[0] = float(loss);
  control[1] = stop ? 1.f : 0.f;
  control[2] = float(bad_samples);
  control[kControl + comm_.rank()] = failed ? 1.f : 0.f;

  comm_.sum(buffer_.data(), int64_t(buffer_.size()));

  Outcome o;
  o.loss = control[0];
  o.stop = control[1] > 0;
  o.bad_samples = int64_t(control[2]);
  for (int r = 0; r < comm_.size(); ++r)
    if (control[kControl + r] > 0) o.failed.push_back(r);
  if (!o.failed.empty()) return o;  // nothing is applied: the run ends
  // The gradient: the momentum plus the ranks' sum (one process adds its passes on top of the
  // momentum instead; the two differ by rounding).
  at = buffer_.data();
  const float* m = momentum_.data();
  for (Param& p : trainable_) {
    for (int64_t i = 0; i < p.grad->size(); ++i) at[i] = m[i] + at[i];
    p.grad->upload(at, p.grad->size());
    at += p.grad->size();
    m += p.grad->size();
  }
  const float mean = 1.f / float(comm_.size());
  for (int64_t i = 0; i < statistic_floats_; ++i) at[i] *= mean;
  unpack_statistics(at);
  return o;
}

void GradientExchange::average_statistics() {
  std::vector<float> s(static_cast<size_t>(statistic_floats_));
  pack_statistics(s.data());
  comm_.sum(s.data(), statistic_floats_);
  const float mean = 1.f / float(comm_.size());
  for (float& v : s) v *= mean;
  unpack_statistics(s.data());
}

uint64_t GradientExchange::fingerprint() {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto add = [&h](const Buffer<float>& b) {
    const std::vector<float> v = b.to_vector();
    const unsigned char* bytes = reinterpret_cast<const unsigned char*>(v.data());
    for (size_t i = 0; i < v.size() * sizeof(float); ++i) h = (h ^ bytes[i]) * 0x100000001b3ULL;
  };
  for (const Param& p : trainable_) add(*p.value);
  for (const Buffer<float>* b : statistics_) add(*b);
  return h;
}

void GradientExchange::check_identical(int64_t update) {
  const std::vector<uint64_t> all = comm_.gather(fingerprint());
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0])
      fail(Status::Internal, comm_.describe() + ": after update " + std::to_string(update) + " rank " +
                                 std::to_string(r) + "'s parameters differ from rank 0's (fingerprints " +
                                 std::to_string(all[r]) + " and " + std::to_string(all[0]) +
                                 "): the ranks no longer train one model");
}

}  // namespace rpg
