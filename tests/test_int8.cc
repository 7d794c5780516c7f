// Int8 exports and the int8 engine (io/export.h flag int8, core/int8_net.h): the file's round
// trip (exact integer weights from the ring, the calibration kept bit for bit), deterministic
// calibration, every int8 layer against the float32 convolution of the same weights on the same
// input within its stated bound (run it also with DNNL_MAX_CPU_ISA=AVX2 for the AVX2 kernels),
// corrupt and truncated int8 files rejected, and version-1 files
// still loading.
#define BOOST_TEST_MODULE int8
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "backend/cpu_backend.h"
#include "base/error.h"
#include "base/random.h"
#include "core/int8_net.h"
#include "data/dataset.h"
#include "io/container.h"
#include "io/export.h"
#include "layers/batchnorm.h"
#include "train/trainer.h"
#include "testing.h"

using rpg::Network;
using rpg::Status;

namespace {

// A small residual network on 8 x 8 x 3 inputs: an unbound stem, ring-bound convolutions with
// batch norm (relu into a linear one, a shortcut, a strided one), average pooling and a
// ring-bound classifier (an int8 inner product).
const char* kCfg =
    "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=3\nseed=5\nlearning_rate=0.05\nmomentum=0.9\ndecay=0.0005\n\n"
    "[ring]\nname=g\ndof=0.2\n\n"
    "[convolutional]\nfilters=16\nsize=3\nstride=1\npad=1\nbatch_normalize=1\nactivation=relu\n\n"
    "[convolutional]\nfilters=16\nsize=3\nstride=1\npad=1\nbatch_normalize=1\nactivation=relu\nring=g\n\n"
    "[convolutional]\nfilters=16\nsize=3\nstride=1\npad=1\nbatch_normalize=1\nactivation=linear\nring=g\n\n"
    "[shortcut]\nfrom=0\nactivation=relu\n\n"
    "[convolutional]\nfilters=32\nsize=3\nstride=2\npad=1\nbatch_normalize=1\nactivation=leaky\nring=g\n\n"
    "[convolutional]\nfilters=32\nsize=1\nstride=1\npad=0\nactivation=relu\nring=g\n\n"
    "[avgpool]\n\n"
    "[connected]\noutput=10\nactivation=linear\nring=g\n\n"
    "[softmax]\n";

std::unique_ptr<rpg::Backend> cpu() { return std::make_unique<rpg::CpuBackend>(1); }

// Images whose class sets the mean of one channel, deterministic per index.
class Synthetic final : public rpg::Dataset {
 public:
  explicit Synthetic(size_t n) : n_(n) {}
  size_t size() const override { return n_; }
  int label(size_t i) const override { return int(i % 4); }
  rpg::Image image(size_t i) const override {
    rpg::Image im(3, 8, 8);
    rpg::Rng rng(1000 + i);
    for (float& v : im.data) v = float(rng.uniform()) * .5f;
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) im.at(label(i) % 3, y, x) += .4f;
    return im;
  }
  std::string describe(size_t i) const override { return "synthetic #" + std::to_string(i); }
  int channels() const override { return 3; }
  int height() const override { return 8; }
  int width() const override { return 8; }

 private:
  size_t n_;
};

std::unique_ptr<Network> trained_net(const char* cfg = kCfg) {
  auto net = rpg_test::net_from_text(cfg, 1, "int8-small.cfg");
  const size_t n = size_t(net->batch() * net->input_size()), k = size_t(net->output_size());
  for (int i = 0; i < 6; ++i) {
    std::vector<float> truth(size_t(net->batch()) * k, 0.f);
    for (int b = 0; b < net->batch(); ++b) truth[size_t(b) * k + size_t(b + i) % k] = 1.f;
    net->train_pass(rpg_test::random_vector(n, 40 + uint64_t(i), 0.f, 1.f).data(), truth.data());
    net->update(.05f);
  }
  return net;
}

