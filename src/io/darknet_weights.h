// Darknet .weights files (DARKNET.md): byte-compatible reading and writing. The format has no
// magic or checksum, so loading checks everything it can: the header's version, and the file's
// exact length against what the cfg needs. A rejected file leaves the network untouched.
#pragma once
#include <cstdint>
#include <string>

#include "core/network.h"

namespace rpg {

// What a .weights header says.
struct DarknetHeader {
  int32_t major = 0, minor = 2, revision = 0;
  int64_t seen = 0;         // images seen during training
  bool transposed = false;  // major or minor > 1000: connected weights stored [in][out]
  size_t bytes = 20;        // header length: 20 (uint64 seen, version 0.2+) or 16 (int32 seen)
};

// Parses and validates the header at the start of `bytes`. Throws Error(FormatError) naming
// `name` for an empty file, a short header, a version outside 0..100 (or 1001..1100 for the
// transposed flag) or a seen count outside 0..kMaxTrainCount (core/train_state.h).
DarknetHeader parse_darknet_header(const std::string& bytes, const std::string& name);

// Floats a .weights file for this network holds after its header: every layer's
// weight_file_order() tensors, skipping dontsave layers (saving) or dontload layers (loading).
int64_t darknet_weight_floats(Network& net, bool loading);

// The file save_darknet_weights writes: header 0.2.0, uint64 seen, then the tensors.
std::string encode_darknet_weights(Network& net, int64_t seen);
// Writes the file atomically. Error(InvalidArgument) for seen < 0 or a tensor holding a NaN or
// an infinity (a diverged network; the message names the layer, and nothing is written); write
// errors as write_file_atomic.
void save_darknet_weights(Network& net, const std::string& path, int64_t seen);

// Loads a .weights file and returns its seen count. Everything is read and validated on the host
// first; only then are the tensors uploaded and every loaded layer's on_weights_loaded() called.
// Error(NotFound) when the file cannot be read; Error(FormatError) naming the file for a bad
// header, a file shorter or longer than the cfg needs, or a NaN or infinity (naming the layer).
int64_t load_darknet_weights(Network& net, const std::string& path);
// The same from bytes in memory; `name` is used in messages.
int64_t load_darknet_weights_from_bytes(Network& net, const std::string& bytes,
                                        const std::string& name);

}  // namespace rpg
