// The CUDA backend against the CPU reference: every Backend operation on random inputs, then a
// full training step of a small network (conv + BN + groups + maxpool + shortcut + route +
// dropout + connected + softmax, two layers drawn from a ring). Float results must agree within
// a relative error of 1e-4, measured as max |gpu - cpu| / max |cpu| over a tensor; the ring
// generator, the ring gather, argmax indices and dropout masks must agree bit for bit.
//
// Compiled in every build. Without CUDA support (no make GPU=1) or without a device, every GPU
// test case is skipped with the reason (Boost.Test precondition) and the module exits 0.
// RPG_TEST_GPU=N picks the device (default 0).
#define BOOST_TEST_MODULE cuda
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <iostream>

#include "backend/factory.h"
#include "base/error.h"
#include "testing.h"
#ifdef RPG_GPU
#include "cuda_backend.h"
#endif

using rpg::Backend;
using rpg::Buffer;

namespace {

int test_device() {
  const char* d = std::getenv("RPG_TEST_GPU");
  return d ? std::atoi(d) : 0;
}

// Why the GPU tests cannot run here; "" when they can.
const std::string& skip_reason() {
  static const std::string reason = [] {
    std::string why;
    return rpg::cuda_available(&why) ? std::string() : why;
  }();
  return reason;
}

struct GpuReady {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    boost::test_tools::assertion_result r(skip_reason().empty());
    r.message() << skip_reason();
    return r;
  }
};

// One line on stdout saying what this run covers.
struct Announce {
  Announce() {
    if (!skip_reason().empty())
      std::cout << "test_cuda: every GPU test is skipped: " << skip_reason() << "\n";
#ifdef RPG_GPU
    else
      std::cout << "test_cuda: comparing with the CPU on "
                << rpg::CudaBackend(test_device()).device_name() << "\n";
#endif
  }
};
BOOST_TEST_GLOBAL_FIXTURE(Announce);

#define GPU_TEST(name) BOOST_AUTO_TEST_CASE(name, *boost::unit_test::precondition(GpuReady()))

// max |g - c| / max |c| (0 when both are 0; infinite when g has a NaN where c has none).
double rel_err(const std::vector<float>& g, const std::vector<float>& c) {
  double diff = 0, ref = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (std::isnan(g[i]) != std::isnan(c[i])) return INFINITY;
    if (std::isnan(c[i])) continue;
    diff = std::max(diff, std::fabs(double(g[i]) - double(c[i])));
    ref = std::max(ref, std::fabs(double(c[i])));
  }
  return diff == 0 ? 0 : diff / std::max(ref, 1e-30);
}

void expect_close(const std::vector<float>& g, const std::vector<float>& c, const std::string& what,
                  double tol = 1e-4) {
  BOOST_REQUIRE_EQUAL(g.size(), c.size());
  const double e = rel_err(g, c);
  BOOST_CHECK_MESSAGE(e <= tol, what << ": relative error " << e << " > " << tol);
}

// The two backends and tensors that live on both, with the same contents. The CPU twin is the
// reference engine (im2col + OpenBLAS), which the CUDA backend mirrors.
struct Twins {
  rpg::CpuBackend cpu{1, rpg::CpuEngine::Reference};
  std::unique_ptr<Backend> gpu = rpg::make_backend(test_device(), 1);

