// TrainState: where a training run stands, saved in checkpoints so that a resumed run continues
// exactly (same iteration, learning rate and data order). The one place that says how the
// counters move: an update, and Darknet's convention for weights files.
#pragma once
#include <cstdint>
#include <string>

namespace rpg {

// The largest count a training state may hold (updates, images, loader positions, passes,
// batch-norm updates): 2^50, about 10^15, far beyond any real run, and far enough from the
// int64 limit that counting on from it never overflows. A file holding more is corrupt.
constexpr int64_t kMaxTrainCount = int64_t(1) << 50;

struct TrainState {
  int64_t iteration = 0;        // weight updates done (Darknet's get_current_batch)
  int64_t seen = 0;             // images seen (Darknet's *net->seen)
  int64_t loader_position = 0;  // images the training loader has handed out since the start
  uint64_t passes = 0;          // Network::passes(): seeds dropout masks and random crops

  // One weight update over `images` images is done; the loader now stands at loader_at.
  void count_update(int64_t images, int64_t loader_at) {
    ++iteration;
    seen += images;
    loader_position = loader_at;
  }

  // "" when every counter is within [0, kMaxTrainCount], else what is wrong (for an error
  // message naming the file).
  std::string problem() const {
    const struct { const char* name; int64_t value; } counters[] = {
        {"update count", iteration}, {"images seen", seen}, {"loader position", loader_position}};
    for (const auto& c : counters)
      if (c.value < 0 || c.value > kMaxTrainCount)
        return std::string(c.name) + " " + std::to_string(c.value) + " is outside 0.." + std::to_string(kMaxTrainCount);
    if (passes > uint64_t(kMaxTrainCount))
      return "pass count " + std::to_string(passes) + " is outside 0.." + std::to_string(kMaxTrainCount);
    return "";
  }

  // Darknet's convention for a .weights file that has seen `seen` images: training continues
  // from update seen / batch (batch: images per update), the loader from the images seen.
  static TrainState after_darknet_weights(int64_t seen, int64_t batch) {
    TrainState s;
    s.seen = seen;
    s.iteration = batch > 0 ? seen / batch : 0;
    s.loader_position = seen;
    return s;
  }
};

}  // namespace rpg
