// Darknet-style classifier augmentation and validation cropping (augment.h).
#include "data/augment.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "base/error.h"

namespace rpg {

namespace {

constexpr float kPi = 3.14159265358979f;

// Bilinear sample of channel c at (x, y) in pixel-center coordinates; beyond the image the
// edge repeats.
float sample(const Image& im, int c, float x, float y) {
  x = std::min(std::max(x, 0.f), float(im.w - 1));
  y = std::min(std::max(y, 0.f), float(im.h - 1));
  int x0 = int(x), y0 = int(y);
  int x1 = std::min(x0 + 1, im.w - 1), y1 = std::min(y0 + 1, im.h - 1);
  float fx = x - float(x0), fy = y - float(y0);
  float top = im.at(c, y0, x0) * (1 - fx) + im.at(c, y0, x1) * fx;
  float bottom = im.at(c, y1, x0) * (1 - fx) + im.at(c, y1, x1) * fx;
  return top * (1 - fy) + bottom * fy;
}

// The out_w x out_h window whose top-left corner is (ox, oy), rotated by rad about its center.
// Unrotated windows copy pixels (edge repeated beyond the image).
Image crop_window(const Image& im, int ox, int oy, float rad, int out_w, int out_h) {
  Image out(im.c, out_h, out_w);
  if (rad == 0.f) {
    for (int c = 0; c < im.c; ++c)
      for (int y = 0; y < out_h; ++y) {
        int sy = std::min(std::max(y + oy, 0), im.h - 1);
        for (int x = 0; x < out_w; ++x)
          out.at(c, y, x) = im.at(c, sy, std::min(std::max(x + ox, 0), im.w - 1));
      }
    return out;
  }
  const float cs = std::cos(rad), sn = std::sin(rad);
  const float cx = ox + out_w * .5f - .5f, cy = oy + out_h * .5f - .5f;
  for (int c = 0; c < im.c; ++c)
    for (int y = 0; y < out_h; ++y)
      for (int x = 0; x < out_w; ++x) {
        float u = x + .5f - out_w * .5f, v = y + .5f - out_h * .5f;
        out.at(c, y, x) = sample(im, c, cs * u - sn * v + cx, sn * u + cs * v + cy);
      }
  return out;
}

// out(y, x) = im(y + dy, x + dx), zero beyond the image: a crop of the zero-padded image.
Image shift_with_zeros(const Image& im, int dx, int dy) {
  Image out(im.c, im.h, im.w);
  for (int c = 0; c < im.c; ++c)
    for (int y = 0; y < im.h; ++y) {
      int sy = y + dy;
      if (sy < 0 || sy >= im.h) continue;
      for (int x = 0; x < im.w; ++x) {
        int sx = x + dx;
        if (sx >= 0 && sx < im.w) out.at(c, y, x) = im.at(c, sy, sx);
      }
    }
  return out;
}

void flip_rows(Image& im) {
  for (int c = 0; c < im.c; ++c)
    for (int y = 0; y < im.h; ++y) {
      float* row = &im.at(c, y, 0);
      std::reverse(row, row + im.w);
    }
}

// A whole number drawn uniformly in [lo, hi].
int random_int(Rng& rng, int lo, int hi) { return lo + rng.below(hi - lo + 1); }

// Resized to w x h unless it already has that size.
Image scaled(const Image& src, int w, int h) {
  return w == src.w && h == src.h ? src : resize_bilinear(src, w, h);
}

// The w x h window of im at (ox, oy), zero beyond the image (Darknet's crop_image).
Image crop_zero(const Image& im, int ox, int oy, int w, int h) {
  Image out(im.c, h, w);
  for (int c = 0; c < im.c; ++c)
    for (int y = 0; y < h; ++y) {
      const int sy = y + oy;
      if (sy < 0 || sy >= im.h) continue;
      for (int x = 0; x < w; ++x) {
        const int sx = x + ox;
        if (sx >= 0 && sx < im.w) out.at(c, y, x) = im.at(c, sy, sx);
      }
    }
  return out;
}

// Darknet's validation geometry (validate_classifier_single): the shorter side scaled to the
// network's width (resize_min, integer sizes), then the center out_w x out_h window.
Image valid_input(const Image& src, int out_w, int out_h) {
  int w = src.w, h = src.h;
  if (w < h) {
    h = int(int64_t(h) * out_w / w);
    w = out_w;
  } else {
    w = int(int64_t(w) * out_w / h);
    h = out_w;
  }
  const Image im = w == src.w && h == src.h ? src : resize_darknet(src, w, h);
  return crop_zero(im, (w - out_w) / 2, (h - out_h) / 2, out_w, out_h);
}

// Darknet's center_crop_image (training with center=1): the centered square of side
// min(w, h), resized to out_w x out_h.
Image center_square_input(const Image& src, int out_w, int out_h) {
  const int m = std::min(src.w, src.h);
  const Image sq = crop_zero(src, (src.w - m) / 2, (src.h - m) / 2, m, m);
  return m == out_w && m == out_h ? sq : resize_darknet(sq, out_w, out_h);
}

// Darknet's random_augment_image, with whole-pixel crop offsets.
Image random_input(const Image& src, const AugmentOptions& a, Rng& rng, int out_w, int out_h) {
  float aspect = a.aspect != 1.f ? random_scale(rng, a.aspect) : 1.f;
  int lo = a.min_crop > 0 ? a.min_crop : a.max_crop, hi = a.max_crop > 0 ? a.max_crop : a.min_crop;
  if (lo > hi) std::swap(lo, hi);
  double sx = aspect, sy = 1;
  if (hi > 0) {
    int r = random_int(rng, lo, hi);
    double s = r / std::min(double(src.h), double(src.w) * aspect);
    sx *= s, sy *= s;
  }
  int sw = std::max(1, int(std::lround(src.w * sx))),
      sh = std::max(1, int(std::lround(src.h * sy)));
  Image im = scaled(src, sw, sh);
  float rad = a.angle != 0.f ? rng.uniform(-a.angle, a.angle) * kPi / 180.f : 0.f;
  int ox = random_int(rng, std::min(0, sw - out_w), std::max(0, sw - out_w));
  int oy = random_int(rng, std::min(0, sh - out_h), std::max(0, sh - out_h));
  return crop_window(im, ox, oy, rad, out_w, out_h);
}

void distort(Image& im, const AugmentOptions& a, Rng& rng) {
  if (a.hue == 0.f && a.saturation == 1.f && a.exposure == 1.f) return;
  float dhue = rng.uniform(-a.hue, a.hue);
  float dsat = random_scale(rng, a.saturation);
  float dexp = random_scale(rng, a.exposure);
  if (im.c == 3) return distort_hsv(im, dhue, dsat, dexp);
  for (float& v : im.data) v = std::min(1.f, std::max(0.f, v * dexp));  // gray: value only
}

}  // namespace

float random_scale(Rng& rng, float s) {
  float v = rng.uniform(std::min(1.f, s), std::max(1.f, s));
  return rng.uniform() < .5f ? v : 1.f / v;
}

Image resize_bilinear(const Image& src, int w, int h) {
  if (w < 1 || h < 1 || src.w < 1 || src.h < 1)
    fail(Status::InvalidArgument, "cannot resize a " + std::to_string(src.w) + "x" +
                                      std::to_string(src.h) + " image to " + std::to_string(w) +
                                      "x" + std::to_string(h));
  Image out(src.c, h, w);
  const float kx = float(src.w) / w, ky = float(src.h) / h;
  for (int c = 0; c < src.c; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        out.at(c, y, x) = sample(src, c, (x + .5f) * kx - .5f, (y + .5f) * ky - .5f);
  return out;
}

Image resize_darknet(const Image& src, int w, int h) {
  if (w < 1 || h < 1 || src.w < 1 || src.h < 1)
    fail(Status::InvalidArgument, "cannot resize a " + std::to_string(src.w) + "x" + std::to_string(src.h) +
                                      " image to " + std::to_string(w) + "x" + std::to_string(h));
  // Columns first into a w x src.h image, then rows, in float as Darknet computes them.
  const float w_scale = w > 1 ? float(src.w - 1) / float(w - 1) : 0.f;
  const float h_scale = h > 1 ? float(src.h - 1) / float(h - 1) : 0.f;
  Image part(src.c, src.h, w), out(src.c, h, w);
  for (int c = 0; c < src.c; ++c)
    for (int r = 0; r < src.h; ++r)
      for (int x = 0; x < w; ++x) {
        if (x == w - 1 || src.w == 1) {
          part.at(c, r, x) = src.at(c, r, src.w - 1);
        } else {
          const float sx = float(x) * w_scale;
          const int ix = int(sx);
          const float dx = sx - float(ix);
          part.at(c, r, x) = (1 - dx) * src.at(c, r, ix) + dx * src.at(c, r, ix + 1);
        }
      }
  for (int c = 0; c < src.c; ++c)
    for (int y = 0; y < h; ++y) {
      const float sy = float(y) * h_scale;
      const int iy = int(sy);
      const float dy = sy - float(iy);
      for (int x = 0; x < w; ++x) out.at(c, y, x) = (1 - dy) * part.at(c, iy, x);
      if (y == h - 1 || src.h == 1) continue;
      for (int x = 0; x < w; ++x) out.at(c, y, x) += dy * part.at(c, iy + 1, x);
    }
  return out;
}

void letterbox_input(const Image& src, int out_w, int out_h, int out_c, float* dst) {
  if (src.c != out_c)
    fail(Status::InvalidArgument, "image has " + std::to_string(src.c) + " channels, the network takes " +
                                      std::to_string(out_c));
  int w = src.w, h = src.h;
  if (float(out_w) / float(src.w) < float(out_h) / float(src.h)) {
    w = out_w;
    h = int(int64_t(src.h) * out_w / src.w);
  } else {
    h = out_h;
    w = int(int64_t(src.w) * out_h / src.h);
  }
  const Image im = resize_darknet(src, std::max(1, w), std::max(1, h));
  Image boxed(src.c, out_h, out_w);
  std::fill(boxed.data.begin(), boxed.data.end(), .5f);
  const int ox = (out_w - im.w) / 2, oy = (out_h - im.h) / 2;
  for (int c = 0; c < im.c; ++c)
    for (int y = 0; y < im.h; ++y)
      for (int x = 0; x < im.w; ++x) boxed.at(c, y + oy, x + ox) = im.at(c, y, x);
  std::memcpy(dst, boxed.data.data(), boxed.data.size() * sizeof(float));
}

void distort_hsv(Image& im, float dhue, float dsat, float dexp) {
  const size_t n = size_t(im.h) * im.w;
  float *r = im.data.data(), *g = r + n, *b = g + n;
  for (size_t i = 0; i < n; ++i) {
    // rgb -> hsv (Darknet's rgb_to_hsv, without its 0/0 for grays)
    float mx = std::max({r[i], g[i], b[i]}), mn = std::min({r[i], g[i], b[i]}), delta = mx - mn;
    float h = 0, s = 0, v = mx;
    if (mx > 0 && delta > 0) {
      s = delta / mx;
      if (r[i] == mx)
        h = (g[i] - b[i]) / delta;
      else if (g[i] == mx)
        h = 2 + (b[i] - r[i]) / delta;
      else
        h = 4 + (r[i] - g[i]) / delta;
      if (h < 0) h += 6;
      h /= 6;
    }
    s *= dsat, v *= dexp, h += dhue;
    if (h > 1) h -= 1;
    if (h < 0) h += 1;
    // hsv -> rgb (Darknet's hsv_to_rgb)
    float R = v, G = v, B = v;
    if (s != 0) {
      float hh = 6 * h;
      int index = std::min(5, std::max(0, int(std::floor(hh))));
      float f = hh - float(index), p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
      switch (index) {
        case 0: R = v, G = t, B = p; break;
        case 1: R = q, G = v, B = p; break;
        case 2: R = p, G = v, B = t; break;
        case 3: R = p, G = q, B = v; break;
        case 4: R = t, G = p, B = v; break;
        default: R = v, G = p, B = q; break;
      }
    }
    r[i] = std::min(1.f, std::max(0.f, R));
    g[i] = std::min(1.f, std::max(0.f, G));
    b[i] = std::min(1.f, std::max(0.f, B));
  }
}

void make_input(const Image& src, const AugmentOptions& a, bool train, Rng& rng, int out_w,
                int out_h, int out_c, float* dst) {
  if (src.c != out_c)
    fail(Status::InvalidArgument, "image has " + std::to_string(src.c) +
                                      " channels, the network takes " + std::to_string(out_c));
  if (out_w < 1 || out_h < 1 || src.w < 1 || src.h < 1 ||
      src.data.size() != size_t(src.c) * src.h * src.w)
    fail(Status::InvalidArgument, "make_input: bad image or output size");
  if (!(a.aspect > 0) || !(a.saturation > 0) || !(a.exposure > 0) || a.crop_padding < 0 ||
      a.min_crop < 0 || a.max_crop < 0)
    fail(Status::InvalidArgument,
         "augmentation: aspect, saturation and exposure must be positive, "
         "min_crop, max_crop and crop_padding at least 0");
  Image im = !train ? valid_input(src, out_w, out_h)
             : a.center ? center_square_input(src, out_w, out_h)
                        : random_input(src, a, rng, out_w, out_h);
  if (train) {
    if (a.crop_padding > 0) {
      int dx = random_int(rng, -a.crop_padding, a.crop_padding);
      int dy = random_int(rng, -a.crop_padding, a.crop_padding);
      if (dx || dy) im = shift_with_zeros(im, dx, dy);
    }
    if (a.flip && rng.uniform() < .5f) flip_rows(im);
    distort(im, a, rng);
  }
  std::memcpy(dst, im.data.data(), im.data.size() * sizeof(float));
}

}  // namespace rpg