  template <typename V>
  struct Twin {
    Backend* cpu_be;
    Buffer<V> c, g;
    V* operator()(Backend& be) { return &be == cpu_be ? c.data() : g.data(); }
  };
  template <typename V = float>
  Twin<V> make(const std::vector<V>& host) {
    Twin<V> t{&cpu, {}, {}};
    t.c.resize(cpu, int64_t(host.size()));
    t.g.resize(*gpu, int64_t(host.size()));
    t.c.upload(host);
    t.g.upload(host);
    return t;
  }
  Twin<float> random(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
    return make(rpg_test::random_vector(n, seed, lo, hi));
  }
  void run(const std::function<void(Backend&)>& f) {
    f(cpu);
    f(*gpu);
  }
  template <typename V>
  void close(Twin<V>& t, const std::string& what, double tol = 1e-4) {
    expect_close(t.g.to_vector(), t.c.to_vector(), what, tol);
  }
  template <typename V>
  void same(Twin<V>& t, const std::string& what) {
    auto g = t.g.to_vector(), c = t.c.to_vector();
    BOOST_CHECK_MESSAGE(std::memcmp(g.data(), c.data(), c.size() * sizeof(V)) == 0, what << ": not bit-identical");
  }
  void set_chunk(int64_t floats) {
#ifdef RPG_GPU
    dynamic_cast<rpg::CudaBackend&>(*gpu).set_conv_chunk_floats(floats);
#else
    (void)floats;
#endif
  }
};
using TwinF = Twins::Twin<float>;

}  // namespace

BOOST_AUTO_TEST_CASE(factory_reports_what_the_build_has) {
  auto cpu = rpg::make_backend(-1, 2);
  BOOST_TEST(cpu->name() == "cpu");
  BOOST_TEST(cpu->threads() == 2);
  std::string why;
  const bool ok = rpg::cuda_available(&why);
#ifdef RPG_GPU
  BOOST_TEST(rpg::build_features() == "openblas,onednn,cuda");
  if (!ok) {
    BOOST_TEST(why.rfind("no CUDA device", 0) == 0, why);
    try {
      rpg::make_backend(0, 1);
      BOOST_ERROR("make_backend(0) without a device did not throw");
    } catch (const rpg::Error& e) {
      BOOST_TEST(int(e.status()) == int(rpg::Status::DeviceError));
      BOOST_TEST(std::string(e.what()).find("no CUDA device") != std::string::npos, e.what());
    }
  }
#else
  BOOST_TEST(rpg::build_features() == "openblas,onednn");
  BOOST_TEST(!ok);
  BOOST_TEST(why == "this build has no CUDA support (rebuild with make GPU=1)");
  try {
    rpg::make_backend(0, 1);
    BOOST_ERROR("make_backend(0) in a CPU build did not throw");
  } catch (const rpg::Error& e) {
    BOOST_TEST(int(e.status()) == int(rpg::Status::Unsupported));
    BOOST_TEST(std::string(e.what()) == "this build has no CUDA support (rebuild with make GPU=1)");
  }
#endif
}

GPU_TEST(errors_are_statuses) {
  try {
    rpg::make_backend(1000, 1);
    BOOST_ERROR("make_backend(1000) did not throw");
  } catch (const rpg::Error& e) {
    BOOST_TEST(int(e.status()) == int(rpg::Status::DeviceError), e.what());
  }
  Twins t;
  try {
    t.gpu->alloc(size_t(1) << 52);
    BOOST_ERROR("a 4 PB allocation did not throw");
  } catch (const rpg::Error& e) {
    BOOST_TEST(int(e.status()) == int(rpg::Status::OutOfMemory), e.what());
  }
  auto x = t.random(1000, 1);  // the backend is still usable
  t.run([&](Backend& be) { be.scale(1000, 3.f, x(be)); });
  t.same(x, "scale after a failed allocation");
}

