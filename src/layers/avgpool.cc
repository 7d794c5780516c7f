// [avgpool]: global average pooling to 1 x 1 x C.
#include "cfg/cfg.h"
#include "layers/layer.h"
#include "layers/registry.h"

namespace rpg {

namespace {

class Avgpool final : public Layer {
 public:
  void forward(NetState& s) override {
    s.be.avgpool_forward(s.batch, in.c, in.spatial(), s.input, output.data());
  }
  void backward(NetState& s) override {
    if (s.input_delta) s.be.avgpool_backward(s.batch, in.c, in.spatial(), delta.data(), s.input_delta);
  }
};

}  // namespace

std::unique_ptr<Layer> make_avgpool(const Options&, BuildContext& ctx) {
  auto l = std::make_unique<Avgpool>();
  l->in = ctx.in;
  l->out = {ctx.in.c, 1, 1};
  return l;
}

}  // namespace rpg
