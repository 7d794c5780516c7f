// libFuzzer target: IDX image and label files, plain or gzip. The first byte chooses which of
// the two files the rest of the input is (the other is a valid file for 3 images of 4 x 4).
#include <cstdint>

#include "data/dataset.h"
#include "fuzz/fuzz_nets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const std::string dir = rpg_fuzz::scratch_folder_with_images();
  const std::string images = dir + "/fuzz-images.idx", labels = dir + "/fuzz-labels.idx";
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool fuzz_images = (data[0] & 1) == 0;
  rpg_fuzz::write_whole(images, fuzz_images ? body : rpg_fuzz::idx_images(3, 4, 4));
  rpg_fuzz::write_whole(labels, fuzz_images ? rpg_fuzz::idx_labels(3, 2) : body);
  try {
    auto ds = rpg::open_idx_dataset(images, labels, 3, 1);
    for (size_t i = 0; i < ds->size() && i < 4; ++i) {
      const rpg::Image im = ds->image(i);
      if (im.c != 1 || ds->label(i) < 0 || ds->label(i) > 2) std::abort();
    }
  } catch (const rpg::Error& e) {
    rpg_fuzz::check_rejection_of_text(e, fuzz_images ? "fuzz-images.idx" : "fuzz-labels.idx");
  }
  return 0;
}
