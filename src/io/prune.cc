// Magnitude pruning (see prune.h).
#include "io/prune.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "base/error.h"
#include "core/network.h"

namespace rpg {

int64_t pruned_count(int64_t k, double fraction) {
  return std::min<int64_t>(k, std::max<int64_t>(0, std::llround(fraction * double(k))));
}

std::vector<uint8_t> prune_keep_mask(const std::vector<float>& values, double fraction) {
  if (!(fraction >= 0 && fraction < 1))
    fail(Status::InvalidArgument, "pruning fraction " + std::to_string(fraction) + " is outside [0, 1)");
  std::vector<uint8_t> keep(values.size(), 1);
  const int64_t n = pruned_count(int64_t(values.size()), fraction);
  if (n == 0) return keep;
  for (float v : values)
    if (!std::isfinite(v)) fail(Status::InvalidArgument, "cannot prune a ring holding NaN or infinity");
  std::vector<int64_t> order(values.size());
  std::iota(order.begin(), order.end(), int64_t(0));
  auto smaller = [&](int64_t a, int64_t b) {
    const float x = std::fabs(values[size_t(a)]), y = std::fabs(values[size_t(b)]);
    return x < y || (x == y && a < b);  // a strict total order: the result is deterministic
  };
  std::nth_element(order.begin(), order.begin() + (n - 1), order.end(), smaller);
  for (int64_t i = 0; i < n; ++i) keep[size_t(order[size_t(i)])] = 0;
  return keep;
}

int64_t prune_rings(Network& net, double fraction, bool freeze) {
  if (net.rings().empty())
    fail(Status::InvalidArgument, net.cfg_path() + " has no [ring]: pruning applies to ring entries");
  int64_t total = 0;
  for (const auto& r : net.rings()) {
    const std::vector<uint8_t> keep = prune_keep_mask(r->values.to_vector(), fraction);
    r->set_mask(keep);  // zeroes the pruned values and their momentum
    total = total + int64_t(std::count(keep.begin(), keep.end(), uint8_t(0)));
    if (!freeze) r->set_mask({});
  }
  net.generate_weights();
  return total;
}

}  // namespace rpg
