// [dropout]: zero each input with probability p and scale the rest by 1/(1-p) in training;
// identity in inference. The mask is a pure function of the pass seed and the element index.
#include <cstdio>

#include "cfg/cfg.h"
#include "layers/layer.h"
#include "layers/registry.h"

namespace rpg {

namespace {

class Dropout final : public Layer {
 public:
  float probability = .5f;

  void forward(NetState& s) override {
    const int64_t n = int64_t(s.batch) * in.size();
    if (s.train && probability > 0)
      s.be.dropout(s.input, n, probability, s.seed, output.data());
    else
      s.be.copy(output.data(), s.input, n);
  }
  void backward(NetState& s) override {
    if (!s.input_delta) return;
    const int64_t n = int64_t(s.batch) * in.size();
    if (s.train && probability > 0)
      s.be.dropout_backward(delta.data(), n, probability, s.seed, s.input_delta);
    else
      s.be.axpy(n, 1.f, delta.data(), s.input_delta);
  }
  std::string summary_note() const override {
    char buf[32];
    std::snprintf(buf, sizeof buf, "p = %.2f", double(probability));
    return buf;
  }
};

}  // namespace

std::unique_ptr<Layer> make_dropout(const Options& o, BuildContext& ctx) {
  auto l = std::make_unique<Dropout>();
  l->in = ctx.in;
  l->out = ctx.in;
  l->probability = o.get_float("probability", .5f, 0.f, 0.999f);
  return l;
}

}  // namespace rpg
