// Learning-rate policies against Darknet's formulas (get_current_rate) and the run length.
#define BOOST_TEST_MODULE policy
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>
#include <utility>

#include "base/error.h"
#include "testing.h"
#include "train/policy.h"

using rpg::NetConfig;
using rpg::Policy;

namespace {
NetConfig base(Policy p) {
  NetConfig c;
  c.learning_rate = 0.1f;
  c.policy = p;
  return c;
}
double lr(const NetConfig& c, int64_t n, int64_t total = 1000) { return rpg::learning_rate(c, n, total); }
}  // namespace

BOOST_AUTO_TEST_CASE(darknet_policies) {
  NetConfig c = base(Policy::Constant);
  BOOST_TEST(lr(c, 0) == 0.1, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(lr(c, 999) == 0.1, boost::test_tools::tolerance(1e-6));

  c = base(Policy::Step);
  c.step = 100;
  c.scale = 0.5f;
  BOOST_TEST(lr(c, 99) == 0.1, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(lr(c, 250) == 0.025, boost::test_tools::tolerance(1e-6));

  c = base(Policy::Steps);
  c.steps = {10, 20};
  c.scales = {0.1f, 0.5f};
  BOOST_TEST(lr(c, 9) == 0.1, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(lr(c, 10) == 0.01, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(lr(c, 25) == 0.005, boost::test_tools::tolerance(1e-6));

  c = base(Policy::Exp);
  c.gamma = 0.99f;
  BOOST_TEST(lr(c, 10) == 0.1 * std::pow(0.99, 10), boost::test_tools::tolerance(1e-5));

  c = base(Policy::Poly);
  c.power = 4;
  BOOST_TEST(lr(c, 500, 1000) == 0.1 * std::pow(0.5, 4), boost::test_tools::tolerance(1e-5));
  BOOST_TEST(lr(c, 1000, 1000) == 0.0, boost::test_tools::tolerance(1e-9));

  c = base(Policy::Sigmoid);
  c.gamma = 0.1f;
  c.step = 50;
  BOOST_TEST(lr(c, 50) == 0.05, boost::test_tools::tolerance(1e-5));

  c = base(Policy::Random);
  c.power = 1;
  const double r1 = lr(c, 3), r2 = lr(c, 3);
  BOOST_TEST(r1 == r2);  // reproducible from the seed
  BOOST_TEST((r1 >= 0 && r1 <= 0.1));
}

BOOST_AUTO_TEST_CASE(burn_in_and_cosine) {
  NetConfig c = base(Policy::Cosine);
  c.burn_in = 100;
  c.power = 4;  // Darknet uses the same power for burn-in
  BOOST_TEST(lr(c, 50, 1100) == 0.1 * std::pow(0.5, 4), boost::test_tools::tolerance(1e-5));
  BOOST_TEST(lr(c, 100, 1100) == 0.1, boost::test_tools::tolerance(1e-5));   // cosine starts at the top
  BOOST_TEST(lr(c, 600, 1100) == 0.05, boost::test_tools::tolerance(1e-5));  // half way
  BOOST_TEST(lr(c, 1100, 1100) == 0.0, boost::test_tools::tolerance(1e-7));
}

BOOST_AUTO_TEST_CASE(run_length) {
  NetConfig c;
  c.batch = 128;
  c.max_batches = 500;
  BOOST_TEST(rpg::total_iterations(c, 60000) == 500);
  c.max_batches = 0;
  c.epochs = 3;
  BOOST_TEST(rpg::total_iterations(c, 60000) == 1407);  // ceil(180000 / 128)
  c.epochs = 0;
  BOOST_TEST(rpg::total_iterations(c, 60000) == 0);
}

// Issue 15: a negative or infinite learning rate is an error, never a silent update: at cfg
// parse time where the keys alone make it so, at the update where it depends on the update
// number (policy=exp with gamma=1e30 reaches inf at the third update).
BOOST_AUTO_TEST_CASE(negative_or_infinite_rates_are_errors) {
  const std::string head = "[net]\nbatch=2\ninputs=3\nlearning_rate=0.01\n";
  const std::string tail = "[connected]\noutput=2\n[softmax]\n";
  const std::pair<std::string, std::string> bad[] = {
      {"policy=steps\nsteps=10,20\nscales=0.1,-1\n", "rates.cfg:7: scales item 2 is -1"},
      {"policy=steps\nsteps=10\nscales=1e39\n", "scales item 1 is inf"},
      {"policy=step\nstep=10\nscale=-0.5\n", "rates.cfg:7: policy=step needs scale >= 0"},
      {"policy=exp\ngamma=-2\n", "policy=exp needs gamma >= 0"},
      {"policy=poly\npower=-1\n", "power must be >= 0"},
      {"burn_in=10\npower=-4\n", "power must be >= 0"},
  };
  for (const auto& [keys, message] : bad) {
    try {
      rpg_test::net_from_text(head + keys + tail, 1, "rates.cfg");
      BOOST_ERROR("no error for " << keys);
    } catch (const rpg::Error& e) {
      BOOST_TEST(int(e.status()) == int(rpg::Status::ParseError), keys);
      BOOST_TEST(std::string(e.what()).find(message) != std::string::npos, e.what() << " lacks " << message);
    }
  }
  auto net = rpg_test::net_from_text(head + "policy=exp\ngamma=1e30\n" + tail, 1, "exp.cfg");
  BOOST_TEST(rpg::rate_for_update(*net, 0, 100) == 0.01f);
  BOOST_TEST(rpg::rate_for_update(*net, 1, 100) == float(0.01 * 1e30));
  try {
    rpg::rate_for_update(*net, 2, 100);
    BOOST_ERROR("no error for an infinite rate");
  } catch (const rpg::Error& e) {
    BOOST_TEST(int(e.status()) == int(rpg::Status::InvalidArgument));
    BOOST_TEST(std::string(e.what()) ==
               "exp.cfg: the learning rate of update 3 is inf (policy=exp); it must be finite and >= 0: change "
               "learning_rate or the policy's keys");
  }
}