GPU_TEST(vector_operations) {
  Twins t;
  for (int64_t n : {1, 1000, 1000003}) {
    const std::string at = " n=" + std::to_string(n);
    auto x = t.random(size_t(n), 2), y = t.random(size_t(n), 3);
    t.run([&](Backend& be) { be.fill(y(be), n / 2, 0.25f); });
    t.same(y, "fill" + at);
    t.run([&](Backend& be) { be.axpy(n, -0.7f, x(be), y(be)); });
    t.close(y, "axpy" + at);
    t.run([&](Backend& be) { be.scale(n, 1.5f, y(be)); });
    t.close(y, "scale" + at);
    t.run([&](Backend& be) { be.copy(y(be), x(be), n); });
    t.same(y, "copy" + at);
    const double sc = t.cpu.sum(x.c.data(), n), sg = t.gpu->sum(x.g.data(), n);
    BOOST_CHECK_MESSAGE(std::fabs(sg - sc) <= 1e-9 * std::max(1.0, std::fabs(sc)), "sum" << at << ": " << sg << " vs " << sc);
    BOOST_TEST(t.gpu->sum(x.g.data(), n) == sg);  // deterministic
  }
  auto src = t.random(7 * 13, 4), dst = t.random(7 * 20, 5);
  for (bool acc : {false, true}) {
    t.run([&](Backend& be) { be.copy_rows(7, 11, src(be), 13, dst(be) + 4, 20, acc); });
    t.close(dst, acc ? "copy_rows accumulate" : "copy_rows");
  }
}

GPU_TEST(gemm_all_transpositions) {
  Twins t;
  const int m = 37, n = 53, k = 29;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      const int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;
      auto a = t.random(size_t(ta ? k : m) * lda, 6), b = t.random(size_t(tb ? n : k) * ldb, 7);
      auto c = t.random(size_t(m) * ldc, 8);
      t.run([&](Backend& be) { be.gemm(ta, tb, m, n, k, 0.75f, a(be), lda, b(be), ldb, 0.5f, c(be), ldc); });
      t.close(c, "gemm ta=" + std::to_string(ta) + " tb=" + std::to_string(tb));
    }
  auto a = t.random(100, 9), b = t.random(100, 10), c = t.random(60, 11);
  t.run([&](Backend& be) { be.gemm(false, false, 6, 10, 0, 1.f, a(be), 1, b(be), 10, 0.5f, c(be), 10); });
  t.close(c, "gemm k=0");
}

GPU_TEST(im2col_and_col2im) {
  Twins t;
  const rpg::ConvGeometry geoms[] = {{3, 7, 6, 3, 1, 1, 7, 6}, {2, 9, 8, 3, 2, 1, 5, 4}, {4, 5, 5, 1, 1, 0, 5, 5},
                                     {2, 11, 9, 5, 2, 2, 6, 5}, {1, 6, 6, 2, 2, 0, 3, 3}};
  for (const auto& g : geoms) {
    const size_t rows = size_t(g.channels) * g.ksize * g.ksize, cols = size_t(g.out_h) * g.out_w;
    auto im = t.random(size_t(g.channels) * g.height * g.width, 12), col = t.random(rows * cols, 13);
    t.run([&](Backend& be) { be.im2col(g, im(be), col(be)); });
    t.same(col, "im2col k=" + std::to_string(g.ksize));
    auto col2 = t.random(rows * cols, 14);
    t.run([&](Backend& be) { be.col2im(g, col2(be), im(be)); });
    t.close(im, "col2im k=" + std::to_string(g.ksize));
  }
}

