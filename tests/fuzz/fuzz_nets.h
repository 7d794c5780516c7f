// The small networks the fuzz targets load into, and the checks they share. Kept tiny so that
// every input runs in well under a millisecond.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "backend/cpu_backend.h"
#include "cfg/cfg.h"
#include "base/error.h"
#include "core/network.h"
#include "io/container.h"

namespace rpg_fuzz {

// One ring over a BN convolution and a connected layer, an unbound classifier.
inline const char* ring_cfg() {
  return "[net]\nbatch=1\nwidth=4\nheight=4\nchannels=1\nseed=2\n\n"
         "[ring]\nname=g\ndof=0.25\n\n"
         "[convolutional]\nfilters=2\nsize=3\nstride=1\npad=1\nbatch_normalize=1\nactivation=leaky\nring=g\n\n"
         "[connected]\noutput=6\nactivation=relu\nring=g\n\n"
         "[connected]\noutput=3\nbatch_normalize=1\nactivation=linear\n\n[softmax]\n";
}

// The same without the ring (what a Darknet .weights file can load).
inline const char* plain_cfg() {
  return "[net]\nbatch=1\nwidth=4\nheight=4\nchannels=1\nseed=2\n\n"
         "[convolutional]\nfilters=2\nsize=3\nstride=1\npad=1\nbatch_normalize=1\nactivation=leaky\n\n"
         "[connected]\noutput=6\nactivation=relu\n\n"
         "[connected]\noutput=3\nbatch_normalize=1\nactivation=linear\n\n[softmax]\n";
}

inline std::unique_ptr<rpg::Network> make(const char* text) {
  return std::make_unique<rpg::Network>(rpg::parse_cfg(text, "fuzz.cfg"), std::make_unique<rpg::CpuBackend>(1));
}

// A loader may only reject a file with one of the allowed statuses and a message naming it.
inline void check_rejection(const rpg::Error& e, const std::string& name, bool allow_oom = false) {
  const bool ok_status =
      e.status() == rpg::Status::FormatError || (allow_oom && e.status() == rpg::Status::OutOfMemory);
  if (!ok_status || std::string(e.what()).find(name) == std::string::npos) {
    std::fprintf(stderr, "unexpected rejection (status %d): %s\n", int(e.status()), e.what());
    std::abort();
  }
}

// The input with its trailing CRC-32 recomputed, so that mutations get past the checksum.
inline std::string with_valid_crc(std::string b) {
  if (b.size() < 20) return b;
  const uint32_t crc = rpg::crc32_of(b.data(), b.size() - 4);
  for (int i = 0; i < 4; ++i) b[b.size() - 4 + size_t(i)] = char((crc >> (8 * i)) & 0xff);
  return b;
}

}  // namespace rpg_fuzz
