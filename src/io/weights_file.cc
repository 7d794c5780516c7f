// Loading any weights file (see weights_file.h).
#include "io/weights_file.h"

#include <cstring>

#include "base/file.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/container.h"
#include "io/darknet_weights.h"
#include "io/export.h"

namespace rpg {

const char* weights_kind_name(WeightsKind kind) {
  switch (kind) {
    case WeightsKind::Export: return "export";
    case WeightsKind::Checkpoint: return "checkpoint";
    default: return "weights";
  }
}

WeightsKind weights_file_kind(const std::string& path) {
  // A FIFO or a device is refused here, before the loaders (which read regular files only).
  const std::string head = read_file_prefix(path, 20, "weights file");
  if (head.size() < 8 || std::memcmp(head.data(), kContainerMagic, 8) != 0) return WeightsKind::Darknet;
  // Container layout: magic (8), version (4), section count (4), then the first section's tag.
  return head.size() == 20 && std::memcmp(head.data() + 16, "EXPT", 4) == 0 ? WeightsKind::Export
                                                                              : WeightsKind::Checkpoint;
}

LoadedWeights load_any_weights(Network& net, const std::string& path, bool int8) {
  LoadedWeights l;
  l.kind = weights_file_kind(path);
  switch (l.kind) {
    case WeightsKind::Export: {
      const std::string bytes = read_file(path);
      load_export_into_from_bytes(net, bytes, path, int8);
      l.seen = int64_t(describe_export(bytes, path).seen);
      break;
    }
    case WeightsKind::Checkpoint:
      l.state = load_checkpoint(net, path);
      l.seen = l.state.seen;
      break;
    case WeightsKind::Darknet:
      l.seen = load_darknet_weights(net, path);
      l.state = TrainState::after_darknet_weights(l.seen, net.config().batch);
      break;
  }
  return l;
}

}  // namespace rpg
