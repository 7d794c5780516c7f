// Recurrent Parameter Generators (RPG.md): the bit-exact permutation and signs against fixed
// vectors, pi as a bijection, even sampling, gradient checks through the generator, identical
// training with 1 and 2 threads, generation semantics (c_l, s, j, regeneration once per update,
// He fan-out initialisation), DoF accounting of the shipped RPG cfgs, ring checkpoints, and the
// cfg forms that must be accepted.
#define BOOST_TEST_MODULE rpg
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "core/summary.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/darknet_weights.h"
#include "rpg/permutation.h"
#include "rpg/ring.h"
#include "gradcheck.h"
#include "testing.h"

namespace fs = std::filesystem;
using rpg::Buffer;
using rpg::Network;
using rpg::Permutation;
using rpg::Status;

namespace {

std::string net_header(int batch, int c, int h, int w, const std::string& extra = "") {
  char b[200];
  std::snprintf(b, sizeof b, "[net]\nbatch=%d\nwidth=%d\nheight=%d\nchannels=%d\n", batch, w, h, c);
  return b + extra + "\n";
}

// A generated layer's weight gradient in planar order (its kernels may write it in theirs:
// Layer::weight_order).
std::vector<float> planar_weight_gradient(rpg::Layer& l) {
  const std::vector<float> g = l.main_weights().grad->to_vector();
  if (l.weight_order.empty()) return g;
  std::vector<float> planar(g.size());
  for (size_t i = 0; i < g.size(); ++i) planar[i] = g[size_t(l.weight_order[i])];
  return planar;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Runs f, which must throw rpg::Error with this status; returns its message.
std::string error_of(const std::function<void()>& f, Status status) {
  try {
    f();
  } catch (const rpg::Error& e) {
    BOOST_TEST((e.status() == status), "status " << int(e.status()) << " for: " << e.what());
    return e.what();
  }
  BOOST_ERROR("no error thrown");
  return "";
}

// One-hot rows (class (b * 3 + salt) % classes) for softmax networks.
std::vector<float> one_hot(int batch, int classes, int salt) {
  std::vector<float> t(size_t(batch) * size_t(classes), 0.f);
  for (int b = 0; b < batch; ++b) t[size_t(b * classes + (b * 3 + salt) % classes)] = 1.f;
  return t;
}

rpg::Ring& ring_named(Network& net, const std::string& name) {
  for (const auto& r : net.rings())
    if (r->name() == name) return *r;
  BOOST_FAIL("no ring named " << name);
  throw 0;  // unreachable
}

// What a bound layer's weights must be (RPG.md): W[i] = c * s(p) * r[j(p)], p = offset + i,
// computed here from the Permutation and the ring values alone.
std::vector<float> expected_weights(const std::vector<float>& ring, uint64_t seed, int64_t n_total,
                                    int64_t offset, int64_t count, int64_t fan_out, int64_t fmax) {
  // pi is only defined on [0, N): cycle-walking from outside may never return.
  BOOST_REQUIRE_MESSAGE(offset >= 0 && offset + count <= n_total, "positions beyond N");
  const Permutation pi(seed, uint64_t(n_total));
  const uint64_t k = ring.size();
  const float c = float(std::sqrt(double(fmax) / double(fan_out)));
  std::vector<float> w(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t p = uint64_t(offset + i);
    const float v = c * ring[size_t(pi(p) % k)];
    w[size_t(i)] = pi.sign(p) > 0 ? v : -v;
  }
  return w;
}

// Largest |a - b| / max(1e-6, |b|) over two vectors of the same size (1e30 on a size mismatch).
double worst_rel(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 1e30;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])) / std::max(1e-6, std::fabs(double(b[i]))));
  return worst;
}

using rpg_test::TempDir;

}  // namespace

// ---- the bit-exact definition ------------------------------------------------------------------

// The values below come from an independent implementation of RPG.md's text ("Bit-exact
// definition of pi and s": mix, key_i, key_s, b/h/m, the 4-round Feistel F, cycle-walking pi,
// s), written in Python 3 with every product masked to 64 bits, not from rpgnet's code. They pin
// the format: if this test fails, exported rings no longer regenerate the same weights.
BOOST_AUTO_TEST_CASE(fixed_vectors_from_an_independent_implementation) {
  struct Vector {
    uint64_t seed, n, k;
    std::vector<uint64_t> j;  // pi(p) mod K for p = 0, 1, ...
    std::vector<int> s;       // s(p)
  } vectors[] = {
      {1ULL, 10, 3, {2, 0, 2, 1, 1, 0, 1, 2, 0, 0}, {1, 1, 1, 1, 1, -1, 1, 1, -1, 1}},
      {7ULL, 1000, 100, {41, 0, 49, 21, 69, 91, 87, 34, 47, 66, 65, 35, 95, 99, 34, 78},
       {-1, -1, -1, -1, 1, 1, -1, -1, 1, 1, -1, 1, -1, -1, 1, 1}},
      {42ULL, 9437185, 2359296,
       {262743, 175681, 362838, 2019862, 1947611, 42689, 918280, 1531788, 1025281, 414404, 1255278, 889328,
        2160790, 2266993, 328978, 2321698},
       {-1, 1, 1, -1, -1, -1, 1, -1, -1, -1, -1, 1, -1, -1, -1, 1}},
      {123456789ULL, 65537, 1000, {816, 745, 731, 826, 299, 701, 487, 182, 9, 698, 312, 741, 329, 807, 856, 772},
       {1, 1, 1, 1, -1, -1, -1, 1, 1, 1, -1, 1, -1, -1, -1, -1}},
      {0ULL, 1, 1, {0}, {1}},
      // K = N: the raw permutation.
      {9223372036854788153ULL, 4096, 4096,
       {3457, 3400, 3727, 2446, 3291, 3617, 352, 1423, 1137, 2156, 812, 1829, 1970, 348, 2558, 3961},
       {-1, -1, 1, -1, -1, 1, -1, 1, 1, 1, 1, 1, -1, -1, -1, 1}},
      {42ULL, 9437185, 9437185,
       {2622039, 175681, 2722134, 4379158, 9025499, 42689, 918280, 1531788, 5743873, 7492292, 3614574, 5607920,
        6879382, 4626289, 2688274, 9399586},
       {-1, 1, 1, -1, -1, -1, 1, -1, -1, -1, -1, 1, -1, -1, -1, 1}},
      // b = 42 (h = 21): beyond 32-bit positions.
      {5ULL, 1099511627779ULL, 1099511627779ULL,
       {1080342441866ULL, 602502764351ULL, 591516883644ULL, 1002883907504ULL, 443033666416ULL, 461501023519ULL,
        980336051896ULL, 412237872037ULL, 956608966634ULL, 943785853094ULL, 276569310088ULL, 177022794166ULL,
        731802864280ULL, 756011603709ULL, 874653283450ULL, 372409766842ULL},
       {-1, 1, -1, 1, 1, 1, -1, -1, 1, -1, 1, -1, 1, 1, 1, -1}},
  };
  for (const auto& v : vectors) {
    BOOST_TEST_CONTEXT("seed " << v.seed << ", N " << v.n << ", K " << v.k) {
      const Permutation pi(v.seed, v.n);
      BOOST_TEST(pi.size() == v.n);
      for (size_t p = 0; p < v.j.size(); ++p) {
        BOOST_TEST(pi(p) % v.k == v.j[p], "j(" << p << ")");
        BOOST_TEST(pi.sign(p) == v.s[p], "s(" << p << ")");
        BOOST_TEST(pi.inverse(pi(p)) == p, "inverse(pi(" << p << "))");
      }
    }
  }
}

