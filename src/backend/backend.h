// The Backend interface: every numeric operation a layer needs, on buffers the backend owns.
// Layers are written once against it; the CPU backend (OpenBLAS + loops) is the reference and
// the CUDA backend implements the same table. All pointers passed to these operations are
// backend (device) pointers obtained from alloc(); host data crosses through upload/download.
// Shapes are NCHW; "spatial" is H*W. Tensors are planar NCHW unless an operation takes a
// `layout` (Backend::conv_inference_layout's codes: 0 planar, 1 NHWC, 8 and 16 channel-blocked);
// the network plans where they are used (Network::set_batch). Gradients are true gradients (not Darknet's negated deltas)
// and backward operations accumulate (+=) into their outputs unless said otherwise.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/activation.h"
#include "base/error.h"

namespace rpg {

// How batch norm turns a variance into 1 / std: 1 / (sqrt(var + inside) + outside). Training
// uses sqrt(var + 1e-5) (a smooth function of var, so its gradient is exact and finite for a
// constant channel); inference Darknet's sqrt(var) + 1e-6, so that Darknet's weights give
// Darknet's logits. A plain float is `inside`.
struct BnEpsilon {
  float inside = 0, outside = 0;
  RPG_HD BnEpsilon(float in = 0, float out = 0) : inside(in), outside(out) {}
  RPG_HD float std_of(float var) const { return sqrtf(var + inside) + outside; }
  RPG_HD float inv_std(float var) const { return 1.f / std_of(var); }
};

// Batch norm with fixed statistics, for inference: y = scales * (x - mean) * eps.inv_std(var) + biases.
struct BnInference {
  const float* scales;
  const float* mean;
  const float* var;
  BnEpsilon eps;
};

struct ConvGeometry {  // one image, one group
  int channels, height, width;  // input
  int ksize, stride, pad;
  int out_h, out_w;
};

struct PoolGeometry {
  int batch, channels, height, width;
  int size, stride, padding;  // Darknet maxpool: windows start at -padding/2
  int out_h, out_w;
};

enum class CostType : int { Sse, Masked, Smooth, L1 };

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual int threads() const = 0;
  virtual void set_threads(int n) = 0;

