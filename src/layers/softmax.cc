// [softmax]: softmax of x / temperature over `groups` equal groups of each input row. As the last
// layer with a truth it is also the cross-entropy loss (gradient (p - t) / temperature).
#include "cfg/cfg.h"
#include "layers/layer.h"
#include "layers/registry.h"

namespace rpg {

namespace {

class Softmax final : public Layer {
 public:
  int groups = 1;
  float temperature = 1;
  Buffer<float> err, loss_grad;  // per-element loss and d loss / d input when it is the loss

  void allocate(BufferStaging& s, int batch) override {
    Layer::allocate(s, batch);
    s.add(err, int64_t(batch) * in.size());
    s.add(loss_grad, int64_t(batch) * in.size());
  }
  void forward(NetState& s) override {
    const int n = int(in.size());
    s.be.softmax_forward(s.input, s.batch, n, groups, temperature, output.data());
    if (!s.truth) return;
    const int64_t total = int64_t(s.batch) * n;
    s.be.fill(loss_grad.data(), total, 0.f);
    s.be.softmax_cross_entropy(output.data(), s.truth, s.batch, n, groups, temperature, err.data(),
                              loss_grad.data());
    s.loss += s.be.sum(err.data(), total);
  }
  void backward(NetState& s) override {
    if (!s.input_delta) return;
    if (s.truth)
      s.be.axpy(int64_t(s.batch) * in.size(), 1.f, loss_grad.data(), s.input_delta);
    else
      s.be.softmax_backward(output.data(), delta.data(), s.batch, int(in.size()), groups, temperature,
                            s.input_delta);
  }
  bool is_loss() const override { return true; }
};

}  // namespace

std::unique_ptr<Layer> make_softmax(const Options& o, BuildContext& ctx) {
  auto l = std::make_unique<Softmax>();
  l->in = ctx.in;
  l->out = ctx.in;
  l->groups = o.get_int("groups", 1, 1, 1 << 24);
  l->temperature = o.get_float("temperature", 1.f, 1e-6f, 1e6f);
  if (ctx.in.size() % l->groups)
    o.error("groups", "groups=" + std::to_string(l->groups) + " does not divide the " +
                          std::to_string(ctx.in.size()) + " inputs");
  return l;
}

}  // namespace rpg
