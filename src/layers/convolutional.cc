// [convolutional]: grouped 2-D convolution as im2col + GEMM per image and group, optional batch
// normalisation, then the activation. A 1x1 stride-1 unpadded convolution skips im2col.
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
  bool direct() const { return size == 1 && stride == 1 && padding == 0; }
  ConvGeometry geometry() const {
    return {in.c / groups, in.h, in.w, size, stride, padding, out.h, out.w};
  }

  void allocate(Backend& be, int batch) override {
    Layer::allocate(be, batch);
    if (bn) norm.allocate(be, batch, out.spatial());
    if (act_needs_input(act)) preact.resize(be, int64_t(batch) * out.size());
  }

  void forward(NetState& s) override {
    Backend& be = s.be;
    const int m = filters / groups;
    const int64_t n = out.spatial(), k = k_per_group();
    for (int b = 0; b < s.batch; ++b)
      for (int g = 0; g < groups; ++g) {
        const float* im = s.input + (int64_t(b) * in.c + int64_t(g) * (in.c / groups)) * in.spatial();
        const float* col = im;
        if (!direct()) {
          be.im2col(geometry(), im, s.workspace);
          col = s.workspace;
        }
        float* o = output.data() + (int64_t(b) * filters + int64_t(g) * m) * n;
        // o[M=filters/groups, N=out_h*out_w] = W_g[M, K=c/groups*k*k] x col[K, N]
        be.gemm(false, false, m, int(n), int(k), 1.f, weights.data() + g * m * k, int(k), col, int(n), 0.f, o, int(n));
      }
    if (bn)
      norm.forward(be, output.data(), biases, s.batch, s.train);
    else
      be.add_bias(output.data(), biases.data(), s.batch, filters, n);
    const int64_t total = int64_t(s.batch) * out.size();
    if (!preact.empty()) be.copy(preact.data(), output.data(), total);
    be.activate(act, output.data(), output.data(), total);
  }

  void backward(NetState& s) override {
    Backend& be = s.be;
    const int m = filters / groups;
    const int64_t n = out.spatial(), k = k_per_group();
    be.activate_backward(act, preact.empty() ? nullptr : preact.data(), output.data(), delta.data(),
                         int64_t(s.batch) * out.size());
    if (bn)
      norm.backward(be, delta.data(), bias_grads, s.batch, s.train);
    else
      be.bias_grad(delta.data(), s.batch, filters, n, bias_grads.data());
    for (int b = 0; b < s.batch; ++b)
      for (int g = 0; g < groups; ++g) {
        const int64_t in_off = (int64_t(b) * in.c + int64_t(g) * (in.c / groups)) * in.spatial();
        const float* d = delta.data() + (int64_t(b) * filters + int64_t(g) * m) * n;
        const float* col = s.input + in_off;
        if (!direct()) {
          be.im2col(geometry(), s.input + in_off, s.workspace);
          col = s.workspace;
        }
        // dW_g[M, K] += d[M, N] x col[K, N]^T
        be.gemm(false, true, m, int(k), int(n), 1.f, d, int(n), col, int(n), 1.f,
                weight_grads.data() + g * m * k, int(k));
        if (!s.input_delta) continue;
        if (direct()) {
          // dx[K, N] += W_g[M, K]^T x d[M, N]
          be.gemm(true, false, int(k), int(n), m, 1.f, weights.data() + g * m * k, int(k), d, int(n), 1.f,
                  s.input_delta + in_off, int(n));
        } else {
          // dcol[K, N] = W_g^T x d, then scattered back onto the image
          be.gemm(true, false, int(k), int(n), m, 1.f, weights.data() + g * m * k, int(k), d, int(n), 0.f,
                  s.workspace, int(n));
          be.col2im(geometry(), s.workspace, s.input_delta + in_off);
        }
      }
  }

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
  int64_t workspace_floats() const override { return direct() ? 0 : k_per_group() * out.spatial(); }
  std::string summary_filters() const override {
    return std::to_string(filters) + (groups > 1 ? "/" + std::to_string(groups) : "");
  }
  std::string summary_size() const override {
    return std::to_string(size) + " x " + std::to_string(size) + " / " + std::to_string(stride);
  }
  void on_weights_loaded() override {
    if (bn) norm.mark_settled();
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
  l->act = o.get_activation("activation", Act::Logistic);
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
