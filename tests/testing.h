// Helpers shared by the Boost.Test suites: building networks from cfg text, locating fixtures.
#pragma once
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu_backend.h"
#include "cfg/cfg.h"
#include "core/network.h"
#include "core/random.h"

namespace rpg_test {

// Builds a network on a CPU backend from cfg text.
inline std::unique_ptr<rpg::Network> net_from_text(const std::string& text, int threads = 1,
                                                   const std::string& name = "<test>") {
  return std::make_unique<rpg::Network>(rpg::parse_cfg(text, name), std::make_unique<rpg::CpuBackend>(threads));
}

// Deterministic values uniform in [lo, hi).
inline std::vector<float> random_vector(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  rpg::Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = rng.uniform(lo, hi);
  return v;
}

inline bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The repository root (tests run from it; RPG_SOURCE_DIR overrides).
inline std::string source_dir() {
  const char* d = std::getenv("RPG_SOURCE_DIR");
  return d ? d : ".";
}

// ../shared/darknet-cfg when it exists, else "" (tests using it skip with a message).
inline std::string darknet_cfg_dir() {
  std::string d = source_dir() + "/../shared/darknet-cfg";
  return is_dir(d) ? d : "";
}

}  // namespace rpg_test
