// Learning-rate policies (Darknet's, plus cosine) and the length of a run.
#pragma once
#include <cstdint>
#include <string>

#include "core/network.h"

namespace rpg {

// The rate for update number `iteration` (0-based) of a run of `max_iterations` updates.
float learning_rate(const NetConfig& c, int64_t iteration, int64_t max_iterations);
// learning_rate() for update number `iteration`, about to run on `net`: Error(InvalidArgument)
// naming the cfg, the update and the policy when the rate is negative or not finite (e.g.
// policy=exp with gamma=1e30 overflows to inf after a few updates).
float rate_for_update(const Network& net, int64_t iteration, int64_t max_iterations);
// max_batches, or epochs x images / batch (rounded up) when epochs is set; 0 if neither.
int64_t total_iterations(const NetConfig& c, int64_t train_images);

}  // namespace rpg
