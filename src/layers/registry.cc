// The registry of layer types (see registry.h).
#include "layers/registry.h"

#include <algorithm>

#include "base/error.h"
#include "cfg/cfg.h"

namespace rpg {

Act get_activation(const Options& o, const std::string& key, Act def) {
  int n;
  const char* const* names = act_names(&n);
  return Act(o.get_choice(key, std::vector<std::string>(names, names + n), int(def)));
}

void reserve_parameters(const Options& o, BuildContext& ctx, int64_t floats) {
  ctx.parameter_bytes += 2 * floats * int64_t(sizeof(float));
  if (ctx.memory_available >= 0 && ctx.parameter_bytes > ctx.memory_available)
    fail(Status::OutOfMemory, o.where() + ": [" + o.section().type + "] layer " + std::to_string(ctx.index) + " needs " +
                                  byte_size(2 * floats * int64_t(sizeof(float))) + " for " + std::to_string(floats) +
                                  " parameters and their gradients; the network's parameters would reach " +
                                  byte_size(ctx.parameter_bytes) + " with " + byte_size(ctx.memory_available) +
                                  " of memory available");
}

const std::vector<LayerKind>& layer_kinds() {
  static const std::vector<LayerKind> kinds = {
      {"convolutional", {"conv"},
       {"filters", "size", "stride", "pad", "padding", "groups", "activation", "batch_normalize", "ring"},
       make_convolutional},
      {"connected", {"conn"}, {"output", "activation", "batch_normalize", "ring"}, make_connected},
      {"maxpool", {"max"}, {"size", "stride", "padding"}, make_maxpool},
      {"avgpool", {"avg"}, {}, make_avgpool},
      {"dropout", {}, {"probability"}, make_dropout},
      {"softmax", {"soft"}, {"groups", "temperature"}, make_softmax},
      {"cost", {}, {"type", "scale"}, make_cost},
      {"shortcut", {}, {"from", "activation", "alpha", "beta"}, make_shortcut},
      {"route", {}, {"layers"}, make_route},
      {"upsample", {}, {"stride", "scale"}, make_upsample},
      {"crop", {},
       {"crop_height", "crop_width", "flip", "angle", "saturation", "exposure", "shift", "noadjust"},
       make_crop},
  };
  return kinds;
}

const LayerKind* find_layer_kind(const std::string& section) {
  for (const auto& k : layer_kinds()) {
    if (k.name == section) return &k;
    if (std::find(k.aliases.begin(), k.aliases.end(), section) != k.aliases.end()) return &k;
  }
  return nullptr;
}

const std::vector<std::string>& common_layer_keys() {
  static const std::vector<std::string> keys = {"stopbackward", "dontsave", "dontload", "learning_rate"};
  return keys;
}

bool is_unsupported_darknet_section(const std::string& s) {
  static const std::vector<std::string> known = {
      "local", "deconvolutional", "deconv", "rnn", "gru", "lstm", "crnn", "conv_lstm", "yolo",
      "region", "detection", "reorg", "reorg3d", "normalization", "lrn", "batchnorm", "logistic",
      "l2norm", "iseg", "activation", "scale_channels", "sam", "gaussian_yolo", "contrastive",
      "implicit", "empty", "silence", "reorg_old", "xnor"};
  return std::find(known.begin(), known.end(), s) != known.end();
}

int resolve_layer_ref(const Options& o, const std::string& key, int ref, int index) {
  const int target = ref < 0 ? index + ref : ref;
  if (target < 0 || target >= index)
    o.error(key, key + "=" + std::to_string(ref) + " refers to layer " + std::to_string(target) + ", but " +
                     (index == 0 ? std::string("layer 0 is the first layer: there is no earlier layer to use")
                                 : "layer " + std::to_string(index) + " can only use layers 0.." +
                                       std::to_string(index - 1)));
  return target;
}

}  // namespace rpg