GPU_TEST(convolutions) {
  Twins t;
  struct Case { int c, h, w, k, s, p, groups, filters, batch; };
  const Case cases[] = {{3, 8, 8, 3, 1, 1, 1, 8, 4},  {4, 9, 7, 3, 2, 1, 2, 6, 3},  {8, 6, 6, 1, 1, 0, 1, 5, 5},
                        {6, 7, 7, 1, 2, 0, 3, 6, 2},  {4, 10, 10, 5, 1, 2, 4, 8, 2}, {3, 16, 16, 7, 2, 3, 1, 4, 1},
                        {16, 4, 4, 3, 1, 1, 16, 16, 9},
                        // 3x3 stride 1 with >= 8 channels and filters: the CPU twin runs Winograd
                        {8, 9, 7, 3, 1, 1, 1, 12, 5}, {12, 6, 6, 3, 1, 0, 1, 8, 3}};
  for (const Case& cs : cases)
    for (int chunking = 0; chunking < 3; ++chunking) {
      const int oh = (cs.h + 2 * cs.p - cs.k) / cs.s + 1, ow = (cs.w + 2 * cs.p - cs.k) / cs.s + 1;
      const rpg::ConvGeometry g{cs.c / cs.groups, cs.h, cs.w, cs.k, cs.s, cs.p, oh, ow};
      // The whole batch in one chunk; one image per chunk; two (backward) to four (forward)
      // images per chunk, so odd batches end in a partial chunk.
      const int64_t col = int64_t(cs.c) * cs.k * cs.k * oh * ow, outf = int64_t(cs.filters) * oh * ow;
      const int64_t chunk = chunking == 0 ? int64_t(1) << 26 : chunking == 1 ? 1 : 2 * (2 * col + outf);
      t.set_chunk(chunk);
      const size_t in_n = size_t(cs.batch) * cs.c * cs.h * cs.w, out_n = size_t(cs.batch) * cs.filters * oh * ow;
      const size_t w_n = size_t(cs.filters) * g.channels * cs.k * cs.k;
      auto in = t.random(in_n, 15), w = t.random(w_n, 16), out = t.random(out_n, 17);
      auto delta = t.random(out_n, 18), dw = t.random(w_n, 19), din = t.random(in_n, 20);
      const std::string at = " k=" + std::to_string(cs.k) + " s=" + std::to_string(cs.s) + " groups=" +
                             std::to_string(cs.groups) + " batch=" + std::to_string(cs.batch) +
                             " chunking " + std::to_string(chunking);
      t.run([&](Backend& be) { be.conv_forward(g, cs.batch, cs.groups, cs.filters, in(be), w(be), out(be)); });
      t.close(out, "conv_forward" + at);
      t.run([&](Backend& be) {
        be.conv_backward(g, cs.batch, cs.groups, cs.filters, in(be), w(be), delta(be), dw(be), din(be));
        be.conv_backward(g, cs.batch, cs.groups, cs.filters, in(be), w(be), delta(be), dw(be), nullptr);
      });
      t.close(dw, "conv_backward weights" + at);
      t.close(din, "conv_backward input" + at);
      auto din_set = t.random(in_n, 26);  // written over (add_in_delta false)
      t.run([&](Backend& be) {
        be.conv_backward(g, cs.batch, cs.groups, cs.filters, in(be), w(be), delta(be), dw(be), din_set(be), 0, 0,
                         false);
      });
      t.close(din_set, "conv_backward written input" + at);
    }
  t.set_chunk(int64_t(1) << 26);
  // Deterministic: the same call twice gives the same bits.
  const rpg::ConvGeometry g{8, 12, 12, 3, 1, 1, 12, 12};
  auto in = t.random(16 * 8 * 144, 21), w = t.random(16 * 72, 22), d = t.random(16 * 16 * 144, 23);
  auto dw1 = t.random(16 * 72, 24), dw2 = t.random(16 * 72, 24);
  t.gpu->conv_backward(g, 16, 1, 16, in.g.data(), w.g.data(), d.g.data(), dw1.g.data(), nullptr);
  t.gpu->conv_backward(g, 16, 1, 16, in.g.data(), w.g.data(), d.g.data(), dw2.g.data(), nullptr);
  BOOST_TEST(dw1.g.to_vector() == dw2.g.to_vector());
}

