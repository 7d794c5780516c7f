// [convolutional]: grouped 2-D convolution as im2col + GEMM per image and group, optional batch
// normalisation, then the activation (the backend's conv ops do im2col + GEMM; a 1x1 stride-1
// unpadded convolution skips im2col).
#include <algorithm>
#include <cmath>

#include "cfg/cfg.h"
#include "layers/batchnorm.h"
#include "layers/layer.h"
#include "layers/registry.h"

namespace rpg {

namespace {

class Convolutional final : public Layer {
 public:
  int filters = 1, size = 1, stride = 1, padding = 0, groups = 1;
  Act act = Act::Logistic;
  bool bn = false;
  Buffer<float> weights, weight_grads, biases, bias_grads, preact;
  BatchNorm norm;

  int64_t k_per_group() const { return int64_t(in.c / groups) * size * size; }
  int64_t weight_count() const { return int64_t(filters) * k_per_group(); }
  ConvGeometry geometry() const {
    return {in.c / groups, in.h, in.w, size, stride, padding, out.h, out.w};
  }

  void allocate(BufferStaging& s, int batch) override {
    Layer::allocate(s, batch);
    if (bn) norm.allocate(s, batch, out.spatial());
    if (act_needs_input(act)) s.add(preact, int64_t(batch) * out.size());
  }
  void prepare(Backend& be, int batch) override { be.conv_prepare(geometry(), batch, groups, filters, act); }
  // The layout the kernels would rather write (-1: planar only).
  int kernel_layout(Backend& be, int batch, bool training) const {
    return training ? be.conv_training_layout(geometry(), batch, groups, filters)
                    : be.conv_inference_layout(geometry(), batch, groups, filters, act);
  }
  InferInputs layout_inputs(Backend& be, int batch, bool training) const override {
    // In training, a layout also goes through batch norm's and the bias's per-channel loops.
    if (training && !be.per_channel_any_layout()) return InferInputs::Planar;
    return kernel_layout(be, batch, training) < 0 ? InferInputs::Planar : InferInputs::Any;
  }
  int preferred_layout(Backend& be, int batch, bool training) const override {
    return std::max(0, kernel_layout(be, batch, training));
  }
  std::vector<int64_t> kernel_weight_order(Backend& be, int batch, int in_layout, int out_layout) const override {
    return be.conv_weight_order(geometry(), batch, groups, filters, in_layout, out_layout);
  }
  bool fuses_sum(Backend& be, int batch, Act sum_act, int in_layout, int out_layout) override {
    return be.conv_inference_sums(geometry(), batch, groups, filters, act, sum_act, in_layout, out_layout);
  }
  void prepare_layouts(Backend& be, int batch, int in_layout, int out_layout, bool training) override {
    if (training)
      be.conv_prepare_training(geometry(), batch, groups, filters, in_layout, out_layout);
    else
      be.conv_prepare_inference(geometry(), batch, groups, filters, act, in_layout, out_layout);
  }
  int64_t workspace_bytes(Backend& be, int batch) const override {
    return be.conv_workspace_bytes(geometry(), batch, groups, filters, act);
  }

  void forward(NetState& s) override {
    Backend& be = s.be;
    if (s.inference) {
      const BnInference fixed{norm.scales.data(), norm.rolling_mean.data(), norm.rolling_var.data(),
                              BatchNorm::epsilon(false)};
      be.conv_inference(geometry(), s.batch, groups, filters, s.input, weights.data(), biases.data(),
                        bn ? &fixed : nullptr, act, s.sum_into ? s.sum_into : output.data(), s.params_version,
                        s.input_layout, infer_layout, s.sum_into ? &s.sum_act : nullptr);
      return;
    }
    const int layout = out_layout(s);
    // (A planar pass of the int8 engine's float32 layers is not in the order's layouts.)
    const bool ordered = !weight_order.empty() && !s.planar;
    be.conv_forward(geometry(), s.batch, groups, filters, s.input, ordered ? ordered_weights.data() : weights.data(),
                    output.data(), s.input_layout, layout, ordered);
    normalize_and_activate(be, bn ? &norm : nullptr, biases, preact, act, output.data(), s.batch, filters, out.spatial(),
                           s.train, layout);
  }

  void backward(NetState& s) override {
    Backend& be = s.be;
    be.activate_backward(act, preact.empty() ? nullptr : preact.data(), output.data(), delta.data(),
                         int64_t(s.batch) * out.size());
    if (bn)
      norm.backward(be, delta.data(), bias_grads, s.batch, s.train, train_layout);
    else
      be.bias_grad(delta.data(), s.batch, filters, out.spatial(), bias_grads.data(), train_layout);
    const bool ordered = !weight_order.empty();
    be.conv_backward(geometry(), s.batch, groups, filters, s.input, ordered ? ordered_weights.data() : weights.data(),
                     delta.data(), weight_grads.data(), s.input_delta, s.input_layout, train_layout,
                     !s.input_delta_unset, ordered);
  }
  bool writes_input_delta() const override { return true; }

