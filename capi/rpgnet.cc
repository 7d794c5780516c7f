// The C boundary, part 1: versions, statuses and the thread-local message, the log sink, and
// the standalone rings and generators (RPG.md) that let any framework use RPG as a plugin.
// Networks are in network.cc, export in export.cc, training in trainer.cc.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "backend/factory.h"
#include "boundary.h"
#include "train/collective.h"
#include "rpg/generator.h"

using rpg_capi::guard;
using rpg_capi::handle;
using rpg_capi::invalid;
using rpg_capi::need;
using rpg_capi::need_len;

// ---- Internals shared by every capi file -------------------------------------------------

namespace rpg_capi {

namespace {

thread_local std::string t_message;
thread_local const char* t_fallback = nullptr;  // used when the message itself cannot be stored

struct LogSink {
  std::mutex mu;
  rpg_log_fn fn = nullptr;
  void* user = nullptr;
  std::atomic<int32_t> min_level{RPG_LOG_WARNING};
};

LogSink& sink() {
  static LogSink* s = new LogSink;  // never destroyed: usable from threads exiting after main
  return *s;
}

const char* level_name(int32_t level) {
  switch (level) {
    case RPG_LOG_DEBUG: return "debug";
    case RPG_LOG_INFO: return "info";
    case RPG_LOG_WARNING: return "warning";
    default: return "error";
  }
}

}  // namespace

rpg_status record_failure(const char* fn, rpg_status status, const char* message) noexcept {
  try {
    t_message.assign(fn).append(": ").append(message);
    t_fallback = nullptr;
    if (sink().min_level.load(std::memory_order_relaxed) <= RPG_LOG_DEBUG) {
      const std::string copy = t_message;  // the callback may fail calls of its own
      log(RPG_LOG_DEBUG, copy);
    }
  } catch (...) {
    t_fallback = "out of memory while recording an error message";
  }
  return status;
}

void log(int32_t level, const std::string& message) noexcept {
  LogSink& s = sink();
  if (level < s.min_level.load(std::memory_order_relaxed)) return;
  rpg_log_fn fn;
  void* user;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    fn = s.fn;
    user = s.user;
  }
  if (fn)
    fn(level, message.c_str(), user);
  else
    std::fprintf(stderr, "rpgnet: %s: %s\n", level_name(level), message.c_str());
}

void invalid(const std::string& message) { throw rpg::Error(rpg::Status::InvalidArgument, message); }

const char* kind_name(uint32_t magic) {
  switch (magic) {
    case kRingMagic: return "rpg_ring";
    case kGeneratorMagic: return "rpg_generator";
    case kNetworkMagic: return "rpg_network";
    case kExportMagic: return "rpg_export_options";
    case kTrainerMagic: return "rpg_trainer";
    default: return nullptr;
  }
}

void wrong_handle(const char* arg, uint32_t expected, uint32_t found) {
  const char* k = kind_name(found);
  invalid(std::string(arg) + " is " + (k ? std::string("an ") + k + " handle" : std::string("not a live handle")) +
          ", not an " + kind_name(expected));
}

void need_len(int64_t len, int64_t expected, const char* arg, const std::string& what) {
  if (len != expected)
    invalid(std::string(arg) + " is " + std::to_string(len) + ", expected " + std::to_string(expected) + " (" +
            what + ")");
}

std::string need_string(const char* s, const char* arg) {
  if (!s) invalid(std::string(arg) + " is NULL");
  if (!*s) invalid(std::string(arg) + " is empty");
  return s;
}

int32_t need_flag(int32_t v, const char* arg) {
  if (v != 0 && v != 1) invalid(std::string(arg) + " is " + std::to_string(v) + ", expected 0 or 1");
  return v;
}

int64_t RingCore::positions_locked() const {
  int64_t n = 0;
  for (const auto& b : bindings) n = std::max(n, b.offset + b.count);
  return n;
}

