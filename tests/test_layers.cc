// Finite-difference gradient checks for every layer type: parameter gradients and the input
// gradient, with and without batch norm, training and inference mode, several activations,
// strides, paddings and groups. Each network ends in a loss, so the check is on d loss / d x.
#define BOOST_TEST_MODULE layers
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdio>

#include "backend/cpu_backend.h"
#include "backend/winograd.h"
#include "gradcheck.h"
#include "testing.h"

using rpg::Buffer;
using rpg::Network;

namespace {

struct Check {
  std::unique_ptr<Network> net;
  Buffer<float> input, truth, input_grad;
  bool train = true;
  uint64_t pass = 7;

  Check(const std::string& cfg, bool train_mode, bool one_hot_truth) : train(train_mode) {
    net = rpg_test::net_from_text(cfg);
    rpg::Backend& be = net->backend();
    const int64_t in_n = int64_t(net->batch()) * net->input_size();
    const int64_t out_n = int64_t(net->batch()) * net->output_size();
    input.resize(be, in_n);
    input.upload(rpg_test::random_vector(size_t(in_n), 11, -1.f, 1.f));
    std::vector<float> t = rpg_test::random_vector(size_t(out_n), 12, -1.f, 1.f);
    if (one_hot_truth) {  // one class per row (per softmax group of the whole row)
      const int64_t per = net->output_size();
      for (int64_t b = 0; b < net->batch(); ++b)
        for (int64_t i = 0; i < per; ++i) t[size_t(b * per + i)] = (i == (b * 3) % per) ? 1.f : 0.f;
    }
    truth.resize(be, out_n);
    truth.upload(t);
    input_grad.resize(be, in_n);
  }

  double loss() {
    net->set_passes(pass - 1);  // same dropout masks and crops for every evaluation
    return net->forward(input.data(), train, truth.data());
  }

  void analytic() {
    net->clear_gradients();
    net->backend().fill(input_grad.data(), input_grad.size(), 0.f);
    loss();
    net->backward(input.data(), input_grad.data());
  }

  void compare(const std::string& what, Buffer<float>& buf, const std::vector<float>& grad, int samples = 12) {
    rpg_test::compare_gradient(what, buf, grad, [this] { return loss(); }, samples);
  }

  void run(const std::string& name) {
    analytic();
    std::vector<float> in_grad = input_grad.to_vector();
    // Snapshot every analytic gradient before the finite differences disturb anything.
    struct Item {
      std::string name;
      Buffer<float>* value;
      std::vector<float> grad;
    };
    std::vector<Item> items;
    for (const auto& l : net->layers()) {
      int k = 0;
      for (rpg::Param& p : l->params())
        items.push_back({name + ": layer " + std::to_string(l->index) + " " + l->type + " param " +
                             std::to_string(k++),
                         p.value, p.grad->to_vector()});
    }
    double grad_norm = 0;
    for (float g : in_grad) grad_norm += double(g) * g;
    BOOST_TEST(grad_norm > 0, name << ": the input gradient is identically zero");
    compare(name + ": input", input, in_grad, 16);
    for (auto& it : items) compare(it.name, *it.value, it.grad);
  }
};

std::string net_header(int batch, int c, int h, int w) {
  char b[200];
  std::snprintf(b, sizeof b, "[net]\nbatch=%d\nwidth=%d\nheight=%d\nchannels=%d\n", batch, w, h, c);
  return b;
}

const char* kSseTail = "[connected]\noutput=4\nactivation=linear\n[cost]\ntype=sse\n";

}  // namespace

