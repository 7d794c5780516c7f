// [route]: concatenates the outputs of the listed layers along channels (spatial sizes must
// agree). Indices are relative when negative, absolute otherwise, as in Darknet.
#include "cfg/cfg.h"
#include "layers/layer.h"
#include "layers/registry.h"

namespace rpg {

namespace {

class Route final : public Layer {
 public:
  std::vector<int> sources;
  std::vector<Layer*> source_layers;  // bound when built (earlier layers of the same network)

  void forward(NetState& s) override {
    int64_t offset = 0;
    for (const Layer* src : source_layers) {
      const Layer& l = *src;
      const int64_t n = l.out.size();
      s.be.copy_rows(s.batch, n, l.output.data(), n, output.data() + offset, out.size(), false);
      offset += n;
    }
  }
  void backward(NetState& s) override {
    int64_t offset = 0;
    for (Layer* src : source_layers) {
      Layer& l = *src;
      const int64_t n = l.out.size();
      s.be.copy_rows(s.batch, n, delta.data() + offset, out.size(), l.delta.data(), n, true);
      offset += n;
    }
  }
  std::vector<int> delta_sources() const override { return sources; }
  std::vector<int> inputs() const override { return sources; }
  // One source is copied whole (and its delta accumulated whole): element by element, in any
  // layout.
  InferInputs layout_inputs(Backend& /*be*/, int /*batch*/, bool /*training*/) const override {
    return sources.size() == 1 ? InferInputs::Elementwise : InferInputs::Planar;
  }
  std::string summary_filters() const override {
    std::string t;
    for (int s : sources) t += (t.empty() ? "" : " ") + std::to_string(s);
    return t;
  }
};

}  // namespace

std::unique_ptr<Layer> make_route(const Options& o, BuildContext& ctx) {
  auto l = std::make_unique<Route>();
  l->in = ctx.in;
  if (!o.has("layers")) o.error("layers", "missing required key 'layers' in [route]");
  Shape out{0, 0, 0};
  int64_t channels = 0;  // summed in 64 bits: 65,537 inputs of 65,536 channels must not wrap
  for (int ref : o.get_int_list("layers")) {
    const int src = resolve_layer_ref(o, "layers", ref, ctx.index);
    const Shape s = ctx.previous[size_t(src)]->out;
    if (l->sources.empty()) {
      out = s;
    } else {
      if (s.h != out.h || s.w != out.w)
        o.error("layers", "route joins layer " + std::to_string(src) + " of spatial size " + std::to_string(s.w) +
                              " x " + std::to_string(s.h) + " with inputs of size " + std::to_string(out.w) +
                              " x " + std::to_string(out.h) + "; all inputs must have the same width and height");
    }
    channels += s.c;
    const std::string problem = shape_problem(channels, out.h, out.w);
    if (!problem.empty())
      o.error("layers", "route of " + std::to_string(l->sources.size() + 1) + " inputs: " + problem);
    l->sources.push_back(src);
    l->source_layers.push_back(ctx.previous[size_t(src)].get());
  }
  out.c = int(channels);
  l->out = out;
  return l;
}

}  // namespace rpg
