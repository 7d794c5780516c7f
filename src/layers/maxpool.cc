// [maxpool]: Darknet's max pooling (size defaults to stride, padding to size-1, windows start at
// -padding/2).
#include <cstdint>

#include "base/error.h"
#include "cfg/cfg.h"
#include "layers/layer.h"
#include "layers/registry.h"

namespace rpg {

namespace {

class Maxpool final : public Layer {
 public:
  int size = 2, stride = 2, padding = 1;
  Buffer<int32_t> argmax;

  PoolGeometry geometry(int batch) const {
    return {batch, in.c, in.h, in.w, size, stride, padding, out.h, out.w};
  }
  void allocate(BufferStaging& s, int batch) override {
    // The backends store each maximum's index in the whole batch's input as an int32.
    if (int64_t(batch) * in.size() > INT32_MAX)
      fail(Status::InvalidArgument, "layer " + std::to_string(index) + " [maxpool]: a batch of " + std::to_string(batch) +
                                        " inputs of " + in.str() + " exceeds 2^31 - 1 floats, the most it can index");
    Layer::allocate(s, batch);
    s.add(argmax, int64_t(batch) * out.size());
  }
  void prepare(Backend& be, int batch) override { be.maxpool_prepare(geometry(batch), 0); }
  // In the input's layout, where the backend takes any.
  // Inference pools in any layout where the backend can; training pools planar (the backend's
  // loop, which records the argmax).
  InferInputs layout_inputs(Backend& be, int batch, bool training) const override {
    return !training && be.maxpool_any_layout(geometry(batch)) ? InferInputs::Elementwise : InferInputs::Planar;
  }
  void prepare_layouts(Backend& be, int batch, int /*in_layout*/, int out_layout, bool training) override {
    if (out_layout && !training) be.maxpool_prepare(geometry(batch), out_layout);
  }
  void forward(NetState& s) override {
    if (s.inference)
      s.be.maxpool_inference(geometry(s.batch), s.input, output.data(), argmax.data(), infer_layout);
    else
      s.be.maxpool_forward(geometry(s.batch), s.input, output.data(), argmax.data());
  }
  void backward(NetState& s) override {
    if (s.input_delta) s.be.maxpool_backward(geometry(s.batch), delta.data(), argmax.data(), s.input_delta);
  }
  std::string summary_size() const override {
    return std::to_string(size) + " x " + std::to_string(size) + " / " + std::to_string(stride);
  }
};

}  // namespace

std::unique_ptr<Layer> make_maxpool(const Options& o, BuildContext& ctx) {
  auto l = std::make_unique<Maxpool>();
  l->in = ctx.in;
  l->stride = o.get_int("stride", 1, 1, 1024);
  l->size = o.get_int("size", l->stride, 1, 1024);
  l->padding = o.get_int("padding", l->size - 1, 0, 1024);
  const int oh = (ctx.in.h + l->padding - l->size) / l->stride + 1;
  const int ow = (ctx.in.w + l->padding - l->size) / l->stride + 1;
  if (ctx.in.h + l->padding < l->size || ctx.in.w + l->padding < l->size)
    o.error("size", "pool size " + std::to_string(l->size) + " is larger than the padded input " + ctx.in.str());
  l->out = {ctx.in.c, oh, ow};
  return l;
}

}  // namespace rpg