BOOST_AUTO_TEST_CASE(convolutional_variants) {
  struct Case {
    const char* name;
    const char* body;
  } cases[] = {
      {"3x3 s1 pad leaky", "filters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"},
      {"3x3 s2 pad groups=2 bn mish", "filters=4\nsize=3\nstride=2\npad=1\ngroups=2\nbatch_normalize=1\nactivation=mish\n"},
      {"1x1 direct bn swish", "filters=5\nsize=1\nstride=1\npad=0\nbatch_normalize=1\nactivation=swish\n"},
      {"5x5 s2 padding=1 tanh", "filters=3\nsize=5\nstride=2\npadding=1\nactivation=tanh\n"},
      {"3x3 depthwise bn logistic", "filters=4\nsize=3\nstride=1\npad=1\ngroups=4\nbatch_normalize=1\nactivation=logistic\n"},
      {"2x2 s2 elu", "filters=3\nsize=2\nstride=2\nactivation=elu\n"},
      {"1x1 s2 linear (strided 1x1)", "filters=3\nsize=1\nstride=2\nactivation=linear\n"},
  };
  for (const auto& c : cases) {
    std::string cfg = net_header(3, 4, 7, 6) + "[convolutional]\n" + c.body + kSseTail;
    Check(cfg, true, false).run(std::string("conv ") + c.name);
  }
}

BOOST_AUTO_TEST_CASE(convolutional_batchnorm_inference_mode) {
  std::string cfg = net_header(2, 3, 6, 6) +
                    "[convolutional]\nfilters=4\nsize=3\npad=1\nbatch_normalize=1\nactivation=leaky\n" + kSseTail;
  Check warm(cfg, true, false);
  Check c(cfg, false, false);
  // Give the running statistics non-trivial values through a few training passes first.
  for (int i = 0; i < 3; ++i) c.net->forward(c.input.data(), true, c.truth.data());
  c.run("conv bn inference");
}

BOOST_AUTO_TEST_CASE(connected_variants) {
  const char* bodies[] = {"output=6\nactivation=linear\n", "output=6\nbatch_normalize=1\nactivation=selu\n",
                          "output=5\nactivation=loggy\n", "output=5\nbatch_normalize=1\nactivation=relie\n"};
  for (const char* b : bodies) {
    std::string cfg = net_header(4, 2, 3, 3) + "[connected]\n" + b + kSseTail;
    Check(cfg, true, false).run(std::string("connected ") + b);
  }
}

BOOST_AUTO_TEST_CASE(every_activation) {
  int n;
  const char* const* names = rpg::act_names(&n);
  for (int i = 0; i < n; ++i) {
    std::string cfg = net_header(2, 2, 3, 3) + "[connected]\noutput=7\nactivation=" + names[i] + "\n" + kSseTail;
    Check c(cfg, true, false);
    // Spread pre-activations over several units so that plse, stair, lhtan... use all pieces.
    std::vector<float> in = rpg_test::random_vector(size_t(c.input.size()), 21, -3.f, 3.f);
    c.input.upload(in);
    c.run(std::string("activation ") + names[i]);
  }
}

BOOST_AUTO_TEST_CASE(pooling) {
  const char* bodies[] = {"[maxpool]\nsize=2\nstride=2\n", "[maxpool]\nsize=3\nstride=1\n",
                          "[maxpool]\nsize=3\nstride=2\npadding=1\n", "[avgpool]\n"};
  for (const char* b : bodies) {
    std::string cfg = net_header(2, 3, 7, 7) + "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n" +
                      b + kSseTail;
    Check(cfg, true, false).run(b);
  }
}

BOOST_AUTO_TEST_CASE(dropout_training_mask) {
  std::string cfg = net_header(3, 2, 4, 4) + "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n" +
                    "[dropout]\nprobability=0.3\n" + kSseTail;
  Check(cfg, true, false).run("dropout");
}

BOOST_AUTO_TEST_CASE(softmax_cross_entropy_and_jacobian) {
  Check(net_header(3, 2, 3, 3) + "[connected]\noutput=6\nactivation=linear\n[softmax]\n", true, true)
      .run("softmax loss");
  Check(net_header(3, 2, 3, 3) + "[connected]\noutput=6\nactivation=linear\n[softmax]\ngroups=2\ntemperature=2\n",
        true, true)
      .run("softmax groups=2 temperature=2 loss");
  // Softmax inside the network: its backward is the Jacobian-vector product.
  Check(net_header(3, 2, 3, 3) + "[connected]\noutput=6\nactivation=linear\n[softmax]\ntemperature=0.5\n" +
            "[cost]\ntype=sse\n",
        true, false)
      .run("softmax then sse");
}