  // Memory. alloc returns zeroed memory or throws Error(OutOfMemory / DeviceError).
  virtual void* alloc(size_t bytes) = 0;
  virtual void release(void* p) noexcept = 0;
  // Bytes this backend can still allocate (the memory estimates compare with it); -1: unknown.
  virtual int64_t memory_available() { return -1; }
  virtual void upload(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void download(void* host_dst, const void* src, size_t bytes) = 0;

  // Vector operations.
  virtual void fill(float* x, int64_t n, float v) = 0;
  virtual void copy(float* dst, const float* src, int64_t n) = 0;
  virtual void axpy(int64_t n, float a, const float* x, float* y) = 0;  // y += a x
  virtual void scale(int64_t n, float a, float* x) = 0;                 // x *= a
  virtual double sum(const float* x, int64_t n) = 0;
  // dst[r * dst_stride + i] (+)= src[r * src_stride + i] for r < rows, i < cols.
  virtual void copy_rows(int64_t rows, int64_t cols, const float* src, int64_t src_stride,
                         float* dst, int64_t dst_stride, bool accumulate) = 0;

  // C[M,N] = alpha op(A)[M,K] op(B)[K,N] + beta C, row-major.
  virtual void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                    int lda, const float* b, int ldb, float beta, float* c, int ldc) = 0;
  // Grouped 2-D convolution over a batch, NCHW, without bias. g describes one group of one
  // image (g.channels = input channels / groups); weights are [filters][g.channels][k][k].
  // out[b, f] = sum over the group's channels of w[f] * in[b] (overwrites out).
  // in_layout, out_layout: the layouts of in and out (and in conv_backward of in_delta and
  // delta); other than 0 only where conv_training_layout allows. kernel_weights: weights (and
  // in conv_backward weight_grads) are in conv_weight_order's order for these layouts.
  virtual void conv_forward(const ConvGeometry& g, int batch, int groups, int filters,
                            const float* in, const float* weights, float* out, int in_layout = 0,
                            int out_layout = 0, bool kernel_weights = false) = 0;
  // Accumulates d loss / d weights into weight_grads and, when in_delta is non-null,
  // d loss / d input into in_delta, from delta = d loss / d out. The sum over images is taken
  // in a fixed order, so results do not depend on the thread count. add_in_delta false: in_delta
  // is written instead (its old contents, which may be anything, are ignored), which saves a
  // backend that computes the input delta apart (oneDNN) a pass over it, and the caller the
  // zeroing (Network::backward, where the convolution is the only writer of its input's delta).
  virtual void conv_backward(const ConvGeometry& g, int batch, int groups, int filters,
                             const float* in, const float* weights, const float* delta,
                             float* weight_grads, float* in_delta, int in_layout = 0, int out_layout = 0,
                             bool add_in_delta = true, bool kernel_weights = false) = 0;
  // The order in which conv_forward's and conv_backward's kernels for this shape and these
  // layouts read the weights and write their gradient, where it is not planar and is a
  // permutation of it (no padding): order[i] is the position of planar weight i. Empty: planar
  // (the default). A ring generates the weights in it directly (Ring::set_orders), so no
  // reorder runs per step.
  virtual std::vector<int64_t> conv_weight_order(const ConvGeometry& /*g*/, int /*batch*/, int /*groups*/,
                                                 int /*filters*/, int /*in_layout*/, int /*out_layout*/) {
    return {};
  }
  // The layout conv_forward and conv_backward would rather write and read for this shape's
  // output (as conv_inference_layout: 1, 8 or 16, 0 for planar), taking any layout for the input
  // (reordering what the kernel needs); -1: planar tensors only (the default). Network::set_batch
  // plans the training passes with it, as the inference pass: a convolution's output and delta
  // stay in its layout where every reader takes it (convolutions, shortcuts of one shape,
  // one-source routes, global average pooling where per_channel_any_layout()).
  virtual int conv_training_layout(const ConvGeometry& /*g*/, int /*batch*/, int /*groups*/, int /*filters*/) {
    return -1;
  }
  // Builds what conv_forward and conv_backward need for these layouts ahead of the passes (as
  // conv_prepare; optional).
  virtual void conv_prepare_training(const ConvGeometry& /*g*/, int /*batch*/, int /*groups*/, int /*filters*/,
                                     int /*in_layout*/, int /*out_layout*/) {}
  // An inference pass of a convolutional layer: out = act(bn ? bn(conv(in)) : conv(in) + biases),
  // per output channel (bn's shift is `biases`). No backward pass may follow (nothing is kept for
  // one), which lets a backend fold the batch norm into the weights and fuse the activation. The
  // default runs conv_forward, then the batch norm or the bias, then the activation, in place.
  // params_version (Network::params_version) says when the weights last changed: a backend may
  // keep the folded weights of a layer (known by its weights pointer) while the version stays the
  // same and the biases and batch-norm tensors hold the same values. 0: unknown, fold again.
  // in_layout, out_layout: the layouts of in and out, 0 for planar NCHW, else one the backend
  // asked for through conv_inference_layout (the network's inference plan). The default takes
  // planar tensors only.
  // sum (only where conv_inference_sums says so): the shortcut after the convolution fused into it
  // (oneDNN's sum post-op): out holds the shortcut's other input on entry and becomes
  // (*sum)(y + out), y the convolution's result above (its activation applied).
  virtual void conv_inference(const ConvGeometry& g, int batch, int groups, int filters, const float* in,
                              const float* weights, const float* biases, const BnInference* bn, Act act, float* out,
                              uint64_t params_version, int in_layout, int out_layout, const Act* sum = nullptr) {
    (void)params_version;
    if (sum) fail(Status::Internal, name() + ": conv_inference takes no sum");
    planar_only(in_layout | out_layout, "conv_inference");
    conv_forward(g, batch, groups, filters, in, weights, out);
    const int64_t spatial = int64_t(g.out_h) * g.out_w;
    if (bn) {
      bn_normalize(out, bn->mean, bn->var, batch, filters, spatial, bn->eps, out);
      bn_scale_shift(out, bn->scales, biases, batch, filters, spatial, out);
    } else {
      add_bias(out, biases, batch, filters, spatial);
    }
    if (act != Act::Linear) activate(act, out, out, int64_t(batch) * filters * spatial);
  }
  // The layouts conv_inference takes for this shape: -1 planar NCHW only (the default); else
  // any layout for its input, and for its output the one it would rather write: 1 channels last
  // (NHWC), 8 or 16 channel-blocked ([batch][channels / B][h][w][B], oneDNN's nChw8c / nChw16c,
  // only where B divides the channels), or 0 (planar NCHW, or a layout the plan does not keep).
  // Network::set_batch plans the inference pass with it: a convolution's output stays in its
  // layout when every layer reading it takes that layout (convolutions that take any, and
  // shortcuts of one shape, which work element by element), so no reorder runs between them.
  virtual int conv_inference_layout(const ConvGeometry& /*g*/, int /*batch*/, int /*groups*/, int /*filters*/,
                                   Act /*act*/) {
    return -1;
  }
  // Whether conv_inference takes a sum with activation sum_act for this shape, activation and
  // layouts (the sum's tensor in out_layout), building what it needs (as conv_prepare_inference;
  // throws Error on failure). Network::set_batch plans the fusions with it.
  virtual bool conv_inference_sums(const ConvGeometry& /*g*/, int /*batch*/, int /*groups*/, int /*filters*/,
                                   Act /*act*/, Act /*sum_act*/, int /*in_layout*/, int /*out_layout*/) {
    return false;
  }
  // Builds what conv_inference needs for one shape with these layouts ahead of the passes
  // (as conv_prepare; optional).
  virtual void conv_prepare_inference(const ConvGeometry& /*g*/, int /*batch*/, int /*groups*/, int /*filters*/,
                                      Act /*act*/, int /*in_layout*/, int /*out_layout*/) {}
  // Builds what conv_forward and conv_backward need for one shape ahead of the passes
  // (Network::set_batch calls it for every convolution), so that a step creates and allocates
  // nothing. Throws Error on failure, leaving what was prepared before usable. Optional: a
  // shape not prepared is prepared at its first use.
  // act: the layer's activation (conv_inference's).
  virtual void conv_prepare(const ConvGeometry& /*g*/, int /*batch*/, int /*groups*/, int /*filters*/, Act /*act*/) {}
  // The scratch memory this backend's convolution of one shape uses, in bytes (for the memory
  // estimate; scratch is shared by all layers, so a network needs the largest). The default is
  // one im2col matrix per thread working on an image.
  virtual int64_t conv_workspace_bytes(const ConvGeometry& g, int batch, int groups, int /*filters*/, Act /*act*/) {
    if (g.ksize == 1 && g.stride == 1 && g.pad == 0) return 0;
    (void)groups;
    return int64_t(batch < threads() ? batch : threads()) * g.channels * g.ksize * g.ksize * g.out_h * g.out_w *
           int64_t(sizeof(float));
  }
  // col[C*k*k, out_h*out_w] from one image [C, H, W]; col2im accumulates back into the image.
  virtual void im2col(const ConvGeometry& g, const float* im, float* col) = 0;
  virtual void col2im(const ConvGeometry& g, const float* col, float* im) = 0;

