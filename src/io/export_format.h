// Internals shared by the export encoder, decoder and loader (io/export.h documents the format).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/network.h"
#include "io/export.h"

namespace rpg {
namespace exportfmt {

constexpr uint32_t kDense = 0, kSparse = 1;
constexpr size_t kMaxRingName = 256;
constexpr uint32_t kMaxRings = 1000;
constexpr uint64_t kMaxCfgText = 16u << 20;
constexpr size_t kExptBytes = 40;

// "R000", "R001", ...
std::string ring_tag(size_t i);

// Every tensor of a layer that no ring generates, in UNSH order.
std::vector<Buffer<float>*> unshared_tensors(Layer& l);
std::vector<Buffer<float>*> unshared_tensors(Network& net);
int64_t unshared_count(Network& net);

// One line per layer and ring describing what the fingerprint covers, and its hash.
std::vector<std::string> architecture_lines(Network& net);
uint64_t fingerprint(Network& net);

// Scale block actually used for a ring of K entries among `rings` rings.
int64_t effective_block(int64_t k, int min_block, size_t rings);

struct RingRecord {
  std::string name;
  uint64_t seed = 0;
  int64_t k = 0, n = 0;
  int bits = 32, block = 0;
  uint32_t layout = kDense;
  int64_t pruned = 0;
  size_t bytes = 0;           // section payload
  std::vector<float> scales;  // one per block (none at 32 bits)
  std::vector<float> values;  // K decoded values
};

struct Decoded {
  uint32_t container_version = 0, version = 0, layers = 0, flags = 0;
  uint64_t fingerprint = 0, seen = 0;
  std::string cfg_text;
  size_t cfg_bytes = 0;
  std::vector<RingRecord> rings;
  int unshared_bits = 32;
  std::vector<float> unshared;
  size_t unshared_bytes = 0, total_bytes = 0;
  Int8Calibration calibration;  // flag int8 only
  // Per ring: its one 8-bit scale when it has one (int8 files), else 0 (Int8Plan's ring_scales).
  std::vector<float> int8_ring_scales() const;
};

// Validates every byte and decodes. Error(FormatError) naming `name`.
Decoded decode(const std::string& bytes, const std::string& name);

}  // namespace exportfmt
}  // namespace rpg