BOOST_AUTO_TEST_CASE(cost_types) {
  for (const char* t : {"sse", "smooth", "L1", "masked"}) {
    std::string cfg = net_header(3, 2, 3, 3) + "[connected]\noutput=5\nactivation=linear\n[cost]\ntype=" + t +
                      "\nscale=0.7\n";
    Check c(cfg, true, false);
    if (std::string(t) == "smooth") {  // truth far enough that both Huber pieces are used
      std::vector<float> tr = rpg_test::random_vector(size_t(c.truth.size()), 5, -3.f, 3.f);
      c.truth.upload(tr);
    }
    if (std::string(t) == "masked") {  // every third target is masked out
      std::vector<float> tr = c.truth.to_vector();
      for (size_t i = 0; i < tr.size(); i += 3) tr[i] = -1234.f;
      c.truth.upload(tr);
    }
    c.run(std::string("cost ") + t);
  }
}

BOOST_AUTO_TEST_CASE(shortcut_same_and_different_shapes) {
  std::string same = net_header(2, 3, 5, 5) + "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n" +
                     "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n" +
                     "[shortcut]\nfrom=-2\nactivation=leaky\n" + kSseTail;
  Check(same, true, false).run("shortcut same shape");
  // Darknet's differing-shape shortcut: from a 6x6x4 layer onto a 3x3x2 one, alpha/beta scaled.
  std::string diff = net_header(2, 3, 6, 6) + "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=linear\n" +
                     "[convolutional]\nfilters=2\nsize=3\nstride=2\npad=1\nactivation=linear\n" +
                     "[shortcut]\nfrom=-2\nalpha=0.5\nbeta=2\nactivation=swish\n" + kSseTail;
  Check(diff, true, false).run("shortcut different shapes");
  // And the other way: a smaller source added onto a larger grid.
  std::string up = net_header(2, 3, 6, 6) + "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=linear\n" +
                   "[upsample]\nstride=2\n[convolutional]\nfilters=5\nsize=1\nactivation=linear\n" +
                   "[shortcut]\nfrom=0\nactivation=linear\n" + kSseTail;
  Check(up, true, false).run("shortcut smaller source");
}

BOOST_AUTO_TEST_CASE(route_upsample_crop) {
  std::string route = net_header(2, 3, 5, 5) + "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n" +
                      "[convolutional]\nfilters=2\nsize=1\nactivation=tanh\n" + "[route]\nlayers=-1,-2\n" +
                      "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n" + kSseTail;
  Check(route, true, false).run("route");
  std::string ups = net_header(2, 2, 3, 3) + "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n" +
                    "[upsample]\nstride=2\nscale=0.5\n" + kSseTail;
  Check(ups, true, false).run("upsample");
  std::string crop = net_header(2, 2, 6, 6) + "[crop]\ncrop_height=4\ncrop_width=3\nflip=1\n" +
                     "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n" + kSseTail;
  Check(crop, true, false).run("crop training (random window, flip)");
  Check(crop, false, false).run("crop inference (centre)");
}

BOOST_AUTO_TEST_CASE(learning_rate_multiplier_and_stopbackward) {
  // stopbackward: layers at and below it get no gradient, as in Darknet.
  std::string cfg = net_header(2, 2, 4, 4) + "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n" +
                    "stopbackward=1\n" + kSseTail;
  Check c(cfg, true, false);
  c.analytic();
  std::vector<float> g = c.net->layers()[0]->params()[0].grad->to_vector();
  for (float v : g) BOOST_TEST(v == 0.f);
  std::vector<float> g1 = c.net->layers()[1]->params()[0].grad->to_vector();
  double s = 0;
  for (float v : g1) s += std::fabs(v);
  BOOST_TEST(s > 0);
}

