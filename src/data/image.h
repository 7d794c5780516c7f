// Images as the data layer hands them around: planar CHW floats in [0, 1], decoded from PNG,
// JPEG or BMP with stb_image.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rpg {

// The largest image load_image decodes, read from the file's header before decoding (a 972 KB
// PNG can announce 4.9 GB of pixels): 16384 pixels per side and 2^26 pixels in all.
constexpr int kMaxImageSide = 16384;
constexpr int64_t kMaxImagePixels = int64_t(1) << 26;

struct Image {
  int c = 0, h = 0, w = 0;
  std::vector<float> data;  // c * h * w floats, channel-major (planar), rows top to bottom

  Image() = default;
  Image(int c_, int h_, int w_) : c(c_), h(h_), w(w_), data(size_t(c_) * h_ * w_, 0.f) {}
  float& at(int ch, int y, int x) { return data[(size_t(ch) * h + y) * w + x]; }
  float at(int ch, int y, int x) const { return data[(size_t(ch) * h + y) * w + x]; }
};

// Decodes an image file into `channels` planes (1: true grayscale, stb_image's luminance;
// 3: RGB). Error(NotFound) when the file cannot be opened or is not a regular file,
// Error(FormatError) naming the file and stb_image's reason when it cannot be decoded or its
// header announces more than the limits above. `where` (e.g. "list.txt:12: ") prefixes
// the messages. Safe to call from several threads, except that the reason text of a decode
// failure comes from stb_image's global state.
Image load_image(const std::string& path, int channels, const std::string& where = "");

}  // namespace rpg
