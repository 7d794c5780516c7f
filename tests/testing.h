// Helpers shared by the Boost.Test suites: building networks from cfg text, locating fixtures.
#pragma once
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu_backend.h"
#include "cfg/cfg.h"
#include "core/network.h"
#include "base/random.h"

namespace rpg_test {

// Builds a network on a CPU backend from cfg text.
inline std::unique_ptr<rpg::Network> net_from_text(const std::string& text, int threads = 1,
                                                   const std::string& name = "<test>",
                                                   rpg::CpuEngine engine = rpg::CpuEngine::OneDnn) {
  return std::make_unique<rpg::Network>(rpg::parse_cfg(text, name), std::make_unique<rpg::CpuBackend>(threads, engine));
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

// Darknet's classifier cfgs, committed in tests/darknet-cfg; "" when the folder is missing
// (tests using it are then skipped, and counted, with that reason).
inline std::string darknet_cfg_dir() {
  std::string d = source_dir() + "/tests/darknet-cfg";
  return is_dir(d) ? d : "";
}

// The standard output of a shell command and its exit status (-1 when it could not start).
struct CommandResult {
  int status = -1;
  std::string output;
};
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return r;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// The Python 3 interpreter for the reference scripts of tests/ (RPG_PYTHON overrides), or ""
// when there is none.
inline std::string python3() {
  const char* env = std::getenv("RPG_PYTHON");
  const std::string py = env ? env : "python3";
  const CommandResult r = run_command(py + " -c 'import sys; sys.exit(sys.version_info[0] != 3)' 2>/dev/null");
  return r.status == 0 ? py : "";
}

// A fresh folder under the system temp folder, removed with its contents at scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rpgnet_test_XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::string operator/(const std::string& name) const { return file(name); }
  // The names in the folder, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

// Writes bytes to path, creating its folders; throws (failing the test) when it cannot.
inline void write_file(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace rpg_test