GPU_TEST(bias_and_activations) {
  Twins t;
  const int batch = 3, channels = 5, spatial = 37;
  const size_t n = size_t(batch) * channels * spatial;
  auto out = t.random(n, 25), bias = t.random(channels, 26), grad = t.random(channels, 27);
  t.run([&](Backend& be) { be.add_bias(out(be), bias(be), batch, channels, spatial); });
  t.close(out, "add_bias");
  t.run([&](Backend& be) { be.bias_grad(out(be), batch, channels, spatial, grad(be)); });
  t.close(grad, "bias_grad");
  int count = 0;
  rpg::act_names(&count);
  for (int i = 0; i < count; ++i) {
    const rpg::Act a = rpg::Act(i);
    auto x = t.random(n, 28, -6.f, 6.f), y = t.random(n, 29), delta = t.random(n, 30), delta2 = t.random(n, 30);
    t.run([&](Backend& be) { be.activate(a, x(be), y(be), n); });
    t.close(y, "activate " + rpg::act_name(a));
    t.run([&](Backend& be) { be.activate_backward(a, x(be), y(be), delta(be), n); });
    t.close(delta, "activate_backward " + rpg::act_name(a));
    if (rpg::act_needs_input(a)) continue;
    t.run([&](Backend& be) { be.activate_backward(a, nullptr, y(be), delta2(be), n); });
    t.close(delta2, "activate_backward without x " + rpg::act_name(a));
  }
}

GPU_TEST(batch_norm) {
  Twins t;
  for (int spatial : {1, 49, 4099}) {
    const int batch = 6, channels = 7;
    const size_t n = size_t(batch) * channels * spatial;
    const std::string at = " spatial=" + std::to_string(spatial);
    auto x = t.random(n, 31, -2.f, 3.f), mean = t.random(channels, 32), var = t.random(channels, 33);
    t.run([&](Backend& be) { be.bn_stats(x(be), batch, channels, spatial, mean(be), var(be)); });
    t.close(mean, "bn_stats mean" + at);
    t.close(var, "bn_stats var" + at);
    auto x_hat = t.random(n, 34), gamma = t.random(channels, 35, .5f, 2.f), beta = t.random(channels, 36);
    t.run([&](Backend& be) { be.bn_normalize(x(be), mean(be), var(be), batch, channels, spatial, 1e-5f, x_hat(be)); });
    t.close(x_hat, "bn_normalize" + at);
    auto y = t.random(n, 37);
    t.run([&](Backend& be) { be.bn_scale_shift(x_hat(be), gamma(be), beta(be), batch, channels, spatial, y(be)); });
    t.close(y, "bn_scale_shift" + at);
    for (bool training : {true, false}) {
      auto dy = t.random(n, 38), gg = t.random(channels, 39), bg = t.random(channels, 40);
      t.run([&](Backend& be) {
        be.bn_backward(x_hat(be), gamma(be), var(be), batch, channels, spatial, 1e-5f, training, dy(be), gg(be),
                       bg(be));
      });
      const std::string mode = training ? " training" : " inference";
      t.close(dy, "bn_backward dx" + mode + at);
      t.close(gg, "bn_backward gamma_grad" + mode + at);
      t.close(bg, "bn_backward beta_grad" + mode + at);
    }
    auto rm = t.random(channels, 41), rv = t.random(channels, 42, .1f, 2.f);
    t.run([&](Backend& be) { be.bn_running_update(mean(be), var(be), channels, 0.01f, int64_t(n / channels), rm(be), rv(be)); });
    t.close(rm, "bn_running_update mean" + at);
    t.close(rv, "bn_running_update var" + at);
  }
}

