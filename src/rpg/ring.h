// Rings: K shared trainable floats that generate the weights of every layer bound to them
// (RPG.md). A Ring owns its values, their gradient/momentum buffer, and the cached mapping
// (which ring entry and sign feeds each generated weight, and its inverse for the backward
// gather).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/buffer.h"
#include "cfg/cfg.h"
#include "layers/layer.h"

namespace rpg {

struct RingSpec {
  std::string name = kDefaultRingName;
  double dof = 0;     // K as a fraction of the bound weights, or
  int64_t size = 0;   // K as an absolute count
  uint64_t seed = 1;
  std::string where;  // "file:line" of the [ring] header, for messages
};

// Reads a [ring] section (keys name, dof, size, seed). default_seed: [net] seed.
RingSpec parse_ring_section(const CfgFile& cfg, const CfgSection& section, uint64_t default_seed);

struct RingBinding {
  Layer* layer;
  int64_t offset, count;  // global positions [offset, offset + count) of this layer's weights
  int64_t fan_out;
  float scale;            // c_l = sqrt(F / fan_out_l)
};

class Ring {
 public:
  // Binds the layers (in cfg order), sizes K, initialises r ~ N(0, 2 / F) from the seed and
  // builds the mapping. Errors name the [ring] section.
  Ring(Backend& be, const RingSpec& spec, const std::vector<Layer*>& layers);

  const std::string& name() const { return spec_.name; }
  uint64_t seed() const { return spec_.seed; }
  int64_t size() const { return k_; }             // K
  int64_t positions() const { return n_; }        // N: generated weights
  const std::vector<RingBinding>& bindings() const { return bindings_; }

  // Writes every bound layer's weights from the ring values (planar, and in its kernels' order
  // where it has one).
  void generate(Backend& be);

  // Training kernels that read a bound layer's weights in their own order (Layer::
  // kernel_weight_order, e.g. oneDNN's OIhw16i16o): the ring generates them in that order as
  // well (Layer::ordered_weights, from its codes permuted once) and gathers their gradient, which
  // the kernels write in that order, through its inverse permuted the same way, so that no
  // reorder of weights or gradients runs per step. The planar weights are still generated
  // (everything else reads them). prepare_orders works out the orders for the training layouts
  // `train_layouts` (one per network layer) at `batch`, or planar ones where `on` is false, and
  // allocates what they need: it may throw and changes nothing; null when nothing changes.
  // set_orders puts them in place (the gradients accumulated so far move into the new orders)
  // and generates the weights.
  struct Orders;
  std::shared_ptr<Orders> prepare_orders(Backend& be, int batch, const std::vector<int>& train_layouts, bool on) const;
  void set_orders(Backend& be, Orders& orders);
  // Copies the planar weights into the kernels' order (Network::parameters_changed: weights
  // written directly through a layer's tensor, which the next generate overwrites).
  void copy_written_weights(Backend& be);
  // grads += d loss / d ring, gathered from the bound layers' weight gradients, which are then
  // cleared (the momentum of generated weights lives on the ring).
  void accumulate_gradient(Backend& be);

  // Pruned fine-tuning: `keep` (K flags, 0 = pruned) freezes the pruned entries at exactly 0.
  // set_mask zeroes them (value and gradient/momentum) at once; Network::update calls
  // apply_mask after every SGD step. An empty vector removes the mask. Error(InvalidArgument)
  // unless keep has K entries.
  void set_mask(const std::vector<uint8_t>& keep);
  void apply_mask();
  const std::vector<int64_t>& frozen() const { return frozen_; }  // pruned indices, ascending

  Buffer<float> values, grads;  // grads doubles as the momentum buffer, as for every parameter

 private:
  RingSpec spec_;
  int64_t k_ = 0, n_ = 0;
  std::vector<RingBinding> bindings_;
  std::vector<int64_t> frozen_;  // masked entries (host side: K floats round-trip per update)
  Buffer<int32_t> code_;     // N: s(p) * (j(p) + 1)
  Buffer<int32_t> inverse_;  // N: for x = j + t K, s(p) * (P(p) + 1) with pi(p) = x, P(p) p's
                             // position in its layer's current order (the identity where planar)
  Buffer<int32_t> ordered_code_;  // N: code_ at P(p) (empty: no layer has an order)
  Buffer<float> ordered_;         // N: the weights at P(p), what the kernels read
  Buffer<float> scaled_;     // N: c_l * dW, concatenated, for the gather
};

}  // namespace rpg
