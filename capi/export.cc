// The C boundary, part 4: export (RPG.md, "Pruning and quantization") on the format of
// src/io/export.h: options, export to a file or a caller buffer, networks from export files,
// and the expanded model as Darknet .weights (plus its ring-free cfg).
#include <cmath>
#include <cstring>
#include <functional>

#include "boundary.h"
#include "cfg/cfg_text.h"
#include "io/atomic_file.h"
#include "io/darknet_weights.h"
#include "core/int8_net.h"
#include "io/export.h"
#include "train/int8_export.h"

using rpg_capi::guard;
using rpg_capi::handle;
using rpg_capi::invalid;
using rpg_capi::need;
using rpg_capi::need_string;

namespace {

rpg::ExportOptions options_of(const rpg_export_options* options) {
  rpg::ExportOptions o;
  if (!options) return o;
  const rpg_export_options& e = handle(options, "options");
  o.bits = e.bits;
  o.prune = e.prune_fraction;
  o.unshared = e.unshared_bits == 16 ? rpg::UnsharedPrecision::fp16 : rpg::UnsharedPrecision::fp32;
  if (!e.int8_data.empty()) o.bits = 8;
  rpg::check_export_options(o);
  return o;
}

// The options for this network: with int8, calibrated now (options_of checked the rest).
rpg::ExportOptions options_for(rpg_network& h, const rpg_export_options* options) {
  rpg::ExportOptions o = options_of(options);
  if (!options || handle(options, "options").int8_data.empty()) return o;
  const rpg_export_options& e = handle(options, "options");
  o.calibration = rpg::calibrate_export(*h.net, o, uint64_t(h.state.seen), e.int8_data, e.int8_batches,
                                        rpg_capi::make_backend_for(h));
  o.int8 = true;
  return o;
}

uint64_t seen_of(const rpg_network& h) { return uint64_t(h.state.seen); }

// The int8 flag of the _ex loaders: true unless RPG_EXPORT_LOAD_FLOAT32.
bool int8_of(uint32_t flags) {
  if (flags & ~uint32_t(RPG_EXPORT_LOAD_FLOAT32))
    invalid("flags is " + std::to_string(flags) + ", expected 0 or RPG_EXPORT_LOAD_FLOAT32 (1)");
  return !(flags & RPG_EXPORT_LOAD_FLOAT32);
}

rpg_status create_from(const char* fn, rpg_network** out, const std::function<std::unique_ptr<rpg::Network>(std::unique_ptr<rpg::Backend>)>& load) {
  return guard(fn, [&] {
    need(out, "out");
    auto h = std::make_unique<rpg_network>();
    rpg_capi::install_network(*h, load(rpg_capi::make_backend_for(*h)));
    *out = h.release();
  });
}

}  // namespace

rpg_status rpg_export_options_create(rpg_export_options** out) {
  return guard(__func__, [&] {
    need(out, "out");
    *out = new rpg_export_options;
  });
}

void rpg_export_options_free(rpg_export_options* options) {
  if (!rpg_capi::freeable(options, __func__)) return;
  options->magic = 0;
  delete options;
}

rpg_status rpg_export_options_set_bits(rpg_export_options* options, int32_t bits) {
  return guard(__func__, [&] {
    rpg_export_options& e = handle(options, "options");
    if (!((bits >= 2 && bits <= 16) || bits == 32)) invalid("bits is " + std::to_string(bits) + ", expected 2 .. 16 or 32");
    e.bits = bits;
  });
}

rpg_status rpg_export_options_set_prune_fraction(rpg_export_options* options, double fraction) {
  return guard(__func__, [&] {
    rpg_export_options& e = handle(options, "options");
    if (!(fraction >= 0 && fraction < 1)) invalid("fraction is " + std::to_string(fraction) + ", expected [0, 1)");
    e.prune_fraction = fraction;
  });
}

rpg_status rpg_export_options_set_unshared_precision(rpg_export_options* options, int32_t bits) {
  return guard(__func__, [&] {
    rpg_export_options& e = handle(options, "options");
    if (bits != 16 && bits != 32) invalid("bits is " + std::to_string(bits) + ", expected 16 or 32");
    e.unshared_bits = bits;
  });
}

rpg_status rpg_network_export(rpg_network* net, const rpg_export_options* options, const char* path) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    const std::string file = need_string(path, "path");
    const rpg::ExportOptions o = options_for(h, options);
    rpg::export_model(*h.net, o, file, seen_of(h));
  });
}