GPU_TEST(pooling) {
  Twins t;
  // {batch, channels, h, w, size, stride, padding}: overlapping windows, Darknet's default
  // padding (size - 1), stride 1, uneven edges.
  const int cases[][7] = {{2, 3, 8, 8, 2, 2, 1}, {2, 3, 9, 7, 3, 2, 2}, {1, 4, 6, 6, 3, 1, 2}, {3, 2, 7, 5, 2, 1, 0},
                          {1, 2, 10, 10, 5, 3, 4}};
  for (const auto& c : cases) {
    const int oh = (c[2] + c[6] - c[4]) / c[5] + 1, ow = (c[3] + c[6] - c[4]) / c[5] + 1;
    const rpg::PoolGeometry g{c[0], c[1], c[2], c[3], c[4], c[5], c[6], oh, ow};
    const size_t in_n = size_t(c[0]) * c[1] * c[2] * c[3], out_n = size_t(c[0]) * c[1] * oh * ow;
    auto in = t.random(in_n, 43), out = t.random(out_n, 44), din = t.random(in_n, 45), dout = t.random(out_n, 46);
    auto idx = t.make(std::vector<int32_t>(out_n, 0));
    const std::string at = " size=" + std::to_string(c[4]) + " stride=" + std::to_string(c[5]);
    t.run([&](Backend& be) { be.maxpool_forward(g, in(be), out(be), idx(be)); });
    t.same(out, "maxpool_forward" + at);
    t.same(idx, "maxpool_forward argmax" + at);
    t.run([&](Backend& be) { be.maxpool_backward(g, dout(be), idx(be), din(be)); });
    t.same(din, "maxpool_backward" + at);  // the same sums in the same order
  }
  for (int spatial : {1, 49, 20000}) {
    auto in = t.random(size_t(6) * spatial, 47), out = t.random(6, 48), din = t.random(size_t(6) * spatial, 49);
    t.run([&](Backend& be) { be.avgpool_forward(2, 3, spatial, in(be), out(be)); });
    t.close(out, "avgpool_forward spatial=" + std::to_string(spatial));
    t.run([&](Backend& be) { be.avgpool_backward(2, 3, spatial, out(be), din(be)); });
    t.close(din, "avgpool_backward spatial=" + std::to_string(spatial));
  }
}

GPU_TEST(softmax_and_costs) {
  Twins t;
  for (int n : {10, 1000})
    for (int groups : {1, 2})
      for (float temp : {1.f, 2.5f}) {
        const int batch = 5;
        const size_t total = size_t(batch) * n;
        const std::string at = " n=" + std::to_string(n) + " groups=" + std::to_string(groups);
        auto in = t.random(total, 50, -4.f, 4.f), out = t.random(total, 51);
        t.run([&](Backend& be) { be.softmax_forward(in(be), batch, n, groups, temp, out(be)); });
        t.close(out, "softmax_forward" + at);
        auto dout = t.random(total, 52), din = t.random(total, 53);
        t.run([&](Backend& be) { be.softmax_backward(out(be), dout(be), batch, n, groups, temp, din(be)); });
        t.close(din, "softmax_backward" + at);
        std::vector<float> truth(total, 0.f);
        for (size_t r = 0; r < size_t(batch) * groups; ++r) truth[r * (n / groups) + r % (n / groups)] = 1.f;
        truth[3] = 0.5f;  // a soft target
        auto tr = t.make(truth), err = t.random(total, 54), d2 = t.random(total, 55);
        t.run([&](Backend& be) { be.softmax_cross_entropy(out(be), tr(be), batch, n, groups, temp, err(be), d2(be)); });
        t.close(err, "softmax_cross_entropy err" + at);
        t.close(d2, "softmax_cross_entropy delta" + at);
      }
  const size_t n = 999;
  std::vector<float> truth = rpg_test::random_vector(n, 56, -2.f, 2.f);
  for (size_t i = 0; i < n; i += 7) truth[i] = -1234.f;  // masked entries
  for (auto type : {rpg::CostType::Sse, rpg::CostType::Masked, rpg::CostType::Smooth, rpg::CostType::L1}) {
    auto x = t.random(n, 57, -3.f, 3.f), tr = t.make(truth), err = t.random(n, 58), d = t.random(n, 59);
    t.run([&](Backend& be) { be.cost(type, x(be), tr(be), int64_t(n), 0.5f, err(be), d(be)); });
    t.close(err, "cost err type " + std::to_string(int(type)));
    t.close(d, "cost delta type " + std::to_string(int(type)));
  }
}