// ---- the Python reference (tests/rpg_reference.py, written from RPG.md) --------------------

namespace {

boost::test_tools::assertion_result have_python(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(!rpg_test::python3().empty());
  r.message() << "no python3 (RPG_PYTHON) to run tests/rpg_reference.py";
  return r;
}

std::string reference_script() { return rpg_test::source_dir() + "/tests/rpg_reference.py"; }

}  // namespace

// Positions far beyond the first 16: the first and last 64 of [0, N), and 300 spread over it,
// for large N (beyond 2^32 and 2^40), small N, seeds near 2^64 and 0, K from 2 to N.
BOOST_AUTO_TEST_CASE(python_reference_regenerates_pi_and_signs, *boost::unit_test::precondition(have_python)) {
  const uint64_t top = ~uint64_t(0);
  const struct {
    uint64_t seed, n, k;
  } cases[] = {
      {top, 9437185, 2359296},          {top - 1, (uint64_t(1) << 32) + 15, 1000003},
      {top - 255, 1099511627779ULL, 4096}, {uint64_t(1) << 63, 10, 3},
      {18446744073709551557ULL, 3, 2}, {0, 65537, 1000},
      {0x9e3779b97f4a7c15ULL, 4096, 4096}, {top - 7, (uint64_t(1) << 50) + 1, 65521},
  };
  for (const auto& c : cases) {
    std::vector<uint64_t> ps;
    for (uint64_t p = 0; p < std::min<uint64_t>(64, c.n); ++p) ps.push_back(p);
    for (uint64_t p = c.n > 64 ? c.n - 64 : c.n; p < c.n; ++p) ps.push_back(p);
    for (unsigned __int128 i = 1; i <= 300; ++i) ps.push_back(uint64_t((i * 0x9e3779b97f4a7c15ULL) % c.n));
    std::string cmd = rpg_test::python3() + " " + reference_script() + " positions " + std::to_string(c.seed) + " " +
                      std::to_string(c.n) + " " + std::to_string(c.k);
    for (uint64_t p : ps) cmd += " " + std::to_string(p);
    const rpg_test::CommandResult r = rpg_test::run_command(cmd);
    BOOST_TEST_CONTEXT("seed " << c.seed << ", N " << c.n << ", K " << c.k) {
      BOOST_TEST_REQUIRE(r.status == 0, "rpg_reference.py failed: " << r.output);
      const Permutation pi(c.seed, c.n);
      std::istringstream in(r.output);
      size_t lines = 0, bad = 0;
      uint64_t p, x, j;
      int s;
      while (in >> p >> x >> j >> s) {
        const bool ok = p == ps[lines] && pi(p) == x && pi(p) % c.k == j && pi.sign(p) == s && pi.inverse(x) == p;
        if (!ok && ++bad <= 5)
          BOOST_ERROR("p " << p << ": rpgnet pi " << pi(p) << " sign " << pi.sign(p) << ", RPG.md pi " << x << " sign " << s);
        ++lines;
      }
      BOOST_TEST(lines == ps.size(), "rpg_reference.py printed " << lines << " of " << ps.size() << " positions");
      BOOST_TEST(bad == 0u);
    }
  }
}

// Two rings with seeds near 2^64, each feeding two layers (convolutional and connected) in cfg
// order: every generated weight W_l[i] = c_l s(p) r[j(p)] as rpg_reference.py computes it from
// the ring's values and the layers' sizes and fan-outs written here from the cfg.
BOOST_AUTO_TEST_CASE(python_reference_regenerates_the_weights_of_two_rings, *boost::unit_test::precondition(have_python)) {
  const std::string cfg = net_header(1, 3, 4, 4) + "[ring]\nname=a\nsize=7\nseed=18446744073709551615\n" +
                          "[ring]\nname=b\nsize=11\nseed=18446744073709551614\n" +
                          "[convolutional]\nfilters=4\nsize=3\npad=1\nring=a\nactivation=leaky\n" +
                          "[convolutional]\nfilters=5\nsize=1\nring=b\nactivation=leaky\n" +
                          "[convolutional]\nfilters=2\nsize=3\npad=1\nring=a\nactivation=leaky\n" +
                          "[connected]\noutput=3\nring=b\nactivation=linear\n[softmax]\n";
  // (weights, fan-out) per bound layer: 4x3x3x3 (fan-out 4*9), 5x4x1x1 (5), 2x5x3x3 (2*9), 3x32 (3).
  const std::vector<std::vector<int64_t>> layers = {{108, 36, 90, 18}, {20, 5, 96, 3}};
  const std::vector<std::vector<int>> layer_index = {{0, 2}, {1, 3}};
  std::unique_ptr<Network> net = rpg_test::net_from_text(cfg);
  net->generate_weights();
  BOOST_REQUIRE_EQUAL(net->rings().size(), 2u);
  rpg_test::TempDir dir;
  std::string rings;
  for (size_t r = 0; r < 2; ++r) {
    const rpg::Ring& ring = *net->rings()[r];
    char buf[64];
    rings += std::to_string(ring.seed()) + " " + std::to_string(ring.size());
    for (float v : ring.values.to_vector()) {
      std::snprintf(buf, sizeof buf, " %.9g", double(v));
      rings += buf;
    }
    rings += " |";
    for (int64_t v : layers[r]) rings += " " + std::to_string(v);
    rings += "\n";
  }
  rpg_test::write_file(dir / "rings", rings);
  const rpg_test::CommandResult out =
      rpg_test::run_command(rpg_test::python3() + " " + reference_script() + " weights " + dir / "rings");
  BOOST_REQUIRE_MESSAGE(out.status == 0, "rpg_reference.py failed: " << out.output);
  std::istringstream lines(out.output);
  for (size_t r = 0; r < 2; ++r)
    for (int l : layer_index[r]) {
      std::string line;
      BOOST_REQUIRE(std::getline(lines, line));
      std::istringstream in(line);
      std::vector<double> want;
      for (double v; in >> v;) want.push_back(v);
      const std::vector<float> got = net->layers()[size_t(l)]->main_weights().value->to_vector();
      BOOST_TEST_REQUIRE(got.size() == want.size(), "layer " << l);
      size_t bad = 0;
      for (size_t i = 0; i < got.size(); ++i)
        bad += std::fabs(double(got[i]) - want[i]) > 1e-6 * std::max(1e-3, std::fabs(want[i]));
      BOOST_TEST(bad == 0u, "layer " << l << ": " << bad << " of " << got.size() << " weights differ from RPG.md's");
    }
}

// ---- pi is a bijection; sampling is even ------------------------------------------------------

