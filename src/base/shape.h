// Shape of one image's activation: channels x height x width, stored NCHW per batch.
#pragma once
#include <cstdint>
#include <string>

namespace rpg {

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

}  // namespace rpg