  // out[b, c, s] += bias[c]; bias_grad[c] += sum over b, s of delta[b, c, s].
  // The per-channel operations (these, batch norm's and global average pooling's) take a
  // `layout` of their (batch, channels, spatial) tensors where per_channel_any_layout() says so;
  // else planar only.
  virtual void add_bias(float* out, const float* bias, int batch, int channels, int64_t spatial, int layout = 0) = 0;
  virtual void bias_grad(const float* delta, int batch, int channels, int64_t spatial,
                         float* bias_grad, int layout = 0) = 0;
  virtual bool per_channel_any_layout() { return false; }

  // y = act(x) (x == y allowed); delta *= act'(x, y) (x may be null when !act_needs_input).
  virtual void activate(Act a, const float* x, float* y, int64_t n) = 0;
  virtual void activate_backward(Act a, const float* x, const float* y, float* delta,
                                 int64_t n) = 0;

  // Batch normalisation over (batch, spatial) per channel.
  // Training: mean/var of x (biased variance), x_hat = (x - mean) * eps.inv_std(var).
  virtual void bn_stats(const float* x, int batch, int channels, int64_t spatial, float* mean,
                        float* var, int layout = 0) = 0;
  virtual void bn_normalize(const float* x, const float* mean, const float* var, int batch,
                            int channels, int64_t spatial, BnEpsilon eps, float* x_hat) = 0;
  // y = gamma[c] * x_hat + beta[c]
  virtual void bn_scale_shift(const float* x_hat, const float* gamma, const float* beta,
                              int batch, int channels, int64_t spatial, float* y) = 0;
  // bn_normalize, bn_scale_shift and activate in one call: x_hat = (x - mean) * eps.inv_std(var)
  // is kept for the backward pass and x is replaced by act(gamma x_hat + beta). The default runs
  // the three operations; a backend may fuse them into one pass with bit-identical results.
  virtual void bn_apply(float* x, const float* mean, const float* var, const float* gamma,
                        const float* beta, int batch, int channels, int64_t spatial, BnEpsilon eps,
                        float* x_hat, Act act, int layout = 0) {
    planar_only(layout, "bn_apply");
    bn_normalize(x, mean, var, batch, channels, spatial, eps, x_hat);
    bn_scale_shift(x_hat, gamma, beta, batch, channels, spatial, x);
    if (act != Act::Linear) activate(act, x, x, int64_t(batch) * channels * spatial);
  }
  // Given dy: gamma_grad += sum dy x_hat, beta_grad += sum dy, and dy is replaced by dx.
  // training=false: statistics were constants (dx = gamma dy / eps.std_of(var)).
  virtual void bn_backward(const float* x_hat, const float* gamma, const float* var, int batch,
                           int channels, int64_t spatial, BnEpsilon eps, bool training, float* dy,
                           float* gamma_grad, float* beta_grad, int layout = 0) = 0;
  // running = (1 - rate) running + rate stat, var with Bessel's correction for count m.
  virtual void bn_running_update(const float* mean, const float* var, int channels, float rate,
                                 int64_t m, float* running_mean, float* running_var) = 0;