// The CPU backend's one-pass batch norm + activation (bn_apply) against the three separate
// operations of the default Backend::bn_apply: bit for bit, for every activation, with 1 and 2
// threads.
BOOST_AUTO_TEST_CASE(fused_batchnorm_activation_is_bit_identical) {
  const int batch = 3, channels = 5;
  const int64_t spatial = 37, n = int64_t(batch) * channels * spatial;
  const std::vector<float> x0 = rpg_test::random_vector(size_t(n), 5, -4.f, 4.f);
  const std::vector<float> mean = rpg_test::random_vector(channels, 6, -1.f, 1.f);
  const std::vector<float> var = rpg_test::random_vector(channels, 7, 0.1f, 2.f);
  const std::vector<float> gamma = rpg_test::random_vector(channels, 8, -2.f, 2.f);
  const std::vector<float> beta = rpg_test::random_vector(channels, 9, -1.f, 1.f);
  int count;
  const char* const* names = rpg::act_names(&count);
  for (int threads : {1, 2}) {
    rpg::CpuBackend be(threads);
    for (int a = 0; a < count; ++a) {
      const rpg::Act act = rpg::Act(a);
      std::vector<float> fused = x0, split = x0;
      std::vector<float> hat_fused(static_cast<size_t>(n)), hat_split(static_cast<size_t>(n));
      be.bn_apply(fused.data(), mean.data(), var.data(), gamma.data(), beta.data(), batch, channels, spatial, 1e-5f,
                  hat_fused.data(), act);
      be.rpg::Backend::bn_apply(split.data(), mean.data(), var.data(), gamma.data(), beta.data(), batch, channels,
                                spatial, 1e-5f, hat_split.data(), act);
      BOOST_TEST((fused == split), names[a] << " on " << threads << " threads: outputs differ");
      BOOST_TEST((hat_fused == hat_split), names[a] << " on " << threads << " threads: x_hat differs");
    }
  }
}