GPU_TEST(shortcut_upsample_crop) {
  Twins t;
  // {w1, h1, c1, w2, h2, c2}: same shape, add larger (stride 2), add smaller (sample 2), channels differ.
  const int cases[][6] = {{6, 5, 4, 6, 5, 4}, {8, 8, 3, 4, 4, 5}, {3, 3, 6, 6, 6, 2}};
  for (const auto& c : cases) {
    const int batch = 2;
    auto add = t.random(size_t(batch) * c[0] * c[1] * c[2], 60), out = t.random(size_t(batch) * c[3] * c[4] * c[5], 61);
    t.run([&](Backend& be) { be.shortcut_forward(batch, c[0], c[1], c[2], add(be), c[3], c[4], c[5], 0.5f, 2.f, out(be)); });
    t.close(out, "shortcut_forward w1=" + std::to_string(c[0]) + " w2=" + std::to_string(c[3]));
    t.run([&](Backend& be) { be.shortcut_backward(batch, c[0], c[1], c[2], add(be), c[3], c[4], c[5], 2.f, out(be)); });
    t.close(add, "shortcut_backward w1=" + std::to_string(c[0]) + " w2=" + std::to_string(c[3]));
  }
  auto in = t.random(2 * 3 * 5 * 4, 62), up = t.random(2 * 3 * 15 * 12, 63);
  t.run([&](Backend& be) { be.upsample(in(be), 2, 3, 5, 4, 3, 0.5f, up(be)); });
  t.same(up, "upsample");
  t.run([&](Backend& be) { be.upsample_backward(up(be), 2, 3, 5, 4, 3, 0.5f, in(be)); });
  t.close(in, "upsample_backward");
  for (bool flip : {false, true}) {
    auto img = t.random(2 * 3 * 9 * 8, 64), cr = t.random(2 * 3 * 6 * 5, 65);
    t.run([&](Backend& be) { be.crop(img(be), 2, 3, 9, 8, 6, 5, 2, 1, flip, 2.f, -1.f, cr(be)); });
    t.close(cr, flip ? "crop flipped" : "crop");
    t.run([&](Backend& be) { be.crop_backward(cr(be), 2, 3, 9, 8, 6, 5, 2, 1, flip, 2.f, img(be)); });
    t.close(img, flip ? "crop_backward flipped" : "crop_backward");
  }
}

GPU_TEST(dropout_masks_match) {
  Twins t;
  const int64_t n = 100003;
  auto in = t.random(size_t(n), 66, .5f, 1.f), out = t.random(size_t(n), 67), din = t.random(size_t(n), 68);
  t.run([&](Backend& be) { be.dropout(in(be), n, 0.3f, 0xfeedULL, out(be)); });
  const auto g = out.g.to_vector(), c = out.c.to_vector();
  int64_t differ = 0, dropped = 0;
  for (int64_t i = 0; i < n; ++i) {
    differ += (g[size_t(i)] == 0.f) != (c[size_t(i)] == 0.f);
    dropped += c[size_t(i)] == 0.f;
  }
  BOOST_TEST(differ == 0);
  BOOST_TEST(std::fabs(double(dropped) / n - 0.3) < 0.01);
  t.same(out, "dropout");
  t.run([&](Backend& be) { be.dropout_backward(out(be), n, 0.3f, 0xfeedULL, din(be)); });
  t.close(din, "dropout_backward");
}

GPU_TEST(ring_generator_is_bit_identical) {
  Twins t;
  const int64_t n = 50000, k = 777;
  std::vector<int32_t> code(static_cast<size_t>(n)), inverse(static_cast<size_t>(n));
  rpg::Rng rng(69);
  for (auto& c : code) c = int32_t(1 + rng.below(int(k))) * (rng.uniform() < .5f ? -1 : 1);
  for (auto& c : inverse) c = int32_t(1 + rng.below(int(n))) * (rng.uniform() < .5f ? -1 : 1);
  auto ring = t.random(size_t(k), 70), w = t.random(size_t(n), 71), grads = t.random(size_t(n), 72);
  auto cd = t.make(code), inv = t.make(inverse);
  auto rg = t.random(size_t(k), 73);
  t.run([&](Backend& be) { be.ring_generate(ring(be), cd(be), n, 0.37f, w(be)); });
  t.same(w, "ring_generate");
  t.run([&](Backend& be) { be.ring_gather(grads(be), inv(be), n, k, rg(be)); });
  t.same(rg, "ring_gather");
  auto p = t.random(5000, 74), g = t.random(5000, 75);
  t.run([&](Backend& be) { be.sgd_update(p(be), g(be), 5000, 0.01f, 0.0005f, 0.9f); });
  t.close(p, "sgd_update weights");
  t.close(g, "sgd_update momentum");
}

