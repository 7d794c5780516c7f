// libFuzzer target: the export loader (describe_export, load_export_from_bytes,
// load_export_into_from_bytes), on the input as it is and with its checksum made valid; a file
// that loads with the int8 engine (flag int8, its CALB ranges) also runs one int8 pass.
#include <cstdint>
#include <vector>

#include "fuzz/fuzz_nets.h"
#include "io/export.h"

namespace {

void run(const std::string& bytes) {
  static std::unique_ptr<rpg::Network> target = rpg_fuzz::make(rpg_fuzz::ring_cfg());
  try {
    rpg::describe_export(bytes, "fuzz.rpgm");
  } catch (const rpg::Error& e) {
    rpg_fuzz::check_rejection(e, "fuzz.rpgm");
  }
  try {
    rpg::load_export_into_from_bytes(*target, bytes, "fuzz.rpgm");
  } catch (const rpg::Error& e) {
    rpg_fuzz::check_rejection(e, "fuzz.rpgm");
  }
  try {
    auto net = rpg::load_export_from_bytes(bytes, "fuzz.rpgm", std::make_unique<rpg::CpuBackend>(1));
    if (net->inference_plan() && net->batch() <= 8 && net->input_size() <= 4096) {
      net->set_batch(1);
      net->predict(std::vector<float>(size_t(net->input_size()), .5f).data());
    }
  } catch (const rpg::Error& e) {
    rpg_fuzz::check_rejection(e, "fuzz.rpgm", true);  // an embedded cfg may ask for too much memory
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  run(bytes);
  run(rpg_fuzz::with_valid_crc(bytes));
  return 0;
}