// Winograd F(2x2, 3x3) (backend/winograd.h) serves the CPU backend's 3x3 stride-1 convolutions
// with at least 8 channels and filters: forward, the weight gradient and the backward data pass
// (both accumulated onto what the buffers held), against a direct
// convolution in double precision, over odd and even sizes (partial edge tiles), pads 0-2,
// chunks of several images and partial chunks; the same bits on 1 and 2 threads. The gradient
// checks below run whole layers through it.
BOOST_AUTO_TEST_CASE(winograd_matches_direct_convolution) {
  struct Case { int c, h, w, pad, filters, batch; };
  const Case cases[] = {{8, 5, 5, 1, 8, 1},  {8, 6, 7, 0, 9, 3},      {9, 7, 6, 2, 8, 2},
                        {16, 12, 12, 1, 24, 9}, {8, 28, 28, 1, 8, 2}, {12, 3, 4, 1, 10, 40}};
  for (const Case& cs : cases) {
    const int oh = cs.h + 2 * cs.pad - 2, ow = cs.w + 2 * cs.pad - 2;
    const rpg::ConvGeometry g{cs.c, cs.h, cs.w, 3, 1, cs.pad, oh, ow};
    BOOST_TEST_REQUIRE(rpg::winograd::applies(g, 1, cs.filters));
    const size_t in_n = size_t(cs.batch) * cs.c * cs.h * cs.w, out_n = size_t(cs.batch) * cs.filters * oh * ow;
    const std::vector<float> x = rpg_test::random_vector(in_n, 31), w = rpg_test::random_vector(size_t(cs.filters) * cs.c * 9, 32);
    const std::vector<float> d = rpg_test::random_vector(out_n, 33), din0 = rpg_test::random_vector(in_n, 34);
    const std::vector<float> dw0 = rpg_test::random_vector(w.size(), 35);
    // The direct convolution and its adjoints, in double.
    std::vector<double> ref_out(out_n, 0.0), ref_din(in_n, 0.0), ref_dw(w.size(), 0.0);
    for (int b = 0; b < cs.batch; ++b)
      for (int f = 0; f < cs.filters; ++f)
        for (int c = 0; c < cs.c; ++c)
          for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox)
              for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) {
                  const int iy = oy - cs.pad + i, ix = ox - cs.pad + j;
                  if (iy < 0 || iy >= cs.h || ix < 0 || ix >= cs.w) continue;
                  const size_t xi = ((size_t(b) * cs.c + c) * cs.h + iy) * cs.w + ix;
                  const size_t oi = ((size_t(b) * cs.filters + f) * oh + oy) * ow + ox;
                  const size_t wi = (size_t(f) * cs.c + c) * 9 + size_t(i * 3 + j);
                  ref_out[oi] += double(w[wi]) * x[xi];
                  ref_din[xi] += double(w[wi]) * d[oi];
                  ref_dw[wi] += double(d[oi]) * x[xi];
                }
    auto worst = [](const std::vector<float>& got, const std::vector<double>& ref, const std::vector<float>* base) {
      double num = 0, den = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        const double r = ref[i] + (base ? (*base)[i] : 0.0);
        num += (got[i] - r) * (got[i] - r);
        den += r * r;
      }
      return std::sqrt(num / den);
    };
    std::vector<std::vector<float>> outs, dins, dws;
    for (int threads : {1, 2}) {
      rpg::CpuBackend be(threads);
      Buffer<float> bx(be, int64_t(in_n)), bw(be, int64_t(w.size())), bo(be, int64_t(out_n)), bd(be, int64_t(out_n));
      Buffer<float> bdin(be, int64_t(in_n)), bdw(be, int64_t(w.size()));
      bx.upload(x);
      bw.upload(w);
      bd.upload(d);
      bdin.upload(din0);
      bdw.upload(dw0);
      be.conv_forward(g, cs.batch, 1, cs.filters, bx.data(), bw.data(), bo.data());
      be.conv_backward(g, cs.batch, 1, cs.filters, bx.data(), bw.data(), bd.data(), bdw.data(), bdin.data());
      outs.push_back(bo.to_vector());
      dins.push_back(bdin.to_vector());
      dws.push_back(bdw.to_vector());
      BOOST_TEST_CONTEXT("c=" << cs.c << " " << cs.h << "x" << cs.w << " pad=" << cs.pad << " filters=" << cs.filters
                               << " batch=" << cs.batch << " threads=" << threads) {
        BOOST_TEST(worst(outs.back(), ref_out, nullptr) <= 1e-6);
        BOOST_TEST(worst(dins.back(), ref_din, &din0) <= 1e-6);  // accumulated onto din0
        BOOST_TEST(worst(dws.back(), ref_dw, &dw0) <= 1e-6);
      }
    }
    BOOST_TEST(dws[0] == dws[1], "weight gradient: 1 and 2 threads differ");
    BOOST_TEST(outs[0] == outs[1], "forward: 1 and 2 threads differ");
    BOOST_TEST(dins[0] == dins[1], "input delta: 1 and 2 threads differ");
  }
}

// Two Winograd convolutions in a row (linear: the finite differences of a piecewise activation
// at 2 x 8 x 30 positions would always straddle a kink).
BOOST_AUTO_TEST_CASE(winograd_convolution_gradients) {
  for (int padding : {0, 1, 2}) {
    std::string net = net_header(2, 8, 6, 5) + "[convolutional]\nfilters=9\nsize=3\nstride=1\npadding=" +
                      std::to_string(padding) + "\nactivation=linear\n" +
                      "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=linear\n" + kSseTail;
    Check(net, true, false).run("winograd padding " + std::to_string(padding));
  }
}