namespace {

const char* kTrainCfg = R"([net]
batch=4
width=12
height=12
channels=3
learning_rate=0.05
momentum=0.9
decay=0.0005
seed=5
[ring]
name=g
dof=0.5
seed=3
[convolutional]
batch_normalize=1
filters=8
size=3
pad=1
activation=leaky
[convolutional]
batch_normalize=1
filters=8
size=3
pad=1
groups=2
ring=g
activation=relu
[shortcut]
from=0
activation=linear
[maxpool]
size=2
stride=2
[convolutional]
filters=8
size=1
ring=g
activation=mish
[route]
layers=-1,-2
[convolutional]
batch_normalize=1
filters=6
size=3
stride=2
pad=1
activation=swish
[dropout]
probability=0.25
[connected]
output=5
activation=linear
[softmax]
)";

}  // namespace

GPU_TEST(training_steps_match_the_cpu) {
  const rpg::CfgFile cfg = rpg::parse_cfg(kTrainCfg, "<cuda-train>");
  rpg::Network cpu(cfg, rpg::make_backend(-1, 1, true)), gpu(cfg, rpg::make_backend(test_device(), 1));
  const int batch = cpu.batch();
  const std::vector<float> x = rpg_test::random_vector(size_t(batch * cpu.input_size()), 76, 0.f, 1.f);
  std::vector<float> truth(size_t(batch * cpu.output_size()), 0.f);
  for (int b = 0; b < batch; ++b) truth[size_t(b * cpu.output_size() + (b * 2) % cpu.output_size())] = 1.f;
  for (int step = 0; step < 3; ++step) {
    const std::string at = " (step " + std::to_string(step) + ")";
    const double lc = cpu.train_pass(x.data(), truth.data()), lg = gpu.train_pass(x.data(), truth.data());
    BOOST_CHECK_MESSAGE(std::fabs(lg - lc) <= 1e-4 * std::fabs(lc), "loss " << lg << " vs " << lc << at);
    for (size_t i = 0; i < cpu.layers().size(); ++i) {
      auto& lcpu = *cpu.layers()[i];
      auto& lgpu = *gpu.layers()[i];
      const std::string name = "layer " + std::to_string(i) + " " + lcpu.type;
      expect_close(lgpu.output.to_vector(), lcpu.output.to_vector(), name + " output" + at);
      expect_close(lgpu.delta.to_vector(), lcpu.delta.to_vector(), name + " delta" + at);
      auto pc = lcpu.params(), pg = lgpu.params();
      for (size_t j = 0; j < pc.size(); ++j)
        expect_close(pg[j].grad->to_vector(), pc[j].grad->to_vector(), name + " gradient " + std::to_string(j) + at);
    }
    cpu.update(0.05f);
    gpu.update(0.05f);
    for (size_t i = 0; i < cpu.layers().size(); ++i) {
      auto pc = cpu.layers()[i]->params(), pg = gpu.layers()[i]->params();
      for (size_t j = 0; j < pc.size(); ++j)
        expect_close(pg[j].value->to_vector(), pc[j].value->to_vector(),
                     "layer " + std::to_string(i) + " parameter " + std::to_string(j) + " after update" + at);
    }
    for (size_t r = 0; r < cpu.rings().size(); ++r)
      expect_close(gpu.rings()[r]->values.to_vector(), cpu.rings()[r]->values.to_vector(), "ring values" + at);
  }
  expect_close(gpu.predict(x.data()), cpu.predict(x.data()), "inference after training");
}