rpg::ExportOptions int8_options(Network& net, const rpg::Dataset& data, int batches) {
  rpg::ExportOptions o;
  o.bits = 8;
  o.int8 = true;
  o.calibration.batches = o.calibration.images = 1;
  o.calibration.ranges.assign(net.layers().size(), {0.f, 0.f});
  // Calibrated on the model as exported (8-bit rings with one scale), as calibrate_export does.
  auto draft = rpg::load_export_from_bytes(rpg::encode_export(net, o), "draft", cpu(), false);
  o.calibration = rpg::calibrate_activations(*draft, data, batches);
  return o;
}

void expect_format_error(const std::string& bytes, const std::string& label, const std::vector<std::string>& needles) {
  try {
    rpg::load_export_from_bytes(bytes, "bad.rpgm", cpu());
    BOOST_ERROR("no error for " << label);
  } catch (const rpg::Error& e) {
    BOOST_CHECK_MESSAGE(e.status() == Status::FormatError, label << ": " << e.what());
    for (const std::string& n : needles)
      BOOST_CHECK_MESSAGE(std::string(e.what()).find(n) != std::string::npos, label << ": '" << e.what() << "' lacks '" << n << "'");
  }
}

std::string with_section(const std::string& file, const std::string& tag, const std::function<void(std::string&)>& edit) {
  const rpg::ContainerReader r = rpg::ContainerReader::parse(file, "x");
  rpg::ContainerWriter w;
  for (const auto& s : r.sections()) {
    std::string p = s.payload;
    if (s.tag == tag) edit(p);
    if (!p.empty() || s.tag != tag) w.add_section(s.tag, p, s.flags);
  }
  return w.bytes();
}
std::string without_section(const std::string& file, const std::string& tag) {
  return with_section(file, tag, [](std::string& p) { p.clear(); });
}
void put_u32(std::string& b, size_t at, uint32_t v) { std::memcpy(&b[at], &v, 4); }
void put_f32(std::string& b, size_t at, float v) { std::memcpy(&b[at], &v, 4); }

struct Fixture {
  explicit Fixture(const char* cfg = kCfg) : net(trained_net(cfg)) {}
  std::unique_ptr<Network> net;
  Synthetic data{64};
  rpg::ExportOptions o = int8_options(*net, data, 3);
  std::string file = rpg::encode_export(*net, o);
};

}  // namespace

