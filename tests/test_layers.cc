// Gradient checks for every layer type: the library's gradients (float) of the loss with respect
// to the input and to every parameter, against central differences in double precision of the
// test's own double-precision twin of the network (reference.h), entry by entry, within 1e-4
// relative. Batches of 1, 9 and 33 cross the CPU backend's chunks of 8 images and its thread
// splits; each case runs on 1 and 2 threads. With and without batch norm, training and inference
// mode, every activation, strides, paddings and groups. Then backend-level checks: the
// convolutions (im2col and Winograd) against a direct convolution in double.
#define BOOST_TEST_MODULE layers
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdio>
#include <array>
#include <functional>
#include <utility>

#include "backend/cpu_backend.h"
#include "backend/winograd.h"
#include "reference.h"
#include "testing.h"

using rpg::Buffer;
using rpg::Network;
using rpg_ref::LayerSpec;
using rpg_ref::RefParams;
using rpg_ref::Tensor;

namespace {

constexpr double kGradTolerance = 1e-4;  // relative, per entry
// Entries far below the tensor's largest gradient are compared relative to 1e-2 of it: float
// sums of many terms cancel there (an absolute error of 1e-6 of the largest entry is allowed).
constexpr double kGradFloor = 1e-2;
constexpr double kStep = 1e-5;  // central-difference step in double

struct GradCase {
  GradCase(std::string n, std::string c) : name(std::move(n)), cfg(std::move(c)) {}
  std::string name, cfg;
  bool train = true;
  bool one_hot_truth = false;                          // softmax cross-entropy
  float input_range = 1.f;                             // inputs uniform in [-range, range)
  std::function<void(std::vector<float>&)> truth_fix;  // edits the random truth
};

// One tensor whose gradient is checked: the library's gradient and a way to evaluate the
// reference loss with entry i moved by delta.
struct Entry {
  std::string what;
  std::vector<float> analytic;
  std::vector<int64_t> indices;  // entries to check
  std::function<double(int64_t i, double delta)> loss;
};

std::string net_header(int batch, int c, int h, int w) {
  char b[200];
  std::snprintf(b, sizeof b, "[net]\nbatch=%d\nwidth=%d\nheight=%d\nchannels=%d\n", batch, w, h, c);
  return b;
}

const char* kSseTail = "[connected]\noutput=4\nactivation=linear\n[cost]\ntype=sse\n";

// The library's gradients at one point: the input's and, per layer, its parameters' in the
// order weights, biases, scales (empty when the layer has none).
struct LibraryGradients {
  std::vector<float> input;
  std::vector<std::array<std::vector<float>, 3>> layers;
};

LibraryGradients library_gradients(Network& net, const std::vector<LayerSpec>& specs, const std::vector<float>& x,
                                   const std::vector<float>& truth, bool train, uint64_t pass) {
  rpg::Backend& be = net.backend();
  Buffer<float> input(be, int64_t(x.size())), t(be, int64_t(truth.size())), dx(be, int64_t(x.size()));
  input.upload(x);
  t.upload(truth);
  be.fill(dx.data(), dx.size(), 0.f);
  net.clear_gradients();
  net.set_passes(pass);
  net.forward(input.data(), train, t.data());
  net.backward(input.data(), dx.data());
  LibraryGradients g;
  g.input = dx.to_vector();
  for (size_t i = 0; i < specs.size(); ++i) {
    g.layers.emplace_back();
    const rpg_ref::ParamBuffers p = rpg_ref::param_buffers(*net.layers()[i], specs[i]);
    for (const rpg::Param& q : net.layers()[i]->params()) {
      const int k = q.value == p.weights ? 0 : q.value == p.biases ? 1 : q.value == p.scales ? 2 : -1;
      BOOST_REQUIRE_MESSAGE(k >= 0, "layer " << i << ": a parameter the reference does not know");
      g.layers.back()[size_t(k)] = q.grad->to_vector();
    }
  }
  return g;
}

// Copies every parameter and batch-norm statistic of `from` into `to` (same cfg).
void copy_parameters(Network& from, Network& to) {
  for (size_t i = 0; i < from.layers().size(); ++i) {
    const auto a = from.layers()[i]->weight_file_order(), b = to.layers()[i]->weight_file_order();
    for (size_t k = 0; k < a.size(); ++k) b[k]->upload(a[k]->to_vector());
  }
}

// d loss / d entry by central differences of the reference in double; where the one-sided
// differences disagree (a kink of relu, maxpool, L1... within the step), any of the three
// estimates may be the library's one-sided derivative.
void compare_entries(const Entry& e, int threads_compared, const std::vector<const std::vector<float>*>& analytic) {
  const double f0 = e.loss(0, 0.0);
  std::vector<std::array<double, 3>> num;
  double scale = 0;
  for (int64_t i : e.indices) {
    const double fp = e.loss(i, kStep), fm = e.loss(i, -kStep);
    num.push_back({(fp - fm) / (2 * kStep), (fp - f0) / kStep, (f0 - fm) / kStep});
    scale = std::max(scale, std::fabs(num.back()[0]));
  }
  if (scale == 0) {  // batch norm over a batch of one value, say: the library's must be 0 too
    for (size_t t = 0; t < analytic.size(); ++t)
      for (int64_t i : e.indices)
        BOOST_TEST(std::fabs((*analytic[t])[size_t(i)]) <= 1e-6, e.what << " [" << i << "]: the reference is 0");
    return;
  }
  for (size_t t = 0; t < analytic.size(); ++t) {
    double worst = 0;
    int bad = 0;
    for (size_t k = 0; k < e.indices.size(); ++k) {
      const double a = (*analytic[t])[size_t(e.indices[k])];
      const double floor = std::max(std::fabs(num[k][0]), kGradFloor * scale);
      const bool kink = std::fabs(num[k][1] - num[k][2]) > kGradTolerance * floor;
      double err = std::fabs(a - num[k][0]) / floor;
      if (kink) err = std::min({err, std::fabs(a - num[k][1]) / floor, std::fabs(a - num[k][2]) / floor});
      worst = std::max(worst, err);
      if (err > kGradTolerance && ++bad <= 5)
        BOOST_ERROR(e.what << " [" << e.indices[k] << "] on " << (t + 1) * threads_compared / analytic.size()
                           << " thread(s): library " << a << ", reference " << num[k][0] << " (relative error "
                           << err << ")");
    }
    if (bad > 5) BOOST_ERROR(e.what << ": " << bad << " entries out of tolerance in all");
    BOOST_TEST_MESSAGE(e.what << ": " << e.indices.size() << " entries, worst relative error " << worst);
  }
}

// Every entry of every parameter; the input's every entry up to batch 9, and at batch 33 every
// entry of the images at the chunk edges (0, 7, 8, 15, 16, 31, 32).
std::vector<int64_t> input_indices(int batch, int64_t per_image) {
  std::vector<int64_t> out;
  for (int b = 0; b < batch; ++b) {
    if (batch > 9 && b != 0 && b != 7 && b != 8 && b != 15 && b != 16 && b != 31 && b != 32) continue;
    for (int64_t i = 0; i < per_image; ++i) out.push_back(b * per_image + i);
  }
  return out;
}

std::vector<int64_t> all_indices(size_t n) {
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = int64_t(i);
  return out;
}

void check_gradients(const GradCase& c, std::initializer_list<int> batches = {1, 9, 33}) {
  for (int batch : batches) {
    BOOST_TEST_CONTEXT(c.name << ", batch " << batch) {
      rpg::Shape input_shape;
      const std::vector<LayerSpec> specs = rpg_ref::walk_cfg(rpg::parse_cfg(c.cfg, c.name), &input_shape);
      std::unique_ptr<Network> nets[2] = {rpg_test::net_from_text(c.cfg, 1, c.name), rpg_test::net_from_text(c.cfg, 2, c.name)};
      for (auto& n : nets) n->set_batch(batch);
      rpg_ref::randomize_parameters(*nets[0], specs, 40 + uint64_t(batch));
      copy_parameters(*nets[0], *nets[1]);
      const int64_t per_image = nets[0]->input_size(), per_out = nets[0]->output_size();
      const std::vector<float> x = rpg_test::random_vector(size_t(batch * per_image), 11, -c.input_range, c.input_range);
      std::vector<float> truth = rpg_test::random_vector(size_t(batch * per_out), 12, -1.f, 1.f);
      if (c.one_hot_truth)
        for (int64_t b = 0; b < batch; ++b)
          for (int64_t i = 0; i < per_out; ++i) truth[size_t(b * per_out + i)] = (i == (b * 3) % per_out) ? 1.f : 0.f;
      if (c.truth_fix) c.truth_fix(truth);
      const uint64_t pass = 6;  // the same dropout masks and crops on both networks
      const LibraryGradients lib[2] = {library_gradients(*nets[0], specs, x, truth, c.train, pass),
                                       library_gradients(*nets[1], specs, x, truth, c.train, pass)};
      // The reference around the same point, with the random choices the library made.
      rpg_ref::Random random;
      random.observe(*nets[0], specs, x);
      std::vector<RefParams> params = rpg_ref::read_params(*nets[0], specs);
      Tensor input = rpg_ref::to_tensor(x);
      std::vector<Tensor> base;
      rpg_ref::forward_from(specs, params, input, batch, c.train, &random, 0, &base);
      // The loss with one value moved; layers before `layer` keep their base outputs.
      auto moved = [&](double* value, size_t layer, double delta) {
        const double keep = *value;
        *value += delta;
        std::vector<Tensor> outs = base;
        rpg_ref::forward_from(specs, params, input, batch, c.train, &random, layer, &outs);
        *value = keep;
        return rpg_ref::loss(specs, outs, truth);
      };
      std::vector<Entry> entries;
      entries.push_back({"input", {}, input_indices(batch, per_image),
                         [&](int64_t i, double d) { return moved(&input[size_t(i)], 0, d); }});
      std::vector<std::vector<const std::vector<float>*>> analytic = {{&lib[0].input, &lib[1].input}};
      for (size_t l = 0; l < specs.size(); ++l) {
        Tensor* tensors[3] = {&params[l].weights, &params[l].biases, &params[l].scales};
        const char* names[3] = {"weights", "biases", "scales"};
        for (size_t k = 0; k < 3; ++k) {
          if (tensors[k]->empty()) continue;
          BOOST_REQUIRE_EQUAL(lib[0].layers[l][k].size(), tensors[k]->size());
          Tensor* t = tensors[k];
          entries.push_back({"layer " + std::to_string(l) + " [" + specs[l].type + "] " + names[k], {},
                             all_indices(t->size()),
                             [&moved, t, l](int64_t i, double d) { return moved(&(*t)[size_t(i)], l, d); }});
          analytic.push_back({&lib[0].layers[l][k], &lib[1].layers[l][k]});
        }
      }
      for (size_t e = 0; e < entries.size(); ++e) compare_entries(entries[e], 2, analytic[e]);
    }
  }
}

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
  for (const auto& c : cases)
    check_gradients({std::string("conv ") + c.name, net_header(1, 4, 5, 4) + "[convolutional]\n" + c.body + kSseTail});
}

