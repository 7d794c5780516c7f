// [cost]: a regression loss on its input (sse, masked, smooth, L1), scaled by `scale`. Its output
// is its input, so it can end a network that is also used for prediction.
#include "cfg/cfg.h"
#include "layers/layer.h"
#include "layers/registry.h"

namespace rpg {

namespace {

class Cost final : public Layer {
 public:
  CostType kind = CostType::Sse;
  float scale = 1;
  Buffer<float> err, loss_grad;

  void allocate(BufferStaging& s, int batch) override {
    Layer::allocate(s, batch);
    s.add(err, int64_t(batch) * in.size());
    s.add(loss_grad, int64_t(batch) * in.size());
  }
  void forward(NetState& s) override {
    const int64_t total = int64_t(s.batch) * in.size();
    s.be.copy(output.data(), s.input, total);
    if (!s.truth) return;
    s.be.fill(loss_grad.data(), total, 0.f);
    s.be.cost(kind, s.input, s.truth, total, scale, err.data(), loss_grad.data());
    s.loss += s.be.sum(err.data(), total);
  }
  void backward(NetState& s) override {
    if (!s.input_delta) return;
    s.be.axpy(int64_t(s.batch) * in.size(), 1.f, s.truth ? loss_grad.data() : delta.data(), s.input_delta);
  }
  bool is_loss() const override { return true; }
  std::string summary_note() const override {
    static const char* names[] = {"sse", "masked", "smooth", "L1"};
    return names[int(kind)];
  }
};

}  // namespace

std::unique_ptr<Layer> make_cost(const Options& o, BuildContext& ctx) {
  auto l = std::make_unique<Cost>();
  l->in = ctx.in;
  l->out = ctx.in;
  l->kind = CostType(o.get_choice("type", {"sse", "masked", "smooth", "L1"}, 0));
  l->scale = o.get_float("scale", 1.f, 0.f, 1e6f);
  return l;
}

}  // namespace rpg
