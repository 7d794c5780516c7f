// Every cfg that rpgnet ships loads, and its parameter count equals an independent count: the
// published figure for torchvision's ResNets, or a count written out by hand from the
// architecture's description. A new cfg without an expected count fails the suite.
#define BOOST_TEST_MODULE shipped_cfgs
#include <boost/test/unit_test.hpp>

#include <dirent.h>

#include <map>

#include "testing.h"

namespace {

int64_t conv(int64_t c, int64_t f, int64_t k, bool bn = true) { return c * f * k * k + f * (bn ? 2 : 1); }

// Four stages of basic blocks as torchvision builds them (projection where the shape changes).
int64_t resnet_tv(std::initializer_list<int> blocks) {
  int64_t n = conv(3, 64, 7);
  int64_t ch = 64, f = 64;
  for (int b : blocks) {
    for (int i = 0; i < b; ++i) {
      n += conv(ch, f, 3) + conv(f, f, 3);
      if (ch != f) n += conv(ch, f, 1);
      ch = f;
    }
    f *= 2;
  }
  return n + 512 * 1000 + 1000;
}

std::map<std::string, int64_t> expected_counts() {
  std::map<std::string, int64_t> m;
  // torchvision.models.resnet18 / resnet34: sum(p.numel() for p in model.parameters())
  m["resnet18-tv.cfg"] = 11689512;
  m["resnet34-tv.cfg"] = 21797672;
  // Ring versions: the full count P is the same architecture's (RPG.md, "DoF accounting").
  m["resnet18-rpg.cfg"] = 11689512;
  m["resnet34-rpg.cfg"] = 21797672;
  // Darknet's resnet18 layout: no projections, 1x1 convolution classifier without batch norm.
  m["resnet18.cfg"] = conv(3, 64, 7) + 4 * conv(64, 64, 3) + conv(64, 128, 3) + 3 * conv(128, 128, 3) +
                      conv(128, 256, 3) + 3 * conv(256, 256, 3) + conv(256, 512, 3) + 3 * conv(512, 512, 3) +
                      conv(512, 1000, 1, false);
  m["fashion-resnet.cfg"] = conv(1, 32, 3) + 4 * conv(32, 32, 3) + conv(32, 64, 3) + conv(64, 64, 3) +
                            conv(32, 64, 1) + 2 * conv(64, 64, 3) + 64 * 10 + 10;
  m["fashion-resnet-rpg.cfg"] = m["fashion-resnet.cfg"];
  // LeNet-5's sizes: 5x5 convolutions 1->6 and 6->16 (with biases), 16*5*5 -> 120 -> 84 -> 10.
  m["lenet.cfg"] = (6 * 25 + 6) + (16 * 6 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10);
  return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(independent_formulas_match_published_figures) {
  BOOST_TEST(resnet_tv({2, 2, 2, 2}) == 11689512);
  BOOST_TEST(resnet_tv({3, 4, 6, 3}) == 21797672);
}

BOOST_AUTO_TEST_CASE(every_shipped_cfg_has_the_expected_parameter_count) {
  const std::string dir = rpg_test::source_dir() + "/cfg";
  DIR* d = opendir(dir.c_str());
  BOOST_REQUIRE_MESSAGE(d, "cannot open " << dir);
  std::map<std::string, int64_t> expected = expected_counts();
  int checked = 0;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".cfg") != 0) continue;
    BOOST_TEST_CONTEXT(name) {
      auto it = expected.find(name);
      BOOST_TEST((it != expected.end()), "no independent parameter count for shipped cfg " << name);
      if (it == expected.end()) continue;
      rpg::CfgFile cfg = rpg::load_cfg(dir + "/" + name);
      rpg::apply_override(cfg, "net.batch=1");
      rpg::apply_override(cfg, "net.subdivisions=1");
      rpg::Network net(cfg, std::make_unique<rpg::CpuBackend>(1));
      BOOST_TEST(net.num_params() == it->second);
      ++checked;
    }
  }
  closedir(d);
  BOOST_TEST(checked == int(expected.size()));
}

BOOST_AUTO_TEST_CASE(fashion_resnet_runs_forward_and_backward) {
  rpg::CfgFile cfg = rpg::load_cfg(rpg_test::source_dir() + "/cfg/fashion-resnet.cfg");
  rpg::apply_override(cfg, "net.batch=4");
  rpg::Network net(cfg, std::make_unique<rpg::CpuBackend>(2));
  std::vector<float> x = rpg_test::random_vector(size_t(4 * net.input_size()), 3, 0.f, 1.f);
  std::vector<float> t(size_t(4 * net.output_size()), 0.f);
  for (int b = 0; b < 4; ++b) t[size_t(b * 10 + b)] = 1.f;
  const double loss = net.train_pass(x.data(), t.data());
  BOOST_TEST(std::isfinite(loss));
  BOOST_TEST(loss > 0);
}
