// What the oneDNN engines (onednn_conv.cc: float32, onednn_int8.cc: int8) share: the thread count
// oneDNN runs at, its exceptions as rpg::Error, and the scratch arena their primitives' buffers
// live in. Included by those two files only.
#pragma once
#include <omp.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "base/error.h"
#include <dnnl.hpp>

namespace rpg::onednn {

// oneDNN (built on OpenMP) runs as many threads as the calling thread's OpenMP team size; this
// sets it for one scope and puts the caller's back. Primitives are created and run at the count
// they are for (a primitive created at another count starts a team of that size when it runs).
class OmpThreads {
 public:
  explicit OmpThreads(int n) : saved_(omp_get_max_threads()) {
    if (n != saved_) omp_set_num_threads(n);
  }
  ~OmpThreads() {
    if (omp_get_max_threads() != saved_) omp_set_num_threads(saved_);
  }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int saved_;
};

// f() run with oneDNN at n threads.
template <typename F>
auto at_threads(int n, F&& f) {
  OmpThreads t(n);
  return f();
}

// Runs f, turning oneDNN's exceptions into rpg::Error ("<what>: <oneDNN's message>").
template <typename F>
auto guarded(const char* what, F&& f) {
  try {
    return f();
  } catch (const dnnl::error& e) {
    fail(e.status == dnnl_out_of_memory ? Status::OutOfMemory : Status::Internal, std::string(what) + ": " + e.what());
  }
}

// One primitive and its arguments.
struct Step {
  dnnl::primitive prim;
  std::unordered_map<int, dnnl::memory> args;
};

// Memory objects laid out one after another (64-byte aligned) from offset 0 of a shared arena;
// bind() points them at the arena.
struct ArenaLayout {
  std::vector<std::pair<dnnl::memory, int64_t>> placed;  // memory objects placed at arena + offset
  int64_t bytes = 0;

  dnnl::memory arena_memory(const dnnl::memory::desc& d, const dnnl::engine& eng) {
    dnnl::memory m(d, eng, DNNL_MEMORY_NONE);
    placed.emplace_back(m, bytes);
    bytes += (int64_t(d.get_size()) + 63) / 64 * 64;
    return m;
  }
  void bind(char* arena) {
    for (auto& [m, offset] : placed) m.set_data_handle(arena + offset);
  }
};

// The arena: one allocation through the backend (its failures are the backend's), grown to fit
// and never shrunk; a failed allocation leaves the old one in place.
class Arena {
 public:
  explicit Arena(Backend& owner) : owner_(owner) {}
  ~Arena() { owner_.release(data_); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  void fit(int64_t bytes) {
    if (bytes <= bytes_) return;
    char* bigger = static_cast<char*>(owner_.alloc(size_t(bytes)));
    owner_.release(data_);
    data_ = bigger;
    bytes_ = bytes;
  }
  char* data() const { return data_; }

 private:
  Backend& owner_;
  char* data_ = nullptr;
  int64_t bytes_ = 0;
};

}  // namespace rpg::onednn