int64_t RingCore::max_fan_out_locked() const {
  int64_t f = 1;
  for (const auto& b : bindings) f = std::max(f, b.fan_out);
  return f;
}

}  // namespace rpg_capi

// ---- Version, statuses, messages, logging ------------------------------------------------

#define RPG_STR2(x) #x
#define RPG_STR(x) RPG_STR2(x)

int32_t rpg_abi_version(void) { return RPG_ABI_VERSION; }

const char* rpg_version_string(void) {
  return RPG_STR(RPG_VERSION_MAJOR) "." RPG_STR(RPG_VERSION_MINOR) "." RPG_STR(RPG_VERSION_PATCH);
}

const char* rpg_build_features(void) {
  static const std::string features = rpg::build_features() + (rpg::built_with_mpi() ? ",mpi" : "");  // constant
  return features.c_str();
}

const char* rpg_status_string(rpg_status status) {
  switch (status) {
    case RPG_STATUS_OK: return "OK";
    case RPG_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case RPG_STATUS_NOT_FOUND: return "not found";
    case RPG_STATUS_PARSE_ERROR: return "parse error";
    case RPG_STATUS_FORMAT_ERROR: return "format error";
    case RPG_STATUS_OUT_OF_MEMORY: return "out of memory";
    case RPG_STATUS_DEVICE_ERROR: return "device error";
    case RPG_STATUS_UNSUPPORTED: return "unsupported";
    case RPG_STATUS_INTERNAL: return "internal error";
    case RPG_STATUS_COMM_ERROR: return "communication error";
    default: return "unknown status";
  }
}

const char* rpg_last_error(void) {
  return rpg_capi::t_fallback ? rpg_capi::t_fallback : rpg_capi::t_message.c_str();
}

rpg_status rpg_set_log_callback(rpg_log_fn fn, void* user_data, int32_t min_level) {
  return guard(__func__, [&] {
    if (min_level < RPG_LOG_DEBUG || min_level > RPG_LOG_ERROR + 1)
      invalid("min_level is " + std::to_string(min_level) + ", expected RPG_LOG_DEBUG (0) .. RPG_LOG_ERROR + 1 (4)");
    rpg_capi::LogSink& s = rpg_capi::sink();
    std::lock_guard<std::mutex> lock(s.mu);
    s.fn = fn;
    s.user = fn ? user_data : nullptr;
    s.min_level.store(min_level);
  });
}

// ---- Rings ------------------------------------------------------------------------------

namespace {

constexpr int64_t kMaxRingSize = INT32_MAX - 1;  // codes store s * (j + 1) in int32
constexpr int64_t kMaxPositions = int64_t(1) << 62;

}  // namespace

rpg_status rpg_ring_create(int64_t size, uint64_t seed, rpg_ring** out) {
  return guard(__func__, [&] {
    need(out, "out");
    if (size < 1 || size > kMaxRingSize)
      invalid("size is " + std::to_string(size) + ", expected 1 .. 2^31 - 2");
    auto ring = std::make_unique<rpg_ring>();
    ring->core = std::make_shared<rpg_capi::RingCore>();
    ring->core->k = size;
    ring->core->seed = seed;
    ring->core->values = rpg::ring_initial_values(seed, size, 1.f);  // standard normal
    ring->core->velocity.assign(size_t(size), 0.f);
    *out = ring.release();
  });
}

void rpg_ring_free(rpg_ring* ring) {
  if (!rpg_capi::freeable(ring, __func__)) return;
  ring->magic = 0;
  delete ring;
}

rpg_status rpg_ring_size(const rpg_ring* ring, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_ring& r = handle(ring, "ring");
    need(out, "out");
    *out = r.core->k;
  });
}

rpg_status rpg_ring_positions(const rpg_ring* ring, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_ring& r = handle(ring, "ring");
    need(out, "out");
    std::lock_guard<std::mutex> lock(r.core->mu);
    *out = r.core->positions_locked();
  });
}

