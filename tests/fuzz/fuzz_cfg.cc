// libFuzzer target: the cfg parser and network construction (shape inference, ring binding,
// every key's checks). Built at batch 1 so that a valid input stays small; a cfg may only be
// rejected with a parse, argument or memory error that names it.
#include <cstdint>

#include "fuzz/fuzz_nets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    rpg::CfgFile cfg = rpg::parse_cfg(text, "fuzz.cfg");
    rpg::apply_override(cfg, "net.batch=1");
    rpg::apply_override(cfg, "net.subdivisions=1");
    rpg::Network net(cfg, std::make_unique<rpg::CpuBackend>(1));
  } catch (const rpg::Error& e) {
    rpg_fuzz::check_rejection_of_text(e, "fuzz.cfg");
  }
  return 0;
}
