// The generator's fixed random map (RPG.md, "Bit-exact definition of pi and s"): a keyed
// Feistel permutation of [0, 2^b) with cycle-walking onto [0, N), and a random sign per
// position. 64-bit integer arithmetic only, so every platform and backend regenerates the same
// weights from a ring and its seed.
#pragma once
#include <cstdint>

#include "base/random.h"  // mix64, RPG_HD

namespace rpg {

class Permutation {
 public:
  Permutation(uint64_t seed, uint64_t n);

  uint64_t size() const { return n_; }
  // pi(p), a bijection on [0, N), and its inverse; Error(InvalidArgument) outside [0, N).
  uint64_t operator()(uint64_t p) const;
  uint64_t inverse(uint64_t x) const;
  int sign(uint64_t p) const { return (mix64(p ^ key_s_) & 1) ? -1 : +1; }

 private:
  [[noreturn]] void out_of_range(uint64_t p) const;
  RPG_HD uint64_t feistel(uint64_t x) const;
  RPG_HD uint64_t feistel_inverse(uint64_t x) const;

  uint64_t n_;
  uint64_t key_[4];
  uint64_t key_s_;
  int half_;       // h = b / 2
  uint64_t mask_;  // 2^h - 1
};

}  // namespace rpg
