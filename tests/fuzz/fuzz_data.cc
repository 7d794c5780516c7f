// libFuzzer target: the .data file parser (keys, comments, CRLF, BOM, values, paths).
#include <cstdint>

#include "data/data_config.h"
#include "fuzz/fuzz_nets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const rpg::DataConfig d = rpg::parse_data_config(text, "/fuzz/dir/fuzz.data");
    if (d.classes < 1 || d.top < 1 || d.top > d.classes) std::abort();  // what the parser promises
  } catch (const rpg::Error& e) {
    rpg_fuzz::check_rejection_of_text(e, "fuzz.data");
  }
  return 0;
}
