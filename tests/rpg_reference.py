#!/usr/bin/env python3
"""The RPG generator, written from /work/shared/design/RPG.md ("Definitions" and "Bit-exact
definition of pi and s") alone, never from rpgnet's C++: Python integers masked to 64 bits.
tests/test_rpg.cc runs it (where python3 is present) and compares rpgnet with what it prints.

  rpg_reference.py positions SEED N K P...   one line per position P: "P pi(P) j(P) s(P)"
  rpg_reference.py weights FILE              FILE holds rings, one a line:
                                             "SEED K v_0 ... v_{K-1} | n_1 fanout_1 n_2 fanout_2 ..."
                                             (the ring's values, then its bound layers in cfg
                                             order: weight count and fan-out); prints every
                                             generated weight W_l[i] = c_l s(p) r[j(p)], one
                                             layer a line, as Python floats (repr)
"""
import math
import sys

MASK = (1 << 64) - 1


def mix(x):
    """splitmix64's finaliser, mod 2^64."""
    x &= MASK
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK
    x ^= x >> 31
    return x


class Generator:
    def __init__(self, seed, n):
        self.n = n
        self.keys = [mix(seed + (i + 1) * 0x9E3779B97F4A7C15) for i in range(4)]
        self.key_s = mix(seed ^ 0x5851F42D4C957F2D)
        b = 2  # smallest even b >= 2 with 2^b >= N
        while (1 << b) < n:
            b += 2
        self.h = b // 2
        self.m = (1 << self.h) - 1

    def feistel(self, x):
        left, right = x >> self.h, x & self.m
        for key in self.keys:
            left, right = right, left ^ (mix(right ^ key) & self.m)
        return (left << self.h) | right

    def pi(self, p):
        x = self.feistel(p)
        while x >= self.n:  # cycle-walking
            x = self.feistel(x)
        return x

    def sign(self, p):
        return -1 if mix(p ^ self.key_s) & 1 else 1


def positions(args):
    seed, n, k = int(args[0]), int(args[1]), int(args[2])
    g = Generator(seed, n)
    for p in map(int, args[3:]):
        x = g.pi(p)
        print(p, x, x % k, g.sign(p))


def weights(path):
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            ring, layers = line.split("|")
            ring, layers = ring.split(), [int(v) for v in layers.split()]
            seed, k = int(ring[0]), int(ring[1])
            r = [float(v) for v in ring[2:]]
            assert len(r) == k, "ring values: %d, K %d" % (len(r), k)
            sizes, fan_outs = layers[0::2], layers[1::2]
            g = Generator(seed, sum(sizes))
            f_max = max(fan_outs)  # F: the largest fan-out of the ring's layers
            offset = 0
            for n_l, fan_out in zip(sizes, fan_outs):
                c = math.sqrt(f_max / fan_out)
                w = [c * g.sign(offset + i) * r[g.pi(offset + i) % k] for i in range(n_l)]
                print(" ".join(repr(v) for v in w))
                offset += n_l


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "positions":
        positions(sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "weights":
        weights(sys.argv[2])
    else:
        sys.exit(__doc__)
