// libFuzzer target: image list files (path resolution, the label rule, readability checks).
// The input is written as a list file into a folder that holds a few real images.
#include <unistd.h>

#include <cstdint>

#include "data/dataset.h"
#include "fuzz/fuzz_nets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = rpg_fuzz::scratch_folder_with_images();
  const std::string list = dir + "/fuzz.list";
  rpg_fuzz::write_whole(list, std::string(reinterpret_cast<const char*>(data), size));
  try {
    auto ds = rpg::open_dataset(list, {"cat", "dog", "bird"}, 3);
    for (size_t i = 0; i < ds->size() && i < 4; ++i) {
      if (ds->label(i) < 0 || ds->label(i) > 2) std::abort();
      try {
        ds->image(i);  // decoding may fail (a listed file that is not an image)
      } catch (const rpg::Error& e) {
        rpg_fuzz::check_rejection_of_text(e, "");
      }
    }
  } catch (const rpg::Error& e) {
    rpg_fuzz::check_rejection_of_text(e, "fuzz.list");
  }
  return 0;
}