BOOST_AUTO_TEST_CASE(int8_file_round_trip_and_exact_ring_codes) {
  Fixture f;
  const rpg::ExportInfo info = rpg::describe_export(f.file, "m.rpgm");
  BOOST_TEST(info.export_version == 2u);
  BOOST_TEST(info.int8);
  BOOST_TEST(info.calibration.batches == 3u);
  BOOST_TEST(info.calibration.images == 4u);
  BOOST_REQUIRE(info.calibration.ranges.size() == f.net->layers().size());
  for (size_t i = 0; i < info.calibration.ranges.size(); ++i) {
    BOOST_TEST(info.calibration.ranges[i].first == f.o.calibration.ranges[i].first);  // bit for bit
    BOOST_TEST(info.calibration.ranges[i].second == f.o.calibration.ranges[i].second);
  }
  BOOST_REQUIRE(info.rings.size() == 1u);
  BOOST_TEST(info.rings[0].bits == 8);
  BOOST_TEST(info.rings[0].block >= info.rings[0].k);  // one scale for the whole ring
  BOOST_TEST(rpg::export_info_text(info).find("int8: one 8-bit scale per ring") != std::string::npos);

  // Loaded with the engine: every ring-bound layer's weights are its codes times one scale,
  // exactly as float32 regenerates them.
  auto net = rpg::load_export_from_bytes(f.file, "m.rpgm", cpu());
  auto* plan = dynamic_cast<rpg::Int8Plan*>(net->inference_plan());
  BOOST_REQUIRE(plan);
  int exact = 0;
  for (const auto& l : net->layers()) {
    if (!plan->layers()[size_t(l->index)].int8 || !l->main_weights().value) continue;
    const std::vector<float> w = l->main_weights().value->to_vector();
    const std::vector<int8_t>& q = plan->weight_codes(l->index);
    const std::vector<float>& s = plan->weight_scales(l->index);
    BOOST_TEST(plan->layers()[size_t(l->index)].exact_weights == !l->ring.empty());
    if (l->ring.empty()) continue;
    ++exact;
    const size_t per = w.size() / s.size();
    for (size_t i = 0; i < w.size(); ++i) {
      BOOST_TEST(s[i / per] == s[0]);  // one scale per layer
      BOOST_REQUIRE_MESSAGE(std::fabs(double(q[i]) * s[i / per] - w[i]) <= 1e-6 * std::fabs(w[i]),
                            "layer " << l->index << " weight " << i << ": " << w[i] << " is not " << int(q[i]) << " x "
                                     << s[i / per]);
    }
  }
  BOOST_TEST(exact == 5);
  // Without the engine the same file is an ordinary float32 export.
  auto fp = rpg::load_export_from_bytes(f.file, "m.rpgm", cpu(), false);
  BOOST_TEST(!fp->inference_plan());
  // A training-mode pass (batch norm's statistics move) drops the plan, and so does an update.
  auto again = rpg::load_export_from_bytes(f.file, "m.rpgm", cpu());
  BOOST_TEST(again->inference_plan());
  again->predict(rpg_test::random_vector(size_t(again->batch() * again->input_size()), 4).data(), true);
  BOOST_TEST(!again->inference_plan());
  net->train_pass(rpg_test::random_vector(size_t(net->batch() * net->input_size()), 3).data(),
                  std::vector<float>(size_t(net->batch() * net->output_size()), .25f).data());
  net->update(.01f);
  BOOST_TEST(!net->inference_plan());
}

BOOST_AUTO_TEST_CASE(calibration_is_deterministic_min_max_of_each_input) {
  Fixture f;
  auto net = rpg::load_export_from_bytes(f.file, "m.rpgm", cpu(), false);
  const rpg::Int8Calibration a = rpg::calibrate_activations(*net, f.data, 3);
  const rpg::Int8Calibration b = rpg::calibrate_activations(*net, f.data, 3);
  BOOST_REQUIRE(a.ranges.size() == b.ranges.size());
  for (size_t i = 0; i < a.ranges.size(); ++i) {
    BOOST_TEST(a.ranges[i].first == b.ranges[i].first);
    BOOST_TEST(a.ranges[i].second == b.ranges[i].second);
  }
  // Layer 0's input is the images themselves: 3 sequential batches of 4 = images 0..11.
  float lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < 12; ++i)
    for (float v : f.data.image(i).data) lo = std::min(lo, v), hi = std::max(hi, v);
  BOOST_TEST(a.ranges[0].first == lo);
  BOOST_TEST(a.ranges[0].second == hi);
  // Layer 2's input is the output of a relu: never negative.
  BOOST_TEST(a.ranges[2].first >= 0.f);
  BOOST_TEST(a.ranges[2].second > 0.f);
  BOOST_CHECK_THROW(rpg::calibrate_activations(*net, f.data, 0), rpg::Error);
}

// |x - the value of x's code|: the rounding (to nearest even) and saturation of quantizing x.
double code_error(double x, const rpg::Int8Code& c) {
  const double lo = c.is_unsigned ? 0 : -128, hi = c.is_unsigned ? 255 : 127;
  const double q = std::min(hi, std::max(lo, std::nearbyint(x / c.scale)));
  return std::fabs(x - q * c.scale);
}