rpg_status rpg_ring_get_values(const rpg_ring* ring, float* values, int64_t len) {
  return guard(__func__, [&] {
    const rpg_ring& r = handle(ring, "ring");
    need(values, "values");
    need_len(len, r.core->k, "len", "the ring's size K");
    std::copy(r.core->values.begin(), r.core->values.end(), values);
  });
}

rpg_status rpg_ring_set_values(rpg_ring* ring, const float* values, int64_t len) {
  return guard(__func__, [&] {
    rpg_ring& r = handle(ring, "ring");
    need(values, "values");
    need_len(len, r.core->k, "len", "the ring's size K");
    std::copy(values, values + len, r.core->values.begin());
  });
}

rpg_status rpg_ring_init_he(rpg_ring* ring) {
  return guard(__func__, [&] {
    rpg_ring& r = handle(ring, "ring");
    int64_t f;
    {
      std::lock_guard<std::mutex> lock(r.core->mu);
      f = r.core->max_fan_out_locked();
    }
    r.core->values = rpg::ring_initial_values(r.core->seed, r.core->k, rpg::ring_he_sigma(f));  // as rpg::Ring
    std::fill(r.core->velocity.begin(), r.core->velocity.end(), 0.f);
  });
}

rpg_status rpg_ring_sgd_step(rpg_ring* ring, const float* grad, int64_t len, float learning_rate,
                             float momentum, float decay) {
  return guard(__func__, [&] {
    rpg_ring& r = handle(ring, "ring");
    need(grad, "grad");
    need_len(len, r.core->k, "len", "the ring's size K");
    if (!(learning_rate >= 0.f) || !std::isfinite(learning_rate))
      invalid("learning_rate is " + std::to_string(learning_rate) + ", expected a finite value >= 0");
    if (!(momentum >= 0.f && momentum < 1.f)) invalid("momentum is " + std::to_string(momentum) + ", expected [0, 1)");
    if (!(decay >= 0.f) || !std::isfinite(decay)) invalid("decay is " + std::to_string(decay) + ", expected >= 0");
    rpg::sgd_step(r.core->values.data(), r.core->velocity.data(), grad, len, learning_rate, momentum, decay);
  });
}

// ---- Generators -------------------------------------------------------------------------

namespace {

// The scale a generator uses: the one set, or c = sqrt(F / fan_out).
float scale_of(const rpg_generator& g, int64_t max_fan_out) {
  return g.fixed_scale > 0 ? g.fixed_scale : rpg::generator_scale(max_fan_out, g.fan_out);
}

// The generator's mapping for the ring's current N (rebuilt when N changed), and its scale.
struct Mapping {
  const int32_t* code;
  float scale;
};

Mapping mapping(rpg_generator& g) {
  rpg_capi::RingCore& c = *g.core;
  int64_t n, f;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    n = c.positions_locked();
    f = c.max_fan_out_locked();
  }
  std::lock_guard<std::mutex> lock(g.mu);
  if (g.code_n != n) {
    std::vector<int32_t> code(size_t(g.count));
    rpg::generator_codes(c.seed, n, c.k, g.offset, g.count, code.data(), nullptr, 1);
    g.code.swap(code);
    g.code_n = n;
  }
  return {g.code.data(), scale_of(g, f)};
}

}  // namespace

