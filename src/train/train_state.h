// TrainState: where a training run stands, saved in checkpoints so that a resumed run continues
// exactly (same iteration, learning rate and data order).
#pragma once
#include <cstdint>

namespace rpg {

struct TrainState {
  int64_t iteration = 0;        // weight updates done (Darknet's get_current_batch)
  int64_t seen = 0;             // images seen (Darknet's *net->seen)
  int64_t loader_position = 0;  // images the training loader has handed out since the start
  uint64_t passes = 0;          // Network::passes(): seeds dropout masks and random crops
};

}  // namespace rpg
