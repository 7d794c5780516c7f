// Learning-rate policies against Darknet's formulas (get_current_rate) and the run length.
#define BOOST_TEST_MODULE policy
#include <boost/test/unit_test.hpp>

#include <cmath>

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
