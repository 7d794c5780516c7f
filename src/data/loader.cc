// The background batch loader (loader.h): one worker thread fills two slots in turn; next()
// copies a ready slot out. The lock guards only the slot flags, never decoding.
#include "data/loader.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>

#include "base/error.h"
#include "base/random.h"

namespace rpg {

namespace {

constexpr uint64_t kOrderTag = 0x6f72646572ULL, kAugmentTag = 0x6175676d656e74ULL;

// The seed of stream `index` of kind `tag` under a run's seed.
uint64_t derive_seed(uint64_t seed, uint64_t tag, uint64_t index) {
  return mix64(mix64(seed ^ tag) + (index + 1) * 0x9e3779b97f4a7c15ULL);
}

// Epoch e's order: 0..n-1 shuffled by Fisher-Yates with Rng(derive(seed, e)), or unshuffled.
std::vector<uint32_t> epoch_order(size_t n, bool shuffle, uint64_t seed, int64_t epoch) {
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  if (!shuffle) return order;
  Rng rng(derive_seed(seed, kOrderTag, uint64_t(epoch)));
  for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.next_u64() % (i + 1)]);
  return order;
}

[[noreturn]] void bad_options(const std::string& problem) {
  fail(Status::InvalidArgument, "batch loader: " + problem);
}

}  // namespace

BatchLoader::BatchLoader(const Dataset& data, const LoaderOptions& options)
    : data_(data), opt_(options) {
  if (opt_.batch < 1) bad_options("batch must be at least 1, got " + std::to_string(opt_.batch));
  if (opt_.width < 1 || opt_.height < 1 || opt_.channels < 1)
    bad_options("bad input size " + std::to_string(opt_.width) + "x" + std::to_string(opt_.height) +
                "x" + std::to_string(opt_.channels));
  if (opt_.classes < 1)
    bad_options("classes must be at least 1, got " + std::to_string(opt_.classes));
  if (data_.size() == 0) bad_options("the dataset is empty");
  if (data_.size() > UINT32_MAX) bad_options("more than 2^32 samples");
  if (opt_.shard_count != 0 &&
      (opt_.shard_count < 0 || opt_.shard_offset < 0 || opt_.shard_period < opt_.shard_offset + opt_.shard_count ||
       opt_.shard_count % opt_.batch != 0))
    bad_options("shard of " + std::to_string(opt_.shard_count) + " images at " + std::to_string(opt_.shard_offset) +
                " of every " + std::to_string(opt_.shard_period) + " does not fit, or is not a multiple of batch " +
                std::to_string(opt_.batch));
  if (data_.channels() != opt_.channels)
    bad_options("the data has " + std::to_string(data_.channels()) +
                " channels, the network takes " + std::to_string(opt_.channels));
  const size_t per_image = size_t(opt_.channels) * opt_.height * opt_.width;
  for (Slot& s : slots_) {
    s.x.resize(per_image * opt_.batch);
    s.truth.resize(size_t(opt_.classes) * opt_.batch);
    s.labels.resize(opt_.batch);
  }
  start();
}

BatchLoader::~BatchLoader() { stop(); }

void BatchLoader::start() {
  stop_ = false;
  worker_ = std::thread(&BatchLoader::work, this);
}

void BatchLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

int64_t BatchLoader::global_position(int64_t q) const {
  const int64_t count = opt_.shard_count;
  if (count == 0) return base_ + q;
  return base_ + (q / count) * opt_.shard_period + opt_.shard_offset + q % count;
}

int64_t BatchLoader::position() const {
  const int64_t count = opt_.shard_count;
  if (count == 0 || position_ % count != 0) return global_position(position_);
  return base_ + (position_ / count) * opt_.shard_period;
}

size_t BatchLoader::sample_at(int64_t p) const {
  const int64_t n = int64_t(data_.size());
  if (!opt_.train) return size_t(p % n);
  return epoch_order(data_.size(), true, opt_.seed, p / n)[size_t(p % n)];
}

const std::vector<uint32_t>& BatchLoader::order(int64_t epoch) {
  if (epoch != order_epoch_) {
    order_ = epoch_order(data_.size(), opt_.train, opt_.seed, epoch);
    order_epoch_ = epoch;
  }
  return order_;
}

