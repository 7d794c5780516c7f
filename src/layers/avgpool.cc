// [avgpool]: global average pooling to 1 x 1 x C.
#include "cfg/cfg.h"
#include "layers/layer.h"
#include "layers/registry.h"

namespace rpg {

namespace {

class Avgpool final : public Layer {
 public:
  // Inference reads its input in any layout the backend names (the convolutions before it then
  // keep theirs) and writes planar.
  InferInputs infer_inputs(Backend& be, int /*batch*/) const override {
    return be.avgpool_any_layout() ? InferInputs::Any : InferInputs::Planar;
  }
  void forward(NetState& s) override {
    if (s.inference)
      s.be.avgpool_inference(s.batch, in.c, in.spatial(), s.input, output.data(), s.input_layout);
    else
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
