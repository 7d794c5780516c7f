// [upsample]: nearest-neighbour upsampling by an integer stride, times `scale`.
#include "cfg/cfg.h"
#include "layers/layer.h"
#include "layers/registry.h"

namespace rpg {

namespace {

class Upsample final : public Layer {
 public:
  int stride = 2;
  float scale = 1;

  void forward(NetState& s) override {
    s.be.upsample(s.input, s.batch, in.c, in.h, in.w, stride, scale, output.data());
  }
  void backward(NetState& s) override {
    if (s.input_delta)
      s.be.upsample_backward(delta.data(), s.batch, in.c, in.h, in.w, stride, scale, s.input_delta);
  }
  std::string summary_size() const override { return "x" + std::to_string(stride); }
};

}  // namespace

std::unique_ptr<Layer> make_upsample(const Options& o, BuildContext& ctx) {
  auto l = std::make_unique<Upsample>();
  l->in = ctx.in;
  l->stride = o.get_int("stride", 2, 1, 64);
  l->scale = o.get_float("scale", 1.f);
  l->out = {ctx.in.c, ctx.in.h * l->stride, ctx.in.w * l->stride};
  return l;
}

}  // namespace rpg