  std::vector<Param> params() override {
    std::vector<Param> p{{&weights, &weight_grads, true}, {&biases, &bias_grads, false}};
    if (bn) p.push_back({&norm.scales, &norm.scale_grads, false});
    return p;
  }
  std::vector<Buffer<float>*> weight_file_order() override {
    if (bn) return {&biases, &norm.scales, &norm.rolling_mean, &norm.rolling_var, &weights};
    return {&biases, &weights};
  }
  int64_t num_params() const override { return weight_count() + filters * (bn ? 2 : 1); }
  int64_t macs() const override { return weight_count() * out.spatial(); }
  std::string summary_filters() const override {
    return std::to_string(filters) + (groups > 1 ? "/" + std::to_string(groups) : "");
  }
  std::string summary_size() const override {
    return std::to_string(size) + " x " + std::to_string(size) + " / " + std::to_string(stride);
  }
  void on_weights_loaded() override {
    if (bn) norm.mark_settled();
  }
  WeightTensor main_weights() override { return {&weights, &weight_grads, int64_t(filters) * size * size}; }
  bool linear_op(LinearOp* op) const override {
    *op = {geometry(), groups, filters, act, &weights, &biases, nullptr, nullptr, nullptr};
    if (bn) op->bn_scales = &norm.scales, op->bn_mean = &norm.rolling_mean, op->bn_var = &norm.rolling_var;
    return true;
  }
  int64_t* bn_updates() override { return bn ? &norm.updates : nullptr; }
};

}  // namespace

std::unique_ptr<Layer> make_convolutional(const Options& o, BuildContext& ctx) {
  auto l = std::make_unique<Convolutional>();
  l->in = ctx.in;
  l->filters = o.require_int("filters", 1, 1 << 20);
  l->size = o.get_int("size", 1, 1, 1024);
  l->stride = o.get_int("stride", 1, 1, 1024);
  l->groups = o.get_int("groups", 1, 1, 1 << 20);
  l->padding = o.get_int("padding", 0, 0, 1024);
  if (o.get_int("pad", 0, 0, 1)) l->padding = l->size / 2;  // Darknet: pad overrides padding
  l->act = get_activation(o, "activation", Act::Logistic);
  l->bn = o.get_int("batch_normalize", 0, 0, 1) != 0;
  if (ctx.in.c % l->groups)
    o.error("groups", "groups=" + std::to_string(l->groups) + " does not divide the " +
                          std::to_string(ctx.in.c) + " input channels");
  if (l->filters % l->groups)
    o.error("groups", "groups=" + std::to_string(l->groups) + " does not divide filters=" +
                          std::to_string(l->filters));
  const int oh = (ctx.in.h + 2 * l->padding - l->size) / l->stride + 1;
  const int ow = (ctx.in.w + 2 * l->padding - l->size) / l->stride + 1;
  if (ctx.in.h + 2 * l->padding < l->size || ctx.in.w + 2 * l->padding < l->size)
    o.error("size", "kernel size " + std::to_string(l->size) + " is larger than the padded input " +
                        ctx.in.str());
  l->out = {l->filters, oh, ow};
  // In 64 bits before anything is allocated: k_per_group is at most 2^24 x 2^20, so the product
  // with filters could overflow even int64 without the first check.
  if (l->k_per_group() > kMaxWorkspaceFloats || l->weight_count() > kMaxLayerWeights)
    o.error("filters", std::to_string(l->filters) + " filters of " + std::to_string(ctx.in.c / l->groups) + " x " +
                           std::to_string(l->size) + " x " + std::to_string(l->size) +
                           " exceed the limit of " + std::to_string(kMaxLayerWeights) + " weights per layer");
  if (l->k_per_group() * l->out.spatial() > kMaxWorkspaceFloats)
    o.error("size", "the im2col matrix of " + std::to_string(l->k_per_group()) + " x " +
                        std::to_string(l->out.spatial()) + " floats per image exceeds the limit of " +
                        std::to_string(kMaxWorkspaceFloats));
  reserve_parameters(o, ctx, l->num_params());

  Backend& be = ctx.be;
  l->weights.resize(be, l->weight_count());
  l->weight_grads.resize(be, l->weight_count());
  l->biases.resize(be, l->filters);
  l->bias_grads.resize(be, l->filters);
  // He initialisation over the fan-in, as Darknet: sqrt(2 / (size * size * c / groups)).
  std::vector<float> w(static_cast<size_t>(l->weight_count()));
  const float scale = std::sqrt(2.f / float(l->k_per_group()));
  for (auto& v : w) v = scale * ctx.rng.normal();
  l->weights.upload(w);
  if (l->bn) l->norm.init(be, l->filters);
  return l;
}

}  // namespace rpg
