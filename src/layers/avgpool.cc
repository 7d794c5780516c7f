// [avgpool]: global average pooling to 1 x 1 x C.
#include "cfg/cfg.h"
#include "layers/layer.h"
#include "layers/registry.h"

namespace rpg {

namespace {

class Avgpool final : public Layer {
 public:
  // Reads its input (and writes its input's delta) in any layout the backend takes, so the
  // convolutions before it keep theirs; writes planar.
  InferInputs layout_inputs(Backend& be, int /*batch*/, bool /*training*/) const override {
    return be.per_channel_any_layout() ? InferInputs::Any : InferInputs::Planar;
  }
  void forward(NetState& s) override {
    s.be.avgpool_forward(s.batch, in.c, in.spatial(), s.input, output.data(), s.input_layout);
  }
  void backward(NetState& s) override {
    if (s.input_delta)
      s.be.avgpool_backward(s.batch, in.c, in.spatial(), delta.data(), s.input_delta, s.input_layout);
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
