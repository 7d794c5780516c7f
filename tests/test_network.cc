// Network-level tests. Every layer's output is compared with a naive double-precision reference
// written here, independently of the library (direct convolution loops: no im2col, no BLAS), in
// inference and in training mode; Darknet's classifier cfgs run a training pass and their
// parameter counts are checked against a count of our own; a batch equals its images one by one.
#define BOOST_TEST_MODULE network
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "backend/activation.h"
#include "backend/buffer.h"
#include "backend/cpu_backend.h"
#include "base/error.h"
#include "cfg/cfg.h"
#include "core/network.h"
#include "testing.h"

namespace {

using rpg::Act;
using rpg::Shape;
using Tensor = std::vector<double>;  // batch x C x H x W, NCHW

constexpr double kBnEps = 1e-5;           // training: sqrt(var + eps)
constexpr double kDarknetBnEps = 1e-6;    // inference: Darknet's sqrt(var) + eps
constexpr double kReferenceTolerance = 1e-4;  // normwise, per layer and image
constexpr double kBatchTolerance = 1e-5;

// ---------------------------------------------------------------------------------------------
// The test's own reading of a cfg: each layer's hyperparameters and shapes, with Darknet's
// defaults (DARKNET.md, CFG.md), and its parameter counts.

struct LayerSpec {
  std::string type;  // canonical section name
  Shape in, out;
  int filters = 0;  // convolutional: filters; connected: outputs
  int size = 1, stride = 1, padding = 0, groups = 1;  // convolutional, maxpool, upsample (stride)
  bool bn = false;
  Act act = Act::Logistic;
  double probability = .5;                    // dropout
  double temperature = 1;                     // softmax (groups above)
  std::vector<int> sources;                   // route; shortcut: {from}; absolute indices
  double alpha = 1, beta = 1, scale = 1;      // shortcut; upsample (scale)
  int64_t params = 0;                         // trainable: weights, biases, batch-norm scales
  int64_t file_floats = 0;                    // floats in a Darknet .weights file
};

const std::string* find_value(const rpg::CfgSection& s, const std::string& key) {
  const rpg::CfgEntry* e = s.find(key);
  return e ? &e->value : nullptr;
}

int int_value(const rpg::CfgSection& s, const std::string& key, int def) {
  const std::string* v = find_value(s, key);
  return v ? std::stoi(*v) : def;
}

double double_value(const rpg::CfgSection& s, const std::string& key, double def) {
  const std::string* v = find_value(s, key);
  return v ? std::stod(*v) : def;
}

std::vector<int> int_list(const rpg::CfgSection& s, const std::string& key) {
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

Act activation_value(const rpg::CfgSection& s, Act def) {
  const std::string* v = find_value(s, "activation");
  if (!v) return def;
  int n = 0;
  const char* const* names = rpg::act_names(&n);
  for (int i = 0; i < n; ++i)
    if (*v == names[i]) return Act(i);
  BOOST_FAIL("unknown activation '" + *v + "'");
  return def;
}

std::string canonical_type(const std::string& t) {
  if (t == "conv") return "convolutional";
  if (t == "conn") return "connected";
  if (t == "max") return "maxpool";
  if (t == "avg") return "avgpool";
  if (t == "soft") return "softmax";
  return t;
}

std::vector<LayerSpec> walk_cfg(const rpg::CfgFile& cfg, Shape* input) {
  const rpg::CfgSection& net = cfg.sections.front();
  Shape shape{int_value(net, "channels", 0), int_value(net, "height", 0),
              int_value(net, "width", 0)};
  if (shape.size() == 0) shape = {int_value(net, "inputs", 0), 1, 1};
  *input = shape;
  std::vector<LayerSpec> specs;
  for (size_t i = 1; i < cfg.sections.size(); ++i) {
    const rpg::CfgSection& s = cfg.sections[i];
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
      l.out = {shape.c, (shape.h + l.padding - l.size) / l.stride + 1,
               (shape.w + l.padding - l.size) / l.stride + 1};
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
    } else if (l.type != "cost") {
      BOOST_FAIL("the test's cfg walk does not know [" + s.type + "]");
    }
    specs.push_back(l);
    shape = l.out;
  }
  return specs;
}

int64_t sum_params(const std::vector<LayerSpec>& specs) {
  int64_t n = 0;
  for (const LayerSpec& l : specs) n += l.params;
  return n;
}

int64_t sum_file_floats(const std::vector<LayerSpec>& specs) {
  int64_t n = 0;
  for (const LayerSpec& l : specs) n += l.file_floats;
  return n;
}

int64_t weight_file_floats(const rpg::Network& net) {
  int64_t n = 0;
  for (const auto& l : net.layers())
    for (const rpg::Buffer<float>* b : l->weight_file_order()) n += b->size();
  return n;
}

// The network agrees with the walk on layer types, shapes and parameter counts.
void check_structure(const rpg::Network& net, const std::vector<LayerSpec>& specs, Shape input) {
  BOOST_CHECK(net.input_shape() == input);
  BOOST_REQUIRE_EQUAL(net.layers().size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const rpg::Layer& l = *net.layers()[i];
    BOOST_CHECK_EQUAL(l.type, specs[i].type);
    BOOST_CHECK_MESSAGE(l.in == specs[i].in && l.out == specs[i].out,
                        "layer " << i << " [" << l.type << "]: network " << l.in.str() << " -> "
                                 << l.out.str() << ", expected " << specs[i].in.str() << " -> "
                                 << specs[i].out.str());
  }
  BOOST_CHECK_EQUAL(net.num_params(), sum_params(specs));
  BOOST_CHECK_EQUAL(weight_file_floats(net), sum_file_floats(specs));
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
ParamBuffers param_buffers(rpg::Layer& layer, const LayerSpec& l) {
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
    for (const rpg::Buffer<float>* b : {p.scales, p.mean, p.var})
      BOOST_REQUIRE_EQUAL(b->size(), l.filters);
  return p;
}

// Non-trivial biases and batch-norm statistics, so that they matter.
void randomize_parameters(rpg::Network& net, const std::vector<LayerSpec>& specs, uint64_t seed) {
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

Tensor to_tensor(const std::vector<float>& v) { return Tensor(v.begin(), v.end()); }
Tensor to_tensor(const rpg::Buffer<float>* b) { return b ? to_tensor(b->to_vector()) : Tensor(); }

std::vector<RefParams> read_params(rpg::Network& net, const std::vector<LayerSpec>& specs) {
  std::vector<RefParams> out(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const ParamBuffers p = param_buffers(*net.layers()[i], specs[i]);
    out[i] = {to_tensor(p.biases), to_tensor(p.scales), to_tensor(p.mean), to_tensor(p.var),
              to_tensor(p.weights)};
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The reference forward pass, in double precision.

Tensor conv_ref(const LayerSpec& l, const Tensor& w, const Tensor& x, int batch) {
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

Tensor connected_ref(const LayerSpec& l, const Tensor& w, const Tensor& x, int batch) {
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
void bias_or_batchnorm_ref(const LayerSpec& l, const RefParams& p, bool train, int batch,
                           Tensor* y) {
  const int channels = l.out.c;
  const int64_t spatial = l.out.spatial();
  auto at = [&](int b, int c, int64_t i) -> double& {
    return (*y)[size_t((int64_t(b) * channels + c) * spatial + i)];
  };
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
      for (int64_t i = 0; i < spatial; ++i)
        at(b, c, i) = k * (at(b, c, i) - mean) + p.biases[size_t(c)];
  }
}

void activate_ref(Act a, Tensor* y) {
  if (a == Act::Linear) return;
  for (double& v : *y) v = double(rpg::act_apply(a, float(v)));
}

// Darknet: out = (w + padding - size) / stride + 1, windows start at -padding/2, positions
// outside the input are ignored (an empty window gives 0, as rpgnet defines it).
Tensor maxpool_ref(const LayerSpec& l, const Tensor& x, int batch) {
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

Tensor avgpool_ref(const LayerSpec& l, const Tensor& x, int batch) {
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
Tensor shortcut_ref(const LayerSpec& l, const Tensor& prev, const Tensor& from, Shape fs,
                    int batch) {
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
          const size_t oi = size_t(((int64_t(b) * o.c + k) * o.h + j * step_out) * o.w +
                                   i * step_out);
          const size_t fi = size_t(((int64_t(b) * fs.c + k) * fs.h + j * step_from) * fs.w +
                                   i * step_from);
          y[oi] = l.alpha * prev[oi] + l.beta * from[fi];
        }
  activate_ref(l.act, &y);
  return y;
}

Tensor route_ref(const LayerSpec& l, const std::vector<LayerSpec>& specs,
                 const std::vector<Tensor>& outs, int batch) {
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

Tensor upsample_ref(const LayerSpec& l, const Tensor& x, int batch) {
  const Shape in = l.in, out = l.out;
  Tensor y(size_t(batch * out.size()));
  for (int64_t p = 0; p < int64_t(batch) * in.c; ++p)
    for (int oy = 0; oy < out.h; ++oy)
      for (int ox = 0; ox < out.w; ++ox)
        y[size_t((p * out.h + oy) * out.w + ox)] =
            l.scale * x[size_t((p * in.h + oy / l.stride) * in.w + ox / l.stride)];
  return y;
}

Tensor softmax_ref(const LayerSpec& l, const Tensor& x, int batch) {
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

// Every layer's output. In training mode a dropout layer's random output is taken from the
// network (it is checked separately) so that the layers after it can still be compared.
std::vector<Tensor> reference_forward(rpg::Network& net, const std::vector<LayerSpec>& specs,
                                      const std::vector<RefParams>& params, const Tensor& input,
                                      bool train) {
  const int batch = net.batch();
  std::vector<Tensor> outs;
  outs.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const LayerSpec& l = specs[i];
    const Tensor& x = i ? outs[i - 1] : input;
    Tensor y;
    if (l.type == "convolutional" || l.type == "connected") {
      y = l.type == "convolutional" ? conv_ref(l, params[i].weights, x, batch)
                                    : connected_ref(l, params[i].weights, x, batch);
      bias_or_batchnorm_ref(l, params[i], train, batch, &y);
      activate_ref(l.act, &y);
    } else if (l.type == "maxpool") {
      y = maxpool_ref(l, x, batch);
    } else if (l.type == "avgpool") {
      y = avgpool_ref(l, x, batch);
    } else if (l.type == "shortcut") {
      const size_t src = size_t(l.sources[0]);
      y = shortcut_ref(l, x, outs[src], specs[src].out, batch);
    } else if (l.type == "route") {
      y = route_ref(l, specs, outs, batch);
    } else if (l.type == "upsample") {
      y = upsample_ref(l, x, batch);
    } else if (l.type == "softmax") {
      y = softmax_ref(l, x, batch);
    } else if (l.type == "dropout") {
      y = train ? to_tensor(net.layers()[i]->output.to_vector()) : x;
    } else if (l.type == "cost") {
      y = x;
    } else {
      BOOST_FAIL("no reference for [" + l.type + "]");
    }
    outs.push_back(std::move(y));
  }
  return outs;
}

// ---------------------------------------------------------------------------------------------
// Comparisons.

// max |a - r| / max |r| over one image's outputs (an all-zero reference compares absolutely).
double normwise_error(const float* a, const double* r, int64_t n) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < n; ++i) {
    diff = std::max(diff, std::fabs(double(a[i]) - r[i]));
    norm = std::max(norm, std::fabs(r[i]));
  }
  return diff / std::max(norm, 1e-6);
}

// A training-mode dropout output: every element dropped (0) or kept and scaled by 1/(1-p).
void check_dropout(const std::vector<float>& in, const std::vector<float>& out, double p) {
  BOOST_REQUIRE_EQUAL(in.size(), out.size());
  size_t dropped = 0, bad = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const double kept = double(in[i]) / (1 - p);
    if (out[i] == 0.f && in[i] != 0.f)
      ++dropped;
    else if (std::fabs(double(out[i]) - kept) > 1e-6 * std::max(1.0, std::fabs(kept)))
      ++bad;
  }
  BOOST_CHECK_MESSAGE(bad == 0, bad << " dropout outputs are neither 0 nor input / (1 - p)");
  if (in.size() >= 200) {
    const double rate = double(dropped) / double(in.size());
    BOOST_CHECK_MESSAGE(rate > p / 2 && rate < std::min(1.0, 1.5 * p),
                        "dropout dropped " << rate << " of its inputs with p = " << p);
  }
}

// Every layer's output against the reference, per image; returns the worst error seen.
double compare_layers(rpg::Network& net, const std::vector<LayerSpec>& specs,
                      const std::vector<Tensor>& ref, const std::vector<float>& input, bool train) {
  const int batch = net.batch();
  double worst = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const std::vector<float> out = net.layers()[i]->output.to_vector();
    BOOST_REQUIRE_EQUAL(out.size(), ref[i].size());
    if (train && specs[i].type == "dropout") {
      check_dropout(i ? net.layers()[i - 1]->output.to_vector() : input, out,
                    specs[i].probability);
      continue;
    }
    const int64_t per = specs[i].out.size();
    for (int b = 0; b < batch; ++b) {
      const double err = normwise_error(out.data() + b * per, ref[i].data() + b * per, per);
      worst = std::max(worst, err);
      BOOST_CHECK_MESSAGE(err <= kReferenceTolerance,
                          (train ? "training" : "inference")
                              << ": layer " << i << " [" << specs[i].type << "] image " << b
                              << ": normwise error " << err << " > " << kReferenceTolerance);
    }
  }
  return worst;
}

// Builds `text`, sets the batch, randomises biases and batch-norm statistics, and compares every
// layer of an inference pass and then a training pass with the reference.
void check_against_reference(const std::string& text, const std::string& name, int batch,
                             uint64_t seed, float input_range = 1.f) {
  BOOST_TEST_CONTEXT(name << ", batch " << batch) {
    std::unique_ptr<rpg::Network> net = rpg_test::net_from_text(text, 1, name);
    net->set_batch(batch);
    Shape input_shape;
    const std::vector<LayerSpec> specs = walk_cfg(rpg::parse_cfg(text, name), &input_shape);
    check_structure(*net, specs, input_shape);
    randomize_parameters(*net, specs, seed);

    const std::vector<float> x = rpg_test::random_vector(
        size_t(batch * net->input_size()), seed + 1, -input_range, input_range);
    rpg::Buffer<float> input(net->backend(), int64_t(x.size()));
    input.upload(x);
    for (bool train : {false, true}) {
      const std::vector<RefParams> params = read_params(*net, specs);
      net->forward(input.data(), train);
      const std::vector<Tensor> ref = reference_forward(*net, specs, params, to_tensor(x), train);
      const double worst = compare_layers(*net, specs, ref, x, train);
      BOOST_TEST_MESSAGE(name << ", batch " << batch << (train ? ", training" : ", inference")
                              << ": worst normwise error " << worst);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Test networks.

// BN + leaky, maxpool (last window over the edge), grouped, strided, 1x1 stride 1 (no im2col) and
// 1x1 stride 2 convolutions, a same-shape shortcut with alpha/beta, route, depthwise convolution,
// overlapping maxpool, avgpool, connected with and without BN, softmax with groups/temperature.
const char* const kConvNet = R"([net]
batch=1
width=15
height=15
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=12
groups=4
size=3
pad=1
activation=mish

[convolutional]
filters=16
size=3
stride=2
pad=1
activation=relu

[convolutional]
batch_normalize=1
filters=16
size=1
stride=1
pad=1
activation=linear

[shortcut]
from=-2
alpha=0.5
beta=1.5
activation=leaky

[route]
layers=-1,-3

[convolutional]
filters=32
groups=32
size=3
padding=1
activation=logistic

[maxpool]
size=3
stride=1

[convolutional]
batch_normalize=1
filters=24
size=1
stride=2
activation=leaky

[avgpool]

[connected]
output=20
batch_normalize=1
activation=leaky

[connected]
output=10
activation=linear

[softmax]
groups=2
temperature=0.5
)";

// Upsample (with and without scale), dropout, Darknet's differing-shape shortcuts (fewer
// channels; a larger source; a smaller source), an explicit-padding maxpool, a valid (unpadded)
// convolution, the default activation, connected BN.
const char* const kUpsampleNet = R"([net]
batch=1
width=8
height=8
channels=4

[convolutional]
batch_normalize=1
filters=6
size=3
pad=1
activation=leaky

[maxpool]
size=3
stride=2
padding=1

[convolutional]
filters=8
size=3
pad=1
activation=swish

[upsample]
stride=2

[shortcut]
from=0
activation=linear

[dropout]
probability=0.3

[convolutional]
batch_normalize=1
filters=5
size=3
stride=2
pad=1
activation=tanh

[shortcut]
from=-3
activation=leaky

[upsample]
stride=2
scale=0.5

[shortcut]
from=-3

[route]
layers=-1,0

[convolutional]
filters=7
size=3
padding=0
activation=elu

[convolutional]
filters=4
size=1

[avgpool]

[dropout]
probability=0.5

[connected]
output=6
batch_normalize=1
activation=selu

[softmax]
)";

// Each activation after a convolution, a BN 1x1 convolution, a shortcut and a connected layer.
std::string activation_net(const std::string& act) {
  return "[net]\nwidth=6\nheight=6\nchannels=2\n\n"
         "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=" + act + "\n\n"
         "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=1\nactivation=" + act + "\n\n"
         "[shortcut]\nfrom=-2\nactivation=" + act + "\n\n"
         "[connected]\noutput=5\nactivation=" + act + "\n";
}

// ---------------------------------------------------------------------------------------------
// Darknet's cfgs (../shared/darknet-cfg): skipped with a message when the folder is absent.

boost::test_tools::assertion_result have_darknet_cfgs(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(!rpg_test::darknet_cfg_dir().empty());
  r.message() << "../shared/darknet-cfg not found from " << rpg_test::source_dir()
              << " (run from the repository root or set RPG_SOURCE_DIR); skipping";
  return r;
}

std::vector<std::string> darknet_cfgs() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(rpg_test::darknet_cfg_dir()))
    if (e.is_regular_file() && e.path().extension() == ".cfg") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

int64_t count_nonfinite(const std::vector<float>& v) {
  return std::count_if(v.begin(), v.end(), [](float x) { return !std::isfinite(x); });
}

// One cfg: shapes and parameter counts against the walk, then a training forward with a one-hot
// truth and a backward; the loss, every output, delta and gradient must be finite.
void check_darknet_cfg(const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  rpg::CfgFile cfg = rpg::load_cfg(path);
  rpg::apply_override(cfg, "net.batch=1");
  rpg::apply_override(cfg, "net.subdivisions=1");
  Shape input_shape;
  const std::vector<LayerSpec> specs = walk_cfg(cfg, &input_shape);
  rpg::Network net(cfg, std::make_unique<rpg::CpuBackend>(2));
  BOOST_REQUIRE_EQUAL(net.batch(), 1);
  check_structure(net, specs, input_shape);
  BOOST_REQUIRE_EQUAL(net.layers().back()->type, "softmax");

  const std::vector<float> x = rpg_test::random_vector(size_t(net.input_size()), 7, 0.f, 1.f);
  std::vector<float> truth(size_t(net.output_size()), 0.f);
  truth[truth.size() / 3] = 1.f;
  const double loss = net.train_pass(x.data(), truth.data());
  BOOST_CHECK_MESSAGE(std::isfinite(loss) && loss > 0, "loss " << loss);
  for (const auto& l : net.layers()) {
    BOOST_CHECK_MESSAGE(count_nonfinite(l->output.to_vector()) == 0,
                        "layer " << l->index << " [" << l->type << "]: non-finite outputs");
    BOOST_CHECK_MESSAGE(count_nonfinite(l->delta.to_vector()) == 0,
                        "layer " << l->index << " [" << l->type << "]: non-finite deltas");
    for (const rpg::Param& p : l->params())
      BOOST_CHECK_MESSAGE(count_nonfinite(p.grad->to_vector()) == 0,
                          "layer " << l->index << " [" << l->type << "]: non-finite gradients");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE(std::filesystem::path(path).filename().string()
                     << ": " << specs.size() << " layers, " << net.num_params()
                     << " parameters, loss " << loss << ", " << seconds << " s");
}

}  // namespace

// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(reference)

BOOST_AUTO_TEST_CASE(conv_net_matches_reference) {
  for (int batch : {1, 3, 8}) check_against_reference(kConvNet, "conv-net", batch, 100 + batch);
}

BOOST_AUTO_TEST_CASE(upsample_dropout_shortcut_net_matches_reference) {
  for (int batch : {1, 3, 8})
    check_against_reference(kUpsampleNet, "upsample-net", batch, 200 + batch);
}

BOOST_AUTO_TEST_CASE(every_activation_matches_reference) {
  int n = 0;
  const char* const* names = rpg::act_names(&n);
  for (int i = 0; i < n; ++i)
    check_against_reference(activation_net(names[i]), std::string("activation ") + names[i], 3,
                            300 + uint64_t(i), 3.f);
}

BOOST_AUTO_TEST_SUITE_END()

// Delta sharing (Network::plan_deltas): two layers whose deltas are live at the same time in
// the backward pass never share memory, and the residual networks need far less delta memory
// than one buffer per layer. Layer k's delta is live from the step of the last layer that writes
// it (k + 1, or a later shortcut/route naming k) down to k's own step; the last layer's from the
// start. The gradient checks (test_layers) show that shared buffers are zeroed before reuse.
BOOST_AUTO_TEST_CASE(deltas_share_memory_only_when_not_live_together) {
  std::vector<std::string> texts = {kConvNet, kUpsampleNet};
  const std::string shipped = rpg_test::source_dir() + "/cfg/fashion-resnet.cfg";
  for (const std::string& text : texts) {
    std::unique_ptr<rpg::Network> net = rpg_test::net_from_text(text);
    net->set_batch(3);
    const auto& layers = net->layers();
    const int n = int(layers.size());
    std::vector<int> live_from(static_cast<size_t>(n));
    for (int k = 0; k < n; ++k) live_from[size_t(k)] = k + 1 < n ? k + 1 : n;
    int references = 0;
    for (int j = 0; j < n; ++j)
      for (int src : layers[size_t(j)]->delta_sources()) {
        live_from[size_t(src)] = std::max(live_from[size_t(src)], j);
        ++references;
      }
    BOOST_TEST(references > 0, "the network has no shortcut or route: the test shows little");
    for (int a = 0; a < n; ++a) {
      const rpg::BufferRef<float>& da = layers[size_t(a)]->delta;
      BOOST_TEST(da.size() == 3 * layers[size_t(a)]->out.size());
      for (int b = a + 1; b < n; ++b) {
        const rpg::BufferRef<float>& db = layers[size_t(b)]->delta;
        const bool live_together = live_from[size_t(a)] >= b;  // [a, live_from a] meets [b, live_from b]
        const bool overlap = da.data() < db.data() + db.size() && db.data() < da.data() + da.size();
        BOOST_TEST(!(live_together && overlap), "layers " << a << " and " << b << " are live together and share memory");
      }
    }
  }
  // fashion-resnet at batch 128: 17 layers, two shortcuts into earlier blocks and a route.
  if (!std::filesystem::exists(shipped)) return;
  rpg::Network net(rpg::load_cfg(shipped), std::make_unique<rpg::CpuBackend>(1));
  std::vector<std::pair<const float*, int64_t>> buffers;
  int64_t per_layer = 0;
  for (const auto& l : net.layers()) {
    per_layer += l->delta.size();
    auto it = std::find_if(buffers.begin(), buffers.end(), [&](const auto& b) { return b.first == l->delta.data(); });
    if (it == buffers.end())
      buffers.emplace_back(l->delta.data(), l->delta.size());
    else
      it->second = std::max(it->second, l->delta.size());
  }
  int64_t shared = 0;
  for (const auto& b : buffers) shared += b.second;
  BOOST_TEST_MESSAGE("fashion-resnet deltas: " << buffers.size() << " buffers, " << shared * 4 / 1048576
                                               << " MiB instead of " << per_layer * 4 / 1048576 << " MiB");
  BOOST_TEST(shared * 3 <= per_layer, "delta memory " << shared << " floats of " << per_layer);
}

// Issue 15: the softmax loss clamped log(p) at log(1e-30), so NaN outputs gave a finite loss of
// 69.08 per image and a diverged run was never noticed. A NaN output must give a NaN loss; a
// probability of exactly 0 still gives the clamped, finite value. And non_finite_tensor names
// the first layer holding a NaN or an infinity.
BOOST_AUTO_TEST_CASE(nan_outputs_give_a_nan_loss) {
  auto net = rpg_test::net_from_text("[net]\nbatch=2\ninputs=3\n[connected]\noutput=4\nactivation=linear\n[softmax]\n");
  std::vector<float> x = {1, 2, 3, -1, 0, 1}, truth = {1, 0, 0, 0, 0, 0, 1, 0};
  BOOST_TEST(std::isfinite(net->train_pass(x.data(), truth.data())));
  BOOST_TEST(net->non_finite_tensor() == "");
  rpg::Buffer<float>* bias = net->layers()[0]->weight_file_order()[0];
  std::vector<float> b = bias->to_vector();
  b[2] = std::numeric_limits<float>::quiet_NaN();
  bias->upload(b);
  BOOST_TEST(net->non_finite_tensor() == "layer 0 (connected)");
  const double loss = net->train_pass(x.data(), truth.data());
  BOOST_TEST(std::isnan(loss), "loss " << loss);
  b[2] = 0;
  b[0] = -1e30f;  // p(class 0) underflows to exactly 0 for the first image: clamped, finite
  bias->upload(b);
  const double clamped = net->train_pass(x.data(), truth.data());
  BOOST_TEST(std::isfinite(clamped), "loss " << clamped);
  BOOST_TEST(clamped > 69.0);
}

BOOST_AUTO_TEST_CASE(batch_of_five_equals_five_single_passes) {
  for (const char* text : {kConvNet, kUpsampleNet}) {
    std::unique_ptr<rpg::Network> net = rpg_test::net_from_text(text);
    Shape input_shape;
    const std::vector<LayerSpec> specs = walk_cfg(rpg::parse_cfg(text, "<test>"), &input_shape);
    randomize_parameters(*net, specs, 400);
    const int64_t n = net->input_size();
    const std::vector<float> x = rpg_test::random_vector(size_t(5 * n), 401);

    net->set_batch(5);
    rpg::Buffer<float> input(net->backend(), 5 * n);
    input.upload(x);
    net->forward(input.data(), false);
    std::vector<std::vector<float>> batched;
    for (const auto& l : net->layers()) batched.push_back(l->output.to_vector());

    net->set_batch(1);
    rpg::Buffer<float> one(net->backend(), n);
    for (int b = 0; b < 5; ++b) {
      one.upload(x.data() + b * n, n);
      net->forward(one.data(), false);
      for (size_t i = 0; i < specs.size(); ++i) {
        const std::vector<float> single = net->layers()[i]->output.to_vector();
        const int64_t per = specs[i].out.size();
        const Tensor expected(batched[i].begin() + b * per, batched[i].begin() + (b + 1) * per);
        const double err = normwise_error(single.data(), expected.data(), per);
        BOOST_CHECK_MESSAGE(err <= kBatchTolerance, "layer " << i << " [" << specs[i].type
                                                             << "] image " << b << ": error "
                                                             << err << " > " << kBatchTolerance);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE(darknet, *boost::unit_test::precondition(have_darknet_cfgs))

BOOST_AUTO_TEST_CASE(cifar_small_weight_file_holds_59690_floats) {
  const std::string path = rpg_test::darknet_cfg_dir() + "/cifar_small.cfg";
  rpg::CfgFile cfg = rpg::load_cfg(path);
  rpg::apply_override(cfg, "net.batch=1");
  rpg::Network net(cfg, std::make_unique<rpg::CpuBackend>(1));
  BOOST_CHECK_EQUAL(weight_file_floats(net), 59690);
  Shape input_shape;
  BOOST_CHECK_EQUAL(sum_file_floats(walk_cfg(cfg, &input_shape)), 59690);
}

BOOST_AUTO_TEST_CASE(every_cfg_loads_and_trains_one_pass) {
  const std::vector<std::string> cfgs = darknet_cfgs();
  BOOST_REQUIRE(!cfgs.empty());
  for (const std::string& path : cfgs) {
    BOOST_TEST_CONTEXT(path) {
      try {
        check_darknet_cfg(path);
      } catch (const std::exception& e) {
        BOOST_ERROR(path << ": " << e.what());
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// Limits (issue 15): shapes checked in 64 bits at parse time, the memory estimate, and a failed
// set_batch that changes nothing.

namespace {

// A CPU backend whose allocation number `fail_at` (counted from 0 since arming) throws
// OutOfMemory, and whose available memory can be set: failures injected into one backend.
class FaultyBackend : public rpg::CpuBackend {
 public:
  FaultyBackend() : rpg::CpuBackend(1) {}
  int64_t fail_at = -1, allocations = 0, available = -1;
  void* alloc(size_t bytes) override {
    if (fail_at >= 0 && allocations++ == fail_at)
      rpg::fail(rpg::Status::OutOfMemory, "injected failure allocating " + std::to_string(bytes) + " bytes");
    return rpg::CpuBackend::alloc(bytes);
  }
  int64_t memory_available() override { return available >= 0 ? available : rpg::CpuBackend::memory_available(); }
};

// The error of building a network from cfg text, or "" when it builds.
std::string build_error(const std::string& text, rpg::Status* status = nullptr) {
  try {
    rpg_test::net_from_text(text);
  } catch (const rpg::Error& e) {
    if (status) *status = e.status();
    return e.what();
  }
  return "";
}

const char* kLimitNet =
    "[net]\nbatch=2\nwidth=6\nheight=6\nchannels=2\n"
    "[convolutional]\nfilters=4\nsize=3\npad=1\nbatch_normalize=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[route]\nlayers=-1,-1\n"
    "[connected]\noutput=3\nactivation=linear\n"
    "[softmax]\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(limits)

BOOST_AUTO_TEST_CASE(route_channels_cannot_wrap) {
  // 65,537 references to a 65,536-filter layer: 2^32 + 65,536 channels wrapped to 65,536 in int.
  std::string route = "[net]\nwidth=1\nheight=1\nchannels=1\n[convolutional]\nfilters=65536\nsize=1\nactivation=linear\n"
                      "[route]\nlayers=0";
  for (int i = 1; i < 65537; ++i) route += ",0";
  rpg::Status status = rpg::Status::Ok;
  const std::string e = build_error(route + "\n", &status);
  BOOST_TEST(e.find("<test>:10: route of 16385 inputs") != std::string::npos, e);
  BOOST_TEST(e.find("1073807360 channels exceed the limit of 1073741824") != std::string::npos, e);
  BOOST_TEST(int(status) == int(rpg::Status::ParseError));
}

BOOST_AUTO_TEST_CASE(upsample_chains_and_huge_layers_are_refused_at_their_line) {
  const std::string net = "[net]\nwidth=256\nheight=256\nchannels=1\n";
  std::string e = build_error(net + "[upsample]\nstride=64\n[upsample]\nstride=64\n");
  BOOST_TEST(e.find("<test>:7: [upsample] output from input 16384 x 16384 x 1: 1048576 rows exceed") != std::string::npos, e);
  e = build_error(net + "[upsample]\nstride=16\n[upsample]\nstride=16\n");  // 65536 x 65536: too many floats
  BOOST_TEST(e.find("floats per image exceed the limit of 2147483647") != std::string::npos, e);
  e = build_error("[net]\nwidth=65536\nheight=65536\nchannels=3\n[avgpool]\n");
  BOOST_TEST(e.find("<test>:1: [net] input 65536 x 65536 x 3") != std::string::npos, e);
  // 2^20 filters of 2^16 x 1024 x 1024 weights: the count overflows even int64 when multiplied naively.
  e = build_error("[net]\nwidth=1024\nheight=1024\nchannels=65536\n[convolutional]\nfilters=1048576\nsize=1024\n");
  BOOST_TEST(e.find("exceed the limit") != std::string::npos, e);
  e = build_error("[net]\ninputs=1073741824\n[connected]\noutput=4\n");
  BOOST_TEST(e.find("<test>:4: 4 outputs of 1073741824 inputs exceed the limit of 2147483647 weights") != std::string::npos, e);
}

BOOST_AUTO_TEST_CASE(parameters_beyond_the_memory_available_are_refused_before_allocation) {
  auto be = std::make_unique<FaultyBackend>();
  be->available = 1 << 20;  // 1 MiB
  try {
    rpg::Network net(rpg::parse_cfg("[net]\ninputs=65536\n[connected]\noutput=16\n", "<test>"), std::move(be));
    BOOST_FAIL("a network of 8 MiB of parameters was built with 1 MiB available");
  } catch (const rpg::Error& e) {
    BOOST_TEST(int(e.status()) == int(rpg::Status::OutOfMemory));
    BOOST_TEST(std::string(e.what()).find("<test>:3: [connected] layer 0 needs 8.00 MiB") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(a_batch_beyond_the_memory_available_names_the_biggest_layer) {
  auto owned = std::make_unique<FaultyBackend>();
  FaultyBackend& be = *owned;
  rpg::Network net(rpg::parse_cfg(kLimitNet, "<test>"), std::move(owned));
  const rpg::MemoryEstimate m = net.memory_estimate(1000);
  BOOST_TEST(m.biggest_layer == 0);  // the convolution: output, batch-norm x_hat, pre-activation
  BOOST_TEST(m.activations > 1000 * 4 * 3 * 144);
  be.available = m.batch_bytes() - 1;
  try {
    net.set_batch(1000);
    BOOST_FAIL("set_batch(1000) ignored the memory estimate");
  } catch (const rpg::Error& e) {
    BOOST_TEST(int(e.status()) == int(rpg::Status::OutOfMemory));
    BOOST_TEST(std::string(e.what()).find("the biggest layer is 0 [convolutional]") != std::string::npos, e.what());
  }
  BOOST_TEST(net.batch() == 2);
  be.available = m.batch_bytes();
  net.set_batch(1000);
  BOOST_TEST(net.batch() == 1000);
}

// Every allocation of set_batch fails in turn: each failure leaves the network exactly as it was
// (same batch, same loss and gradients on the same data). Before the fix, buffers were freed
// before their replacements were allocated, and the next pass wrote through null pointers.
BOOST_AUTO_TEST_CASE(a_failed_set_batch_changes_nothing) {
  auto reference = rpg_test::net_from_text(kLimitNet);
  const std::vector<float> x = rpg_test::random_vector(size_t(2 * reference->input_size()), 7);
  std::vector<float> truth(size_t(2 * reference->output_size()), 0.f);
  truth[0] = truth[size_t(reference->output_size()) + 1] = 1.f;
  const double expected = reference->train_pass(x.data(), truth.data());
  int failures = 0;
  for (int64_t k = 0;; ++k) {
    auto owned = std::make_unique<FaultyBackend>();
    FaultyBackend& be = *owned;
    rpg::Network net(rpg::parse_cfg(kLimitNet, "<test>"), std::move(owned));
    be.fail_at = k;
    be.allocations = 0;
    try {
      net.set_batch(7);
      BOOST_TEST(be.allocations <= k, "allocation " << k << " was reached but did not fail");
      break;  // every allocation of set_batch has been failed once
    } catch (const rpg::Error& e) {
      ++failures;
      BOOST_TEST(int(e.status()) == int(rpg::Status::OutOfMemory));
      BOOST_TEST(std::string(e.what()).find("<test>: ") == 0, e.what());
    }
    be.fail_at = -1;
    BOOST_TEST(net.batch() == 2);
    const double loss = net.train_pass(x.data(), truth.data());
    BOOST_TEST(loss == expected, "after failing allocation " << k << ": loss " << loss << " instead of " << expected);
    net.set_batch(7);  // and the network still resizes
    BOOST_TEST(net.batch() == 7);
  }
  BOOST_TEST(failures >= 10, "set_batch made only " << failures << " allocations");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(limits_info)

// A network built for its summary (rpgnet info) has no per-batch buffers: its estimate is there,
// and a pass is refused instead of writing into buffers that do not exist.
BOOST_AUTO_TEST_CASE(a_network_without_batch_buffers_refuses_passes) {
  const rpg::Network net(rpg::parse_cfg("[net]\nbatch=64\ninputs=1073741824\n[dropout]\n", "<test>"),
                         std::make_unique<rpg::CpuBackend>(1), rpg::NetworkOptions{false});
  BOOST_TEST(net.batch() == 0);
  BOOST_TEST(net.memory_estimate(64).activations >= int64_t(64) * 4 * (int64_t(1) << 30));
  rpg::Network small(rpg::parse_cfg(kLimitNet, "<test>"), std::make_unique<rpg::CpuBackend>(1),
                     rpg::NetworkOptions{false});
  std::vector<float> x(size_t(2 * small.input_size()), 0.f);
  try {
    small.predict(x.data());
    BOOST_FAIL("predict ran without buffers");
  } catch (const rpg::Error& e) {
    BOOST_TEST(std::string(e.what()).find("call set_batch first") != std::string::npos, e.what());
  }
  small.set_batch(2);
  BOOST_TEST(small.predict(x.data()).size() == size_t(2 * small.output_size()));
}

BOOST_AUTO_TEST_SUITE_END()