BOOST_AUTO_TEST_CASE(pi_is_a_bijection_with_its_inverse) {
  std::vector<uint64_t> sizes = {1, 2, 3, 4, 5, 7, 97, 65521};
  for (int e = 1; e <= 16; ++e) sizes.push_back(uint64_t(1) << e);
  for (int k = 1; k <= 9; ++k) {
    sizes.push_back((uint64_t(1) << (2 * k)) - 1);
    sizes.push_back((uint64_t(1) << (2 * k)) + 1);
  }
  rpg::Rng rng(2024);
  for (int i = 0; i < 4; ++i) sizes.push_back(1 + uint64_t(rng.uniform() * 2e5f));
  const uint64_t seeds[] = {0, 1, 42, 0xdeadbeefcafef00dULL};
  for (uint64_t seed : seeds) {
    for (uint64_t n : sizes) {
      const Permutation pi(seed, n);
      std::vector<uint8_t> seen(size_t(n), 0);
      uint64_t out_of_range = 0, repeated = 0, not_inverse = 0, fixed = 0;
      for (uint64_t p = 0; p < n; ++p) {
        const uint64_t x = pi(p);
        if (x >= n) {
          ++out_of_range;
          continue;
        }
        repeated += seen[size_t(x)];
        seen[size_t(x)] = 1;
        not_inverse += pi.inverse(x) != p;
        fixed += x == p;
      }
      BOOST_TEST_CONTEXT("seed " << seed << ", N " << n) {
        BOOST_TEST(out_of_range == 0u);
        BOOST_TEST(repeated == 0u);
        BOOST_TEST(not_inverse == 0u);
        if (n >= 64) BOOST_TEST(fixed < n / 8, "pi looks like the identity: " << fixed << " fixed points");
      }
    }
  }
  // Different seeds give different permutations.
  const Permutation a(1, 1000), b(2, 1000);
  int differ = 0;
  for (uint64_t p = 0; p < 1000; ++p) differ += a(p) != b(p);
  BOOST_TEST(differ > 900);
}

BOOST_AUTO_TEST_CASE(signs_are_balanced_and_sampling_is_even) {
  const Permutation pi(9, 1 << 16);
  int negative = 0;
  for (uint64_t p = 0; p < (1 << 16); ++p) negative += pi.sign(p) < 0;
  BOOST_TEST(std::abs(negative - (1 << 15)) < 1000, negative << " negative signs of 65536");

  // Every ring entry feeds floor(N/K) or ceil(N/K) positions, exactly N mod K of them the ceiling.
  struct Case {
    uint64_t seed, n, k;
  } cases[] = {{1, 10, 3}, {3, 1000, 7}, {5, 65537, 1000}, {7, 4097, 4096}, {11, 100000, 1}, {13, 12345, 12345},
               {17, 36864 + 4608, 333}};
  for (const auto& c : cases) {
    const Permutation pi(c.seed, c.n);
    std::vector<uint64_t> count(size_t(c.k), 0);
    for (uint64_t p = 0; p < c.n; ++p) ++count[size_t(pi(p) % c.k)];
    const uint64_t lo = c.n / c.k, hi = (c.n + c.k - 1) / c.k;
    uint64_t bad = 0, at_hi = 0;
    for (uint64_t v : count) {
      bad += v != lo && v != hi;
      at_hi += v == hi && hi != lo;
    }
    BOOST_TEST(bad == 0u, "N " << c.n << " K " << c.k);
    BOOST_TEST(at_hi == (hi != lo ? c.n % c.k : 0), "N " << c.n << " K " << c.k);
  }
}

// ---- gradient checks through the generator ----------------------------------------------------

namespace {

// The finite-difference scheme of tests/test_layers.cc, for the ring values (each change is
// followed by generate_weights()) and for every parameter no ring generates.
struct RingCheck {
  std::unique_ptr<Network> net;
  Buffer<float> input, truth;
  uint64_t pass = 7;

  RingCheck(const std::string& cfg, bool one_hot_truth) {
    net = rpg_test::net_from_text(cfg);
    rpg::Backend& be = net->backend();
    const int64_t in_n = int64_t(net->batch()) * net->input_size();
    const int64_t out_n = int64_t(net->batch()) * net->output_size();
    input.resize(be, in_n);
    input.upload(rpg_test::random_vector(size_t(in_n), 11, -1.f, 1.f));
    truth.resize(be, out_n);
    truth.upload(one_hot_truth ? one_hot(net->batch(), int(net->output_size()), 0)
                               : rpg_test::random_vector(size_t(out_n), 12, -1.f, 1.f));
  }

  double loss() {
    net->generate_weights();  // the ring may have just changed
    net->set_passes(pass - 1);
    return net->forward(input.data(), true, truth.data());
  }

  void compare(const std::string& what, Buffer<float>& buf, const std::vector<float>& grad, int samples = 12) {
    rpg_test::compare_gradient(what, buf, grad, [this] { return loss(); }, samples);
    net->generate_weights();
  }