// Training in the kernels' layouts (the training plan of Network::set_batch): activations and
// deltas stay in oneDNN's layouts between convolutions, batch norm, the bias, shortcuts, a
// one-source route and global average pooling. The same checks, on 16 channels, which those
// layouts take.
BOOST_AUTO_TEST_CASE(training_in_the_kernels_layouts) {
  const std::string cfg = net_header(1, 3, 4, 4) +
                          "[convolutional]\nfilters=16\nsize=3\npad=1\nbatch_normalize=1\nactivation=relu\n"
                          "[convolutional]\nfilters=16\nsize=3\npad=1\nactivation=linear\n"
                          "[shortcut]\nfrom=-2\nactivation=leaky\n"
                          "[route]\nlayers=-1\n"
                          "[convolutional]\nfilters=16\nsize=1\nbatch_normalize=1\nactivation=leaky\n"
                          "[avgpool]\n" +
                          kSseTail;
  for (int threads : {1, 2}) {
    auto net = rpg_test::net_from_text(cfg, threads);
    for (int batch : {1, 9}) {
      net->set_batch(batch);
      int kept = 0;
      for (const auto& l : net->layers()) kept += l->train_layout != 0;
      BOOST_TEST(kept >= 5, kept << " layers keep a layout other than NCHW in training, batch " << batch);
    }
  }
  check_gradients({"training in the kernels' layouts", cfg}, {1, 9});
}