rpg_status rpg_generator_create(rpg_ring* ring, int64_t count, int64_t fan_out, int64_t offset,
                                rpg_generator** out) {
  return guard(__func__, [&] {
    rpg_ring& r = handle(ring, "ring");
    need(out, "out");
    if (count < 1 || count > kMaxPositions) invalid("count is " + std::to_string(count) + ", expected 1 .. 2^62");
    if (fan_out < 1) invalid("fan_out is " + std::to_string(fan_out) + ", expected >= 1");
    if (offset < 0 && offset != RPG_GENERATOR_APPEND)
      invalid("offset is " + std::to_string(offset) + ", expected >= 0 or RPG_GENERATOR_APPEND");
    auto g = std::make_unique<rpg_generator>();
    g->core = r.core;
    g->count = count;
    g->fan_out = fan_out;
    rpg_capi::RingCore& c = *r.core;
    std::lock_guard<std::mutex> lock(c.mu);
    g->offset = offset == RPG_GENERATOR_APPEND ? c.positions_locked() : offset;
    if (g->offset > kMaxPositions - count)
      invalid("offset + count is beyond 2^62 (offset " + std::to_string(g->offset) + ")");
    for (const auto& b : c.bindings)
      if (g->offset < b.offset + b.count && b.offset < g->offset + count)
        invalid("positions [" + std::to_string(g->offset) + ", " + std::to_string(g->offset + count) +
                ") overlap those of another generator of this ring: [" + std::to_string(b.offset) + ", " +
                std::to_string(b.offset + b.count) + ")");
    c.bindings.push_back({g.get(), g->offset, count, fan_out});
    *out = g.release();
  });
}

void rpg_generator_free(rpg_generator* generator) {
  if (!rpg_capi::freeable(generator, __func__)) return;
  {
    rpg_capi::RingCore& c = *generator->core;
    std::lock_guard<std::mutex> lock(c.mu);
    c.bindings.erase(std::remove_if(c.bindings.begin(), c.bindings.end(),
                                    [&](const rpg_capi::RingCore::Binding& b) { return b.owner == generator; }),
                     c.bindings.end());
  }
  generator->magic = 0;
  delete generator;
}

rpg_status rpg_generator_count(const rpg_generator* generator, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_generator& g = handle(generator, "generator");
    need(out, "out");
    *out = g.count;
  });
}

rpg_status rpg_generator_offset(const rpg_generator* generator, int64_t* out) {
  return guard(__func__, [&] {
    const rpg_generator& g = handle(generator, "generator");
    need(out, "out");
    *out = g.offset;
  });
}

rpg_status rpg_generator_set_scale(rpg_generator* generator, float scale) {
  return guard(__func__, [&] {
    rpg_generator& g = handle(generator, "generator");
    if (!(scale >= 0.f) || !std::isfinite(scale))
      invalid("scale is " + std::to_string(scale) + ", expected > 0 (or 0 for the automatic scale)");
    std::lock_guard<std::mutex> lock(g.mu);
    g.fixed_scale = scale;
  });
}

rpg_status rpg_generator_scale(const rpg_generator* generator, float* out) {
  return guard(__func__, [&] {
    const rpg_generator& g = handle(generator, "generator");
    need(out, "out");
    int64_t f;
    {
      std::lock_guard<std::mutex> lock(g.core->mu);
      f = g.core->max_fan_out_locked();
    }
    *out = scale_of(g, f);
  });
}

rpg_status rpg_generator_generate(rpg_generator* generator, float* weights, int64_t len) {
  return guard(__func__, [&] {
    rpg_generator& g = handle(generator, "generator");
    need(weights, "weights");
    need_len(len, g.count, "len", "the generator's count");
    const Mapping m = mapping(g);
    rpg::generate_weights(g.core->values.data(), m.code, len, m.scale, weights);
  });
}

rpg_status rpg_generator_accumulate_gradient(rpg_generator* generator, const float* weight_grad,
                                             int64_t weight_len, float* ring_grad, int64_t ring_len) {
  return guard(__func__, [&] {
    rpg_generator& g = handle(generator, "generator");
    need(weight_grad, "weight_grad");
    need(ring_grad, "ring_grad");
    need_len(weight_len, g.count, "weight_len", "the generator's count");
    need_len(ring_len, g.core->k, "ring_len", "the ring's size K");
    const Mapping m = mapping(g);
    rpg::scatter_weight_gradient(m.code, weight_len, m.scale, weight_grad, ring_grad);
  });
}