  // Pooling. Max pool stores the argmax input index per output (-1: empty window).
  virtual void maxpool_forward(const PoolGeometry& g, const float* in, float* out, int32_t* idx) = 0;
  virtual void maxpool_backward(const PoolGeometry& g, const float* delta_out, const int32_t* idx,
                                float* delta_in) = 0;
  // Max pooling in an inference pass: maxpool_forward's out; no backward pass follows, so idx is
  // scratch the backend may leave unwritten. in and out in one layout (conv_inference_layout's
  // codes; the default takes planar only). maxpool_prepare builds what it needs for one
  // geometry and layout ahead of the passes (Network::set_batch; optional, as conv_prepare);
  // maxpool_any_layout says whether it takes every layout conv_inference_layout names.
  virtual void maxpool_inference(const PoolGeometry& g, const float* in, float* out, int32_t* idx, int layout) {
    planar_only(layout, "maxpool_inference");
    maxpool_forward(g, in, out, idx);
  }
  virtual void maxpool_prepare(const PoolGeometry& /*g*/, int /*layout*/) {}
  virtual bool maxpool_any_layout(const PoolGeometry& /*g*/) { return false; }
  // Global average pooling of an input in `layout` to planar [batch][channels] (backward: the
  // adjoint, delta_in in `layout`).
  virtual void avgpool_forward(int batch, int channels, int64_t spatial, const float* in,
                               float* out, int layout = 0) = 0;
  virtual void avgpool_backward(int batch, int channels, int64_t spatial, const float* delta_out,
                                float* delta_in, int layout = 0) = 0;