BOOST_AUTO_TEST_CASE(convolutional_batchnorm_inference_mode) {
  GradCase c{"conv bn inference", net_header(1, 3, 5, 5) +
                                      "[convolutional]\nfilters=4\nsize=3\npad=1\nbatch_normalize=1\nactivation=leaky\n" +
                                      kSseTail};
  c.train = false;
  check_gradients(c);
}

BOOST_AUTO_TEST_CASE(connected_variants) {
  const char* bodies[] = {"output=6\nactivation=linear\n", "output=6\nbatch_normalize=1\nactivation=selu\n",
                          "output=5\nactivation=loggy\n", "output=5\nbatch_normalize=1\nactivation=relie\n"};
  for (const char* b : bodies)
    check_gradients({std::string("connected ") + b, net_header(1, 2, 3, 3) + "[connected]\n" + b + kSseTail});
}

BOOST_AUTO_TEST_CASE(every_activation) {
  int n;
  const char* const* names = rpg::act_names(&n);
  for (int i = 0; i < n; ++i) {
    // Pre-activations spread over several units so that plse, stair, lhtan... use all pieces.
    GradCase c{std::string("activation ") + names[i],
               net_header(1, 2, 3, 3) + "[connected]\noutput=7\nactivation=" + names[i] + "\n" + kSseTail};
    c.input_range = 3.f;
    check_gradients(c, {1, 9});
  }
}

BOOST_AUTO_TEST_CASE(pooling) {
  const char* bodies[] = {"[maxpool]\nsize=2\nstride=2\n", "[maxpool]\nsize=3\nstride=1\n",
                          "[maxpool]\nsize=3\nstride=2\npadding=1\n", "[avgpool]\n"};
  for (const char* b : bodies)
    check_gradients({b, net_header(1, 3, 5, 5) + "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n" + b +
                            kSseTail});
}

BOOST_AUTO_TEST_CASE(dropout_training_mask) {
  check_gradients({"dropout", net_header(1, 2, 4, 4) + "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n" +
                                  "[dropout]\nprobability=0.3\n" + kSseTail});
}

