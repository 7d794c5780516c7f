// The generator's per-position code (RPG.md): position p of a ring-bound tensor stores
// s(p) * (pi(p) mod K + 1) in an int32, so one signed integer says which ring entry feeds the
// weight and with which sign. The encoding and the weight it decodes to are defined here once,
// for the host code (rpg/generator.h), the CPU backend and the CUDA kernels.
#pragma once
#include <cstdint>

#include "base/random.h"  // RPG_HD

namespace rpg {

// The code of a position fed by ring entry j (0-based) with sign s (+1 or -1); also the inverse
// map's entry for position p: s * (p + 1).
RPG_HD inline int32_t ring_code(int sign, int64_t j) { return int32_t(sign) * int32_t(j + 1); }

// scale * s * ring[j] for code c = s (j + 1).
RPG_HD inline float ring_decode(const float* ring, int32_t c, float scale) {
  return c > 0 ? scale * ring[c - 1] : -scale * ring[-c - 1];
}

// s * v[p] for an inverse-map entry c = s (p + 1): the gather's term.
RPG_HD inline float ring_signed(const float* v, int32_t c) { return c > 0 ? v[c - 1] : -v[-c - 1]; }

}  // namespace rpg
