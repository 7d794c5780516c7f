// [shortcut]: out = act(alpha * prev + beta * layer[from]), with Darknet's semantics when the two
// shapes differ (CFG.md): strided sampling over the overlapping region and channels.
#include "cfg/cfg.h"
#include "layers/layer.h"
#include "layers/registry.h"

namespace rpg {

namespace {

class Shortcut final : public Layer {
 public:
  int from = 0;
  Layer* from_layer = nullptr;  // bound when built (an earlier layer of the same network)
  Shape from_shape;
  Act act = Act::Linear;
  float alpha = 1, beta = 1;
  Buffer<float> preact;

  void allocate(BufferStaging& s, int batch) override {
    Layer::allocate(s, batch);
    if (act_needs_input(act)) s.add(preact, int64_t(batch) * out.size());
  }
  // (Not preact.empty(): while a batch is being set, preact may be staged but not yet allocated.)
  bool elementwise() const { return from_shape == out && !act_needs_input(act); }
  InferInputs layout_inputs(Backend& /*be*/, int /*batch*/, bool /*training*/) const override {
    return elementwise() ? InferInputs::Elementwise : InferInputs::Planar;
  }
  void forward(NetState& s) override {
    Backend& be = s.be;
    const int64_t total = int64_t(s.batch) * out.size();
    if (elementwise()) {  // one pass where the backend can (any layout: element by element)
      be.shortcut_activate(total, s.input, from_layer->output.data(), alpha, beta, act, output.data());
      return;
    }
    be.copy(output.data(), s.input, total);
    if (alpha != 1.f) be.scale(total, alpha, output.data());
    const Layer& src = *from_layer;
    be.shortcut_forward(s.batch, from_shape.w, from_shape.h, from_shape.c, src.output.data(), out.w, out.h,
                        out.c, 1.f, beta, output.data());
    if (!preact.empty()) be.copy(preact.data(), output.data(), total);
    be.activate(act, output.data(), output.data(), total);
  }
  void backward(NetState& s) override {
    Backend& be = s.be;
    const int64_t total = int64_t(s.batch) * out.size();
    be.activate_backward(act, preact.empty() ? nullptr : preact.data(), output.data(), delta.data(), total);
    if (s.input_delta) be.axpy(total, alpha, delta.data(), s.input_delta);
    Layer& src = *from_layer;
    be.shortcut_backward(s.batch, from_shape.w, from_shape.h, from_shape.c, src.delta.data(), out.w, out.h,
                         out.c, beta, delta.data());
  }
  std::vector<int> delta_sources() const override { return {from}; }
  bool shortcut_op(ShortcutOp* op) const override {
    *op = {from, act, alpha, beta, from_shape == out};
    return true;
  }
  std::string summary_filters() const override { return std::to_string(from); }
  std::string summary_note() const override {
    return from_shape == out ? "" : "Darknet shortcut: shapes differ, partial sum";
  }
};

}  // namespace

std::unique_ptr<Layer> make_shortcut(const Options& o, BuildContext& ctx) {
  auto l = std::make_unique<Shortcut>();
  l->in = ctx.in;
  l->out = ctx.in;
  if (!o.has("from")) o.error("from", "missing required key 'from' in [shortcut]");
  l->from = resolve_layer_ref(o, "from", o.require_int("from"), ctx.index);
  l->from_layer = ctx.previous[size_t(l->from)].get();
  l->from_shape = l->from_layer->out;
  l->act = get_activation(o, "activation", Act::Linear);
  l->alpha = o.get_float("alpha", 1.f);
  l->beta = o.get_float("beta", 1.f);
  const Shape a = l->from_shape, b = l->out;
  const bool ratio_ok = (a.w >= b.w ? a.w % b.w == 0 && a.h % b.h == 0 && a.w / b.w == a.h / b.h
                                    : b.w % a.w == 0 && b.h % a.h == 0 && b.w / a.w == b.h / a.h);
  if (!ratio_ok)
    o.error("from", "shortcut from layer " + std::to_string(l->from) + " (" + a.str() + ") to " + b.str() +
                        ": the spatial sizes must differ by one integer ratio in both directions");
  return l;
}

}  // namespace rpg
