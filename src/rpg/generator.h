// The Recurrent Parameter Generator on the host (RPG.md): the one home of the algorithm's
// pieces that network rings (rpg/ring.h) and the C API's standalone rings and generators share:
// the ring's initial values, the generator scale c = sqrt(F / fan_out), the map from positions
// to signed ring entries (codes and their inverse), and host loops for generating weights,
// gathering their gradient into the ring, and Darknet's SGD step on ring values.
#pragma once
#include <cstdint>
#include <vector>

namespace rpg {

// The random stream a ring's initial values are drawn from: Rng(seed ^ kRingValueStream).
constexpr uint64_t kRingValueStream = 0x3c6ef372fe94f82bULL;

// K draws sigma * N(0, 1) from the ring's seed (every ring's values, network or standalone).
std::vector<float> ring_initial_values(uint64_t seed, int64_t k, float sigma);
// He (fan-out) initialisation for a ring whose largest bound fan-out is F: sigma = sqrt(2 / F),
// so every generated layer starts with its own He standard deviation once scaled by c.
float ring_he_sigma(int64_t max_fan_out);
// The generator scale of a layer: c = sqrt(F / fan_out), F the ring's largest fan-out.
float generator_scale(int64_t max_fan_out, int64_t fan_out);

// The generator's map for positions [offset, offset + count) of a ring with N positions and K
// entries: code[i] = s(p) (pi(p) mod K + 1) for p = offset + i (base/ring_code.h). When
// `inverse` is non-null (N entries; only with offset 0 and count N), also inverse[pi(p)] =
// s(p) (p + 1), which the gather walks. `threads` parallelises the loop (same result for any).
// Error(InvalidArgument) unless 1 <= K <= 2^31 - 2, the range lies in [0, N), and (with the
// inverse) N <= 2^31 - 2. (Network rings also need K <= N; standalone rings may be larger.)
void generator_codes(uint64_t seed, int64_t n, int64_t k, int64_t offset, int64_t count, int32_t* code,
                     int32_t* inverse, int threads);

// weights[i] = scale * s * ring[j] for code[i] = s (j + 1), i < count (host memory).
void generate_weights(const float* ring, const int32_t* code, int64_t count, float scale, float* weights);
// ring_grad[j] += scale * s * weight_grad[i] for every code[i] = s (j + 1), in position order.
void scatter_weight_gradient(const int32_t* code, int64_t count, float scale, const float* weight_grad,
                             float* ring_grad);
// Darknet's SGD with momentum on n values: v = momentum v + grad + decay w; w -= lr v.
void sgd_step(float* w, float* v, const float* grad, int64_t n, float lr, float momentum, float decay);

}  // namespace rpg