// Checks every output of int8 convolution L (with the shortcut after it when they are fused)
// against the float32 computation, in double, of the same weights on the float32 inputs the run
// left (the previous layer's output, and the shortcut's source): |y - ref| <= |alpha bn_f| (sum_i
// |w_fi| e(x_i) + wstep_f sum_i |x_i|) + |beta| e(residual) + (the output's code error, when it
// is held as codes) + 1e-5 (1 + sum_i |bn_f w_fi x_i| + |shift| + |residual|), where e() is the
// actual quantization error of a value in its code (code_error), and wstep_f the weights'
// rounding: 0 for the ring's exact codes, half a step for per-channel rounded ones, a whole step
// where oneDNN halves the codes (no VNNI). Returns the largest error as a fraction of its bound.
double check_layer(Network& net, rpg::Int8Plan& plan, int L, const std::vector<float>& input) {
  const auto& layers = net.layers();
  const rpg::Int8LayerInfo& li = plan.layers()[size_t(L)];
  rpg::LinearOp op;
  BOOST_REQUIRE(layers[size_t(L)]->linear_op(&op));
  rpg::ShortcutOp sc;
  const bool fused = li.fused;
  if (fused) BOOST_REQUIRE(layers[size_t(L) + 1]->shortcut_op(&sc));
  const int out_layer = fused ? L + 1 : L;
  const std::vector<float> in = L ? layers[size_t(L) - 1]->output.to_vector() : input;
  const std::vector<float> res = fused ? layers[size_t(sc.from)]->output.to_vector() : std::vector<float>();
  const std::vector<float> y = layers[size_t(out_layer)]->output.to_vector();
  const std::vector<float> w = op.weights->to_vector(), bias = op.biases->to_vector();
  std::vector<float> g(size_t(op.filters), 1.f), mean(size_t(op.filters), 0.f), var(size_t(op.filters), 0.f);
  if (op.bn_scales) g = op.bn_scales->to_vector(), mean = op.bn_mean->to_vector(), var = op.bn_var->to_vector();
  const rpg::Int8Code x_code{plan.input_unsigned(L), plan.input_scale(L)};
  const rpg::Int8Code* y_code = plan.output_code(out_layer);
  const rpg::Int8Code* r_code = fused ? plan.output_code(sc.from) : nullptr;
  if (fused) BOOST_REQUIRE(r_code);
  const std::vector<float>& ws = plan.weight_scales(L);
  const double wstep = plan.weights_halved() ? 1.0 : li.exact_weights ? 0.0 : 0.5;
  const double alpha = fused ? sc.alpha : 1.0, beta = fused ? sc.beta : 0.0;
  const rpg::Act act = fused ? sc.act : op.act;
  const rpg::BnEpsilon eps = rpg::BatchNorm::epsilon(false);
  const rpg::ConvGeometry& c = op.g;
  double worst = 0;
  for (int b = 0; b < net.batch(); ++b)
    for (int fi = 0; fi < op.filters; ++fi) {
      const double bn = op.bn_scales ? double(g[size_t(fi)]) * eps.inv_std(var[size_t(fi)]) : 1.0;
      const double shift = op.bn_scales ? bias[size_t(fi)] - mean[size_t(fi)] * bn : bias[size_t(fi)];
      for (int oy = 0; oy < c.out_h; ++oy)
        for (int ox = 0; ox < c.out_w; ++ox) {
          double acc = 0, err = 0, xabs = 0, mag = 0;
          for (int ch = 0; ch < c.channels; ++ch)
            for (int ky = 0; ky < c.ksize; ++ky)
              for (int kx = 0; kx < c.ksize; ++kx) {
                const int iy = oy * c.stride - c.pad + ky, ix = ox * c.stride - c.pad + kx;
                if (iy < 0 || iy >= c.height || ix < 0 || ix >= c.width) continue;
                const double wv = w[size_t(((int64_t(fi) * c.channels + ch) * c.ksize + ky) * c.ksize + kx)];
                const double xv = in[size_t(((int64_t(b) * c.channels + ch) * c.height + iy) * c.width + ix)];
                acc += wv * xv;
                err += std::fabs(wv) * code_error(xv, x_code);
                xabs += std::fabs(xv);
                mag += std::fabs(bn * wv * xv);
              }
          const size_t at = size_t(((int64_t(b) * op.filters + fi) * c.out_h + oy) * c.out_w + ox);
          const double r = fused ? res[at] : 0.0;
          const double ref = rpg::act_apply(act, float(alpha * (bn * acc + shift) + beta * r));
          double bound = std::fabs(alpha * bn) * (err + wstep * ws[size_t(fi)] * xabs) + 1e-5 * (1.0 + mag + std::fabs(shift) + std::fabs(r));
          if (fused) bound += std::fabs(beta) * code_error(r, *r_code);
          // Held as codes: y is the code of a value within the bound above of ref; that code is
          // within half a step of it, or saturated (ref beyond the range: code_error says how far).
          if (y_code) bound += std::max(code_error(ref, *y_code), y_code->scale / 2.0);
          BOOST_REQUIRE_MESSAGE(std::fabs(y[at] - ref) <= bound, "layer " << L << (fused ? " (fused)" : "") << " image " << b
                                                                     << " filter " << fi << " at " << oy << "," << ox
                                                                     << ": int8 " << y[at] << ", float32 " << ref
                                                                     << ", bound " << bound);
          worst = std::max(worst, std::fabs(y[at] - ref) / bound);
        }
    }
  BOOST_TEST_MESSAGE("layer " << L << (fused ? " (with its shortcut)" : "") << ", " << li.kernel << ": worst error "
                              << worst << " of the bound");
  return worst;
}

