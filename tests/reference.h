// A naive double-precision twin of every layer, written from Darknet's definitions (DARKNET.md,
// CFG.md) and never calling the library's kernels: the test's own reading of a cfg (LayerSpec),
// direct convolution loops, activations from their formulas, batch norm, pooling, shortcut,
// route, upsample, crop, dropout, softmax and the losses. test_network compares every layer's
// output with it; test_layers differentiates it (central differences in double) to check the
// library's gradients. Include after <boost/test/unit_test.hpp>.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "backend/activation.h"  // the Act enum and the cfg names only
#include "backend/buffer.h"
#include "cfg/cfg.h"
#include "core/network.h"
#include "testing.h"

namespace rpg_ref {

using rpg::Act;
using rpg::Shape;
using Tensor = std::vector<double>;  // batch x C x H x W, NCHW

constexpr double kBnEps = 1e-5;         // training: sqrt(var + eps)
constexpr double kDarknetBnEps = 1e-6;  // inference: Darknet's sqrt(var) + eps

// ---------------------------------------------------------------------------------------------
// Activations from Darknet's activations.h, in double.

inline double logistic(double x) { return 1 / (1 + std::exp(-x)); }

inline double activate(Act a, double x) {
  switch (a) {
    case Act::Linear: return x;
    case Act::Relu: return x * (x > 0);
    case Act::Leaky: return x > 0 ? x : .1 * x;
    case Act::Logistic: return logistic(x);
    case Act::Tanh: return std::tanh(x);
    case Act::Elu: return (x >= 0) * x + (x < 0) * (std::exp(x) - 1);
    case Act::Relie: return x > 0 ? x : .01 * x;
    case Act::Ramp: return x * (x > 0) + .1 * x;
    case Act::Plse: return x < -4 ? .01 * (x + 4) : (x > 4 ? .01 * (x - 4) + 1 : .125 * x + .5);
    case Act::Lhtan: return x < 0 ? .001 * x : (x > 1 ? .001 * (x - 1) + 1 : x);
    case Act::Stair: {
      const double n = std::floor(x);
      return int64_t(n) % 2 == 0 ? std::floor(x / 2) : (x - n) + std::floor(x / 2);
    }
    case Act::Hardtan: return x < -1 ? -1 : (x > 1 ? 1 : x);
    case Act::Loggy: return 2 / (1 + std::exp(-x)) - 1;
    case Act::Selu: return (x >= 0) * 1.0507 * x + (x < 0) * 1.0507 * 1.6732 * (std::exp(x) - 1);
    case Act::Swish: return x * logistic(x);
    case Act::Mish: {  // Darknet's softplus with threshold 20
      const double sp = x > 20 ? x : (x < -20 ? std::exp(x) : std::log1p(std::exp(x)));
      return x * std::tanh(sp);
    }
  }
  BOOST_FAIL("the reference has no formula for activation " << int(a));
  return x;
}

inline void activate(Act a, Tensor* y) {
  for (double& v : *y) v = activate(a, v);
}

// ---------------------------------------------------------------------------------------------
// The test's own reading of a cfg: each layer's hyperparameters and shapes, with Darknet's
// defaults, and its parameter counts.

struct LayerSpec {
  std::string type;  // canonical section name
  Shape in, out;
  int filters = 0;  // convolutional: filters; connected: outputs
  int size = 1, stride = 1, padding = 0, groups = 1;  // convolutional, maxpool, upsample (stride)
  bool bn = false;
  Act act = Act::Logistic;
  double probability = .5;                // dropout
  double temperature = 1;                 // softmax (groups above)
  std::vector<int> sources;               // route; shortcut: {from}; absolute indices
  double alpha = 1, beta = 1, scale = 1;  // shortcut; upsample and cost (scale); crop (scale, shift)
  double shift = 0;                       // crop
  std::string cost = "sse";               // cost type
  int64_t params = 0;                     // trainable: weights, biases, batch-norm scales
  int64_t file_floats = 0;                // floats in a Darknet .weights file
};

inline const std::string* find_value(const rpg::CfgSection& s, const std::string& key) {
  const rpg::CfgEntry* e = s.find(key);
  return e ? &e->value : nullptr;
}

inline int int_value(const rpg::CfgSection& s, const std::string& key, int def) {
  const std::string* v = find_value(s, key);
  return v ? std::stoi(*v) : def;
}

inline double double_value(const rpg::CfgSection& s, const std::string& key, double def) {
  const std::string* v = find_value(s, key);
  return v ? std::stod(*v) : def;
}

inline std::vector<int> int_list(const rpg::CfgSection& s, const std::string& key) {
  std::vector<int> out;
  const std::string* v = find_value(s, key);
  if (!v) return out;
  size_t pos = 0;
  while (pos <= v->size()) {
    const size_t comma = std::min(v->find(',', pos), v->size());
    out.push_back(std::stoi(v->substr(pos, comma - pos)));
    pos = comma + 1;
  }
  return out;
}

inline Act activation_value(const rpg::CfgSection& s, Act def) {
  const std::string* v = find_value(s, "activation");
  if (!v) return def;
  int n = 0;
  const char* const* names = rpg::act_names(&n);
  for (int i = 0; i < n; ++i)
    if (*v == names[i]) return Act(i);
  BOOST_FAIL("unknown activation '" + *v + "'");
  return def;
}

inline std::string canonical_type(const std::string& t) {
  if (t == "conv") return "convolutional";
  if (t == "conn") return "connected";
  if (t == "max") return "maxpool";
  if (t == "avg") return "avgpool";
  if (t == "soft") return "softmax";
  return t;
}

inline std::vector<LayerSpec> walk_cfg(const rpg::CfgFile& cfg, Shape* input) {
  const rpg::CfgSection& net = cfg.sections.front();
  Shape shape{int_value(net, "channels", 0), int_value(net, "height", 0), int_value(net, "width", 0)};
  if (shape.size() == 0) shape = {int_value(net, "inputs", 0), 1, 1};
  *input = shape;
  std::vector<LayerSpec> specs;
  for (size_t i = 1; i < cfg.sections.size(); ++i) {
    const rpg::CfgSection& s = cfg.sections[i];
    if (s.type == "ring") continue;
    const int index = int(specs.size());
    auto ref = [index](int r) { return r < 0 ? index + r : r; };
    LayerSpec l;
    l.type = canonical_type(s.type);
    l.in = l.out = shape;
    if (l.type == "convolutional") {
      l.filters = int_value(s, "filters", 1);
      l.size = int_value(s, "size", 1);
      l.stride = int_value(s, "stride", 1);
      l.groups = int_value(s, "groups", 1);
      l.padding = int_value(s, "pad", 0) ? l.size / 2 : int_value(s, "padding", 0);
      l.bn = int_value(s, "batch_normalize", 0) != 0;
      l.act = activation_value(s, Act::Logistic);
      l.out = {l.filters, (shape.h + 2 * l.padding - l.size) / l.stride + 1,
               (shape.w + 2 * l.padding - l.size) / l.stride + 1};
      const int64_t weights = int64_t(l.filters) * (shape.c / l.groups) * l.size * l.size;
      l.params = weights + l.filters * (l.bn ? 2 : 1);
      l.file_floats = weights + l.filters * (l.bn ? 4 : 1);
    } else if (l.type == "connected") {
      l.filters = int_value(s, "output", 1);
      l.bn = int_value(s, "batch_normalize", 0) != 0;
      l.act = activation_value(s, Act::Logistic);
      l.out = {l.filters, 1, 1};
      const int64_t weights = shape.size() * l.filters;
      l.params = weights + l.filters * (l.bn ? 2 : 1);
      l.file_floats = weights + l.filters * (l.bn ? 4 : 1);
    } else if (l.type == "maxpool") {
      l.stride = int_value(s, "stride", 1);
      l.size = int_value(s, "size", l.stride);
      l.padding = int_value(s, "padding", l.size - 1);
      l.out = {shape.c, (shape.h + l.padding - l.size) / l.stride + 1, (shape.w + l.padding - l.size) / l.stride + 1};
    } else if (l.type == "avgpool") {
      l.out = {shape.c, 1, 1};
    } else if (l.type == "dropout") {
      l.probability = double_value(s, "probability", .5);
    } else if (l.type == "softmax") {
      l.groups = int_value(s, "groups", 1);
      l.temperature = double_value(s, "temperature", 1);
    } else if (l.type == "shortcut") {
      l.sources = {ref(int_value(s, "from", 0))};
      l.act = activation_value(s, Act::Linear);
      l.alpha = double_value(s, "alpha", 1);
      l.beta = double_value(s, "beta", 1);
    } else if (l.type == "route") {
      for (int r : int_list(s, "layers")) {
        const Shape src = specs.at(size_t(ref(r))).out;
        if (l.sources.empty())
          l.out = src;
        else
          l.out.c += src.c;
        l.sources.push_back(ref(r));
      }
    } else if (l.type == "upsample") {
      l.stride = int_value(s, "stride", 2);
      l.scale = double_value(s, "scale", 1);
      l.out = {shape.c, shape.h * l.stride, shape.w * l.stride};
    } else if (l.type == "crop") {
      l.out = {shape.c, int_value(s, "crop_height", 1), int_value(s, "crop_width", 1)};
      const bool noadjust = int_value(s, "noadjust", 0) != 0;  // Darknet maps [0, 1] to [-1, 1]
      l.scale = noadjust ? 1 : 2;
      l.shift = noadjust ? 0 : -1;
    } else if (l.type == "cost") {
      const std::string* t = find_value(s, "type");
      l.cost = t ? *t : "sse";
      l.scale = double_value(s, "scale", 1);
    } else {
      BOOST_FAIL("the test's cfg walk does not know [" + s.type + "]");
    }
    specs.push_back(l);
    shape = l.out;
  }
  return specs;
}

// ---------------------------------------------------------------------------------------------
// Parameters, read through Layer::weight_file_order() (Darknet's .weights order).

struct ParamBuffers {
  rpg::Buffer<float>* biases = nullptr;
  rpg::Buffer<float>* scales = nullptr;
  rpg::Buffer<float>* mean = nullptr;
  rpg::Buffer<float>* var = nullptr;
  rpg::Buffer<float>* weights = nullptr;
};

// convolutional: biases, [scales, rolling mean, rolling variance], weights (OIHW);
// connected: biases, weights [out][in], [scales, rolling mean, rolling variance].
inline ParamBuffers param_buffers(rpg::Layer& layer, const LayerSpec& l) {
  ParamBuffers p;
  const std::vector<rpg::Buffer<float>*> t = layer.weight_file_order();
  const bool conv = l.type == "convolutional";
  if (!conv && l.type != "connected") {
    BOOST_REQUIRE_MESSAGE(t.empty(), "[" << l.type << "] has weights in the file");
    return p;
  }
  BOOST_REQUIRE_EQUAL(t.size(), l.bn ? 5u : 2u);
  p.biases = t[0];
  if (conv) {
    p.weights = t.back();
    if (l.bn) p.scales = t[1], p.mean = t[2], p.var = t[3];
  } else {
    p.weights = t[1];
    if (l.bn) p.scales = t[2], p.mean = t[3], p.var = t[4];
  }
  const int64_t fan_in = conv ? int64_t(l.in.c / l.groups) * l.size * l.size : l.in.size();
  BOOST_REQUIRE_EQUAL(p.weights->size(), l.filters * fan_in);
  BOOST_REQUIRE_EQUAL(p.biases->size(), l.filters);
  if (l.bn)
    for (const rpg::Buffer<float>* b : {p.scales, p.mean, p.var}) BOOST_REQUIRE_EQUAL(b->size(), l.filters);
  return p;
}

// Non-trivial biases and batch-norm statistics, so that they matter.
inline void randomize_parameters(rpg::Network& net, const std::vector<LayerSpec>& specs, uint64_t seed) {
  for (size_t i = 0; i < specs.size(); ++i) {
    const ParamBuffers p = param_buffers(*net.layers()[i], specs[i]);
    if (!p.biases) continue;
    const size_t n = size_t(specs[i].filters);
    p.biases->upload(rpg_test::random_vector(n, seed + 10 * i, -.5f, .5f));
    if (!specs[i].bn) continue;
    p.scales->upload(rpg_test::random_vector(n, seed + 10 * i + 1, .5f, 1.5f));
    p.mean->upload(rpg_test::random_vector(n, seed + 10 * i + 2, -.5f, .5f));
    p.var->upload(rpg_test::random_vector(n, seed + 10 * i + 3, .25f, 2.f));
  }
}

struct RefParams {
  Tensor biases, scales, mean, var, weights;
};

inline Tensor to_tensor(const std::vector<float>& v) { return Tensor(v.begin(), v.end()); }
inline Tensor to_tensor(const rpg::Buffer<float>* b) { return b ? to_tensor(b->to_vector()) : Tensor(); }

inline std::vector<RefParams> read_params(rpg::Network& net, const std::vector<LayerSpec>& specs) {
  std::vector<RefParams> out(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const ParamBuffers p = param_buffers(*net.layers()[i], specs[i]);
    out[i] = {to_tensor(p.biases), to_tensor(p.scales), to_tensor(p.mean), to_tensor(p.var), to_tensor(p.weights)};
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The layers, in double precision.

inline Tensor conv(const LayerSpec& l, const Tensor& w, const Tensor& x, int batch) {
  const Shape in = l.in, out = l.out;
  const int cg = in.c / l.groups, fg = l.filters / l.groups;
  Tensor y(size_t(batch * out.size()), 0.0);
  for (int b = 0; b < batch; ++b)
    for (int f = 0; f < out.c; ++f) {
      const int g = f / fg;
      for (int oy = 0; oy < out.h; ++oy)
        for (int ox = 0; ox < out.w; ++ox) {
          double s = 0;
          for (int c = 0; c < cg; ++c)
            for (int ky = 0; ky < l.size; ++ky)
              for (int kx = 0; kx < l.size; ++kx) {
                const int iy = oy * l.stride - l.padding + ky, ix = ox * l.stride - l.padding + kx;
                if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
                s += w[size_t(((int64_t(f) * cg + c) * l.size + ky) * l.size + kx)] *
                     x[size_t(((int64_t(b) * in.c + g * cg + c) * in.h + iy) * in.w + ix)];
              }
          y[size_t(((int64_t(b) * out.c + f) * out.h + oy) * out.w + ox)] = s;
        }
    }
  return y;
}

inline Tensor connected(const LayerSpec& l, const Tensor& w, const Tensor& x, int batch) {
  const int64_t n_in = l.in.size();
  Tensor y(size_t(batch) * size_t(l.filters), 0.0);
  for (int b = 0; b < batch; ++b)
    for (int o = 0; o < l.filters; ++o) {
      double s = 0;
      for (int64_t i = 0; i < n_in; ++i) s += w[size_t(o * n_in + i)] * x[size_t(b * n_in + i)];
      y[size_t(b) * size_t(l.filters) + size_t(o)] = s;
    }
  return y;
}

// Batch norm over (batch, spatial) per channel: batch statistics with the biased variance in
// training, the rolling ones in inference; then scale and bias. Without batch norm: the bias.
inline void bias_or_batchnorm(const LayerSpec& l, const RefParams& p, bool train, int batch, Tensor* y) {
  const int channels = l.out.c;
  const int64_t spatial = l.out.spatial();
  auto at = [&](int b, int c, int64_t i) -> double& { return (*y)[size_t((int64_t(b) * channels + c) * spatial + i)]; };
  for (int c = 0; c < channels; ++c) {
    if (!l.bn) {
      for (int b = 0; b < batch; ++b)
        for (int64_t i = 0; i < spatial; ++i) at(b, c, i) += p.biases[size_t(c)];
      continue;
    }
    double mean = p.mean[size_t(c)], var = p.var[size_t(c)];
    if (train) {
      const double m = double(batch) * double(spatial);
      mean = var = 0;
      for (int b = 0; b < batch; ++b)
        for (int64_t i = 0; i < spatial; ++i) mean += at(b, c, i);
      mean /= m;
      for (int b = 0; b < batch; ++b)
        for (int64_t i = 0; i < spatial; ++i) var += (at(b, c, i) - mean) * (at(b, c, i) - mean);
      var /= m;
    }
    const double k = p.scales[size_t(c)] / (train ? std::sqrt(var + kBnEps) : std::sqrt(var) + kDarknetBnEps);
    for (int b = 0; b < batch; ++b)
      for (int64_t i = 0; i < spatial; ++i) at(b, c, i) = k * (at(b, c, i) - mean) + p.biases[size_t(c)];
  }
}

// Darknet: out = (w + padding - size) / stride + 1, windows start at -padding/2, positions
// outside the input are ignored (an empty window gives 0, as rpgnet defines it).
inline Tensor maxpool(const LayerSpec& l, const Tensor& x, int batch) {
  const Shape in = l.in, out = l.out;
  const int offset = -l.padding / 2;
  Tensor y(size_t(batch * out.size()));
  for (int64_t p = 0; p < int64_t(batch) * in.c; ++p)
    for (int oy = 0; oy < out.h; ++oy)
      for (int ox = 0; ox < out.w; ++ox) {
        double best = -std::numeric_limits<double>::infinity();
        for (int ky = 0; ky < l.size; ++ky)
          for (int kx = 0; kx < l.size; ++kx) {
            const int iy = offset + oy * l.stride + ky, ix = offset + ox * l.stride + kx;
            if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
            best = std::max(best, x[size_t((p * in.h + iy) * in.w + ix)]);
          }
        y[size_t((p * out.h + oy) * out.w + ox)] = std::isinf(best) ? 0.0 : best;
      }
  return y;
}

inline Tensor avgpool(const LayerSpec& l, const Tensor& x, int batch) {
  const int64_t spatial = l.in.spatial();
  Tensor y(size_t(batch) * size_t(l.in.c));
  for (size_t p = 0; p < y.size(); ++p) {
    double s = 0;
    for (int64_t i = 0; i < spatial; ++i) s += x[p * size_t(spatial) + size_t(i)];
    y[p] = s / double(spatial);
  }
  return y;
}

// out = alpha * prev + beta * from where the two meet. Same shapes: everywhere. Differing shapes
// (CFG.md): with r the integer ratio of the spatial sizes, (x, y) of the smaller grid meets
// (r x, r y) of the larger, over the first min(c1, c2) channels; the rest of prev passes as is.
inline Tensor shortcut(const LayerSpec& l, const Tensor& prev, const Tensor& from, Shape fs, int batch) {
  const Shape o = l.out;
  Tensor y = prev;
  const bool from_larger = fs.w > o.w;
  const int r = from_larger ? fs.w / o.w : o.w / fs.w;
  const int step_from = from_larger ? r : 1, step_out = from_larger ? 1 : r;
  const int w = std::min(fs.w, o.w), h = std::min(fs.h, o.h), c = std::min(fs.c, o.c);
  for (int b = 0; b < batch; ++b)
    for (int k = 0; k < c; ++k)
      for (int j = 0; j < h; ++j)
        for (int i = 0; i < w; ++i) {
          const size_t oi = size_t(((int64_t(b) * o.c + k) * o.h + j * step_out) * o.w + i * step_out);
          const size_t fi = size_t(((int64_t(b) * fs.c + k) * fs.h + j * step_from) * fs.w + i * step_from);
          y[oi] = l.alpha * prev[oi] + l.beta * from[fi];
        }
  activate(l.act, &y);
  return y;
}

inline Tensor route(const LayerSpec& l, const std::vector<LayerSpec>& specs, const std::vector<Tensor>& outs,
                    int batch) {
  Tensor y;
  y.reserve(size_t(batch * l.out.size()));
  for (int b = 0; b < batch; ++b)
    for (int src : l.sources) {
      const size_t n = size_t(specs[size_t(src)].out.size());
      const Tensor& t = outs[size_t(src)];
      y.insert(y.end(), t.begin() + long(b * n), t.begin() + long((b + 1) * n));
    }
  return y;
}

inline Tensor upsample(const LayerSpec& l, const Tensor& x, int batch) {
  const Shape in = l.in, out = l.out;
  Tensor y(size_t(batch * out.size()));
  for (int64_t p = 0; p < int64_t(batch) * in.c; ++p)
    for (int oy = 0; oy < out.h; ++oy)
      for (int ox = 0; ox < out.w; ++ox)
        y[size_t((p * out.h + oy) * out.w + ox)] = l.scale * x[size_t((p * in.h + oy / l.stride) * in.w + ox / l.stride)];
  return y;
}

// A window of the input at (dy, dx), mirrored left-right when flipped, mapped by scale and shift.
struct CropWindow {
  int dy = 0, dx = 0;
  bool flipped = false;
};

inline Tensor crop(const LayerSpec& l, const Tensor& x, int batch, CropWindow c) {
  const Shape in = l.in, out = l.out;
  Tensor y(size_t(batch * out.size()));
  for (int64_t p = 0; p < int64_t(batch) * in.c; ++p)
    for (int oy = 0; oy < out.h; ++oy)
      for (int ox = 0; ox < out.w; ++ox) {
        const int sx = (c.flipped ? out.w - 1 - ox : ox) + c.dx;
        y[size_t((p * out.h + oy) * out.w + ox)] = l.scale * x[size_t((p * in.h + oy + c.dy) * in.w + sx)] + l.shift;
      }
  return y;
}

inline Tensor softmax(const LayerSpec& l, const Tensor& x, int batch) {
  const size_t per = size_t(l.in.size() / l.groups);
  Tensor y(x.size());
  for (size_t g = 0; g < size_t(batch) * size_t(l.groups); ++g) {
    const double* in = x.data() + g * per;
    double* out = y.data() + g * per;
    const double mx = *std::max_element(in, in + per);
    double s = 0;
    for (size_t i = 0; i < per; ++i) s += out[i] = std::exp((in[i] - mx) / l.temperature);
    for (size_t i = 0; i < per; ++i) out[i] /= s;
  }
  return y;
}

// Darknet's regression costs, summed: sse, masked (truth -1234 is ignored, Darknet's
// SECRET_NUM), smooth (Huber with delta 1), L1; each 1/2 d^2 where quadratic, times scale.
inline double cost_loss(const LayerSpec& l, const Tensor& x, const std::vector<float>& truth) {
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = x[i] - truth[i], a = std::fabs(d);
    if (l.cost == "sse" || (l.cost == "masked" && truth[i] != -1234.f))
      s += .5 * d * d;
    else if (l.cost == "smooth")
      s += a < 1 ? .5 * d * d : a - .5;
    else if (l.cost == "L1")
      s += a;
  }
  return l.scale * s;
}

// Cross-entropy of softmax outputs p against the truth: -sum t log p.
inline double cross_entropy(const Tensor& p, const std::vector<float>& truth) {
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i)
    if (truth[i] != 0.f) s -= truth[i] * std::log(p[i]);
  return s;
}

// ---------------------------------------------------------------------------------------------
// The whole network.

// What a training pass drew at random, per layer: a dropout layer's multipliers (0 or 1/(1-p)
// per element) and a crop layer's window. Read from the library's outputs after its forward
// pass (Random::observe), so that the reference can be evaluated around the same point.
struct Random {
  std::vector<Tensor> dropout;
  std::vector<CropWindow> crops;

