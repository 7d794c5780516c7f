// [connected]: y[B, out] = x[B, in] W[out, in]^T + b, optional batch normalisation, activation.
#include <cmath>

#include "cfg/cfg.h"
#include "layers/batchnorm.h"
#include "layers/layer.h"
#include "layers/registry.h"

namespace rpg {

namespace {

class Connected final : public Layer {
 public:
  int inputs = 0, outputs = 0;
  Act act = Act::Logistic;
  bool bn = false;
  Buffer<float> weights, weight_grads, biases, bias_grads, preact;
  BatchNorm norm;

  void allocate(BufferStaging& s, int batch) override {
    Layer::allocate(s, batch);
    if (bn) norm.allocate(s, batch, 1);
    if (act_needs_input(act)) s.add(preact, int64_t(batch) * outputs);
  }

  void forward(NetState& s) override {
    Backend& be = s.be;
    // out[B, O] = x[B, I] x W[O, I]^T
    be.gemm(false, true, s.batch, outputs, inputs, 1.f, s.input, inputs, weights.data(), inputs, 0.f,
            output.data(), outputs);
    normalize_and_activate(be, bn ? &norm : nullptr, biases, preact, act, output.data(), s.batch, outputs, 1,
                           s.train);
  }

  void backward(NetState& s) override {
    Backend& be = s.be;
    be.activate_backward(act, preact.empty() ? nullptr : preact.data(), output.data(), delta.data(),
                         int64_t(s.batch) * outputs);
    if (bn)
      norm.backward(be, delta.data(), bias_grads, s.batch, s.train);
    else
      be.bias_grad(delta.data(), s.batch, outputs, 1, bias_grads.data());
    // dW[O, I] += d[B, O]^T x x[B, I]
    be.gemm(true, false, outputs, inputs, s.batch, 1.f, delta.data(), outputs, s.input, inputs, 1.f,
            weight_grads.data(), inputs);
    // dx[B, I] += d[B, O] x W[O, I]
    if (s.input_delta)
      be.gemm(false, false, s.batch, inputs, outputs, 1.f, delta.data(), outputs, weights.data(), inputs,
              1.f, s.input_delta, inputs);
  }

  std::vector<Param> params() override {
    std::vector<Param> p{{&weights, &weight_grads, true}, {&biases, &bias_grads, false}};
    if (bn) p.push_back({&norm.scales, &norm.scale_grads, false});
    return p;
  }
  std::vector<Buffer<float>*> weight_file_order() override {
    // Darknet stores a connected layer's batch-norm parameters after its weights.
    if (bn) return {&biases, &weights, &norm.scales, &norm.rolling_mean, &norm.rolling_var};
    return {&biases, &weights};
  }
  int64_t num_params() const override { return int64_t(inputs) * outputs + outputs * (bn ? 2 : 1); }
  int64_t macs() const override { return int64_t(inputs) * outputs; }
  std::string summary_filters() const override { return std::to_string(outputs); }
  void on_weights_loaded() override {
    if (bn) norm.mark_settled();
  }
  WeightTensor main_weights() override { return {&weights, &weight_grads, outputs}; }
  bool linear_op(LinearOp* op) const override {
    *op = {ConvGeometry{inputs, 1, 1, 1, 1, 0, 1, 1}, 1, outputs, act, &weights, &biases, nullptr, nullptr, nullptr};
    if (bn) op->bn_scales = &norm.scales, op->bn_mean = &norm.rolling_mean, op->bn_var = &norm.rolling_var;
    return true;
  }
  int64_t* bn_updates() override { return bn ? &norm.updates : nullptr; }
};

}  // namespace

std::unique_ptr<Layer> make_connected(const Options& o, BuildContext& ctx) {
  auto l = std::make_unique<Connected>();
  l->in = ctx.in;
  if (ctx.in.size() > INT32_MAX) o.error("", "input of " + ctx.in.str() + " is too large for a connected layer");
  l->inputs = int(ctx.in.size());
  l->outputs = o.get_int("output", 1, 1, 1 << 24);
  l->act = get_activation(o, "activation", Act::Logistic);
  l->bn = o.get_int("batch_normalize", 0, 0, 1) != 0;
  l->out = {l->outputs, 1, 1};
  Backend& be = ctx.be;
  const int64_t nw = int64_t(l->inputs) * l->outputs;
  if (nw > kMaxLayerWeights)
    o.error("output", std::to_string(l->outputs) + " outputs of " + std::to_string(l->inputs) +
                          " inputs exceed the limit of " + std::to_string(kMaxLayerWeights) + " weights per layer");
  reserve_parameters(o, ctx, l->num_params());
  l->weights.resize(be, nw);
  l->weight_grads.resize(be, nw);
  l->biases.resize(be, l->outputs);
  l->bias_grads.resize(be, l->outputs);
  // Darknet: uniform in [-s, s] with s = sqrt(2 / inputs).
  std::vector<float> w(static_cast<size_t>(nw));
  const float scale = std::sqrt(2.f / float(l->inputs));
  for (auto& v : w) v = ctx.rng.uniform(-scale, scale);
  l->weights.upload(w);
  if (l->bn) l->norm.init(be, l->outputs);
  return l;
}

}  // namespace rpg
