// Image decoding through stb_image (image.h); libstb provides the implementation.
#include "data/image.h"

#include <stb_image.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "base/error.h"
#include "data/text_file.h"

namespace rpg {

namespace {

// The dimensions from the header, before anything is decoded; the file is rewound.
void check_image_size(FILE* file, const std::string& path, const std::string& where) {
  int w = 0, h = 0, n = 0;
  const bool known = stbi_info_from_file(file, &w, &h, &n) != 0;
  std::rewind(file);
  if (!known) return;  // not an image stb_image knows: decoding reports why
  if (w > kMaxImageSide || h > kMaxImageSide || int64_t(w) * h > kMaxImagePixels)
    fail(Status::FormatError, where + "image '" + path + "' is " + std::to_string(w) + " x " + std::to_string(h) +
                                  " pixels, beyond the limit of " + std::to_string(kMaxImageSide) +
                                  " pixels per side and " + std::to_string(kMaxImagePixels) + " pixels in all");
}

}  // namespace

Image load_image(const std::string& path, int channels, const std::string& where) {
  if (channels != 1 && channels != 3)
    fail(Status::InvalidArgument, where + "cannot load '" + path + "' with " +
                                      std::to_string(channels) +
                                      " channels: images load with 1 (grayscale) or 3 (RGB)");
  require_readable_file(path, where + "cannot open image");  // a FIFO would block fopen
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file)
    fail(Status::NotFound, where + "cannot open image '" + path + "': " + std::strerror(errno));
  check_image_size(file.get(), path, where);
  int w = 0, h = 0, n = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> pixels(
      stbi_load_from_file(file.get(), &w, &h, &n, channels), &stbi_image_free);
  if (!pixels) {
    // stb_image's reasons are terse and sometimes empty (a PNG cut before its IEND chunk).
    const char* reason = stbi_failure_reason();
    fail(Status::FormatError, where + "cannot decode image '" + path + "': corrupt or truncated (stb_image: " +
                                  (reason && *reason ? reason : "no reason given") + ")");
  }
  if (w <= 0 || h <= 0) fail(Status::FormatError, where + "image '" + path + "' has no pixels");
  Image im(channels, h, w);
  const unsigned char* p = pixels.get();
  const size_t plane = size_t(h) * w;
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < channels; ++c) im.data[c * plane + i] = p[i * channels + c] / 255.f;
  return im;
}

}  // namespace rpg
