// Data-parallel training's arithmetic, apart from the transport (collective.h): which images of
// every global batch a rank takes, and the one exchange per update of the degrees of freedom's
// gradients (README "Scaling out").
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/network.h"
#include "train/collective.h"

namespace rpg {

// Rank r's part of every global batch of `batch` images (the cfg's batch: images per update,
// whatever the number of ranks): the images at positions [offset, offset + count) of the batch,
// run as `passes` forward/backward passes of `pass` images. The first batch % ranks ranks take
// batch / ranks + 1 images, the others batch / ranks, in rank order, so the ranks together take
// the batch once. pass is the largest divisor of count that is at most max_pass (the cfg's
// batch / subdivisions, which bounds the memory of a pass).
//
// Dropout masks and random crops are drawn from the network's pass counter. One process
// advances it by subdivisions per update, its pass j drawing from (counter + j + 1). When every
// rank's passes are the cfg's passes (count a multiple of batch / subdivisions), rank r's pass
// k is one of them, and pass_index(k) is its j: the ranks draw exactly what one process would.
// Otherwise pass_index(k) is the pass's first image in the batch (distinct for every pass of
// every rank) and the counter advances by batch per update.
struct Shard {
  int64_t offset = 0, count = 0;
  int pass = 0, passes = 0;
  int64_t first_index = 0, index_step = 1;  // pass_index(k) = first_index + k * index_step
  int64_t counter_step = 1;                 // pass counter advance per update, on every rank
  int64_t pass_index(int k) const { return first_index + int64_t(k) * index_step; }
};
// Error(InvalidArgument) when batch < ranks (a rank would have no image) or an argument is < 1.
Shard shard_for(int batch, int max_pass, int rank, int ranks);

// Runs `step` on every rank, then tells every rank whether it failed on any: this rank's own
// error is rethrown; another rank's becomes Error(CommError) "<what> failed on rank R" (that
// rank reports its reason). Every rank calls it at the same point of the run.
void on_every_rank(Collective& comm, const std::string& what, const std::function<void()>& step);

// The per-update exchange of a network's gradients across the ranks of a Collective.
//   begin_update()  before the passes: moves each trainable tensor's momentum out of its
//                   gradient buffer (Param::grad doubles as momentum) and zeroes it, so that the
//                   passes and Network::gather_ring_gradients leave this rank's gradient in it;
//   exchange(...)   after them: one Collective::sum of a buffer holding every trainable
//                   gradient (ring gradients, never generated weights), every running
//                   statistic and a few control values; the gradients become the sum over the
//                   ranks plus the momentum, the running statistics their mean over the ranks.
// Every rank then holds the same gradients and statistics, so the same update follows.
class GradientExchange {
 public:
  GradientExchange(Network& net, Collective& comm);

  struct Outcome {
    double loss = 0;             // summed over the ranks
    bool stop = false;           // some rank was asked to stop
    int64_t bad_samples = 0;     // summed over the ranks
    std::vector<int> failed;     // the ranks whose passes failed, in rank order
  };
  void begin_update();
  Outcome exchange(double loss, bool stop, int64_t bad_samples, bool failed);
  // The running statistics' mean over the ranks (after a batch-norm recalibration).
  void average_statistics();

  int64_t gradient_floats() const { return gradient_floats_; }
  int64_t statistic_floats() const { return statistic_floats_; }
  int64_t control_floats() const { return int64_t(kControl) + comm_.size(); }
  int64_t floats() const { return gradient_floats_ + statistic_floats_ + control_floats(); }

  // FNV-1a over the bits of every trainable tensor and running statistic: equal on ranks that
  // hold the same parameters.
  uint64_t fingerprint();
  // Error(Internal) naming the first rank whose fingerprint differs from rank 0's.
  void check_identical(int64_t update);

 private:
  static constexpr int kControl = 3;  // loss, stop, bad samples; then one failure flag per rank
  void pack_statistics(float* at);
  void unpack_statistics(const float* at);

  Network& net_;
  Collective& comm_;
  std::vector<Param> trainable_;
  std::vector<Buffer<float>*> statistics_;
  int64_t gradient_floats_ = 0, statistic_floats_ = 0;
  std::vector<float> momentum_, buffer_;
};

}  // namespace rpg
