// Counter-based random numbers: every draw is a pure function of (seed, counter), so results
// do not depend on thread count, backend or standard library. The mix is splitmix64's finaliser,
// the same one RPG.md uses for the generator's permutation.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define RPG_HD __host__ __device__
#else
#define RPG_HD
#endif

namespace rpg {

RPG_HD inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Uniform in [0, 1) from the top 24 bits: exactly representable in float.
RPG_HD inline float uniform01(uint64_t seed, uint64_t counter) {
  return float(mix64(seed + (counter + 1) * 0x9e3779b97f4a7c15ULL) >> 40) * (1.0f / 16777216.0f);
}

// A stream of draws for host-side initialisation and augmentation.
class Rng {
 public:
  explicit Rng(uint64_t seed) : seed_(mix64(seed ^ 0x2545f4914f6cdd1dULL)) {}
  float uniform() { return uniform01(seed_, counter_++); }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  int below(int n) { return int(uniform() * float(n)) % (n > 0 ? n : 1); }
  float normal() {  // Box-Muller; one value per call keeps the stream simple
    float u1 = uniform(), u2 = uniform();
    if (u1 < 1e-7f) u1 = 1e-7f;
    return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.28318530718f * u2);
  }
  uint64_t next_u64() { return mix64(seed_ + (++counter_) * 0x9e3779b97f4a7c15ULL); }

 private:
  uint64_t seed_;
  uint64_t counter_ = 0;
};

}  // namespace rpg
