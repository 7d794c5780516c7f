// Training checkpoints: everything needed to resume a run bit-exactly (weights, batch-norm
// statistics and counters, momentum, TrainState, the pass counter), in an rpgnet container.
//
// Sections (all required; see container.h):
//   META  uint32 version (1), str cfg path (informational), uint32 layer count, per layer:
//         str type, int32 in c/h/w, int32 out c/h/w, uint32 n + uint64 size of each tensor in
//         PARM order, uint32 n + uint64 size of each momentum buffer in MOMT order (the
//         architecture fingerprint; str = uint32 length + bytes)
//   STAT  int64 iteration, int64 seen, int64 loader_position, uint64 passes
//   PARM  float32: per layer, weight_file_order() tensors, then any params() value not among them
//   MOMT  float32: per layer, every params() gradient buffer (SGD's momentum between updates)
//   BNCT  int64: per layer with batch norm (bn_updates() non-null), its update count
// Every layer is saved and restored: dontsave / dontload apply to .weights files only.
#pragma once
#include <string>

#include "core/network.h"
#include "core/train_state.h"

namespace rpg {

constexpr uint32_t kCheckpointMetaVersion = 1;

// Writes a checkpoint atomically. `passes` is taken from the network (net.passes()), which is
// authoritative; state.passes is ignored. Error(InvalidArgument) for a counter outside
// 0..kMaxTrainCount, or a tensor (weights, batch-norm statistics, momentum, ring) holding a NaN
// or an infinity: a diverged network, the message names the layer or ring, and nothing is
// written (the file at `path` stays as it was); write errors as write_file_atomic.
void save_checkpoint(Network& net, const TrainState& state, const std::string& path);
// The checkpoint file's bytes (what save_checkpoint writes).
std::string encode_checkpoint(Network& net, const TrainState& state);

// Restores the network (tensors, momentum, batch-norm counters, passes) and returns the saved
// TrainState. The whole file is validated before anything is uploaded: a rejected file leaves
// the network unchanged. Error(NotFound) when the file cannot be read; Error(FormatError) naming
// the file for a corrupt container, a missing or malformed section, a counter outside
// 0..kMaxTrainCount, a NaN or infinity (naming the layer or ring), or a checkpoint of another
// architecture (the message names the first mismatching layer).
TrainState load_checkpoint(Network& net, const std::string& path);
// The same from bytes in memory; `name` is used in messages.
TrainState load_checkpoint_from_bytes(Network& net, const std::string& bytes,
                                      const std::string& name);

}  // namespace rpg
