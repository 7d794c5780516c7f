// [crop]: Darknet's crop layer. Training takes a random crop_height x crop_width window and flips
// it half the time when flip=1; inference takes the centre. Like Darknet, values are mapped from
// [0, 1] to [-1, 1] (2x - 1) unless noadjust=1. The colour keys (angle, saturation, exposure,
// shift) are accepted for compatibility; like Darknet's CPU path, rpgnet does not apply them here
// (the data loader does colour augmentation).
#include "cfg/cfg.h"
#include "layers/layer.h"
#include "layers/registry.h"

namespace rpg {

namespace {

class Crop final : public Layer {
 public:
  bool flip = false;
  float scale = 2, shift = -1;
  int dy = 0, dx = 0;
  bool flipped = false;

  void forward(NetState& s) override {
    dy = (in.h - out.h) / 2;
    dx = (in.w - out.w) / 2;
    flipped = false;
    if (s.train) {
      dy = int(mix64(s.seed) % uint64_t(in.h - out.h + 1));
      dx = int(mix64(s.seed + 1) % uint64_t(in.w - out.w + 1));
      flipped = flip && (mix64(s.seed + 2) & 1);
    }
    s.be.crop(s.input, s.batch, in.c, in.h, in.w, out.h, out.w, dy, dx, flipped, scale, shift, output.data());
  }
  void backward(NetState& s) override {
    if (s.input_delta)
      s.be.crop_backward(delta.data(), s.batch, in.c, in.h, in.w, out.h, out.w, dy, dx, flipped, scale,
                         s.input_delta);
  }
};

}  // namespace

std::unique_ptr<Layer> make_crop(const Options& o, BuildContext& ctx) {
  auto l = std::make_unique<Crop>();
  l->in = ctx.in;
  const int h = o.get_int("crop_height", 1, 1, 1 << 16), w = o.get_int("crop_width", 1, 1, 1 << 16);
  if (h > ctx.in.h || w > ctx.in.w)
    o.error("crop_height", "crop of " + std::to_string(w) + " x " + std::to_string(h) +
                               " is larger than the input " + ctx.in.str());
  l->flip = o.get_int("flip", 0, 0, 1) != 0;
  o.get_float("angle", 0.f);
  o.get_float("saturation", 1.f);
  o.get_float("exposure", 1.f);
  o.get_float("shift", 0.f);
  if (o.get_int("noadjust", 0, 0, 1)) l->scale = 1, l->shift = 0;
  l->out = {ctx.in.c, h, w};
  return l;
}

}  // namespace rpg
