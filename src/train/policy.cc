// Learning-rate policies as Darknet computes them (get_current_rate), plus cosine.
#include "train/policy.h"

#include <cmath>

#include "base/error.h"
#include "base/random.h"

namespace rpg {

float learning_rate(const NetConfig& c, int64_t iteration, int64_t max_iterations) {
  const double n = double(iteration), lr = c.learning_rate;
  if (iteration < c.burn_in) return float(lr * std::pow(n / c.burn_in, c.power));
  const double total = double(max_iterations > 0 ? max_iterations : 1);
  switch (c.policy) {
    case Policy::Constant: return float(lr);
    case Policy::Step: return float(lr * std::pow(c.scale, double(iteration / c.step)));
    case Policy::Steps: {
      double rate = lr;
      for (size_t i = 0; i < c.steps.size(); ++i) {
        if (c.steps[i] > iteration) break;
        rate *= c.scales[i];
      }
      return float(rate);
    }
    case Policy::Exp: return float(lr * std::pow(c.gamma, n));
    case Policy::Poly: return float(lr * std::pow(std::fmax(0.0, 1.0 - n / total), c.power));
    case Policy::Sigmoid: return float(lr / (1.0 + std::exp(c.gamma * (n - c.step))));
    case Policy::Random:
      return float(lr * std::pow(uniform01(c.seed ^ 0x6c8e9cf570932bd5ULL, uint64_t(iteration)), c.power));
    case Policy::Cosine: {
      // Burn-in is the warm-up; the cosine runs over the remaining updates.
      const double span = std::fmax(1.0, total - c.burn_in), t = std::fmin(1.0, (n - c.burn_in) / span);
      return float(lr * 0.5 * (1.0 + std::cos(M_PI * t)));
    }
  }
  return float(lr);
}

float rate_for_update(const Network& net, int64_t iteration, int64_t max_iterations) {
  const float lr = learning_rate(net.config(), iteration, max_iterations);
  if (std::isfinite(lr) && lr >= 0) return lr;
  static const char* const names[] = {"constant", "step", "steps", "exp", "poly", "sigmoid", "random", "cosine"};
  fail(Status::InvalidArgument, net.cfg_path() + ": the learning rate of update " + std::to_string(iteration + 1) +
                                    " is " + std::to_string(lr) + " (policy=" + names[int(net.config().policy)] +
                                    "); it must be finite and >= 0: change learning_rate or the policy's keys");
}

int64_t total_iterations(const NetConfig& c, int64_t train_images) {
  if (c.max_batches > 0) return c.max_batches;
  if (c.epochs > 0) return (int64_t(c.epochs) * train_images + c.batch - 1) / c.batch;
  return 0;
}

}  // namespace rpg