  // Softmax over `groups` groups of each row of n inputs, of x / temperature.
  virtual void softmax_forward(const float* in, int batch, int n, int groups, float temperature,
                               float* out) = 0;
  // Vector-Jacobian product: delta_in += J^T delta_out.
  virtual void softmax_backward(const float* out, const float* delta_out, int batch, int n,
                                int groups, float temperature, float* delta_in) = 0;
  // Cross-entropy of softmax outputs against truth: err[i] = -t log p and
  // delta_in += (p * sum_group(t) - t) / T, which is (p - t) / T for a one-hot truth per group.
  virtual void softmax_cross_entropy(const float* p, const float* truth, int batch, int n,
                                     int groups, float temperature, float* err,
                                     float* delta_in) = 0;
  // Regression costs on x against truth: err[i] per element, delta_in += scale * dLoss/dx.
  virtual void cost(CostType type, const float* x, const float* truth, int64_t n, float scale,
                    float* err, float* delta_in) = 0;

  // Darknet shortcut: out[(b, k, j*sample, i*sample) of (c2, h2, w2)] =
  //   s1 * out[...] + s2 * add[(b, k, j*stride, i*stride) of (c1, h1, w1)], over the overlap.
  virtual void shortcut_forward(int batch, int w1, int h1, int c1, const float* add, int w2,
                                int h2, int c2, float s1, float s2, float* out) = 0;
  // The shortcut of two tensors of one shape: out = act(s1 * x + s2 * add) over n elements (x == out
  // allowed). The default runs copy, shortcut_forward and activate; a backend may do it in one
  // pass with the same bits.
  virtual void shortcut_activate(int64_t n, const float* x, const float* add, float s1, float s2, Act act,
                                 float* out) {
    copy(out, x, n);
    shortcut_forward(1, int(n), 1, 1, add, int(n), 1, 1, s1, s2, out);
    activate(act, out, out, n);
  }
  // Adjoint of the add term: add_delta[...] += s2 * out_delta[...] over the same positions.
  virtual void shortcut_backward(int batch, int w1, int h1, int c1, float* add_delta, int w2,
                                 int h2, int c2, float s2, const float* out_delta) = 0;

  // Nearest-neighbour upsampling by an integer stride, times scale (backward: adjoint).
  virtual void upsample(const float* in, int batch, int channels, int h, int w, int stride,
                        float scale, float* out) = 0;
  virtual void upsample_backward(const float* delta_out, int batch, int channels, int h, int w,
                                 int stride, float scale, float* delta_in) = 0;

  // out[b, c, y, x] = scale * in[b, c, y + dy, flip ? (ow - 1 - x) + dx : x + dx] + shift
  virtual void crop(const float* in, int batch, int channels, int h, int w, int oh, int ow, int dy,
                    int dx, bool flip, float scale, float shift, float* out) = 0;
  virtual void crop_backward(const float* delta_out, int batch, int channels, int h, int w, int oh,
                             int ow, int dy, int dx, bool flip, float scale, float* delta_in) = 0;

  // Dropout with a counter-based mask: element i is dropped when uniform01(seed, i) < p,
  // kept ones are multiplied by 1/(1-p). Backward applies the same mask.
  virtual void dropout(const float* in, int64_t n, float p, uint64_t seed, float* out) = 0;
  virtual void dropout_backward(const float* delta_out, int64_t n, float p, uint64_t seed,
                                float* delta_in) = 0;

  // Recurrent parameter generator (RPG.md). code[i] = s * (j + 1) encodes ring entry j and
  // sign s of weight i: weights[i] = scale * s * ring[j].
  virtual void ring_generate(const float* ring, const int32_t* code, int64_t n, float scale,
                             float* weights) = 0;
  // ring_grad[j] += sum over t with x = j + t k < n of s * g[p], where inverse[x] = s * (p + 1)
  // lists the positions p feeding entry j in a fixed order (deterministic, no atomics).
  virtual void ring_gather(const float* g, const int32_t* inverse, int64_t n, int64_t k,
                           float* ring_grad) = 0;

  // SGD with momentum in Darknet's form, on true gradients accumulated in grad:
  //   grad += decay * w; w -= lr * grad; grad *= momentum
  virtual void sgd_update(float* w, float* grad, int64_t n, float lr, float decay,
                          float momentum) = 0;

 protected:
  // Error(Internal) for an operation given a layout other than planar where it takes none.
  void planar_only(int layout, const char* op) const {
    if (layout) fail(Status::Internal, name() + ": " + op + " takes planar tensors only");
  }
};

}  // namespace rpg
