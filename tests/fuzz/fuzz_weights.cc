// libFuzzer target: the Darknet .weights loader (no magic, no checksum: header and length checks).
#include <cstdint>

#include "fuzz/fuzz_nets.h"
#include "io/darknet_weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<rpg::Network> net = rpg_fuzz::make(rpg_fuzz::plain_cfg());
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    rpg::load_darknet_weights_from_bytes(*net, bytes, "fuzz.weights");
  } catch (const rpg::Error& e) {
    rpg_fuzz::check_rejection(e, "fuzz.weights");
  }
  return 0;
}