BOOST_AUTO_TEST_CASE(softmax_cross_entropy_and_jacobian) {
  GradCase loss{"softmax loss", net_header(1, 2, 3, 3) + "[connected]\noutput=6\nactivation=linear\n[softmax]\n"};
  loss.one_hot_truth = true;
  check_gradients(loss);
  GradCase groups{"softmax groups=2 temperature=2 loss",
                  net_header(1, 2, 3, 3) + "[connected]\noutput=6\nactivation=linear\n[softmax]\ngroups=2\ntemperature=2\n"};
  groups.one_hot_truth = true;
  check_gradients(groups);
  // Softmax inside the network: its backward is the Jacobian-vector product.
  check_gradients({"softmax then sse", net_header(1, 2, 3, 3) + "[connected]\noutput=6\nactivation=linear\n" +
                                           "[softmax]\ntemperature=0.5\n[cost]\ntype=sse\n"});
}

BOOST_AUTO_TEST_CASE(cost_types) {
  for (const char* t : {"sse", "smooth", "L1", "masked"}) {
    GradCase c{std::string("cost ") + t,
               net_header(1, 2, 3, 3) + "[connected]\noutput=5\nactivation=linear\n[cost]\ntype=" + t + "\nscale=0.7\n"};
    if (std::string(t) == "smooth")  // truth far enough that both Huber pieces are used
      c.truth_fix = [](std::vector<float>& tr) {
        for (size_t i = 0; i < tr.size(); ++i) tr[i] *= 3.f;
      };
    if (std::string(t) == "masked")  // every third target is masked out
      c.truth_fix = [](std::vector<float>& tr) {
        for (size_t i = 0; i < tr.size(); i += 3) tr[i] = -1234.f;
      };
    check_gradients(c);
  }
}

BOOST_AUTO_TEST_CASE(shortcut_same_and_different_shapes) {
  check_gradients({"shortcut same shape", net_header(1, 3, 4, 4) +
                                              "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n" +
                                              "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n" +
                                              "[shortcut]\nfrom=-2\nactivation=leaky\n" + kSseTail});
  // Darknet's differing-shape shortcut: from a 6x6x4 layer onto a 3x3x2 one, alpha/beta scaled.
  check_gradients({"shortcut different shapes",
                   net_header(1, 3, 6, 6) + "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=linear\n" +
                       "[convolutional]\nfilters=2\nsize=3\nstride=2\npad=1\nactivation=linear\n" +
                       "[shortcut]\nfrom=-2\nalpha=0.5\nbeta=2\nactivation=swish\n" + kSseTail});
  // And the other way: a smaller source added onto a larger grid.
  check_gradients({"shortcut smaller source",
                   net_header(1, 3, 4, 4) + "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=linear\n" +
                       "[upsample]\nstride=2\n[convolutional]\nfilters=5\nsize=1\nactivation=linear\n" +
                       "[shortcut]\nfrom=0\nactivation=linear\n" + kSseTail});
}

BOOST_AUTO_TEST_CASE(route_upsample_crop) {
  check_gradients({"route", net_header(1, 3, 4, 4) + "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n" +
                                "[convolutional]\nfilters=2\nsize=1\nactivation=tanh\n" + "[route]\nlayers=-1,-2\n" +
                                "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n" + kSseTail});
  check_gradients({"upsample", net_header(1, 2, 3, 3) + "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n" +
                                   "[upsample]\nstride=2\nscale=0.5\n" + kSseTail});
  const std::string crop = net_header(1, 2, 6, 6) + "[crop]\ncrop_height=4\ncrop_width=3\nflip=1\n" +
                           "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n" + kSseTail;
  check_gradients({"crop training (random window, flip)", crop});
  GradCase centre{"crop inference (centre)", crop};
  centre.train = false;
  check_gradients(centre);
}

