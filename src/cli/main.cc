// The rpgnet command: a thin client of the library. Turns rpg::Error into a message on stderr
// and a non-zero exit status (1: error in the input, 2: usage).
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu_backend.h"
#include "cfg/cfg.h"
#include "core/error.h"
#include "core/network.h"
#include "core/summary.h"

namespace {

const char* kUsage =
    "usage: rpgnet <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  info <cfg> [--set S.K=V]...   print the layer table and totals of a network\n"
    "  help                          this text\n"
    "  version                       print the version\n"
    "\n"
    "options:\n"
    "  --set SECTION.KEY=VALUE   override a cfg key without editing the file; SECTION is\n"
    "                            'net', a layer index (as numbered by info) or 'ring.NAME'\n"
    "  --threads N               CPU threads (default 1)\n";

struct Args {
  std::vector<std::string> positional;
  std::vector<std::string> sets;
  int threads = 1;
};

struct UsageError {
  std::string message;
};

Args parse_args(int argc, char** argv, int first) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    auto value = [&](const std::string& name) {
      if (i + 1 >= argc) throw UsageError{name + " needs a value"};
      return std::string(argv[++i]);
    };
    if (s == "--set") {
      a.sets.push_back(value(s));
    } else if (s.rfind("--set=", 0) == 0) {
      a.sets.push_back(s.substr(6));
    } else if (s == "--threads") {
      std::string v = value(s);
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (*end || n < 1 || n > 1024) throw UsageError{"--threads needs a number from 1 to 1024, got '" + v + "'"};
      a.threads = int(n);
    } else if (s.size() > 1 && s[0] == '-') {
      throw UsageError{"unknown option '" + s + "'"};
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

rpg::CfgFile load_with_overrides(const std::string& path, const std::vector<std::string>& sets) {
  rpg::CfgFile cfg = rpg::load_cfg(path);
  for (const auto& s : sets) rpg::apply_override(cfg, s);
  return cfg;
}

int cmd_info(const Args& a) {
  if (a.positional.size() != 1) throw UsageError{"info takes one cfg file"};
  rpg::CfgFile cfg = load_with_overrides(a.positional[0], a.sets);
  rpg::parse_net_section(cfg);  // report [net] errors (batch, subdivisions) before overriding them
  // A summary needs shapes, not a batch: build at batch 1.
  rpg::apply_override(cfg, "net.batch=1");
  rpg::apply_override(cfg, "net.subdivisions=1");
  rpg::Network net(cfg, std::make_unique<rpg::CpuBackend>(a.threads));
  std::printf("%s: input %s\n", cfg.path.c_str(), net.input_shape().str().c_str());
  std::fputs(rpg::summary_table(net).c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (cmd == "version" || cmd == "--version") {
      std::puts("rpgnet 0.1.0");
      return 0;
    }
    Args a = parse_args(argc, argv, 2);
    if (cmd == "info") return cmd_info(a);
    throw UsageError{"unknown command '" + cmd + "'"};
  } catch (const UsageError& e) {
    std::fprintf(stderr, "rpgnet: %s\n\n%s", e.message.c_str(), kUsage);
    return 2;
  } catch (const rpg::Error& e) {
    std::fprintf(stderr, "rpgnet: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "rpgnet: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rpgnet: internal error: %s\n", e.what());
    return 1;
  }
}
