// BatchLoader: turns a Dataset into training or validation batches on a background thread, so
// that the next batch is decoded and augmented while the current one trains. The batches are
// a pure function of (dataset, options, position): thread timing never changes them, and a run
// resumed with seek() sees exactly the batches the original run saw.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/augment.h"
#include "data/dataset.h"

namespace rpg {

struct LoaderOptions {
  int batch = 1;
  int width = 0, height = 0, channels = 0;  // the network input
  int classes = 0;                          // length of each one-hot truth row
  AugmentOptions aug;
  bool train = true;  // shuffle each epoch and augment; false: sequential, center crop
  uint64_t seed = 1;
  // A sample whose image cannot be read or decoded (Error NotFound or FormatError) is replaced
  // by the next readable sample of the same epoch's order and reported by take_skipped(),
  // instead of failing the batch. Deterministic: the batches stay a pure function of the
  // position (and of which files are bad).
  bool skip_bad_samples = false;
  // Data-parallel training (train/data_parallel.h): of every shard_period positions (a global
  // batch), this loader takes the shard_count at shard_offset and skips the others, so that the
  // loaders of the ranks together hand out exactly the images, augmented the same way, that one
  // loader would (the augmentation is drawn from the position). shard_count a multiple of batch;
  // 0: every position.
  int64_t shard_period = 0, shard_offset = 0, shard_count = 0;
};

// A sample skip_bad_samples replaced: where it is (Dataset::describe) and why.
struct SkippedSample {
  int64_t position = 0;  // the loader position it was drawn at
  std::string where, reason;
};

class BatchLoader {
 public:
  // Validates the options against the dataset (Error(InvalidArgument)) and starts the worker.
  // The dataset must outlive the loader.
  BatchLoader(const Dataset& data, const LoaderOptions& options);
  ~BatchLoader();  // stops and joins the worker
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch: x gets batch x channels x height x width floats (planar images), truth
  // (nullable) batch x classes one-hot rows, labels (nullable) batch class indices. Blocks
  // until the batch is ready; rethrows an Error the worker met (a corrupt image, a label out
  // of range), and keeps rethrowing it until seek().
  void next(float* x, float* truth, int* labels);

  // The samples replaced in the batches next() has handed out since the last call, in order
  // (skip_bad_samples only); the list is then cleared.
  std::vector<SkippedSample> take_skipped();

  // Images handed out so far. Position p is sample order_e[p mod N] of epoch e = p / N, where
  // order_e is a Fisher-Yates shuffle driven by a stream seeded from (seed, e) when training,
  // else 0..N-1. A batch that crosses the end of an epoch continues into the next. A sharded
  // loader counts the positions of whole periods (global batches) it has finished, its own and
  // the other shards' alike; within a period, the position of its next image.
  int64_t position() const;
  // Restarts at position p (>= 0): the following batches are those an uninterrupted loader
  // hands out after p images.
  void seek(int64_t position);

  size_t epoch_size() const { return data_.size(); }
  int64_t epoch() const { return position() / int64_t(data_.size()); }

  // The sample index at position p (the shuffle above); pure, for tests and reports.
  size_t sample_at(int64_t p) const;

 private:
  struct Slot {
    std::vector<float> x, truth;
    std::vector<int> labels;
    std::vector<SkippedSample> skipped;
    int64_t position = 0;
    bool ready = false;
    std::exception_ptr error;
  };

  void start();
  void stop();
  void work();
  void fill(Slot& slot, int64_t position);
  // The sample drawn at position p and its image; with skip_bad_samples, the next readable
  // sample of the epoch's order when that one cannot be read (recorded in `skipped`).
  size_t readable_sample(int64_t p, Image& im, std::vector<SkippedSample>& skipped);
  const std::vector<uint32_t>& order(int64_t epoch);  // worker thread only
  // The position of the q-th image this loader hands out after seek().
  int64_t global_position(int64_t q) const;

  const Dataset& data_;
  LoaderOptions opt_;
  int64_t base_ = 0;      // the position seek() set
  int64_t position_ = 0;  // consumer side: images handed out since
  std::vector<SkippedSample> skipped_;  // consumer side: replaced samples not yet taken

  std::mutex mu_;
  std::condition_variable cv_;
  Slot slots_[2];
  int64_t produce_at_ = 0;  // worker side: the next batch to fill (images since seek())
  int fill_index_ = 0, take_index_ = 0;
  std::atomic<bool> stop_{false};
  std::thread worker_;

  // The current epoch's order, owned by the worker while it runs.
  int64_t order_epoch_ = -1;
  std::vector<uint32_t> order_;
};

}  // namespace rpg
