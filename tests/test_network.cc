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
#include "io/darknet_weights.h"
#include "reference.h"
#include "testing.h"

namespace {

using rpg::Act;
using rpg::Shape;
using rpg_ref::LayerSpec;
using rpg_ref::RefParams;
using rpg_ref::Tensor;
using rpg_ref::randomize_parameters;
using rpg_ref::read_params;
using rpg_ref::to_tensor;
using rpg_ref::walk_cfg;

constexpr double kReferenceTolerance = 1e-4;  // normwise, per layer and image
constexpr double kBatchTolerance = 1e-5;

// ---------------------------------------------------------------------------------------------
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

// Every layer's output of the reference; in training mode with the dropout masks the library
// drew (each dropout layer's output is also checked on its own, check_dropout).
std::vector<Tensor> reference_forward(rpg::Network& net, const std::vector<LayerSpec>& specs,
                                      const std::vector<RefParams>& params, const std::vector<float>& input,
                                      bool train) {
  rpg_ref::Random random;
  random.observe(net, specs, input);
  std::vector<Tensor> outs;
  rpg_ref::forward_from(specs, params, to_tensor(input), net.batch(), train, &random, 0, &outs);
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
    const std::vector<float> out = net.layer_output(i);
    BOOST_REQUIRE_EQUAL(out.size(), ref[i].size());
    if (train && specs[i].type == "dropout") {
      check_dropout(i ? net.layer_output(i - 1) : input, out,
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
      const std::vector<Tensor> ref = reference_forward(*net, specs, params, x, train);
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
// Darknet's cfgs (tests/darknet-cfg): skipped, and counted, with the reason when the folder is absent.

boost::test_tools::assertion_result have_darknet_cfgs(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(!rpg_test::darknet_cfg_dir().empty());
  r.message() << "tests/darknet-cfg not found from " << rpg_test::source_dir()
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

// act_apply against values computed from Darknet's definitions (activations.h; Darknet's
// softplus threshold 20 in mish), worked out apart from the library (with Python's math module)
// and written here: the formulas themselves, not the library's reading of them.
BOOST_AUTO_TEST_CASE(activation_values_from_their_definitions) {
  const float xs[] = {-5.f, -2.5f, -1.f, -.375f, 0.f, .4375f, 1.f, 1.75f, 3.25f, 4.5f, 6.f};  // exact in float
  const struct {
    Act act;
    double y[11];
  } table[] = {
      {Act::Linear, {-5, -2.5, -1, -0.375, 0, 0.4375, 1, 1.75, 3.25, 4.5, 6}},
      {Act::Relu, {0, 0, 0, 0, 0, 0.4375, 1, 1.75, 3.25, 4.5, 6}},
      {Act::Leaky, {-0.5, -0.25, -0.1, -0.0375, 0, 0.4375, 1, 1.75, 3.25, 4.5, 6}},
      {Act::Logistic, {0.006692850924, 0.07585818002, 0.2689414214, 0.4073334, 0.5, 0.6076631698, 0.7310585786, 0.851952802, 0.9626731127, 0.9890130574, 0.9975273768}},
      {Act::Tanh, {-0.9999092043, -0.9866142982, -0.761594156, -0.3583573984, 0, 0.4115700557, 0.761594156, 0.9413755385, 0.9969976355, 0.9997532108, 0.9999877117}},
      {Act::Elu, {-0.993262053, -0.9179150014, -0.6321205588, -0.3127107212, 0, 0.4375, 1, 1.75, 3.25, 4.5, 6}},
      {Act::Relie, {-0.05, -0.025, -0.01, -0.00375, 0, 0.4375, 1, 1.75, 3.25, 4.5, 6}},
      {Act::Ramp, {-0.5, -0.25, -0.1, -0.0375, 0, 0.48125, 1.1, 1.925, 3.575, 4.95, 6.6}},
      {Act::Plse, {-0.01, 0.1875, 0.375, 0.453125, 0.5, 0.5546875, 0.625, 0.71875, 0.90625, 1.005, 1.02}},
      {Act::Lhtan, {-0.005, -0.0025, -0.001, -0.000375, 0, 0.4375, 1, 1.00075, 1.00225, 1.0035, 1.005}},
      {Act::Stair, {-3, -1.5, -1, -0.375, 0, 0, 0, 0.75, 1.25, 2, 3}},
      {Act::Hardtan, {-1, -1, -1, -0.375, 0, 0.4375, 1, 1, 1, 1, 1}},
      {Act::Loggy, {-0.9866142982, -0.84828364, -0.4621171573, -0.1853331999, 0, 0.2153263397, 0.4621171573, 0.7039056039, 0.9253462253, 0.9780261147, 0.9950547537}},
      {Act::Selu, {-1.746185719, -1.613723248, -1.11128769, -0.549755217, 0, 0.45968125, 1.0507, 1.838725, 3.414775, 4.72815, 6.3042}},
      {Act::Swish, {-0.03346425462, -0.1896454501, -0.2689414214, -0.152750025, 0, 0.2658526368, 0.7310585786, 1.490917403, 3.128687616, 4.450558758, 5.985164261}},
      {Act::Mish, {-0.03357623773, -0.1968162039, -0.3034014614, -0.1800401088, 0, 0.3207794223, 0.8650983883, 1.674932424, 3.240956173, 4.498913715, 5.999926634}},
  };
  int count = 0;
  rpg::act_names(&count);
  BOOST_TEST(int(sizeof table / sizeof table[0]) == count, "an activation has no row in the table");
  for (const auto& row : table)
    for (size_t i = 0; i < 11; ++i) {
      const double got = rpg::act_apply(row.act, xs[i]), want = row.y[i];
      BOOST_TEST(std::fabs(got - want) <= 1e-6 * std::max(1.0, std::fabs(want)),
                 rpg::act_name(row.act) << "(" << xs[i] << ") = " << got << ", by its definition " << want);
      // The test's own double-precision formulas (reference.h) agree with the same table.
      BOOST_TEST(std::fabs(rpg_ref::activate(row.act, xs[i]) - want) <= 1e-8 * std::max(1.0, std::fabs(want)),
                 "reference.h: " << rpg::act_name(row.act) << "(" << xs[i] << ")");
    }
}

// Delta sharing (Network::share_deltas): two layers whose deltas are live at the same time in
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
  BOOST_TEST_REQUIRE(std::filesystem::exists(shipped), shipped << " is missing (run from the repository root)");
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
    for (size_t i = 0; i < net->layers().size(); ++i) batched.push_back(net->layer_output(i));

    net->set_batch(1);
    rpg::Buffer<float> one(net->backend(), n);
    for (int b = 0; b < 5; ++b) {
      one.upload(x.data() + b * n, n);
      net->forward(one.data(), false);
      for (size_t i = 0; i < specs.size(); ++i) {
        const std::vector<float> single = net->layer_output(i);
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

// Training in the kernels' layouts (Network::set_batch's training plan) against planar training
// (set_training_layouts(false)): three updates of a residual network with strided
// convolutions, a route, max pooling (planar in training) and a convolution without batch norm,
// and of one with channel counts only some processors block, groups and dropout, on 1 and 2
// threads. The losses, every layer's output and every parameter agree to rounding
// (batch norm's sums run in another order in the blocked layouts).
BOOST_AUTO_TEST_CASE(training_in_the_kernels_layouts_matches_planar_training) {
  const std::string cfg =
      "[net]\nbatch=6\nwidth=12\nheight=12\nchannels=3\nlearning_rate=0.05\nmomentum=0.9\ndecay=0.0005\n"
      "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\npad=1\nactivation=relu\n"
      "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\npad=1\nactivation=linear\n"
      "[shortcut]\nfrom=-2\nactivation=relu\n"
      "[convolutional]\nbatch_normalize=1\nfilters=32\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
      "[convolutional]\nfilters=32\nsize=3\npad=1\nactivation=relu\n"
      "[route]\nlayers=2\n"
      "[convolutional]\nbatch_normalize=1\nfilters=32\nsize=1\nstride=2\nactivation=linear\n"
      "[shortcut]\nfrom=-3\nactivation=relu\n"
      "[maxpool]\nsize=2\nstride=2\n"
      "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\npad=1\nactivation=relu\n"
      "[avgpool]\n[connected]\noutput=5\nactivation=linear\n[softmax]\n";
  // Channel counts that the blocked layouts take on some processors only (24: nChw8c), a
  // grouped convolution, dropout between convolutions, a shortcut of differing shapes.
  const std::string cfg2 =
      "[net]\nbatch=4\nwidth=10\nheight=10\nchannels=2\nlearning_rate=0.05\nmomentum=0.9\n"
      "[convolutional]\nbatch_normalize=1\nfilters=24\nsize=3\npad=1\nactivation=leaky\n"
      "[convolutional]\nbatch_normalize=1\nfilters=32\ngroups=2\nsize=3\npad=1\nactivation=relu\n"
      "[dropout]\nprobability=0.2\n"
      "[convolutional]\nfilters=16\nsize=1\nactivation=linear\n"
      "[shortcut]\nfrom=-3\nactivation=linear\n"
      "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=2\npad=1\nactivation=mish\n"
      "[avgpool]\n[connected]\noutput=5\nactivation=linear\n[softmax]\n";
  auto close = [](const std::vector<float>& a, const std::vector<float>& b) {
    double scale = 1, worst = 0;
    for (float v : b) scale = std::max(scale, double(std::fabs(v)));
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - b[i]) / scale);
    return worst;
  };
  // cfg with its convolutions on a ring: their kernels read the generated weights in their own
  // order (Ring::set_orders).
  std::string with_ring = cfg;
  with_ring.insert(with_ring.find("[convolutional]"), "[ring]\nname=g\ndof=0.25\n");
  for (size_t at = 0; (at = with_ring.find("[convolutional]\n", at)) != std::string::npos; at += 16)
    with_ring.insert(at + 16, "ring=g\n");
  for (const auto& [text, min_kept] : {std::pair<std::string, int>{cfg, 6}, {cfg2, 0}, {with_ring, 6}})
  for (int threads : {1, 2}) {
    auto blocked = rpg_test::net_from_text(text, threads), planar = rpg_test::net_from_text(text, threads);
    planar->set_training_layouts(false);
    int kept = 0;
    for (const auto& l : blocked->layers()) kept += l->train_layout != 0;
    for (const auto& l : planar->layers()) BOOST_TEST(l->train_layout == 0);
    BOOST_TEST(kept >= min_kept, kept << " layers keep a layout other than NCHW in training");
    const int b = blocked->batch();
    const size_t n = blocked->layers().size();
    for (int u = 0; u < 3; ++u) {
      const auto x = rpg_test::random_vector(size_t(b * blocked->input_size()), 80 + uint64_t(u));
      std::vector<float> t(size_t(b) * 5, 0.f);
      for (int i = 0; i < b; ++i) t[size_t(i * 5 + (i + u) % 5)] = 1.f;
      const double la = blocked->train_pass(x.data(), t.data()), lp = planar->train_pass(x.data(), t.data());
      BOOST_TEST(std::fabs(la - lp) <= 1e-4 * std::max(1.0, std::fabs(lp)), "update " << u << ": loss " << la << " vs " << lp);
      for (size_t i = 0; i < n; ++i) {
        const double worst = close(blocked->layer_output(i), planar->layer_output(i));
        BOOST_TEST(worst <= 1e-4, threads << " thread(s), update " << u << ", layer " << i << " ["
                                           << blocked->layers()[i]->type << "]: outputs differ by " << worst);
      }
      blocked->update(0.05f);
      planar->update(0.05f);
    }
    for (size_t i = 0; i < n; ++i) {
      const auto pa = blocked->layers()[i]->params(), pp = planar->layers()[i]->params();
      for (size_t k = 0; k < pa.size(); ++k) {
        const double worst = close(pa[k].value->to_vector(), pp[k].value->to_vector());
        BOOST_TEST(worst <= 1e-4, threads << " thread(s), layer " << i << " parameter " << k << ": differs by " << worst);
      }
    }
    // The plan changing between a forward pass and its backward pass (what the pass kept is in
    // the old layouts): backward refuses until forward runs again.
    if (kept == 0) continue;
    rpg::Buffer<float> in(blocked->backend(), int64_t(b) * blocked->input_size()), truth(blocked->backend(), int64_t(b) * 5);
    in.upload(rpg_test::random_vector(size_t(in.size()), 90));
    std::vector<float> t(size_t(b) * 5, 0.f);
    for (int i = 0; i < b; ++i) t[size_t(i * 5 + i % 5)] = 1.f;
    truth.upload(t);
    blocked->forward(in.data(), true, truth.data());
    blocked->set_training_layouts(false);
    try {
      blocked->backward(in.data());
      BOOST_ERROR("backward after the training layouts changed did not fail");
    } catch (const rpg::Error& e) {
      BOOST_TEST(std::string(e.what()).find("run forward again") != std::string::npos, e.what());
    }
    blocked->forward(in.data(), true, truth.data());
    blocked->backward(in.data());
    if (blocked->rings().empty()) continue;
    // The weight orders changing between backward and the update (planar now): the gradients
    // gathered so far move with them, so the update is the one without the change, bit for bit.
    auto moved = rpg_test::net_from_text(text, threads), kept_order = rpg_test::net_from_text(text, threads);
    int ordered = 0;
    for (const auto& l : moved->layers()) ordered += !l->weight_order.empty();
    BOOST_TEST(ordered > 0, "no layer generates its weights in its kernels' order");
    for (rpg::Network* net : {moved.get(), kept_order.get()}) {
      net->forward(in.data(), true, truth.data());
      net->backward(in.data());
    }
    moved->set_training_layouts(false);
    for (const auto& l : moved->layers()) BOOST_TEST(l->weight_order.empty());
    moved->update(0.05f);
    kept_order->update(0.05f);
    BOOST_TEST(moved->rings()[0]->values.to_vector() == kept_order->rings()[0]->values.to_vector(),
               "the ring's update after the orders changed differs");
  }
}

// predict() runs the fused inference pass (Network::infer), with the activations kept in oneDNN's
// layouts between layers: its outputs equal an unfused inference pass (forward with train=false)
// to rounding, on a residual network with batch norm, several activations and trained running
// statistics; and no backward pass may follow it.
BOOST_AUTO_TEST_CASE(fused_inference_matches_the_unfused_pass_and_refuses_backward) {
  const std::string cfg =
      "[net]\nbatch=4\nwidth=12\nheight=12\nchannels=3\nlearning_rate=0.05\nmomentum=0.9\n"
      "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\npad=1\nactivation=leaky\n"
      "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\npad=1\nactivation=linear\n"
      "[shortcut]\nfrom=-2\nactivation=relu\n"
      "[route]\nlayers=-1\n"
      "[maxpool]\nsize=3\nstride=1\n"
      "[convolutional]\nfilters=8\nsize=3\nstride=2\npad=1\nactivation=logistic\n"
      "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=1\nactivation=mish\n"
      "[avgpool]\n[connected]\noutput=5\nactivation=linear\n[softmax]\n";
  for (int threads : {1, 2}) {
    auto net = rpg_test::net_from_text(cfg, threads);
    const int b = net->batch();
    for (int u = 0; u < 3; ++u) {  // running statistics away from their initial values
      const auto x = rpg_test::random_vector(size_t(b * net->input_size()), 60 + uint64_t(u));
      std::vector<float> t(size_t(b * net->output_size()), 0.f);
      for (int i = 0; i < b; ++i) t[size_t(i * net->output_size() + (i + u) % 5)] = 1.f;
      net->train_pass(x.data(), t.data());
      net->update(0.05f);
    }
    // The inference plan keeps oneDNN's layouts between the convolutions and the shortcut here
    // (whichever the processor's kernels write), so the comparison covers it.
    int kept = 0;
    for (const auto& l : net->layers()) kept += l->infer_layout != 0;
    BOOST_TEST(kept >= 4, kept << " layers keep a layout other than NCHW in inference");
    const auto x = rpg_test::random_vector(size_t(b * net->input_size()), 70);
    const std::vector<float> fused = net->predict(x.data());
    rpg::Buffer<float> in(net->backend(), int64_t(x.size()));
    in.upload(x);
    net->forward(in.data(), false);
    const std::vector<float> plain = net->layers().back()->output.to_vector();
    BOOST_REQUIRE(fused.size() == plain.size());
    for (size_t i = 0; i < fused.size(); ++i)
      BOOST_TEST(std::fabs(fused[i] - plain[i]) <= 1e-5f, "output " << i << ": " << fused[i] << " vs " << plain[i]);
    net->predict(x.data());
    try {
      net->backward(in.data());
      BOOST_ERROR("backward after predict did not fail");
    } catch (const rpg::Error& e) {
      BOOST_TEST(int(e.status()) == int(rpg::Status::InvalidArgument));
      BOOST_TEST(std::string(e.what()).find("no backward pass after an inference pass") != std::string::npos, e.what());
    }
  }
}

namespace {
// The largest difference between the fused inference pass (predict) and the unfused one
// (forward with train=false) on x; the fused output in *fused.
double fused_against_unfused(rpg::Network& net, const std::vector<float>& x, std::vector<float>* fused) {
  *fused = net.predict(x.data());
  rpg::Buffer<float> in(net.backend(), int64_t(x.size()));
  in.upload(x);
  net.forward(in.data(), false);
  const std::vector<float> plain = net.layers().back()->output.to_vector();
  if (plain.size() != fused->size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < plain.size(); ++i) worst = std::max(worst, double(std::fabs((*fused)[i] - plain[i])));
  return worst;
}
}  // namespace

// The fused inference pass keeps each layer's folded weights while the network's parameters stay
// the same (Network::params_version): after every kind of change (an update, a training-mode pass
// moving the running statistics, a Darknet weights file loaded, ring values written and the
// weights regenerated, a tensor written through trainable(), a running mean written directly)
// its output is again that of the unfused pass, and two passes without a change between them agree exactly.
BOOST_AUTO_TEST_CASE(fused_inference_follows_every_change_of_the_parameters) {
  const std::string body =
      "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\npad=1\nactivation=leaky\n"
      "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\npad=1\nactivation=relu\n"
      "[avgpool]\n[connected]\noutput=5\nactivation=linear\n[softmax]\n";
  const std::string head = "[net]\nbatch=4\nwidth=10\nheight=10\nchannels=3\nlearning_rate=0.05\nmomentum=0.9\n";
  for (bool rings : {false, true}) {
    const std::string cfg = rings ? head + "[ring]\nname=r\ndof=0.5\n" + body : head + body;
    std::string text = cfg;
    if (rings)  // both convolutions on the ring
      for (size_t at = 0; (at = text.find("[convolutional]\n", at)) != std::string::npos; at += 16)
        text.insert(at + 16, "ring=r\n");
    auto net = rpg_test::net_from_text(text, 2);
    const int b = net->batch();
    const auto x = rpg_test::random_vector(size_t(b * net->input_size()), 81);
    std::vector<float> t(size_t(b * net->output_size()), 0.f);
    for (int i = 0; i < b; ++i) t[size_t(i * net->output_size() + i % 5)] = 1.f;
    std::vector<float> last;
    auto check = [&](const std::string& after) {
      std::vector<float> fused;
      const double worst = fused_against_unfused(*net, x, &fused);
      BOOST_TEST((fused == net->predict(x.data())), after << ": two passes differ");
      BOOST_TEST(worst <= 1e-5, (rings ? "rings, " : "") << after << ": fused and unfused outputs differ by " << worst);
      BOOST_TEST((fused != last), (rings ? "rings, " : "") << after << ": the output did not change");
      last = fused;
    };
    check("first pass");
    net->train_pass(x.data(), t.data());
    net->update(0.05f);
    check("an update");
    const auto x2 = rpg_test::random_vector(x.size(), 82, -3.f, 3.f);
    net->predict(x2.data(), true);
    check("a training-mode pass");
    for (const rpg::Param& p : net->trainable()) {
      std::vector<float> v = p.value->to_vector();
      for (float& e : v) e *= 1.25f;
      p.value->upload(v);
      break;
    }
    net->parameters_changed();  // the contract for whoever writes through trainable()
    check("a tensor written through trainable()");
    {  // a running mean written directly, without parameters_changed(): compared by value
      rpg::Buffer<float>* mean = net->layers()[rings ? 1 : 0]->weight_file_order()[2];
      std::vector<float> v = mean->to_vector();
      for (float& e : v) e += 0.5f;
      mean->upload(v);
    }
    check("a running mean written directly");
    {  // weights written through a layer's tensor, then parameters_changed() (the contract)
      const rpg::Layer::WeightTensor w = net->layers()[1]->main_weights();
      BOOST_REQUIRE(w.value);
      std::vector<float> v = w.value->to_vector();
      for (float& e : v) e *= -0.5f;
      w.value->upload(v);
      net->parameters_changed();
    }
    check("weights written directly");
    net->set_batch(b + 1);  // other kernels, the same kept weights
    net->set_batch(b);
    net->set_threads(1);
    const std::vector<float> again = net->predict(x.data());
    BOOST_TEST((again.size() == last.size()), "after set_batch and set_threads");
    double moved = 0;
    for (size_t i = 0; i < again.size() && i < last.size(); ++i) moved = std::max(moved, double(std::fabs(again[i] - last[i])));
    BOOST_TEST(moved <= 1e-5, (rings ? "rings, " : "") << "after set_batch and set_threads the output moved by " << moved);
    if (rings) {
      rpg::Ring& r = *net->rings()[0];
      std::vector<float> v = r.values.to_vector();
      for (float& e : v) e = -e;
      r.values.upload(v);
      net->generate_weights();
      check("ring values written");
    } else {
      auto other = rpg_test::net_from_text(text, 1);
      const std::string bytes = rpg::encode_darknet_weights(*other, 0);
      rpg::load_darknet_weights_from_bytes(*net, bytes, "<other>");
      check("a Darknet weights file loaded");
    }
  }
}

// The inference pass adds a shortcut in the convolution before it (oneDNN's sum post-op) where
// that convolution's output has no other reader and the shortcut's other input none after it:
// layers 2 and 5 here (5, with its own activation before the sum, where oneDNN has that with
// the plain pass's kernel; 8 channels, so direct kernels:
// Winograd's sum is not used, RESULTS.md change 10). Not 8: the shortcut's other
// input (6) is read later by the route; not 12: its other input (11) is the convolution's own
// input. The outputs are the unfused pass's; the fused pair's buffers swap each pass, so a second
// pass, a pass after training and one after set_batch must agree as well, and the shortcuts'
// outputs must be their own (later layers read 6 and 9 by index; 3, the other input of the
// shortcut fused into 5, keeps none, as Network::layer_output says).
BOOST_AUTO_TEST_CASE(inference_adds_shortcuts_in_the_convolution_before_them) {
  const std::string cfg =
      "[net]\nbatch=3\nwidth=10\nheight=10\nchannels=8\nlearning_rate=0.01\nmomentum=0.9\n"
      "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\npad=1\nactivation=relu\n"    // 0
      "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\npad=1\nactivation=relu\n"    // 1
      "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\npad=1\nactivation=linear\n"  // 2
      "[shortcut]\nfrom=0\nactivation=relu\n"                                                 // 3
      "[convolutional]\nfilters=8\nsize=1\nactivation=leaky\n"                              // 4
      "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\npad=1\nactivation=leaky\n"   // 5
      "[shortcut]\nfrom=3\nactivation=linear\n"                                               // 6
      "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=relu\n"                       // 7
      "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=linear\n"                     // 8
      "[shortcut]\nfrom=6\nactivation=relu\n"                                                 // 9
      "[route]\nlayers=6\n"                                                                    // 10
      "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=linear\n"                     // 11
      "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=linear\n"                     // 12
      "[shortcut]\nfrom=11\nactivation=relu\n"                                                // 13
      "[shortcut]\nfrom=9\nactivation=linear\n"                                               // 14
      "[avgpool]\n[connected]\noutput=4\nactivation=linear\n[softmax]\n";
  for (int threads : {1, 2}) {
    auto net = rpg_test::net_from_text(cfg, threads);
    BOOST_TEST_CONTEXT("threads " << threads) {
      // (5 only where oneDNN keeps its kernel with an eltwise before the sum: not jit:avx2.)
      const std::vector<int> sums = net->fused_sums();
      BOOST_TEST((sums == std::vector<int>{2, 5} || sums == std::vector<int>{2}));
      const int b = net->batch();
      const auto x = rpg_test::random_vector(size_t(b * net->input_size()), 95);
      std::vector<float> t(size_t(b * net->output_size()), 0.f);
      for (int i = 0; i < b; ++i) t[size_t(i * net->output_size() + i % 4)] = 1.f;
      auto check = [&](const std::string& when) {
        BOOST_TEST_CONTEXT(when) {
          std::vector<float> fused = net->predict(x.data());
          std::vector<std::vector<float>> shortcuts;
          for (size_t k : {6, 9, 13, 14}) shortcuts.push_back(net->layer_output(k));
          BOOST_TEST((fused == net->predict(x.data())), "two passes differ");
          std::vector<float> again;
          BOOST_TEST(fused_against_unfused(*net, x, &again) <= 1e-5);
          BOOST_TEST((again == fused), "a third pass differs");
          size_t at = 0;
          // Relative to the largest value: the inference pass's folded batch norm and Winograd
          // kernels round apart from the plain pass by ~2e-6 of it here with or without the sums.
          for (size_t k : {6, 9, 13, 14}) {
            const std::vector<float> plain = net->layer_output(k), &got = shortcuts[at++];
            double worst = got.size() == plain.size() ? 0 : INFINITY, largest = 0;
            for (size_t e = 0; e < got.size() && e < plain.size(); ++e) {
              worst = std::max(worst, double(std::fabs(got[e] - plain[e])));
              largest = std::max(largest, double(std::fabs(plain[e])));
            }
            BOOST_TEST(worst <= 1e-5 * largest, "layer " << k << "'s output differs from the unfused pass's by " << worst
                                                          << " (largest value " << largest << ")");
          }
        }
      };
      check("first pass");
      net->train_pass(x.data(), t.data());
      net->update(0.01f);
      check("after an update");
      net->set_batch(b + 1);
      net->set_batch(b);
      check("after set_batch");
    }
  }
}

// Global average pooling reads any layout in inference, so the residual block before it keeps
// the convolutions' layouts (before, the pooling's planar input made the whole block planar);
// the pooled values are the planar pass's bit for bit.
BOOST_AUTO_TEST_CASE(inference_plan_keeps_layouts_up_to_global_average_pooling) {
  const std::string cfg =
      "[net]\nbatch=3\nwidth=9\nheight=9\nchannels=3\n"
      "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\npad=1\nactivation=relu\n"
      "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\npad=1\nactivation=linear\n"
      "[shortcut]\nfrom=-2\nactivation=relu\n"
      "[avgpool]\n[connected]\noutput=4\nactivation=linear\n";
  for (int threads : {1, 2}) {
    auto net = rpg_test::net_from_text(cfg, threads);
    const auto& layers = net->layers();
    BOOST_TEST(layers[2]->infer_layout != 0, "the shortcut before the pooling went planar");
    BOOST_TEST(layers[3]->infer_layout == 0);
    const auto x = rpg_test::random_vector(size_t(net->batch() * net->input_size()), 93);
    std::vector<float> fused;
    BOOST_TEST(fused_against_unfused(*net, x, &fused) <= 1e-5);
    // The pooled values from the blocked shortcut against the pooling of its planar copy (after
    // an inference pass again: the unfused pass left planar outputs).
    net->predict(x.data());
    const int c = layers[2]->out.c;
    const int64_t spatial = layers[2]->out.spatial();
    const std::vector<float> planar = net->layer_output(2);
    std::vector<float> want(size_t(net->batch()) * size_t(c));
    net->backend().avgpool_forward(net->batch(), c, spatial, planar.data(), want.data());
    BOOST_TEST(layers[3]->output.to_vector() == want, "blocked pooling differs from planar pooling");
  }
}

// The inference plan where a shortcut's inputs come from a layer that keeps its input's layout
// (max pooling) and from a convolution, in both orders: the convolution is asked for the pooled
// tensor's layout, so the shortcut keeps it too; the outputs equal the unfused pass's.
BOOST_AUTO_TEST_CASE(inference_plan_matches_a_convolution_to_the_other_input_of_a_shortcut) {
  const std::string head =
      "[net]\nbatch=3\nwidth=10\nheight=10\nchannels=3\n"
      "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\npad=1\nactivation=relu\n";
  const std::string pool = "[maxpool]\nsize=3\nstride=1\n";
  const std::string conv = "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=1\nactivation=linear\n";
  const std::string shortcut = "[shortcut]\nfrom=1\nactivation=relu\n";
  const std::string tail =
      "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=relu\n[avgpool]\n[connected]\noutput=4\nactivation=linear\n";
  // Shortcut at index 3: inputs {2 (the convolution), 1 (max pooling)}; then {2 (max pooling), 1 (the convolution)}.
  const std::string orders[] = {head + pool + conv + shortcut + tail, head + conv + pool + shortcut + tail};
  for (const std::string& cfg : orders) {
    auto net = rpg_test::net_from_text(cfg, 1);
    const rpg::Layer& shortcut = *net->layers()[3];
    BOOST_REQUIRE(shortcut.type == "shortcut");
    BOOST_TEST(shortcut.infer_layout != 0, "the shortcut's inputs were not brought to one layout");
    BOOST_TEST(net->layers()[1]->infer_layout == net->layers()[2]->infer_layout);
    const auto x = rpg_test::random_vector(size_t(net->batch() * net->input_size()), 91);
    std::vector<float> fused;
    const double worst = fused_against_unfused(*net, x, &fused);
    BOOST_TEST(worst <= 1e-5, "fused and unfused outputs differ by " << worst);
  }
}
