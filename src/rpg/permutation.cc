// The keyed Feistel permutation with cycle-walking (see permutation.h and RPG.md).
#include "rpg/permutation.h"

#include <string>

#include "base/error.h"

namespace rpg {

void Permutation::out_of_range(uint64_t p) const {
  fail(Status::InvalidArgument, "generator position " + std::to_string(p) + " is outside [0, " +
                                    std::to_string(n_) + ")");
}

Permutation::Permutation(uint64_t seed, uint64_t n) : n_(n) {
  for (uint64_t i = 0; i < 4; ++i) key_[i] = mix64(seed + (i + 1) * 0x9e3779b97f4a7c15ULL);
  key_s_ = mix64(seed ^ 0x5851f42d4c957f2dULL);
  int b = 2;  // smallest even b >= 2 with 2^b >= N
  while (b < 64 && (uint64_t(1) << b) < n) b += 2;
  half_ = b / 2;
  mask_ = (uint64_t(1) << half_) - 1;
}

uint64_t Permutation::feistel(uint64_t x) const {
  uint64_t l = x >> half_, r = x & mask_;
  for (int i = 0; i < 4; ++i) {
    const uint64_t t = r;
    r = l ^ (mix64(r ^ key_[i]) & mask_);
    l = t;
  }
  return (l << half_) | r;
}

uint64_t Permutation::feistel_inverse(uint64_t x) const {
  uint64_t l = x >> half_, r = x & mask_;
  for (int i = 3; i >= 0; --i) {  // undo (L, R) = (R, L ^ f(R)): L_prev = R ^ f(L), R_prev = L
    const uint64_t t = l;
    l = r ^ (mix64(l ^ key_[i]) & mask_);
    r = t;
  }
  return (l << half_) | r;
}

uint64_t Permutation::operator()(uint64_t p) const {
  // Cycle-walking returns to [0, N) only from a point inside it; outside, it may never.
  if (p >= n_) out_of_range(p);
  uint64_t x = feistel(p);
  while (x >= n_) x = feistel(x);
  return x;
}

uint64_t Permutation::inverse(uint64_t x) const {
  if (x >= n_) out_of_range(x);
  uint64_t p = feistel_inverse(x);
  while (p >= n_) p = feistel_inverse(p);
  return p;
}

}  // namespace rpg
