// The C boundary's internals, shared by the capi/*.cc files (never installed): the handle
// structs behind the opaque C types, the guard every entry point runs its body in (exceptions
// to statuses, the thread-local message), argument checks, and the log sink.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "backend/buffer.h"
#include "cfg/cfg.h"
#include "base/error.h"
#include "core/network.h"
#include "rpgnet.h"
#include "core/train_state.h"

namespace rpg_capi {

// Every handle starts with a magic number naming its kind, so that a handle of another kind is
// reported instead of misused. free() clears it.
constexpr uint32_t kRingMagic = 0x52494e47;       // "RING"
constexpr uint32_t kGeneratorMagic = 0x47454e52;  // "GENR"
constexpr uint32_t kNetworkMagic = 0x4e455457;    // "NETW"
constexpr uint32_t kExportMagic = 0x45585054;     // "EXPT"
constexpr uint32_t kTrainerMagic = 0x54524e52;    // "TRNR"

// The standalone ring: values, momentum, and the generators bound to it. Generators share
// ownership, so freeing the ring handle first is safe.
struct RingCore {
  int64_t k = 0;
  uint64_t seed = 0;
  std::vector<float> values, velocity;
  struct Binding {
    const void* owner;
    int64_t offset, count, fan_out;
  };
  std::mutex mu;  // guards bindings (generators may be created on other threads)
  std::vector<Binding> bindings;
  int64_t positions_locked() const;  // N
  int64_t max_fan_out_locked() const;  // F (1 when none)
};

}  // namespace rpg_capi

struct rpg_ring {
  uint32_t magic = rpg_capi::kRingMagic;
  std::shared_ptr<rpg_capi::RingCore> core;
};

struct rpg_generator {
  uint32_t magic = rpg_capi::kGeneratorMagic;
  std::shared_ptr<rpg_capi::RingCore> core;
  int64_t offset = 0, count = 0, fan_out = 1;
  float fixed_scale = 0;  // 0: sqrt(F / fan_out)
  std::mutex mu;          // guards the cached mapping
  std::vector<int32_t> code;  // s(p) * (pi(p) mod K + 1), built for N = code_n
  int64_t code_n = -1;
};

struct rpg_network {
  uint32_t magic = rpg_capi::kNetworkMagic;
  int32_t threads = 1;
  int32_t device_kind = RPG_DEVICE_CPU, device_index = 0;
  int32_t deterministic = 0;  // the CPU's reference engine instead of oneDNN
  std::unique_ptr<rpg::Network> net;
  // Device buffers on net's backend: declared after net, so destroyed before it.
  rpg::Buffer<float> input, target, input_grad;
  rpg::TrainState state;    // update count, images seen, loader position
  int64_t max_updates = 0;  // the run length learning-rate policies see
  enum class Pass { None, Forward, ForwardTarget } last = Pass::None;
  std::string summary;      // rpg_network_summary's text
  rpg_trainer* training = nullptr;  // the trainer whose rpg_trainer_run is using the network
};

struct rpg_export_options {
  uint32_t magic = rpg_capi::kExportMagic;
  int32_t bits = 32;
  double prune_fraction = 0;
  int32_t unshared_bits = 32;
  std::string int8_data;       // int8: the .data file that calibrates ("" : no int8)
  int32_t int8_batches = 0;
};

namespace rpg_capi {

// Sets the calling thread's message to "fn: message", logs it at debug level, returns status.
rpg_status record_failure(const char* fn, rpg_status status, const char* message) noexcept;
// Sends a message to the log sink (callback or stderr) when level >= the minimum.
void log(int32_t level, const std::string& message) noexcept;

// Runs body, turning every exception into a status and a message. Nothing escapes.
template <typename Body>
rpg_status guard(const char* fn, Body&& body) noexcept {
  try {
    body();
    return RPG_STATUS_OK;
  } catch (const rpg::Error& e) {
    const int s = static_cast<int>(e.status());
    const bool known = s <= RPG_STATUS_INVALID_ARGUMENT && s >= RPG_STATUS_COMM_ERROR;
    return record_failure(fn, known ? rpg_status(s) : RPG_STATUS_INTERNAL, e.what());
  } catch (const std::bad_alloc&) {
    return record_failure(fn, RPG_STATUS_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    try {
      return record_failure(fn, RPG_STATUS_INTERNAL, (std::string("internal error: ") + e.what()).c_str());
    } catch (...) {
      return record_failure(fn, RPG_STATUS_INTERNAL, "internal error");
    }
  } catch (...) {
    return record_failure(fn, RPG_STATUS_INTERNAL, "internal error: unknown exception");
  }
}

[[noreturn]] void invalid(const std::string& message);

template <typename H> constexpr uint32_t magic_of();
template <> constexpr uint32_t magic_of<rpg_ring>() { return kRingMagic; }
template <> constexpr uint32_t magic_of<rpg_generator>() { return kGeneratorMagic; }
template <> constexpr uint32_t magic_of<rpg_network>() { return kNetworkMagic; }
template <> constexpr uint32_t magic_of<rpg_export_options>() { return kExportMagic; }
template <> constexpr uint32_t magic_of<rpg_trainer>() { return kTrainerMagic; }

const char* kind_name(uint32_t magic);  // "rpg_ring", ... or nullptr
[[noreturn]] void wrong_handle(const char* arg, uint32_t expected, uint32_t found);

// The handle behind a pointer argument, checked: not NULL, and of the expected kind.
template <typename H>
H& handle(H* h, const char* arg) {
  if (!h) invalid(std::string(arg) + " is NULL");
  const uint32_t m = *reinterpret_cast<const uint32_t*>(h);  // every handle starts with its magic
  if (m != magic_of<typename std::remove_const<H>::type>()) wrong_handle(arg, magic_of<typename std::remove_const<H>::type>(), m);
  return *h;
}

// For _free functions: true when h may be deleted (NULL: false, silently; another kind: false,
// with a warning in the log).
template <typename H>
bool freeable(H* h, const char* fn) noexcept {
  if (!h) return false;
  const uint32_t m = *reinterpret_cast<const uint32_t*>(h);
  if (m == magic_of<H>()) return true;
  try {
    const char* k = kind_name(m);
    log(RPG_LOG_WARNING, std::string(fn) + ": not freed: the argument is " +
                             (k ? std::string("an ") + k + " handle" : std::string("not a live handle")));
  } catch (...) {
  }
  return false;
}

template <typename T>
void need(const T* p, const char* arg) {
  if (!p) invalid(std::string(arg) + " is NULL");
}
// len must equal expected (the message names both).
void need_len(int64_t len, int64_t expected, const char* arg, const std::string& what);
// A non-empty C string.
std::string need_string(const char* s, const char* arg);
int32_t need_flag(int32_t v, const char* arg);

// Network helpers shared by network.cc, export.cc and trainer.cc.
// A backend on the handle's device with its thread count (a new handle: one CPU thread).
std::unique_ptr<rpg::Backend> make_backend_for(const rpg_network& h);
// Fails (INVALID_ARGUMENT, naming the trainer) while a rpg_trainer_run uses the network: the
// calls that reallocate or replace its buffers or parameters are refused until the run returns.
void need_not_training(const rpg_network& h);
// Installs a freshly built network in the handle (buffers released first, counters reset).
void install_network(rpg_network& h, std::unique_ptr<rpg::Network> net);

}  // namespace rpg_capi
