// Shape of one image's activation: channels x height x width, stored NCHW per batch; and the
// limits every shape and size from outside input (a cfg, an export's embedded cfg, a file
// header) is checked against, in 64-bit, before anything is allocated (README: Limits).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace rpg {

// The limits keep every per-image count within int32 (the backends' kernels and GEMM calls take
// int sizes) and every buffer's byte count far from overflowing 64 bits; the memory estimate
// (Network::set_batch) then refuses what does not fit in the memory available.
constexpr int64_t kMaxSide = int64_t(1) << 16;        // width or height of an activation
constexpr int64_t kMaxChannels = int64_t(1) << 30;    // channels of an activation ([net] inputs=)
constexpr int64_t kMaxImageFloats = INT32_MAX;         // c x h x w of one image's activation
constexpr int64_t kMaxBatch = int64_t(1) << 20;        // images per pass
constexpr int64_t kMaxLayerWeights = INT32_MAX;        // weights of one layer
constexpr int64_t kMaxWorkspaceFloats = INT32_MAX;     // one image's im2col matrix (K x N)

struct Shape {
  int c = 0, h = 0, w = 0;
  int64_t size() const { return int64_t(c) * h * w; }
  int64_t spatial() const { return int64_t(h) * w; }
  bool operator==(const Shape& o) const { return c == o.c && h == o.h && w == o.w; }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const {
    return std::to_string(w) + " x " + std::to_string(h) + " x " + std::to_string(c);
  }
};

// "" when a shape of c channels, h rows and w columns is within the limits above, else what is
// wrong with it, e.g. "4295032832 channels exceed the limit of 16777216".
inline std::string shape_problem(int64_t c, int64_t h, int64_t w) {
  auto over = [](int64_t v, int64_t limit, const char* what) {
    return std::to_string(v) + " " + what + " exceed the limit of " + std::to_string(limit);
  };
  if (c < 0 || h < 0 || w < 0) return "negative size " + std::to_string(w) + " x " + std::to_string(h) + " x " +
                                       std::to_string(c);
  if (c > kMaxChannels) return over(c, kMaxChannels, "channels");
  if (h > kMaxSide) return over(h, kMaxSide, "rows");
  if (w > kMaxSide) return over(w, kMaxSide, "columns");
  const int64_t floats = c * h * w;  // at most 2^24 x 2^16 x 2^16 = 2^56: no overflow
  if (floats > kMaxImageFloats)
    return std::to_string(w) + " x " + std::to_string(h) + " x " + std::to_string(c) + " = " + std::to_string(floats) +
           " floats per image exceed the limit of " + std::to_string(kMaxImageFloats);
  return "";
}

// A byte count for messages: "8.00 GiB (8589934592 bytes)".
inline std::string byte_size(int64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) v /= 1024, ++u;
  if (u == 0) return std::to_string(bytes) + " bytes";
  char text[32];
  std::snprintf(text, sizeof text, "%.2f %s", v, units[u]);
  return std::string(text) + " (" + std::to_string(bytes) + " bytes)";
}

}  // namespace rpg
