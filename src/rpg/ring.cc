// Ring construction, weight generation and the gradient gather (see ring.h, RPG.md).
#include "rpg/ring.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "rpg/generator.h"

namespace rpg {

RingSpec parse_ring_section(const CfgFile& cfg, const CfgSection& section, uint64_t default_seed) {
  Options o(cfg, section, {"name", "dof", "size", "seed"});
  RingSpec r;
  r.where = o.where();
  r.name = o.get_string("name", kDefaultRingName);
  if (o.has("dof") == o.has("size"))
    o.error(o.has("dof") ? "size" : "", "[ring] '" + r.name + "' needs exactly one of 'dof' (a fraction of the bound weights) or 'size' (a count)");
  if (o.has("dof")) r.dof = o.require_float("dof", 1e-9f, 1.f);
  if (o.has("size")) r.size = o.require_int("size", 1);
  r.seed = o.get_u64("seed", default_seed);
  return r;
}

Ring::Ring(Backend& be, const RingSpec& spec, const std::vector<Layer*>& layers) : spec_(spec) {
  int64_t fmax = 1;
  for (Layer* l : layers) {
    const Layer::WeightTensor w = l->main_weights();
    bindings_.push_back({l, n_, w.value->size(), w.fan_out, 1.f});
    n_ += w.value->size();
    fmax = std::max(fmax, w.fan_out);
  }
  if (n_ > INT32_MAX - 1)
    fail(Status::ParseError, spec.where + ": ring '" + spec.name + "' would generate " + std::to_string(n_) +
                                 " weights; at most 2^31 - 2 per ring (split the layers over several rings)");
  k_ = spec.size > 0 ? spec.size : std::max<int64_t>(1, std::llround(spec.dof * double(n_)));
  if (k_ > n_)
    fail(Status::ParseError, spec.where + ": ring '" + spec.name + "' has " + std::to_string(k_) +
                                 " entries but its layers have only " + std::to_string(n_) + " weights (K must be at most N)");
  for (auto& b : bindings_) b.scale = generator_scale(fmax, b.fan_out);

  // r ~ N(0, 2 / F): every generated layer starts with He (fan-out) standard deviation.
  values.resize(be, k_);
  values.upload(ring_initial_values(spec.seed, k_, ring_he_sigma(fmax)));
  grads.resize(be, k_);

  // The mapping, computed once: code[p] = s(p) (pi(p) mod K + 1), inverse[pi(p)] = s(p) (p + 1).
  std::vector<int32_t> code(static_cast<size_t>(n_)), inverse(static_cast<size_t>(n_));
  generator_codes(spec.seed, n_, k_, 0, n_, code.data(), inverse.data(), be.threads());
  code_.resize(be, n_);
  code_.upload(code);
  inverse_.resize(be, n_);
  inverse_.upload(inverse);
  scaled_.resize(be, n_);
}

void Ring::generate(Backend& be) {
  for (const auto& b : bindings_) {
    be.ring_generate(values.data(), code_.data() + b.offset, b.count, b.scale, b.layer->main_weights().value->data());
    if (!b.layer->weight_order.empty())
      be.ring_generate(values.data(), ordered_code_.data() + b.offset, b.count, b.scale, ordered_.data() + b.offset);
  }
}

void Ring::copy_written_weights(Backend& be) {
  for (const auto& b : bindings_) {
    const std::vector<int64_t>& order = b.layer->weight_order;
    if (order.empty()) continue;
    // The generator's gather with the planar weights as its ring: ordered[order[i]] = planar[i].
    std::vector<int32_t> from(order.size());
    for (size_t i = 0; i < order.size(); ++i) from[size_t(order[i])] = int32_t(i + 1);
    Buffer<int32_t> code(be, b.count);
    code.upload(from);
    be.ring_generate(b.layer->main_weights().value->data(), code.data(), b.count, 1.f, ordered_.data() + b.offset);
  }
}

struct Ring::Orders {
  std::vector<std::vector<int64_t>> order;  // per binding (empty: planar)
  Buffer<int32_t> inverse, ordered_code;
  Buffer<float> ordered;
  std::vector<Buffer<float>> grads;  // per binding: its gradient so far in the new order (empty: unchanged)
};

std::shared_ptr<Ring::Orders> Ring::prepare_orders(Backend& be, int batch, const std::vector<int>& train_layouts,
                                                   bool on) const {
  auto o = std::make_shared<Orders>();
  bool changed = false, any = false;
  for (const auto& b : bindings_) {
    const int i = b.layer->index;
    o->order.push_back(on ? b.layer->kernel_weight_order(be, batch, i ? train_layouts[size_t(i - 1)] : 0,
                                                         train_layouts[size_t(i)])
                          : std::vector<int64_t>{});
    if (!o->order.back().empty() && int64_t(o->order.back().size()) != b.count)
      fail(Status::Internal, "ring '" + spec_.name + "': a weight order of the wrong size for layer " + std::to_string(i));
    changed = changed || o->order.back() != b.layer->weight_order;
    any = any || !o->order.back().empty();
  }
  if (!changed) return nullptr;
  // moved[q]: where the weight now at position q goes (positions are global: binding offset plus
  // the local position in its order).
  std::vector<int32_t> moved(static_cast<size_t>(n_)), code = code_.to_vector(), inverse = inverse_.to_vector();
  std::vector<int32_t> ordered_code(any ? size_t(n_) : 0);
  o->grads.resize(bindings_.size());
  for (size_t k = 0; k < bindings_.size(); ++k) {
    const RingBinding& b = bindings_[k];
    const std::vector<int64_t>&old = b.layer->weight_order, &now = o->order[k];
    const auto at = [&](const std::vector<int64_t>& order, int64_t i) { return order.empty() ? i : order[size_t(i)]; };
    for (int64_t i = 0; i < b.count; ++i) {
      moved[size_t(b.offset + at(old, i))] = int32_t(b.offset + at(now, i));
      if (any) ordered_code[size_t(b.offset + at(now, i))] = code[size_t(b.offset + i)];
    }
    if (old == now) continue;
    const std::vector<float> g = b.layer->main_weights().grad->to_vector();
    std::vector<float> h(g.size());
    for (int64_t i = 0; i < b.count; ++i) h[size_t(at(now, i))] = g[size_t(at(old, i))];
    o->grads[k].resize(be, b.count);
    o->grads[k].upload(h);
  }
  for (int32_t& v : inverse) v = v < 0 ? -(moved[size_t(-v - 1)] + 1) : moved[size_t(v - 1)] + 1;
  o->inverse.resize(be, n_);
  o->inverse.upload(inverse);
  if (any) {
    o->ordered_code.resize(be, n_);
    o->ordered_code.upload(ordered_code);
    o->ordered.resize(be, n_);
  }
  return o;
}

void Ring::set_orders(Backend& be, Orders& o) {
  inverse_ = std::move(o.inverse);
  ordered_code_ = std::move(o.ordered_code);
  ordered_ = std::move(o.ordered);
  for (size_t k = 0; k < bindings_.size(); ++k) {
    Layer& l = *bindings_[k].layer;
    if (o.grads[k].size()) std::swap(*l.main_weights().grad, o.grads[k]);
    l.weight_order = std::move(o.order[k]);
    l.ordered_weights = l.weight_order.empty()
                            ? BufferRef<float>()
                            : BufferRef<float>(be, ordered_.data() + bindings_[k].offset, bindings_[k].count);
  }
  generate(be);
}

void Ring::accumulate_gradient(Backend& be) {
  for (const auto& b : bindings_) {
    Buffer<float>* g = b.layer->main_weights().grad;
    be.copy(scaled_.data() + b.offset, g->data(), b.count);
    // c_l, times the layer's learning_rate multiplier: a bound layer's rate scales what its
    // weight gradients contribute to the ring (the ring itself steps at the network's rate).
    const float s = b.scale * b.layer->lr_mult;
    if (s != 1.f) be.scale(b.count, s, scaled_.data() + b.offset);
    be.fill(g->data(), b.count, 0.f);
  }
  be.ring_gather(scaled_.data(), inverse_.data(), n_, k_, grads.data());
}

void Ring::set_mask(const std::vector<uint8_t>& keep) {
  if (!keep.empty() && int64_t(keep.size()) != k_)
    fail(Status::InvalidArgument, "ring '" + spec_.name + "': a pruning mask needs " + std::to_string(k_) +
                                      " entries, got " + std::to_string(keep.size()));
  frozen_.clear();
  for (size_t j = 0; j < keep.size(); ++j)
    if (!keep[j]) frozen_.push_back(int64_t(j));
  apply_mask();
}

void Ring::apply_mask() {
  if (frozen_.empty()) return;
  for (Buffer<float>* b : {&values, &grads}) {
    std::vector<float> v = b->to_vector();
    for (int64_t j : frozen_) v[size_t(j)] = 0.f;
    b->upload(v);
  }
}

}  // namespace rpg
