// libFuzzer target: the checkpoint loader, on the input as it is and with its checksum made valid.
#include <cstdint>

#include "fuzz/fuzz_nets.h"
#include "io/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<rpg::Network> net = rpg_fuzz::make(rpg_fuzz::ring_cfg());
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  for (const std::string& b : {bytes, rpg_fuzz::with_valid_crc(bytes)}) {
    try {
      rpg::load_checkpoint_from_bytes(*net, b, "fuzz.ckpt");
    } catch (const rpg::Error& e) {
      rpg_fuzz::check_rejection(e, "fuzz.ckpt");
    }
  }
  return 0;
}
