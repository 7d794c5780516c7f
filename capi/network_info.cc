// The C boundary, part 3: what a network is made of (rpgnet info): layers, parameter counts and
// DoF, the summary table, and the network's rings (read and write their values).
#include "boundary.h"
#include "core/summary.h"

using rpg_capi::guard;
using rpg_capi::handle;
using rpg_capi::invalid;
using rpg_capi::need;
using rpg_capi::need_len;

namespace {

rpg::Layer& layer_at(const rpg_network& h, int32_t layer) {
  const auto& layers = h.net->layers();
  if (layer < 0 || size_t(layer) >= layers.size())
    invalid("layer is " + std::to_string(layer) + ", expected 0 .. " + std::to_string(int64_t(layers.size()) - 1));
  return *layers[size_t(layer)];
}

rpg::Ring& ring_at(const rpg_network& h, int32_t ring) {
  const auto& rings = h.net->rings();
  if (ring < 0 || size_t(ring) >= rings.size())
    invalid("ring is " + std::to_string(ring) + (rings.empty() ? std::string(", but the network has no rings")
                                                                : ", expected 0 .. " + std::to_string(rings.size() - 1)));
  return *rings[size_t(ring)];
}

}  // namespace

rpg_status rpg_network_layer_count(const rpg_network* net, int32_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = int32_t(h.net->layers().size());
  });
}

rpg_status rpg_network_layer_type(const rpg_network* net, int32_t layer, const char** out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = layer_at(h, layer).type.c_str();
  });
}

rpg_status rpg_network_layer_output_shape(const rpg_network* net, int32_t layer, int32_t* channels, int32_t* height,
                                          int32_t* width) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(channels, "channels");
    need(height, "height");
    need(width, "width");
    const rpg::Shape s = layer_at(h, layer).out;
    *channels = s.c;
    *height = s.h;
    *width = s.w;
  });
}

rpg_status rpg_network_layer_param_count(const rpg_network* net, int32_t layer, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = layer_at(h, layer).num_params();
  });
}

rpg_status rpg_network_layer_ring(const rpg_network* net, int32_t layer, const char** out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = layer_at(h, layer).ring.c_str();
  });
}

rpg_status rpg_network_layer_weight_count(const rpg_network* net, int32_t layer, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    const rpg::Layer::WeightTensor w = layer_at(h, layer).main_weights();
    *out = w.value ? w.value->size() : 0;
  });
}

rpg_status rpg_network_layer_get_weights(const rpg_network* net, int32_t layer, float* weights, int64_t len) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    rpg::Layer& l = layer_at(h, layer);
    need(weights, "weights");
    const rpg::Layer::WeightTensor w = l.main_weights();
    if (!w.value) invalid("layer " + std::to_string(layer) + " ([" + l.type + "]) has no weight tensor");
    need_len(len, w.value->size(), "len", "the layer's weight count");
    w.value->download(weights, len);
  });
}

rpg_status rpg_network_param_count(const rpg_network* net, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = h.net->num_params();
  });
}

rpg_status rpg_network_ring_dof(const rpg_network* net, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = h.net->ring_dof();
  });
}

rpg_status rpg_network_total_dof(const rpg_network* net, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = h.net->total_dof();
  });
}

rpg_status rpg_network_summary(rpg_network* net, const char** out) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    need(out, "out");
    std::string text = rpg::summary_table(*h.net);
    h.summary.swap(text);
    *out = h.summary.c_str();
  });
}

// ---- The network's rings ------------------------------------------------------------------

rpg_status rpg_network_ring_count(const rpg_network* net, int32_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = int32_t(h.net->rings().size());
  });
}

rpg_status rpg_network_ring_name(const rpg_network* net, int32_t ring, const char** out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = ring_at(h, ring).name().c_str();
  });
}

rpg_status rpg_network_ring_size(const rpg_network* net, int32_t ring, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = ring_at(h, ring).size();
  });
}

rpg_status rpg_network_ring_positions(const rpg_network* net, int32_t ring, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = ring_at(h, ring).positions();
  });
}

rpg_status rpg_network_ring_seed(const rpg_network* net, int32_t ring, uint64_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    *out = ring_at(h, ring).seed();
  });
}

rpg_status rpg_network_ring_get_values(const rpg_network* net, int32_t ring, float* values, int64_t len) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    rpg::Ring& r = ring_at(h, ring);
    need(values, "values");
    need_len(len, r.size(), "len", "the ring's size K");
    r.values.download(values, len);
  });
}

rpg_status rpg_network_ring_set_values(rpg_network* net, int32_t ring, const float* values, int64_t len) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    rpg::Ring& r = ring_at(h, ring);
    need(values, "values");
    need_len(len, r.size(), "len", "the ring's size K");
    r.values.upload(values, len);
    r.generate(h.net->backend());
    h.net->parameters_changed();  // also drops an int8 plan made for the old values
  });
}