rpg_status rpg_network_export_to_buffer(rpg_network* net, const rpg_export_options* options, void* buffer,
                                        size_t capacity, size_t* size) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    options_of(options);
    need(size, "size");
    if (!buffer && capacity != 0) invalid("buffer is NULL but capacity is " + std::to_string(capacity));
    const rpg::ExportOptions o = options_for(h, options);
    const std::string bytes = rpg::encode_export(*h.net, o, seen_of(h));
    if (!buffer) {
      *size = bytes.size();
      return;
    }
    if (capacity < bytes.size())
      invalid("capacity is " + std::to_string(capacity) + " bytes, the export needs " + std::to_string(bytes.size()) +
              " (ask with buffer NULL and capacity 0)");
    std::memcpy(buffer, bytes.data(), bytes.size());
    *size = bytes.size();
  });
}

namespace {

rpg_status from_export_file(const char* fn, const char* path, uint32_t flags, rpg_network** out) {
  std::string p;
  bool int8 = true;
  const rpg_status s = guard(fn, [&] {
    p = need_string(path, "path");
    int8 = int8_of(flags);
  });
  if (s != RPG_STATUS_OK) return s;
  return create_from(fn, out, [&](std::unique_ptr<rpg::Backend> be) { return rpg::load_export(p, std::move(be), int8); });
}

rpg_status from_export_buffer(const char* fn, const void* data, size_t size, uint32_t flags, rpg_network** out) {
  bool int8 = true;
  const rpg_status s = guard(fn, [&] {
    need(data, "data");
    if (size == 0) invalid("size is 0");
    int8 = int8_of(flags);
  });
  if (s != RPG_STATUS_OK) return s;
  return create_from(fn, out, [&](std::unique_ptr<rpg::Backend> be) {
    return rpg::load_export_from_bytes(std::string(static_cast<const char*>(data), size), "<buffer>", std::move(be), int8);
  });
}

}  // namespace

rpg_status rpg_network_create_from_export(const char* path, rpg_network** out) {
  return from_export_file(__func__, path, 0, out);
}

rpg_status rpg_network_create_from_export_buffer(const void* data, size_t size, rpg_network** out) {
  return from_export_buffer(__func__, data, size, 0, out);
}

rpg_status rpg_network_create_from_export_ex(const char* path, uint32_t flags, rpg_network** out) {
  return from_export_file(__func__, path, flags, out);
}

rpg_status rpg_network_create_from_export_buffer_ex(const void* data, size_t size, uint32_t flags, rpg_network** out) {
  return from_export_buffer(__func__, data, size, flags, out);
}

rpg_status rpg_export_options_set_int8(rpg_export_options* options, const char* data_path, int32_t batches) {
  return guard(__func__, [&] {
    rpg_export_options& e = handle(options, "options");
    if (!data_path) {
      e.int8_data.clear();
      e.int8_batches = 0;
      return;
    }
    if (!*data_path) invalid("data_path is empty (pass NULL to turn int8 off)");
    if (batches < 1) invalid("batches is " + std::to_string(batches) + ", expected at least 1");
    e.int8_data = data_path;
    e.int8_batches = batches;
  });
}

rpg_status rpg_network_int8_layers(const rpg_network* net, int32_t* out) {
  return guard(__func__, [&] {
    const rpg_network& h = handle(net, "net");
    need(out, "out");
    const auto* plan = dynamic_cast<const rpg::Int8Plan*>(h.net->inference_plan());
    *out = plan ? int32_t(plan->int8_layers()) : 0;
  });
}

rpg_status rpg_network_load_export(rpg_network* net, const char* path) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    rpg_capi::need_not_training(h);
    rpg::load_export_into(*h.net, need_string(path, "path"));
    h.last = rpg_network::Pass::None;
  });
}

rpg_status rpg_network_export_darknet(rpg_network* net, const rpg_export_options* options, const char* weights_path,
                                      const char* cfg_path) {
  return guard(__func__, [&] {
    rpg_network& h = handle(net, "net");
    options_of(options);
    const std::string weights = need_string(weights_path, "weights_path");
    if (cfg_path && !*cfg_path) invalid("cfg_path is empty (pass NULL for no cfg)");
    const rpg::ExportOptions o = options_for(h, options);
    // The expanded model as the export file would give it back (pruned and quantized).
    auto exported = rpg::load_export_from_bytes(rpg::encode_export(*h.net, o, seen_of(h)), "<export>",
                                                rpg_capi::make_backend_for(h), false);
    const std::string cfg_text = cfg_path ? rpg::cfg_to_text(rpg::strip_rings(h.net->cfg())) : std::string();
    rpg::save_darknet_weights(*exported, weights, h.state.seen);
    if (cfg_path) rpg::write_file_atomic(cfg_path, cfg_text);
  });
}
