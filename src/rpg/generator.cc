// The host-side generator (see generator.h, RPG.md).
#include "rpg/generator.h"

#include <cmath>
#include <string>

#include "base/error.h"
#include "base/random.h"
#include "base/ring_code.h"
#include "rpg/permutation.h"

namespace rpg {

std::vector<float> ring_initial_values(uint64_t seed, int64_t k, float sigma) {
  std::vector<float> r(static_cast<size_t>(k));
  Rng rng(seed ^ kRingValueStream);
  for (auto& v : r) v = sigma * rng.normal();
  return r;
}

float ring_he_sigma(int64_t max_fan_out) { return float(std::sqrt(2.0 / double(max_fan_out))); }

float generator_scale(int64_t max_fan_out, int64_t fan_out) {
  return float(std::sqrt(double(max_fan_out) / double(fan_out)));
}

void generator_codes(uint64_t seed, int64_t n, int64_t k, int64_t offset, int64_t count, int32_t* code,
                     int32_t* inverse, int threads) {
  if (k < 1 || k > int64_t(INT32_MAX) - 1 || n < 1)
    fail(Status::InvalidArgument, "generator map: need 1 <= K <= 2^31 - 2 and N >= 1, got K " + std::to_string(k) +
                                      ", N " + std::to_string(n));
  if (offset < 0 || count < 0 || offset > n - count)
    fail(Status::InvalidArgument, "generator map: positions [" + std::to_string(offset) + ", +" +
                                      std::to_string(count) + ") outside [0, " + std::to_string(n) + ")");
  if (inverse && (offset != 0 || count != n || n > int64_t(INT32_MAX) - 1))
    fail(Status::InvalidArgument, "generator map: the inverse needs all N positions, N <= 2^31 - 2");
  const Permutation pi(seed, uint64_t(n));
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) schedule(static)
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t p = uint64_t(offset + i);
    const uint64_t x = pi(p);
    const int s = pi.sign(p);
    code[i] = ring_code(s, int64_t(x % uint64_t(k)));
    if (inverse) inverse[x] = ring_code(s, int64_t(p));
  }
}

void generate_weights(const float* ring, const int32_t* code, int64_t count, float scale, float* weights) {
  for (int64_t i = 0; i < count; ++i) weights[i] = ring_decode(ring, code[i], scale);
}

void scatter_weight_gradient(const int32_t* code, int64_t count, float scale, const float* weight_grad,
                             float* ring_grad) {
  for (int64_t i = 0; i < count; ++i) {
    const int32_t c = code[i];
    const float d = scale * weight_grad[i];
    if (c > 0)
      ring_grad[c - 1] += d;
    else
      ring_grad[-c - 1] -= d;
  }
}

void sgd_step(float* w, float* v, const float* grad, int64_t n, float lr, float momentum, float decay) {
  for (int64_t j = 0; j < n; ++j) {
    v[j] = momentum * v[j] + grad[j] + decay * w[j];
    w[j] -= lr * v[j];
  }
}

}  // namespace rpg