std::vector<float> images(const rpg::Dataset& data, size_t first, const Network& net) {
  std::vector<float> x(size_t(net.batch() * net.input_size()));
  for (int b = 0; b < net.batch(); ++b) {
    const rpg::Image im = data.image(first + size_t(b));
    std::copy(im.data.begin(), im.data.end(), x.begin() + b * net.input_size());
  }
  return x;
}

// Every int8 layer reading and writing float32 (chaining off): each one on the float32 input the
// previous one left.
BOOST_AUTO_TEST_CASE(every_int8_layer_within_its_bound_of_float32) {
  Fixture f;
  auto net = rpg::load_export_from_bytes(f.file, "m.rpgm", cpu());
  auto* plan = dynamic_cast<rpg::Int8Plan*>(net->inference_plan());
  BOOST_REQUIRE(plan);
  plan->set_chaining(false);
  net->set_threads(1);  // prepares again, without chaining
  BOOST_TEST(plan->int8_layers() >= 5);
  const std::vector<float> x = images(f.data, 40, *net);
  net->predict(x.data());
  int checked = 0;
  for (const auto& l : net->layers())
    if (plan->layers()[size_t(l->index)].int8) {
      BOOST_TEST(!plan->layers()[size_t(l->index)].fused);
      check_layer(*net, *plan, l->index, x);
      ++checked;
    }
  BOOST_TEST(checked == plan->int8_layers());
}

// Chained (as valid/predict run it): codes between int8 layers, the shortcut fused into the
// convolution before it; with float copies of every layer's output (the dequantized codes) so
// that each int8 convolution, fused or not, is checked on the inputs it actually used.
BOOST_AUTO_TEST_CASE(chained_int8_fuses_shortcuts_and_keeps_codes_between_layers) {
  Fixture f;
  auto net = rpg::load_export_from_bytes(f.file, "m.rpgm", cpu());
  auto* plan = dynamic_cast<rpg::Int8Plan*>(net->inference_plan());
  BOOST_REQUIRE(plan);
  // 0 stem -> 1 relu -> 2 linear + 3 shortcut from 0 (fused) -> 4 leaky, stride 2 -> 5 -> 6 avgpool.
  const auto& info = plan->layers();
  BOOST_TEST(info[0].out_int8);  // read by layer 1 and, as the residual, by the fused shortcut
  BOOST_TEST(info[1].out_int8);
  BOOST_TEST(info[2].in_int8);
  BOOST_TEST(info[2].fused);
  BOOST_TEST(info[3].fused);
  BOOST_TEST(info[3].out_int8);
  BOOST_TEST(info[4].in_int8);
  BOOST_TEST(!info[5].out_int8);  // read by avgpool, in float32
  BOOST_TEST(info[7].int8);       // the classifier, an inner product
  const std::vector<float> x = images(f.data, 0, *net);
  const std::vector<float> a = net->predict(x.data());
  plan->set_float_copies(true);
  net->set_threads(1);
  BOOST_TEST(net->predict(x.data()) == a);  // the copies change nothing
  int checked = 0;
  for (const auto& l : net->layers())
    if (info[size_t(l->index)].int8 && l->main_weights().value) {
      check_layer(*net, *plan, l->index, x);
      ++checked;
    }
  BOOST_TEST(checked >= 5);
  // Thread count and batch changes prepare the plan again.
  net->set_threads(2);
  net->set_batch(2);
  BOOST_TEST(net->predict(x.data()).size() == 20u);
}

