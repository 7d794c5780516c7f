// The table of layer types: cfg section names, their aliases, the keys each accepts, and the
// factory that builds it. Adding a layer = one file + one row in registry.cc.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/layer.h"

namespace rpg {

class Options;
using LayerFactory = std::unique_ptr<Layer> (*)(const Options&, BuildContext&);

struct LayerKind {
  std::string name;                  // canonical section name
  std::vector<std::string> aliases;  // other names Darknet accepts
  std::vector<std::string> keys;     // accepted keys besides the common ones
  LayerFactory make;
};

const std::vector<LayerKind>& layer_kinds();
const LayerKind* find_layer_kind(const std::string& section);
// Keys every layer accepts (stopbackward, dontsave, dontload, learning_rate).
const std::vector<std::string>& common_layer_keys();
// Darknet section types that rpgnet knows of but does not implement (for a precise message).
bool is_unsupported_darknet_section(const std::string& section);

std::unique_ptr<Layer> make_convolutional(const Options&, BuildContext&);
std::unique_ptr<Layer> make_connected(const Options&, BuildContext&);
std::unique_ptr<Layer> make_maxpool(const Options&, BuildContext&);
std::unique_ptr<Layer> make_avgpool(const Options&, BuildContext&);
std::unique_ptr<Layer> make_dropout(const Options&, BuildContext&);
std::unique_ptr<Layer> make_softmax(const Options&, BuildContext&);
std::unique_ptr<Layer> make_cost(const Options&, BuildContext&);
std::unique_ptr<Layer> make_shortcut(const Options&, BuildContext&);
std::unique_ptr<Layer> make_route(const Options&, BuildContext&);
std::unique_ptr<Layer> make_upsample(const Options&, BuildContext&);
std::unique_ptr<Layer> make_crop(const Options&, BuildContext&);

// An activation key (Darknet's names, backend/activation.h); errors name the key's file:line
// and suggest the closest name.
Act get_activation(const Options& o, const std::string& key, Act def);

// Resolves a Darknet layer reference (negative: relative to `index`; else absolute) and checks
// it points at an earlier layer; errors name the key's file:line.
// Called by a layer factory before it allocates `floats` parameters (a value and a gradient each):
// fails with OutOfMemory at the section's file:line when the parameters of the network so far
// would not fit in the memory the backend had available.
void reserve_parameters(const Options& o, BuildContext& ctx, int64_t floats);
int resolve_layer_ref(const Options& o, const std::string& key, int ref, int index);

}  // namespace rpg