BOOST_AUTO_TEST_CASE(learning_rate_multiplier_and_stopbackward) {
  // stopbackward: layers at and below it get no gradient, as in Darknet.
  const std::string cfg = net_header(2, 2, 4, 4) + "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n" +
                          "stopbackward=1\n" + kSseTail;
  rpg::Shape shape;
  const std::vector<LayerSpec> specs = rpg_ref::walk_cfg(rpg::parse_cfg(cfg, "<test>"), &shape);
  std::unique_ptr<Network> net = rpg_test::net_from_text(cfg);
  const LibraryGradients g =
      library_gradients(*net, specs, rpg_test::random_vector(size_t(2 * net->input_size()), 11),
                        rpg_test::random_vector(size_t(2 * net->output_size()), 12), true, 6);
  for (float v : g.layers[0][0]) BOOST_TEST(v == 0.f);
  double s = 0;
  for (float v : g.layers[1][0]) s += std::fabs(v);
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

// The CPU backend's one-pass shortcut (shortcut_activate) against the default's copy,
// shortcut_forward and activate: bit for bit, for every activation, scales 1 and not, in place
// and not, on 1 and 2 threads.
BOOST_AUTO_TEST_CASE(fused_shortcut_activation_is_bit_identical) {
  const int64_t n = 70001;  // enough for the parallel loop
  const std::vector<float> x = rpg_test::random_vector(size_t(n), 51, -3.f, 3.f);
  const std::vector<float> add = rpg_test::random_vector(size_t(n), 52, -3.f, 3.f);
  int count;
  const char* const* names = rpg::act_names(&count);
  for (int threads : {1, 2}) {
    rpg::CpuBackend be(threads);
    for (int a = 0; a < count; ++a)
      for (float s1 : {1.f, 0.7f})
        for (bool in_place : {false, true}) {
          std::vector<float> fused(static_cast<size_t>(n)), split(static_cast<size_t>(n));
          if (in_place) fused = x;
          be.shortcut_activate(n, in_place ? fused.data() : x.data(), add.data(), s1, 0.3f, rpg::Act(a), fused.data());
          be.rpg::Backend::shortcut_activate(n, x.data(), add.data(), s1, 0.3f, rpg::Act(a), split.data());
          BOOST_TEST((fused == split), names[a] << " s1=" << s1 << (in_place ? " in place" : "") << " on " << threads
                                               << " threads: outputs differ");
        }
  }
}

// The CPU backend's convolutions, forward, weight gradient and backward data pass (both
// accumulated onto what the buffers held), against a direct convolution in double: im2col
// (strides, groups, 1x1 direct, 5x5), whose weight gradient sums chunks of 8 images, and
// Winograd F(2x2, 3x3) (backend/winograd.h: 3x3 stride-1 with at least 8 channels and filters),
// which groups chunks of images by tile count; odd and even sizes (partial edge tiles), pads 0-2,
// batches of 1, 9, 33 and 40 (partial chunks); the same bits on 1 and 2 threads. Then the same
// on the oneDNN engine (the default), whose results are the same bits run to run for one thread
// count (a second backend repeats the 2-thread run) but may differ in the last bits across
// thread counts, as the README says.
BOOST_AUTO_TEST_CASE(conv_backward_matches_direct_convolution) {
  struct Case { int c, h, w, k, stride, pad, groups, filters, batch; bool winograd; };
  const Case cases[] = {
      {8, 5, 5, 3, 1, 1, 1, 8, 1, true},   {8, 6, 7, 3, 1, 0, 1, 9, 3, true},      {9, 7, 6, 3, 1, 2, 1, 8, 2, true},
      {16, 12, 12, 3, 1, 1, 1, 24, 9, true}, {8, 28, 28, 3, 1, 1, 1, 8, 2, true},  {12, 3, 4, 3, 1, 1, 1, 10, 40, true},
      {8, 8, 8, 3, 1, 1, 1, 8, 33, true},  {8, 14, 14, 3, 1, 1, 1, 8, 33, true},
      {3, 6, 5, 3, 1, 1, 1, 4, 1, false},  {3, 6, 5, 3, 1, 1, 1, 4, 9, false},     {3, 6, 5, 3, 1, 1, 1, 4, 33, false},
      {4, 7, 6, 3, 2, 1, 2, 4, 33, false}, {4, 5, 4, 1, 1, 0, 1, 5, 33, false},    {4, 7, 7, 5, 2, 1, 1, 3, 9, false},
      {4, 5, 5, 3, 1, 1, 4, 4, 33, false}, {2, 6, 6, 1, 2, 0, 1, 3, 33, false},
  };
  for (const Case& cs : cases) {
    const int oh = (cs.h + 2 * cs.pad - cs.k) / cs.stride + 1, ow = (cs.w + 2 * cs.pad - cs.k) / cs.stride + 1;
    const int cg = cs.c / cs.groups, fg = cs.filters / cs.groups, kk = cs.k * cs.k;
    const rpg::ConvGeometry g{cg, cs.h, cs.w, cs.k, cs.stride, cs.pad, oh, ow};
    BOOST_TEST_REQUIRE(rpg::winograd::applies(g, cs.groups, cs.filters) == cs.winograd);
    const size_t in_n = size_t(cs.batch) * cs.c * cs.h * cs.w, out_n = size_t(cs.batch) * cs.filters * oh * ow;
    const std::vector<float> x = rpg_test::random_vector(in_n, 31), w = rpg_test::random_vector(size_t(cs.filters) * cg * kk, 32);
    const std::vector<float> d = rpg_test::random_vector(out_n, 33), din0 = rpg_test::random_vector(in_n, 34);
    const std::vector<float> dw0 = rpg_test::random_vector(w.size(), 35);
    // The direct convolution and its adjoints, in double.
    std::vector<double> ref_out(out_n, 0.0), ref_din(in_n, 0.0), ref_dw(w.size(), 0.0);
    for (int b = 0; b < cs.batch; ++b)
      for (int f = 0; f < cs.filters; ++f)
        for (int c = 0; c < cg; ++c)
          for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox)
              for (int i = 0; i < cs.k; ++i)
                for (int j = 0; j < cs.k; ++j) {
                  const int iy = oy * cs.stride - cs.pad + i, ix = ox * cs.stride - cs.pad + j;
                  if (iy < 0 || iy >= cs.h || ix < 0 || ix >= cs.w) continue;
                  const size_t xi = ((size_t(b) * cs.c + size_t(f / fg) * cg + c) * cs.h + iy) * cs.w + ix;
                  const size_t oi = ((size_t(b) * cs.filters + f) * oh + oy) * ow + ox;
                  const size_t wi = (size_t(f) * cg + c) * kk + size_t(i * cs.k + j);
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
    for (rpg::CpuEngine engine : {rpg::CpuEngine::Reference, rpg::CpuEngine::OneDnn}) {
    const char* engine_name = engine == rpg::CpuEngine::Reference ? "reference" : "oneDNN";
    std::vector<std::vector<float>> outs, dins, dws;
    for (int threads : {1, 2, 2}) {
      rpg::CpuBackend be(threads, engine);
      Buffer<float> bx(be, int64_t(in_n)), bw(be, int64_t(w.size())), bo(be, int64_t(out_n)), bd(be, int64_t(out_n));
      Buffer<float> bdin(be, int64_t(in_n)), bdw(be, int64_t(w.size()));
      bx.upload(x);
      bw.upload(w);
      bd.upload(d);
      bdin.upload(din0);
      bdw.upload(dw0);
      be.conv_forward(g, cs.batch, cs.groups, cs.filters, bx.data(), bw.data(), bo.data());
      be.conv_backward(g, cs.batch, cs.groups, cs.filters, bx.data(), bw.data(), bd.data(), bdw.data(), bdin.data());
      // add_in_delta false: the input delta written over whatever the buffer held (din0 here).
      Buffer<float> bdin_set(be, int64_t(in_n)), bdw_set(be, int64_t(w.size()));
      bdin_set.upload(din0);
      be.conv_backward(g, cs.batch, cs.groups, cs.filters, bx.data(), bw.data(), bd.data(), bdw_set.data(),
                       bdin_set.data(), 0, 0, false);
      outs.push_back(bo.to_vector());
      dins.push_back(bdin.to_vector());
      dws.push_back(bdw.to_vector());
      BOOST_TEST_CONTEXT(engine_name << " c=" << cs.c << " " << cs.h << "x" << cs.w << " k=" << cs.k << " stride=" << cs.stride
                               << " pad=" << cs.pad << " groups=" << cs.groups << " filters=" << cs.filters
                               << " batch=" << cs.batch << " threads=" << threads) {
        BOOST_TEST(worst(outs.back(), ref_out, nullptr) <= 1e-6);
        BOOST_TEST(worst(dins.back(), ref_din, &din0) <= 1e-6);  // accumulated onto din0
        BOOST_TEST(worst(bdin_set.to_vector(), ref_din, nullptr) <= 1e-6);  // written
        // Each weight gradient sums batch x out_h x out_w products: float rounding grows with the
        // square root of that count (2^-24 per term); the forward and input-delta sums are short.
        BOOST_TEST(worst(dws.back(), ref_dw, &dw0) <= std::max(1e-6, std::ldexp(std::sqrt(double(cs.batch) * oh * ow), -24)));
      }
    }
    BOOST_TEST_CONTEXT(engine_name << " c=" << cs.c << " k=" << cs.k << " stride=" << cs.stride << " groups="
                                   << cs.groups << " batch=" << cs.batch) {
      BOOST_TEST(dws[1] == dws[2], "weight gradient: two runs on 2 threads differ");
      BOOST_TEST(outs[1] == outs[2], "forward: two runs on 2 threads differ");
      BOOST_TEST(dins[1] == dins[2], "input delta: two runs on 2 threads differ");
      if (engine == rpg::CpuEngine::Reference) {
        BOOST_TEST(dws[0] == dws[1], "weight gradient: 1 and 2 threads differ");
        BOOST_TEST(outs[0] == outs[1], "forward: 1 and 2 threads differ");
        BOOST_TEST(dins[0] == dins[1], "input delta: 1 and 2 threads differ");
      }
    }
    }
  }
}

// The fused inference pass of a convolution (batch norm folded into the weights, activation in
// the kernel where oneDNN has it) against the unfused default (conv_forward, batch norm or bias,
// activation): every activation, with and without batch norm, shapes that take oneDNN's Winograd
// (3x3, stride 1, 16+ channels and filters), its direct convolution (stride 2, groups, 1x1) and
// partial tiles; 1 and 2 threads. Within 1e-5 relative RMS (folding changes the rounding).
BOOST_AUTO_TEST_CASE(fused_inference_convolution_matches_the_unfused_passes) {
  struct Case { int c, h, w, k, stride, pad, groups, filters, batch; };
  const Case cases[] = {{16, 9, 7, 3, 1, 1, 1, 16, 3}, {32, 14, 14, 3, 1, 1, 1, 24, 2}, {6, 8, 8, 3, 2, 1, 2, 4, 5},
                        {5, 6, 6, 1, 1, 0, 1, 7, 4}, {3, 10, 10, 5, 1, 2, 1, 8, 1}};
  int count;
  const char* const* names = rpg::act_names(&count);
  for (const Case& cs : cases) {
    const int oh = (cs.h + 2 * cs.pad - cs.k) / cs.stride + 1, ow = (cs.w + 2 * cs.pad - cs.k) / cs.stride + 1;
    const rpg::ConvGeometry g{cs.c / cs.groups, cs.h, cs.w, cs.k, cs.stride, cs.pad, oh, ow};
    const size_t in_n = size_t(cs.batch) * cs.c * cs.h * cs.w, out_n = size_t(cs.batch) * cs.filters * oh * ow;
    const size_t w_n = size_t(cs.filters) * g.channels * cs.k * cs.k;
    const std::vector<float> x = rpg_test::random_vector(in_n, 41), w = rpg_test::random_vector(w_n, 42);
    const std::vector<float> bias = rpg_test::random_vector(size_t(cs.filters), 43);
    const std::vector<float> scales = rpg_test::random_vector(size_t(cs.filters), 44, 0.5f, 2.f);
    const std::vector<float> mean = rpg_test::random_vector(size_t(cs.filters), 45);
    const std::vector<float> var = rpg_test::random_vector(size_t(cs.filters), 46, 0.1f, 3.f);
    for (int threads : {1, 2}) {
      rpg::CpuBackend be(threads);
      Buffer<float> bx(be, int64_t(in_n)), bw(be, int64_t(w_n)), bb(be, cs.filters), bs(be, cs.filters),
          bm(be, cs.filters), bv(be, cs.filters), fused(be, int64_t(out_n)), plain(be, int64_t(out_n));
      bx.upload(x);
      bw.upload(w);
      bb.upload(bias);
      bs.upload(scales);
      bm.upload(mean);
      bv.upload(var);
      const rpg::BnInference bn{bs.data(), bm.data(), bv.data(), rpg::BnEpsilon(0.f, 1e-6f)};
      for (int a = 0; a < count; ++a)
        for (bool with_bn : {false, true}) {
          const rpg::Act act = rpg::Act(a);
          be.conv_inference(g, cs.batch, cs.groups, cs.filters, bx.data(), bw.data(), bb.data(), with_bn ? &bn : nullptr,
                            act, fused.data(), 0, 0, 0);
          be.rpg::Backend::conv_inference(g, cs.batch, cs.groups, cs.filters, bx.data(), bw.data(), bb.data(),
                                          with_bn ? &bn : nullptr, act, plain.data(), 0, 0, 0);
          const std::vector<float> f = fused.to_vector(), p = plain.to_vector();
          double num = 0, den = 0;
          for (size_t i = 0; i < f.size(); ++i) num += (f[i] - p[i]) * double(f[i] - p[i]), den += double(p[i]) * p[i];
          BOOST_TEST(std::sqrt(num / std::max(den, 1e-30)) <= 1e-5,
                     names[a] << (with_bn ? " with" : " without") << " batch norm, c=" << cs.c << " k=" << cs.k
                              << " stride=" << cs.stride << " groups=" << cs.groups << ", " << threads << " threads");
        }
    }
  }
}

// Two Winograd convolutions in a row (linear: the finite differences of a piecewise activation
// at 8 x 16 positions per image would often straddle a kink). Batches 1 and 9 (one Winograd chunk
// of images here); conv_backward_matches_direct_convolution crosses its chunks.
BOOST_AUTO_TEST_CASE(winograd_convolution_gradients) {
  for (int padding : {0, 1, 2}) {
    std::string net = net_header(1, 8, 4, 4) + "[convolutional]\nfilters=9\nsize=3\nstride=1\npadding=" +
                      std::to_string(padding) + "\nactivation=linear\n" +
                      "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=linear\n" + kSseTail;
    check_gradients({"winograd padding " + std::to_string(padding), net}, {1, 9});
  }
}

// A planar NCHW tensor in one of Backend::conv_inference_layout's layouts: 1 NHWC, 8 / 16
// nChw8c / nChw16c.
std::vector<float> to_layout(const std::vector<float>& x, int n, int c, int h, int w, int layout) {
  std::vector<float> y(x.size());
  for (int b = 0; b < n; ++b)
    for (int k = 0; k < c; ++k)
      for (int i = 0; i < h * w; ++i) {
        const size_t from = (size_t(b) * c + k) * h * w + i;
        const size_t to = layout == 1 ? (size_t(b) * h * w + i) * c + k
                                      : ((size_t(b) * (c / layout) + k / layout) * h * w + i) * layout + k % layout;
        y[to] = x[from];
      }
  return y;
}

// Max pooling: the CPU backend's loop against a naive scan of every window position (Darknet's
// definition: windows from -padding / 2, the first maximum in scan order, 0 and index -1 for an
// empty window), outputs and argmax indices exactly; and the inference pass (oneDNN where it
// gives Darknet's result, also in the layouts the inference plan keeps) exactly equal to it, on geometries with overhanging windows, windows
// wholly in the padding, stride above size and odd sizes; 1 and 2 threads.
BOOST_AUTO_TEST_CASE(max_pooling_loop_and_inference_match_a_naive_scan) {
  struct Case { int batch, c, h, w, size, stride, padding; };
  const Case cases[] = {{2, 3, 8, 8, 2, 2, 1},  {3, 2, 7, 9, 3, 2, 2},  {1, 4, 112, 112, 3, 2, 2},
                        {2, 3, 6, 5, 3, 1, 2},  {2, 2, 7, 7, 2, 2, 0},  {1, 2, 9, 6, 1, 2, 0},
                        {2, 2, 5, 5, 2, 2, 7},  {1, 3, 4, 4, 5, 1, 4},  {2, 2, 10, 3, 3, 3, 1},
                        {2, 16, 9, 9, 3, 2, 2}, {3, 8, 6, 7, 2, 2, 1},  {1, 2, 5, 5, 2, 1, 3}};
  for (const Case& cs : cases) {
    const int oh = (cs.h + cs.padding - cs.size) / cs.stride + 1, ow = (cs.w + cs.padding - cs.size) / cs.stride + 1;
    const rpg::PoolGeometry g{cs.batch, cs.c, cs.h, cs.w, cs.size, cs.stride, cs.padding, oh, ow};
    const size_t in_n = size_t(cs.batch) * cs.c * cs.h * cs.w, out_n = size_t(cs.batch) * cs.c * oh * ow;
    std::vector<float> x = rpg_test::random_vector(in_n, 51);
    for (size_t i = 0; i < in_n; i += 7) x[i] = x[i / 2];  // ties
    std::vector<float> want(out_n);
    std::vector<int32_t> want_idx(out_n);
    const int off = -cs.padding / 2;
    for (int64_t p = 0; p < int64_t(cs.batch) * cs.c; ++p)
      for (int y = 0; y < oh; ++y)
        for (int xo = 0; xo < ow; ++xo) {
          float best = 0.f;
          int64_t bi = -1;
          for (int n = 0; n < cs.size; ++n)
            for (int m = 0; m < cs.size; ++m) {
              const int iy = off + y * cs.stride + n, ix = off + xo * cs.stride + m;
              if (iy < 0 || iy >= cs.h || ix < 0 || ix >= cs.w) continue;
              const int64_t i = (p * cs.h + iy) * cs.w + ix;
              if (bi < 0 || x[size_t(i)] > best) best = x[size_t(i)], bi = i;
            }
          want[size_t((p * oh + y) * ow + xo)] = best;
          want_idx[size_t((p * oh + y) * ow + xo)] = int32_t(bi);
        }
    const std::string at = " (" + std::to_string(cs.h) + "x" + std::to_string(cs.w) + ", size " + std::to_string(cs.size) +
                           ", stride " + std::to_string(cs.stride) + ", padding " + std::to_string(cs.padding) + ")";
    for (int threads : {1, 2}) {
      rpg::CpuBackend be(threads);
      Buffer<float> bx(be, int64_t(in_n)), out(be, int64_t(out_n)), inf(be, int64_t(out_n));
      Buffer<int32_t> idx(be, int64_t(out_n)), scratch(be, int64_t(out_n));
      bx.upload(x);
      be.maxpool_forward(g, bx.data(), out.data(), idx.data());
      BOOST_TEST((out.to_vector() == want), "maxpool_forward" << at);
      BOOST_TEST((idx.to_vector() == want_idx), "maxpool_forward argmax" << at);
      be.maxpool_prepare(g, 0);
      be.maxpool_inference(g, bx.data(), inf.data(), scratch.data(), 0);
      BOOST_TEST((inf.to_vector() == want), "maxpool_inference" << at << ", " << threads << " threads");
      if (cs.h == 112) BOOST_TEST(be.maxpool_any_layout(g), "ResNet-18's max pooling not on oneDNN" << at);
      if (!be.maxpool_any_layout(g)) continue;
      for (int layout : {1, 8, 16}) {  // the layouts the inference plan keeps between layers
        if (layout > 1 && cs.c % layout) continue;
        bx.upload(to_layout(x, cs.batch, cs.c, cs.h, cs.w, layout));
        be.maxpool_prepare(g, layout);
        be.maxpool_inference(g, bx.data(), inf.data(), scratch.data(), layout);
        BOOST_TEST((inf.to_vector() == to_layout(want, cs.batch, cs.c, oh, ow, layout)),
                   "maxpool_inference in layout " << layout << at << ", " << threads << " threads");
      }
    }
  }
}