// A connected layer reading a spatial convolution output directly flattens it in NCHW order, so
// it must not read the convolution's NHWC codes (it did: the classes' probabilities were off by
// up to 0.16).
BOOST_AUTO_TEST_CASE(connected_layer_after_a_spatial_convolution_reads_nchw) {
  Fixture f(
      "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=3\nseed=5\nlearning_rate=0.05\nmomentum=0.9\ndecay=0.0005\n\n"
      "[ring]\nname=g\ndof=0.5\n\n"
      "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nbatch_normalize=1\nactivation=relu\nring=g\n\n"
      "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nbatch_normalize=1\nactivation=leaky\nring=g\n\n"
      "[connected]\noutput=10\nactivation=linear\nring=g\n\n"
      "[softmax]\n");
  auto net = rpg::load_export_from_bytes(f.file, "m.rpgm", cpu());
  auto* plan = dynamic_cast<rpg::Int8Plan*>(net->inference_plan());
  BOOST_REQUIRE(plan);
  BOOST_REQUIRE(plan->layers()[2].int8);
  BOOST_TEST(!plan->layers()[2].in_int8);  // float32 NCHW from the 4 x 4 convolution
  plan->set_float_copies(true);
  net->set_threads(1);
  const std::vector<float> x = images(f.data, 8, *net);
  const std::vector<float> p = net->predict(x.data());
  for (int L = 0; L < 3; ++L) check_layer(*net, *plan, L, x);
  auto fp32 = rpg::load_export_from_bytes(f.file, "m.rpgm", cpu(), false);
  const std::vector<float> q = fp32->predict(x.data());
  BOOST_REQUIRE(p.size() == q.size());
  double worst = 0;
  for (size_t i = 0; i < p.size(); ++i) worst = std::max(worst, double(std::fabs(p[i] - q[i])));
  // Softmax outputs end to end (each layer's own bound is checked above). Measured: 0.010 with
  // VNNI, 0.022 on the AVX2 kernels (7-bit weights); the NHWC misreading gave 0.16 and more.
  BOOST_TEST_MESSAGE("int8 against float32, largest difference of a probability: " << worst);
  BOOST_TEST(worst < 0.05);
}