size_t BatchLoader::readable_sample(int64_t p, Image& im, std::vector<SkippedSample>& skipped) {
  const int64_t n = int64_t(data_.size());
  const std::vector<uint32_t>& epoch = order(p / n);
  if (!opt_.skip_bad_samples) {
    const size_t i = epoch[size_t(p % n)];
    im = data_.image(i);
    return i;
  }
  for (int64_t k = 0; k < n; ++k) {
    const size_t i = epoch[size_t((p + k) % n)];
    try {
      im = data_.image(i);
      return i;
    } catch (const Error& e) {
      if (e.status() != Status::FormatError && e.status() != Status::NotFound) throw;
      skipped.push_back({p, data_.describe(i), e.what()});
    }
  }
  fail(Status::FormatError, "no sample of the " + std::to_string(n) +
                                " in the data set can be read; the first: " + skipped.front().where + ": " +
                                skipped.front().reason);
}

void BatchLoader::fill(Slot& slot, int64_t position) {
  const size_t per_image = size_t(opt_.channels) * opt_.height * opt_.width;
  std::fill(slot.truth.begin(), slot.truth.end(), 0.f);
  slot.skipped.clear();
  for (int b = 0; b < opt_.batch && !stop_; ++b) {
    const int64_t p = global_position(position + b);
    Image im;
    const size_t i = readable_sample(p, im, slot.skipped);
    const int label = data_.label(i);
    if (label < 0 || label >= opt_.classes)
      fail(Status::InvalidArgument,
           data_.describe(i) + ": label " + std::to_string(label) +
               " is out of range for classes=" + std::to_string(opt_.classes));
    Rng rng(derive_seed(opt_.seed, kAugmentTag, uint64_t(p)));
    try {
      make_input(im, opt_.aug, opt_.train, rng, opt_.width, opt_.height, opt_.channels,
                 slot.x.data() + b * per_image);
    } catch (const Error& e) {
      fail(e.status(), data_.describe(i) + ": " + e.what());
    }
    slot.truth[size_t(b) * opt_.classes + label] = 1.f;
    slot.labels[b] = label;
  }
}

void BatchLoader::work() {
  for (;;) {
    Slot* slot = nullptr;
    int64_t position = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !slots_[fill_index_].ready; });
      if (stop_) return;
      slot = &slots_[fill_index_];
      position = produce_at_;
    }
    std::exception_ptr error;
    try {
      fill(*slot, position);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      slot->error = error;
      slot->position = position;
      slot->ready = true;
      fill_index_ ^= 1;
      produce_at_ += opt_.batch;
    }
    cv_.notify_all();
    if (error) return;  // the consumer rethrows it; nothing after it is produced
  }
}

void BatchLoader::next(float* x, float* truth, int* labels) {
  if (!x) bad_options("next() needs an input buffer");
  Slot* slot = nullptr;
  {
    std::unique_lock<std::mutex> lock(mu_);
    slot = &slots_[take_index_];
    cv_.wait(lock, [&] { return slot->ready; });
    if (slot->error) std::rethrow_exception(slot->error);
  }
  if (slot->position != position_) fail(Status::Internal, "batch loader: slots out of order");
  std::memcpy(x, slot->x.data(), slot->x.size() * sizeof(float));
  if (truth) std::memcpy(truth, slot->truth.data(), slot->truth.size() * sizeof(float));
  if (labels) std::copy(slot->labels.begin(), slot->labels.end(), labels);
  skipped_.insert(skipped_.end(), slot->skipped.begin(), slot->skipped.end());
  position_ += opt_.batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    slot->ready = false;
    take_index_ ^= 1;
  }
  cv_.notify_all();
}

std::vector<SkippedSample> BatchLoader::take_skipped() {
  std::vector<SkippedSample> out;
  out.swap(skipped_);
  return out;
}

void BatchLoader::seek(int64_t position) {
  if (position < 0) bad_options("seek to a negative position " + std::to_string(position));
  stop();
  for (Slot& s : slots_) {
    s.ready = false;
    s.error = nullptr;
  }
  fill_index_ = take_index_ = 0;
  base_ = position;
  produce_at_ = position_ = 0;
  skipped_.clear();
  start();
}

}  // namespace rpg