  void run(const std::string& name) {
    rpg::Backend& be = net->backend();
    net->clear_gradients();
    loss();
    net->backward(input.data(), nullptr);

    // The gather, computed here from the Permutation and the layers' weight gradients (RPG.md:
    // grad_r[j] = sum over p with j(p) = j of c_l(p) s(p) dW[p]).
    std::map<const rpg::Ring*, std::vector<double>> by_hand;
    for (const auto& r : net->rings()) {
      const Permutation pi(r->seed(), uint64_t(r->positions()));
      std::vector<double> g(size_t(r->size()), 0.0);
      int64_t fmax = 0;  // F: the largest fan-out of the ring's layers
      for (const auto& b : r->bindings()) fmax = std::max(fmax, b.fan_out);
      for (const auto& b : r->bindings()) {
        const std::vector<float> dw = planar_weight_gradient(*b.layer);
        const double cl = std::sqrt(double(fmax) / double(b.fan_out));
        for (int64_t i = 0; i < b.count; ++i) {
          const uint64_t p = uint64_t(b.offset + i);
          g[size_t(pi(p) % uint64_t(r->size()))] += cl * pi.sign(p) * double(dw[size_t(i)]);
        }
      }
      by_hand[r.get()] = g;
    }

    struct Item {
      std::string name;
      Buffer<float>* value;
      std::vector<float> grad;
    };
    std::vector<Item> items;
    for (const auto& r : net->rings()) {
      r->accumulate_gradient(be);
      items.push_back({name + ": ring '" + r->name() + "' (K " + std::to_string(r->size()) + ", N " +
                           std::to_string(r->positions()) + ")",
                       &r->values, r->grads.to_vector()});
      const std::vector<double>& g = by_hand[r.get()];
      double worst = 0, norm = 0;
      for (size_t j = 0; j < g.size(); ++j) {
        worst = std::max(worst, std::fabs(g[j] - double(items.back().grad[j])) / std::max(1e-3, std::fabs(g[j])));
        norm += g[j] * g[j];
      }
      BOOST_TEST(worst < 1e-4, name << ": ring '" << r->name() << "' gather differs from RPG.md's sum by " << worst);
      BOOST_TEST(norm > 0, name << ": ring '" << r->name() << "' gradient is identically zero");
      // The generated weights' own gradients were moved into the ring.
      for (const auto& b : r->bindings()) {
        const std::vector<float> dw = b.layer->main_weights().grad->to_vector();
        BOOST_TEST(std::all_of(dw.begin(), dw.end(), [](float x) { return x == 0.f; }),
                   name << ": layer " << b.layer->index << " weight gradient not cleared by the gather");
      }
    }
    for (const auto& l : net->layers()) {
      Buffer<float>* generated = l->ring.empty() ? nullptr : l->main_weights().value;
      int k = 0;
      for (rpg::Param& p : l->params()) {
        const int idx = k++;
        if (p.value == generated) continue;
        items.push_back({name + ": layer " + std::to_string(l->index) + " " + l->type + (l->ring.empty() ? "" : " (bound)") +
                             " param " + std::to_string(idx),
                         p.value, p.grad->to_vector()});
      }
    }
    for (auto& it : items) compare(it.name, *it.value, it.grad);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(gradient_check_conv_rings) {
  // 4 x 3 x 3 x 3 = 108 weights from 5 entries: each entry feeds 21 or 22 weights; then an
  // unbound connected layer.
  RingCheck(net_header(3, 3, 6, 5) + "[ring]\nname=g\nsize=5\nseed=3\n" +
                "[convolutional]\nfilters=4\nsize=3\npad=1\nring=g\nactivation=tanh\n" +
                "[connected]\noutput=4\nactivation=linear\n[cost]\ntype=sse\n",
            false)
      .run("conv K=5 tanh");
  // Batch norm, groups=2, stride 2, K = N (dof=1): 4 x 2 x 3 x 3 = 72.
  RingCheck(net_header(3, 4, 6, 6) + "[ring]\nname=g\ndof=1\n" +
                "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\ngroups=2\nbatch_normalize=1\nring=g\n"
                "activation=mish\n" +
                "[connected]\noutput=4\nactivation=linear\n[cost]\ntype=sse\n",
            false)
      .run("conv bn groups=2 K=N mish");
  // Depthwise with batch norm and leaky (kinks), 36 weights from 3 entries; two bound layers
  // of different fan-out (c_l differs).
  RingCheck(net_header(2, 4, 5, 5) + "[ring]\nname=g\nsize=3\nseed=99\n" +
                "[convolutional]\nfilters=4\nsize=3\npad=1\ngroups=4\nbatch_normalize=1\nring=g\nactivation=leaky\n" +
                "[convolutional]\nfilters=2\nsize=1\nring=g\nactivation=logistic\n" +
                "[connected]\noutput=4\nactivation=linear\n[cost]\ntype=sse\n",
            false)
      .run("depthwise bn leaky + 1x1, K=3");
  // Filter counts the blocked kernels take without padding: where oneDNN reads the weights in
  // its own order (e.g. OIhw16i16o), the ring generates them in it and gathers their gradient
  // in it (Ring::set_orders); the gradient is checked through those orders.
  RingCheck ordered(net_header(2, 3, 6, 6) + "[ring]\nname=g\ndof=0.3\nseed=4\n" +
                        "[convolutional]\nfilters=16\nsize=3\npad=1\nbatch_normalize=1\nring=g\nactivation=logistic\n" +
                        "[convolutional]\nfilters=16\nsize=3\npad=1\nring=g\nactivation=tanh\n" +
                        "[convolutional]\nfilters=16\nsize=1\nring=g\nactivation=linear\n" +
                        "[connected]\noutput=4\nactivation=linear\n[cost]\ntype=sse\n",
                    false);
  int ordered_layers = 0;
  for (const auto& l : ordered.net->layers()) ordered_layers += !l->weight_order.empty();
  if (ordered.net->backend().conv_training_layout({16, 6, 6, 3, 1, 1, 6, 6}, 2, 1, 16) > 1)  // blocked kernels
    BOOST_TEST(ordered_layers > 0, "no layer's weights are in its kernels' order");
  BOOST_TEST_MESSAGE(ordered_layers << " layers generate their weights in their kernels' order");
  ordered.run("three convolutions in the kernels' weight orders");
}

BOOST_AUTO_TEST_CASE(gradient_check_connected_and_shared_rings) {
  // Two connected layers (fan-out 6 and 4) with batch norm, 18 x 6 + 6 x 4 = 132 weights, K = 7.
  RingCheck(net_header(4, 2, 3, 3) + "[ring]\nname=fc\nsize=7\n" +
                "[connected]\noutput=6\nbatch_normalize=1\nring=fc\nactivation=logistic\n" +
                "[connected]\noutput=4\nring=fc\nactivation=linear\n[cost]\ntype=sse\n",
            false)
      .run("connected x2 bn K=7");
  // One ring shared by a convolution and a connected layer, softmax loss.
  RingCheck(net_header(3, 2, 4, 4) + "[ring]\nname=shared\nsize=9\nseed=21\n" +
                "[convolutional]\nfilters=3\nsize=3\npad=1\nring=shared\nactivation=swish\n" +
                "[connected]\noutput=5\nring=shared\nactivation=linear\n[softmax]\n",
            true)
      .run("conv + connected shared K=9 softmax");
  // Two rings, one declared after the layers that use it, an unbound convolution between them.
  RingCheck(net_header(2, 3, 5, 5) + "[ring]\nname=a\nsize=4\nseed=5\n" +
                "[convolutional]\nfilters=3\nsize=3\npad=1\nbatch_normalize=1\nring=a\nactivation=tanh\n" +
                "[convolutional]\nfilters=3\nsize=1\nactivation=elu\n" +
                "[connected]\noutput=4\nring=b\nactivation=linear\n[cost]\ntype=sse\n" +
                "[ring]\nname=b\ndof=1\nseed=6\n",
            false)
      .run("two rings (a K=4, b K=N declared last) + unbound conv");
}

// ---- thread count -----------------------------------------------------------------------------

namespace {

// conv (432) + conv (4608) + connected (32768) bound: N = 37808 > 32768, so the generator and
// the gather run their parallel loops; batch norm everywhere; an unbound classifier.
std::string threads_cfg() {
  return net_header(16, 3, 8, 8, "learning_rate=0.05\nmomentum=0.9\ndecay=0.0005\nseed=3") +
         "[ring]\nname=g\ndof=0.25\nseed=17\n"
         "[convolutional]\nfilters=16\nsize=3\npad=1\nbatch_normalize=1\nring=g\nactivation=leaky\n"
         "[convolutional]\nfilters=32\nsize=3\npad=1\nbatch_normalize=1\nring=g\nactivation=relu\n"
         "[maxpool]\nsize=2\nstride=2\n"
         "[connected]\noutput=64\nbatch_normalize=1\nring=g\nactivation=leaky\n"
         "[connected]\noutput=10\nactivation=linear\n[softmax]\n";
}

// Everything that training changes: each layer's .weights tensors, parameters and their
// momentum, and each ring's values and momentum.
std::vector<std::vector<float>> training_state(Network& net) {
  std::vector<std::vector<float>> s;
  for (const auto& l : net.layers()) {
    for (auto* t : l->weight_file_order()) s.push_back(t->to_vector());
    for (const rpg::Param& p : l->params()) {
      s.push_back(p.value->to_vector());
      s.push_back(p.grad->to_vector());
    }
  }
  for (const auto& r : net.rings()) {
    s.push_back(r->values.to_vector());
    s.push_back(r->grads.to_vector());
  }
  return s;
}

std::vector<double> train(Network& net, int updates, uint64_t data_seed) {
  std::vector<double> losses;
  const int b = net.batch();
  for (int u = 0; u < updates; ++u) {
    const auto x = rpg_test::random_vector(size_t(b * net.input_size()), data_seed + uint64_t(u));
    const auto t = one_hot(b, int(net.output_size()), u);
    losses.push_back(net.train_pass(x.data(), t.data()));
    net.update(net.config().learning_rate);
  }
  return losses;
}

}  // namespace

// On the reference engine (rpgnet --deterministic).
BOOST_AUTO_TEST_CASE(training_is_bit_identical_with_1_and_2_threads) {
  auto one = rpg_test::net_from_text(threads_cfg(), 1, "<test>", rpg::CpuEngine::Reference);
  auto two = rpg_test::net_from_text(threads_cfg(), 2, "<test>", rpg::CpuEngine::Reference);
  BOOST_REQUIRE(one->rings().size() == 1u);
  BOOST_TEST(one->rings()[0]->positions() == 37808);
  BOOST_TEST(same_bits(one->rings()[0]->values.to_vector(), two->rings()[0]->values.to_vector()));
  const auto before = one->rings()[0]->values.to_vector();
  const std::vector<double> l1 = train(*one, 10, 500), l2 = train(*two, 10, 500);
  for (size_t i = 0; i < l1.size(); ++i) BOOST_TEST(l1[i] == l2[i], "loss of update " << i);
  BOOST_TEST(!same_bits(before, one->rings()[0]->values.to_vector()), "the ring did not train");
  BOOST_TEST(l1.back() < l1.front(), "loss " << l1.front() << " -> " << l1.back());
  const auto s1 = training_state(*one), s2 = training_state(*two);
  BOOST_REQUIRE(s1.size() == s2.size());
  for (size_t i = 0; i < s1.size(); ++i) BOOST_TEST(same_bits(s1[i], s2[i]), "tensor " << i << " of the training state");
  const auto x = rpg_test::random_vector(size_t(16 * one->input_size()), 77);
  BOOST_TEST(same_bits(one->predict(x.data()), two->predict(x.data())));
}

// On oneDNN (the default engine): two networks on 2 threads train to the same bits; on 1 and 2
// threads the losses agree to rounding (oneDNN splits its reductions by thread).
BOOST_AUTO_TEST_CASE(onednn_training_is_reproducible_and_close_across_thread_counts) {
  auto a = rpg_test::net_from_text(threads_cfg(), 2), b = rpg_test::net_from_text(threads_cfg(), 2);
  auto one = rpg_test::net_from_text(threads_cfg(), 1);
  const std::vector<double> la = train(*a, 10, 500), lb = train(*b, 10, 500), l1 = train(*one, 10, 500);
  for (size_t i = 0; i < la.size(); ++i) {
    BOOST_TEST(la[i] == lb[i], "loss of update " << i << " on 2 threads, twice");
    BOOST_TEST(std::fabs(la[i] - l1[i]) <= 1e-4 * std::fabs(l1[i]), "loss of update " << i << ": " << l1[i] << " on 1 thread, "
                                                                                       << la[i] << " on 2");
  }
  BOOST_TEST(la.back() < la.front(), "loss " << la.front() << " -> " << la.back());
  const auto sa = training_state(*a), sb = training_state(*b);
  BOOST_REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) BOOST_TEST(same_bits(sa[i], sb[i]), "tensor " << i << " of the training state");
}

// ---- generation semantics ---------------------------------------------------------------------

namespace {

// Bound: conv 8x3x3x3 (216, fan-out 72), conv 6x(4/2)x1x1 groups=2 (12, fan-out 6), connected
// 216 -> 10 (2160, fan-out 10); an unbound conv between. N = 2388, F = 72.
std::string semantics_cfg(int batch, int subdivisions) {
  return net_header(batch, 3, 6, 6, "subdivisions=" + std::to_string(subdivisions) + "\nlearning_rate=0.1\ndecay=0.001") +
         "[ring]\nname=g\nsize=50\nseed=11\n"
         "[convolutional]\nfilters=8\nsize=3\npad=1\nbatch_normalize=1\nring=g\nactivation=leaky\n"
         "[convolutional]\nfilters=4\nsize=1\nactivation=linear\n"
         "[convolutional]\nfilters=6\nsize=1\ngroups=2\nring=g\nactivation=linear\n"
         "[connected]\noutput=10\nring=g\nactivation=linear\n[softmax]\n";
}

struct Bound {
  int layer;
  int64_t count, fan_out;
};
const Bound kSemanticsBound[] = {{0, 8 * 3 * 3 * 3, 8 * 3 * 3}, {2, 6 * 2, 6}, {3, 6 * 6 * 6 * 10, 10}};
constexpr int64_t kSemanticsN = 216 + 12 + 2160, kSemanticsF = 72;

// Checks that every bound layer holds exactly c_l s(p) r[j(p)] for the ring's current values.
void check_generated(Network& net, const std::string& when) {
  rpg::Ring& r = *net.rings()[0];
  const std::vector<float> ring = r.values.to_vector();
  int64_t offset = 0;
  for (const Bound& b : kSemanticsBound) {
    const std::vector<float> w = net.layers()[size_t(b.layer)]->main_weights().value->to_vector();
    const std::vector<float> e = expected_weights(ring, 11, kSemanticsN, offset, b.count, b.fan_out, kSemanticsF);
    BOOST_TEST(worst_rel(w, e) < 1e-6, when << ": layer " << b.layer << " is not c_l s(p) r[j(p)]");
    offset += b.count;
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(generated_weights_follow_the_definition) {
  auto net = rpg_test::net_from_text(semantics_cfg(2, 1));
  BOOST_REQUIRE(net->rings().size() == 1u);
  rpg::Ring& r = *net->rings()[0];
  BOOST_TEST(r.size() == 50);
  BOOST_TEST(r.positions() == kSemanticsN);
  BOOST_TEST(r.seed() == 11u);
  BOOST_REQUIRE(r.bindings().size() == 3u);
  int64_t offset = 0;
  for (size_t i = 0; i < 3; ++i) {
    const auto& b = r.bindings()[i];
    BOOST_TEST(b.layer == net->layers()[size_t(kSemanticsBound[i].layer)].get());
    BOOST_TEST(b.offset == offset);
    BOOST_TEST(b.count == kSemanticsBound[i].count);
    BOOST_TEST(b.fan_out == kSemanticsBound[i].fan_out);
    BOOST_TEST(b.scale == float(std::sqrt(double(kSemanticsF) / double(kSemanticsBound[i].fan_out))));
    offset += b.count;
  }
  BOOST_TEST(net->layers()[1]->ring.empty());
  check_generated(*net, "after construction");

  // The ring's mapping seen through generation: with r[j] = j + 1 every weight reveals j(p) and
  // s(p); each entry feeds floor(N/K) = 47 or ceil(N/K) = 48 positions.
  const std::vector<float> unbound = net->layers()[1]->main_weights().value->to_vector();
  std::vector<float> ids(50);
  for (size_t j = 0; j < ids.size(); ++j) ids[j] = float(j + 1);
  r.values.upload(ids);
  net->generate_weights();
  const Permutation pi(11, uint64_t(kSemanticsN));
  std::vector<int> fed(50, 0);
  int64_t mismatches = 0;
  offset = 0;
  for (const Bound& b : kSemanticsBound) {
    const std::vector<float> w = net->layers()[size_t(b.layer)]->main_weights().value->to_vector();
    const double c = std::sqrt(double(kSemanticsF) / double(b.fan_out));
    for (int64_t i = 0; i < b.count; ++i) {
      const uint64_t p = uint64_t(offset + i);
      const long id = std::lround(std::fabs(double(w[size_t(i)])) / c);
      const int s = w[size_t(i)] < 0 ? -1 : 1;
      if (id < 1 || id > 50 || uint64_t(id - 1) != pi(p) % 50 || s != pi.sign(p)) {
        ++mismatches;
        continue;
      }
      ++fed[size_t(id - 1)];
    }
    offset += b.count;
  }
  BOOST_TEST(mismatches == 0);
  BOOST_TEST(std::all_of(fed.begin(), fed.end(), [](int f) { return f == 47 || f == 48; }));
  BOOST_TEST(std::count(fed.begin(), fed.end(), 48) == kSemanticsN % 50);
  BOOST_TEST(same_bits(unbound, net->layers()[1]->main_weights().value->to_vector()),
             "generate_weights touched an unbound layer");
}

BOOST_AUTO_TEST_CASE(weights_are_regenerated_once_per_update) {
  // batch 4 in two subdivisions of 2; the bound connected layer (3) has learning_rate=0.5, which
  // scales what its weight gradients contribute to the ring.
  std::string text = semantics_cfg(4, 2);
  const std::string connected = "[connected]\noutput=10\n";
  BOOST_REQUIRE(text.find(connected) != std::string::npos);
  text.replace(text.find(connected), connected.size(), connected + "learning_rate=0.5\n");
  auto net = rpg_test::net_from_text(text);
  BOOST_REQUIRE(net->batch() == 2);
  rpg::Ring& r = *net->rings()[0];
  auto bound_weights = [&] {
    std::vector<std::vector<float>> w;
    for (const Bound& b : kSemanticsBound) w.push_back(net->layers()[size_t(b.layer)]->main_weights().value->to_vector());
    return w;
  };
  const auto w0 = bound_weights();
  const auto r0 = r.values.to_vector();
  for (int pass = 0; pass < 2; ++pass) {
    const auto x = rpg_test::random_vector(size_t(2 * net->input_size()), 40 + uint64_t(pass));
    const auto t = one_hot(2, 10, pass);
    net->train_pass(x.data(), t.data());
    BOOST_TEST((bound_weights() == w0), "weights changed during pass " << pass << " of one update");
    BOOST_TEST(same_bits(r.values.to_vector(), r0), "ring changed during pass " << pass);
  }
  // The ring step by hand: g = the gather of both passes' weight gradients, then Darknet's SGD
  // with lr / images and decay * images (momentum buffer empty before the first update).
  std::vector<double> g(50, 0.0);
  {
    const Permutation pi(11, uint64_t(kSemanticsN));
    int64_t offset = 0;
    for (const Bound& b : kSemanticsBound) {
      const auto dw = planar_weight_gradient(*net->layers()[size_t(b.layer)]);
      const double c = std::sqrt(double(kSemanticsF) / double(b.fan_out)) * (b.layer == 3 ? 0.5 : 1.0);
      for (int64_t i = 0; i < b.count; ++i) {
        const uint64_t p = uint64_t(offset + i);
        g[size_t(pi(p) % 50)] += c * pi.sign(p) * double(dw[size_t(i)]);
      }
      offset += b.count;
    }
  }
  const float lr = 0.1f, images = 4.f, decay = 0.001f;
  net->update(lr);
  const auto r1 = r.values.to_vector();
  const auto m1 = r.grads.to_vector();
  double worst_step = 0, worst_momentum = 0, step_norm = 0;
  for (size_t j = 0; j < 50; ++j) {
    const double gj = g[j] + double(decay * images) * double(r0[j]);
    const double step = double(lr / images) * gj;
    step_norm = std::max(step_norm, std::fabs(step));
    worst_step = std::max(worst_step, std::fabs((double(r0[j]) - double(r1[j])) - step));
    worst_momentum = std::max(worst_momentum, std::fabs(double(m1[j]) - 0.9 * gj) / std::max(1e-3, std::fabs(gj)));
  }
  BOOST_TEST(step_norm > 0);
  BOOST_TEST(worst_step <= 1e-4 * step_norm + 1e-7, "ring step differs from SGD on the gathered gradient");
  BOOST_TEST(worst_momentum < 1e-4);
  BOOST_TEST(!(bound_weights() == w0), "update() did not regenerate the weights");
  check_generated(*net, "after update");
  for (const Bound& b : kSemanticsBound) {
    const auto dw = net->layers()[size_t(b.layer)]->main_weights().grad->to_vector();
    BOOST_TEST(std::all_of(dw.begin(), dw.end(), [](float x) { return x == 0.f; }),
               "layer " << b.layer << " keeps a weight gradient after update");
  }
  // A second update: the weights follow the ring again.
  for (int pass = 0; pass < 2; ++pass) {
    const auto x = rpg_test::random_vector(size_t(2 * net->input_size()), 50 + uint64_t(pass));
    const auto t = one_hot(2, 10, pass + 1);
    const auto before = bound_weights();
    net->train_pass(x.data(), t.data());
    BOOST_TEST((bound_weights() == before));
  }
  net->update(lr);
  check_generated(*net, "after the second update");
}

BOOST_AUTO_TEST_CASE(initial_weights_have_he_fan_out_std) {
  // Large layers: conv 64x16x3x3 (9216, fan-out 576), conv 128x64x3x3 (73728, fan-out 1152),
  // conv 256x128 1x1 (32768, fan-out 256), connected 4096 -> 100 (409600, fan-out 100).
  for (const char* ring : {"dof=0.5", "size=20000"}) {
    auto net = rpg_test::net_from_text(net_header(1, 16, 4, 4) + "[ring]\nname=g\n" + ring + "\n" +
                                       "[convolutional]\nfilters=64\nsize=3\npad=1\nring=g\nactivation=linear\n"
                                       "[convolutional]\nfilters=128\nsize=3\npad=1\nring=g\nactivation=linear\n"
                                       "[convolutional]\nfilters=256\nsize=1\nring=g\nactivation=linear\n"
                                       "[connected]\noutput=100\nring=g\nactivation=linear\n[softmax]\n");
    const rpg::Ring& r = *net->rings()[0];
    BOOST_TEST(r.positions() == 9216 + 73728 + 32768 + 409600);
    // The ring itself: N(0, 2 / F) with F = 1152.
    {
      const auto v = r.values.to_vector();
      double s2 = 0;
      for (float x : v) s2 += double(x) * x;
      const double sd = std::sqrt(s2 / double(v.size())), want = std::sqrt(2.0 / 1152.0);
      BOOST_TEST(std::fabs(sd / want - 1) < 0.05, ring << ": ring std " << sd << ", want " << want);
    }
    const struct {
      int layer;
      int64_t fan_out;
    } layers[] = {{0, 576}, {1, 1152}, {2, 256}, {3, 100}};
    for (const auto& l : layers) {
      const auto w = net->layers()[size_t(l.layer)]->main_weights().value->to_vector();
      double sum = 0, s2 = 0;
      for (float x : w) sum += x, s2 += double(x) * x;
      const double n = double(w.size()), mean = sum / n, sd = std::sqrt(s2 / n - mean * mean);
      const double want = std::sqrt(2.0 / double(l.fan_out));
      BOOST_TEST_CONTEXT(ring << ", layer " << l.layer << ": std " << sd << ", He fan-out " << want << ", mean " << mean) {
        BOOST_TEST(std::fabs(sd / want - 1) < 0.05);
        BOOST_TEST(std::fabs(mean) < 5 * want / std::sqrt(std::min(n, 20000.0)));
      }
    }
  }
}

// ---- DoF accounting of the shipped RPG cfgs ----------------------------------------------------

namespace {

std::string commas(int64_t n) {
  std::string d = std::to_string(n), out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(dof_accounting_of_the_shipped_rpg_cfgs) {
  struct Known {
    const char* file;
    int64_t full;
    int64_t ring;  // K; 0: round(0.1 x the generated weights)
  } known[] = {{"fashion-resnet-rpg.cfg", 169834, 0},
               {"resnet18-rpg.cfg", 11689512, 2359296},
               {"resnet34-rpg.cfg", 21797672, 54494}};
  for (const Known& k : known) {
    BOOST_TEST_CONTEXT(k.file) {
      rpg::CfgFile cfg = rpg::load_cfg(rpg_test::source_dir() + "/cfg/" + k.file);
      rpg::apply_override(cfg, "net.batch=1");
      rpg::apply_override(cfg, "net.subdivisions=1");
      Network net(cfg, std::make_unique<rpg::CpuBackend>(1));
      BOOST_TEST(net.num_params() == k.full);

      // The generated weights from the architecture: every [convolutional] / [connected] section
      // with ring=, filters x (input channels / groups) x size^2, or outputs x inputs.
      int64_t generated = 0;
      size_t bound = 0, li = 0;
      for (size_t i = 1; i < cfg.sections.size(); ++i) {
        const rpg::CfgSection& s = cfg.sections[i];
        if (s.type == "ring") continue;
        const rpg::Layer& l = *net.layers()[li++];
        if (!s.find("ring")) continue;
        ++bound;
        auto num = [&](const char* key, int64_t def) {
          const rpg::CfgEntry* e = s.find(key);
          return e ? std::stoll(e->value) : def;
        };
        if (s.type == "convolutional" || s.type == "conv") {
          const int64_t size = num("size", 1);
          generated += num("filters", 1) * (l.in.c / num("groups", 1)) * size * size;
        } else {
          BOOST_TEST((s.type == "connected"), "ring on [" << s.type << "]");
          generated += num("output", 1) * l.in.size();
        }
      }
      BOOST_TEST(li == net.layers().size());
      BOOST_REQUIRE(net.rings().size() == 1u);
      const rpg::Ring& r = *net.rings()[0];
      BOOST_TEST(r.bindings().size() == bound);
      BOOST_TEST(net.generated_params() == generated);
      BOOST_TEST(r.positions() == generated);
      const int64_t ring = k.ring ? k.ring : std::llround(0.1 * double(generated));
      BOOST_TEST(net.ring_dof() == ring);
      BOOST_TEST(net.total_dof() == k.full - generated + ring);
      const std::string summary = rpg::dof_summary(net);
      BOOST_TEST(contains(summary, "ring '" + r.name() + "'"), summary);
      BOOST_TEST(contains(summary, "K = " + commas(ring)), summary);
      BOOST_TEST(contains(summary, commas(generated) + " weights of " + std::to_string(bound) + " layers"), summary);
      BOOST_TEST(contains(summary, "full parameters: " + commas(k.full)), summary);
      BOOST_TEST(contains(summary, "total DoF: " + commas(k.full - generated + ring)), summary);
      BOOST_TEST_MESSAGE(k.file << ": full " << k.full << ", generated " << generated << " by " << bound
                                << " layers, ring " << ring << ", total DoF " << net.total_dof());
    }
  }
}

BOOST_AUTO_TEST_CASE(dof_summary_names_every_ring) {
  auto net = rpg_test::net_from_text(
      net_header(1, 3, 5, 5) + "[ring]\nname=alpha\nsize=10\n" +
      "[convolutional]\nfilters=4\nsize=3\npad=1\nring=alpha\nactivation=leaky\n"   // 108
      "[convolutional]\nfilters=4\nsize=3\npad=1\nring=beta\nactivation=leaky\n"    // 144
      "[connected]\noutput=3\nactivation=linear\n[softmax]\n"                        // 300 + 3
      "[ring]\nname=beta\ndof=0.5\nseed=4\n");
  BOOST_REQUIRE(net->rings().size() == 2u);
  BOOST_TEST(ring_named(*net, "alpha").size() == 10);
  BOOST_TEST(ring_named(*net, "beta").size() == 72);
  BOOST_TEST(ring_named(*net, "beta").seed() == 4u);
  BOOST_TEST(ring_named(*net, "alpha").seed() == 1u);  // [net] seed default
  const int64_t full = 108 + 4 + 144 + 4 + 300 + 3;
  BOOST_TEST(net->num_params() == full);
  BOOST_TEST(net->generated_params() == 108 + 144);
  BOOST_TEST(net->ring_dof() == 82);
  BOOST_TEST(net->total_dof() == full - 252 + 82);
  const std::string s = rpg::dof_summary(*net);
  BOOST_TEST(contains(s, "ring 'alpha': K = 10 entries"), s);
  BOOST_TEST(contains(s, "ring 'beta': K = 72 entries (seed 4)"), s);
}

// Seeds are 64-bit in the format (RPG.md, the export file): the cfg takes the whole range, for the
// ring and for [net] (whose seed is the ring's default), and rejects what is not one.
BOOST_AUTO_TEST_CASE(seeds_are_64_bit) {
  const uint64_t big = 9223372036854788153ULL;  // above 2^63: no int32 or int64 holds it
  auto net = rpg_test::net_from_text(net_header(1, 1, 4, 4, "seed=18446744073709551615") +
                                     "[ring]\nname=a\nsize=5\nseed=9223372036854788153\n"
                                     "[ring]\nname=b\nsize=3\n"
                                     "[convolutional]\nfilters=2\nsize=3\nring=a\nactivation=linear\n"
                                     "[convolutional]\nfilters=2\nsize=1\nring=b\nactivation=linear\n");
  BOOST_TEST(net->config().seed == 18446744073709551615ULL);
  BOOST_TEST(ring_named(*net, "a").seed() == big);
  BOOST_TEST(ring_named(*net, "b").seed() == 18446744073709551615ULL);
  // The generated weights follow the full seed, not a truncated one.
  const std::vector<float> w = net->layers()[0]->main_weights().value->to_vector();
  const std::vector<float> ring = ring_named(*net, "a").values.to_vector();
  BOOST_TEST(same_bits(w, expected_weights(ring, big, 18, 0, 18, 18, 18)));
  BOOST_TEST(!same_bits(w, expected_weights(ring, uint64_t(uint32_t(big)), 18, 0, 18, 18, 18)));
  for (const char* bad : {"-1", "18446744073709551616", "1e3", "0x10", "+5", "7 7"}) {
    const std::string msg = error_of(
        [&] {
          rpg_test::net_from_text(net_header(1, 1, 4, 4) + "[ring]\nsize=2\nseed=" + bad +
                                  "\n[convolutional]\nfilters=1\nsize=1\nring=ring0\n");
        },
        Status::ParseError);
    BOOST_TEST(contains(msg, "must be an integer between 0 and 18446744073709551615"), bad << ": " << msg);
  }
}

// ---- cfg forms that must be accepted -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(ring_declared_after_its_layers_and_default_names) {
  // CFG.md: a [ring] may stand anywhere after [net]; binding is resolved after parsing.
  auto late = rpg_test::net_from_text(net_header(1, 1, 6, 6) +
                                      "[convolutional]\nfilters=4\nsize=3\nring=late\nactivation=leaky\n"
                                      "[connected]\noutput=3\nring=late\nactivation=linear\n"
                                      "[ring]\nname=late\nsize=6\nseed=8\n");
  BOOST_REQUIRE(late->rings().size() == 1u);
  BOOST_TEST(late->rings()[0]->name() == "late");
  BOOST_TEST(late->rings()[0]->bindings().size() == 2u);
  BOOST_TEST(late->rings()[0]->positions() == 36 + 4 * 4 * 4 * 3);  // 6x6 -> 4x4 (no padding)
  // A nameless [ring] is ring0; its seed defaults to [net] seed.
  auto nameless = rpg_test::net_from_text(net_header(1, 1, 4, 4, "seed=77") +
                                          "[convolutional]\nfilters=2\nsize=3\nring=ring0\nactivation=leaky\n"
                                          "[ring]\ndof=0.5\n");
  BOOST_REQUIRE(nameless->rings().size() == 1u);
  BOOST_TEST(nameless->rings()[0]->name() == "ring0");
  BOOST_TEST(nameless->rings()[0]->seed() == 77u);
  BOOST_TEST(nameless->rings()[0]->size() == 9);
  // K = N is allowed; a tiny dof rounds up to one entry.
  auto tiny = rpg_test::net_from_text(net_header(1, 1, 4, 4) + "[ring]\ndof=0.001\n" +
                                      "[convolutional]\nfilters=2\nsize=3\nring=ring0\nactivation=leaky\n");
  BOOST_TEST(tiny->rings()[0]->size() == 1);
}

// ---- checkpoints ------------------------------------------------------------------------------

namespace {

std::string ckpt_cfg(const std::string& ring = "size=40\nseed=5", bool with_ring = true) {
  std::string bind = with_ring ? "ring=g\n" : "";
  return net_header(4, 2, 5, 5, "learning_rate=0.1\nseed=2") + (with_ring ? "[ring]\nname=g\n" + ring + "\n" : "") +
         "[convolutional]\nfilters=4\nsize=3\npad=1\nbatch_normalize=1\n" + bind + "activation=leaky\n" +
         "[connected]\noutput=6\nbatch_normalize=1\n" + bind + "activation=relu\n" +
         "[connected]\noutput=3\nactivation=linear\n[softmax]\n";
}

}  // namespace

BOOST_AUTO_TEST_CASE(checkpoints_restore_rings_bit_exactly) {
  TempDir dir;
  auto a = rpg_test::net_from_text(ckpt_cfg());
  train(*a, 3, 900);
  const rpg::Ring& ra = *a->rings()[0];
  const auto m = ra.grads.to_vector();
  BOOST_REQUIRE(std::any_of(m.begin(), m.end(), [](float x) { return x != 0.f; }));
  const std::string path = dir.file("ring.ckpt");
  rpg::save_checkpoint(*a, {3, 12, 12, 0}, path);

  auto b = rpg_test::net_from_text(ckpt_cfg());
  BOOST_TEST(!same_bits(b->rings()[0]->values.to_vector(), ra.values.to_vector()));
  const rpg::TrainState st = rpg::load_checkpoint(*b, path);
  BOOST_TEST(st.iteration == 3);
  BOOST_TEST(same_bits(b->rings()[0]->values.to_vector(), ra.values.to_vector()));
  BOOST_TEST(same_bits(b->rings()[0]->grads.to_vector(), m));
  const auto sa = training_state(*a), sb = training_state(*b);
  BOOST_REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) BOOST_TEST(same_bits(sa[i], sb[i]), "tensor " << i);
  // Resuming continues identically.
  train(*a, 2, 950);
  train(*b, 2, 950);
  BOOST_TEST(same_bits(a->rings()[0]->values.to_vector(), b->rings()[0]->values.to_vector()));

  // Another ring size or seed: rejected, naming the ring; the network is left untouched.
  for (const char* other : {"size=41\nseed=5", "size=40\nseed=6", "dof=0.5\nseed=5"}) {
    auto c = rpg_test::net_from_text(ckpt_cfg(other));
    const auto before = training_state(*c);
    const std::string msg = error_of([&] { rpg::load_checkpoint(*c, path); }, Status::FormatError);
    BOOST_TEST(contains(msg, "ring 'g'"), msg);
    BOOST_TEST(contains(msg, path), msg);
    BOOST_TEST((training_state(*c) == before), "a rejected checkpoint changed the network");
  }
  // A checkpoint without rings does not load into a ring network, and the other way round.
  auto plain = rpg_test::net_from_text(ckpt_cfg("", false));
  error_of([&] { rpg::load_checkpoint(*plain, path); }, Status::FormatError);
  rpg::save_checkpoint(*plain, {0, 0, 0, 0}, dir.file("plain.ckpt"));
  error_of([&] { rpg::load_checkpoint(*b, dir.file("plain.ckpt")); }, Status::FormatError);
}

BOOST_AUTO_TEST_CASE(darknet_weights_and_rings) {
  TempDir dir;
  auto a = rpg_test::net_from_text(ckpt_cfg());
  train(*a, 2, 300);
  // The expanded model is an ordinary .weights file for the same cfg without rings...
  const std::string path = dir.file("expanded.weights");
  rpg::save_darknet_weights(*a, path, 8);
  auto plain = rpg_test::net_from_text(ckpt_cfg("", false));
  BOOST_TEST(rpg::load_darknet_weights(*plain, path) == 8);
  const auto x = rpg_test::random_vector(size_t(4 * a->input_size()), 31);
  const auto pa = a->predict(x.data()), pp = plain->predict(x.data());
  BOOST_TEST(worst_rel(pp, pa) < 1e-5, "the expanded weights predict differently");
  // ...but loading a .weights file into a ring network is refused with a message.
  auto b = rpg_test::net_from_text(ckpt_cfg());
  const auto before = training_state(*b);
  const std::string msg = error_of([&] { rpg::load_darknet_weights(*b, path); }, Status::InvalidArgument);
  BOOST_TEST(contains(msg, path), msg);
  BOOST_TEST(contains(msg, "ring"), msg);
  BOOST_TEST((training_state(*b) == before));
}

BOOST_AUTO_TEST_CASE(positions_outside_the_permutation_are_errors) {
  // Cycle-walking from outside [0, N) need not return: the permutation refuses such positions.
  const rpg::Permutation pi(3, 1000);
  BOOST_CHECK_THROW(pi(1000), rpg::Error);
  BOOST_CHECK_THROW(pi.inverse(5000), rpg::Error);
  BOOST_CHECK_NO_THROW(pi(999));
}