BOOST_AUTO_TEST_CASE(corrupt_and_truncated_int8_files_are_rejected) {
  Fixture f;
  for (size_t n = 0; n < f.file.size(); n += 7)
    BOOST_CHECK_THROW(rpg::describe_export(f.file.substr(0, n), "bad.rpgm"), rpg::Error);
  const rpg::ContainerReader r = rpg::ContainerReader::parse(f.file, "x");
  size_t at = 16;
  for (const auto& s : r.sections()) {
    at += 16 + s.payload.size();
    if (at < f.file.size()) expect_format_error(f.file.substr(0, at), "cut after " + s.tag, {"bad.rpgm", "truncated"});
  }
  expect_format_error(without_section(f.file, "CALB"), "no CALB", {"bad.rpgm", "CALB"});
  expect_format_error(with_section(f.file, "CALB", [](std::string& p) { p.resize(p.size() - 4); }), "short CALB",
                      {"CALB", "bytes"});
  expect_format_error(with_section(f.file, "CALB", [](std::string& p) { put_u32(p, 0, 1); }), "method", {"method 1"});
  expect_format_error(with_section(f.file, "CALB", [](std::string& p) { put_u32(p, 4, 0); }), "batches", {"CALB"});
  expect_format_error(with_section(f.file, "CALB", [](std::string& p) { put_u32(p, 12, 3); }), "count",
                      {"3 layer ranges"});
  expect_format_error(with_section(f.file, "CALB", [](std::string& p) { put_f32(p, 16, NAN); }), "NaN",
                      {"layer 0", "finite"});
  expect_format_error(with_section(f.file, "CALB", [](std::string& p) { put_f32(p, 20, -1e9f); }), "min > max",
                      {"layer 0"});
  expect_format_error(with_section(f.file, "EXPT", [](std::string& p) { put_u32(p, 12, 0); }), "CALB without flag",
                      {"CALB"});
  expect_format_error(with_section(f.file, "EXPT", [](std::string& p) { put_u32(p, 12, 3); }), "unknown flag",
                      {"unknown flags 2"});
  // A ring quantized with several scales under flag int8.
  rpg::ExportOptions blocks;
  blocks.bits = 8;
  blocks.block = 64;
  const std::string plain = rpg::encode_export(*f.net, blocks);
  std::string calb = rpg::ContainerReader::parse(f.file, "x").require("CALB");
  rpg::ContainerWriter w;
  const rpg::ContainerReader plain_sections = rpg::ContainerReader::parse(plain, "x");
  for (const auto& s : plain_sections.sections()) {
    std::string p = s.payload;
    if (s.tag == "EXPT") put_u32(p, 12, rpg::kExportFlagInt8);
    w.add_section(s.tag, p, s.flags);
  }
  w.add_section("CALB", calb);
  expect_format_error(w.bytes(), "several scales", {"ring 'g'", "one scale"});
  // int8 export options are checked.
  rpg::ExportOptions bad = f.o;
  bad.bits = 4;
  BOOST_CHECK_THROW(rpg::encode_export(*f.net, bad), rpg::Error);
  bad = f.o;
  bad.calibration.ranges.pop_back();
  BOOST_CHECK_THROW(rpg::encode_export(*f.net, bad), rpg::Error);
  bad = f.o;
  bad.calibration.ranges[1] = {1.f, 0.f};
  BOOST_CHECK_THROW(rpg::encode_export(*f.net, bad), rpg::Error);
}

BOOST_AUTO_TEST_CASE(version_1_files_still_load) {
  Fixture f;
  rpg::ExportOptions o;
  o.bits = 8;
  const std::string v2 = rpg::encode_export(*f.net, o);
  const std::string v1 = with_section(v2, "EXPT", [](std::string& p) { put_u32(p, 0, 1); });
  const rpg::ExportInfo info = rpg::describe_export(v1, "old.rpgm");
  BOOST_TEST(info.export_version == 1u);
  BOOST_TEST(!info.int8);
  auto a = rpg::load_export_from_bytes(v1, "old.rpgm", cpu()), b = rpg::load_export_from_bytes(v2, "new.rpgm", cpu());
  const std::vector<float> x = rpg_test::random_vector(size_t(a->batch() * a->input_size()), 8, 0.f, 1.f);
  BOOST_TEST(a->predict(x.data()) == b->predict(x.data()));
  // Version 1 has no flags: its reserved field must be 0; version 3 is unknown.
  expect_format_error(with_section(v1, "EXPT", [](std::string& p) { put_u32(p, 12, 1); }), "v1 flag",
                      {"reserved field is 1"});
  expect_format_error(with_section(v2, "EXPT", [](std::string& p) { put_u32(p, 0, 3); }), "v3",
                      {"unsupported export version 3"});
}