  // Dropout: an element is kept when the library's output is not 0 (or its input was 0). Crop:
  // the window whose reference output is closest to the library's.
  void observe(rpg::Network& net, const std::vector<LayerSpec>& specs, const std::vector<float>& input) {
    dropout.assign(specs.size(), Tensor());
    crops.assign(specs.size(), CropWindow());
    const int batch = net.batch();
    for (size_t i = 0; i < specs.size(); ++i) {
      const LayerSpec& l = specs[i];
      if (l.type != "dropout" && l.type != "crop") continue;
      const std::vector<float> in = i ? net.layer_output(i - 1) : input;
      const std::vector<float> out = net.layer_output(i);
      if (l.type == "dropout") {
        for (size_t k = 0; k < in.size(); ++k)
          dropout[i].push_back(out[k] == 0.f && in[k] != 0.f ? 0.0 : 1 / (1 - l.probability));
        continue;
      }
      double best = std::numeric_limits<double>::infinity();
      for (int dy = 0; dy <= l.in.h - l.out.h; ++dy)
        for (int dx = 0; dx <= l.in.w - l.out.w; ++dx)
          for (bool flipped : {false, true}) {
            const Tensor y = crop(l, to_tensor(in), batch, {dy, dx, flipped});
            double err = 0;
            for (size_t k = 0; k < y.size(); ++k) err = std::max(err, std::fabs(y[k] - out[k]));
            if (err < best) best = err, crops[i] = {dy, dx, flipped};
          }
    }
  }
};

// Every layer's output from layer `from` on (the earlier ones are taken from `outs`). Without
// `random`, training-mode dropout keeps everything and crops take the centre (inference).
inline void forward_from(const std::vector<LayerSpec>& specs, const std::vector<RefParams>& params,
                         const Tensor& input, int batch, bool train, const Random* random, size_t from,
                         std::vector<Tensor>* outs) {
  outs->resize(specs.size());
  for (size_t i = from; i < specs.size(); ++i) {
    const LayerSpec& l = specs[i];
    const Tensor& x = i ? (*outs)[i - 1] : input;
    Tensor y;
    if (l.type == "convolutional" || l.type == "connected") {
      y = l.type == "convolutional" ? conv(l, params[i].weights, x, batch) : connected(l, params[i].weights, x, batch);
      bias_or_batchnorm(l, params[i], train, batch, &y);
      activate(l.act, &y);
    } else if (l.type == "maxpool") {
      y = maxpool(l, x, batch);
    } else if (l.type == "avgpool") {
      y = avgpool(l, x, batch);
    } else if (l.type == "shortcut") {
      const size_t src = size_t(l.sources[0]);
      y = shortcut(l, x, (*outs)[src], specs[src].out, batch);
    } else if (l.type == "route") {
      y = route(l, specs, *outs, batch);
    } else if (l.type == "upsample") {
      y = upsample(l, x, batch);
    } else if (l.type == "softmax") {
      y = softmax(l, x, batch);
    } else if (l.type == "dropout") {
      y = x;
      if (train && random && !random->dropout[i].empty())
        for (size_t k = 0; k < y.size(); ++k) y[k] *= random->dropout[i][k];
    } else if (l.type == "crop") {
      CropWindow c{(l.in.h - l.out.h) / 2, (l.in.w - l.out.w) / 2, false};
      if (train && random) c = random->crops[i];
      y = crop(l, x, batch, c);
    } else if (l.type == "cost") {
      y = x;
    } else {
      BOOST_FAIL("no reference for [" + l.type + "]");
    }
    (*outs)[i] = std::move(y);
  }
}

// The loss of the last layer: a [cost] layer's, or a final softmax's cross-entropy.
inline double loss(const std::vector<LayerSpec>& specs, const std::vector<Tensor>& outs,
                   const std::vector<float>& truth) {
  const LayerSpec& last = specs.back();
  if (last.type == "cost") return cost_loss(last, outs.back(), truth);
  if (last.type == "softmax") return cross_entropy(outs.back(), truth);
  BOOST_FAIL("the reference knows no loss for a last layer [" + last.type + "]");
  return 0;
}

}  // namespace rpg_ref
