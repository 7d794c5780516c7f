// Any weights file into a network: the one function that tells the three kinds apart (an
// export .rpgm, a training checkpoint, a Darknet .weights file) by their first bytes, loads it,
// and says what it read. The command line and the C API both load through it.
#pragma once
#include <cstdint>
#include <string>

#include "core/network.h"
#include "core/train_state.h"

namespace rpg {

enum class WeightsKind { Export, Checkpoint, Darknet };

// "export", "checkpoint" or "weights".
const char* weights_kind_name(WeightsKind kind);

struct LoadedWeights {
  WeightsKind kind = WeightsKind::Darknet;
  // Where training continues: a checkpoint's saved state; for a Darknet file,
  // TrainState::after_darknet_weights; for an export, a fresh state (training restarts at 0).
  TrainState state;
  int64_t seen = 0;  // images the file says it has seen (an export's is informational)
};

// The kind of a file from its first 20 bytes (an rpgnet container whose first section is EXPT:
// an export; any other container: a checkpoint; anything else: Darknet). Reads nothing more.
WeightsKind weights_file_kind(const std::string& path);

// Loads the file into `net`, whose cfg must have the file's architecture. Errors as the loader
// of that kind (load_export_into, load_checkpoint, load_darknet_weights); a rejected file
// leaves the network unchanged. int8: an int8 export runs on the int8 engine where the backend
// has it (load_export_into); false: float32.
LoadedWeights load_any_weights(Network& net, const std::string& path, bool int8 = true);

}  // namespace rpg
