// Finite-difference gradient checking shared by the layer and generator tests. Include after
// <boost/test/unit_test.hpp>.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backend/buffer.h"

namespace rpg_test {

// Derivatives of loss() along entry i of buf, from evaluations at i + k h, k = -2..2: a central
// difference with Richardson extrapolation (error O(h^4)) and the two second-order one-sided
// differences. Piecewise-linear activations and max pooling put kinks into the loss; a kink
// within 2h of the point spoils the central difference but leaves one of the one-sided ones on
// a smooth piece, where it must agree with the analytic gradient. The entry is restored after.
template <typename Loss>
std::vector<double> numeric_derivatives(rpg::Buffer<float>& buf, int64_t i, float h, Loss&& loss) {
  std::vector<float> v = buf.to_vector();
  const float orig = v[size_t(i)];
  double f[5];
  for (int k = -2; k <= 2; ++k) {
    v[size_t(i)] = orig + float(k) * h;
    buf.upload(v);
    f[k + 2] = loss();
  }
  v[size_t(i)] = orig;
  buf.upload(v);
  const double d1 = (f[3] - f[1]) / (2.0 * h), d2 = (f[4] - f[0]) / (4.0 * h);
  return {(4.0 * d1 - d2) / 3.0, (-3.0 * f[2] + 4.0 * f[3] - f[4]) / (2.0 * h),
          (3.0 * f[2] - 4.0 * f[1] + f[0]) / (2.0 * h)};
}

// Compares the analytic gradient `grad` of `buf` with finite differences on up to `samples`
// evenly spread entries: relative error at most 1e-2 (with a floor of 1e-2 on the scale), first
// with h = 1e-2, then h = 1e-3 for entries that miss.
template <typename Loss>
void compare_gradient(const std::string& what, rpg::Buffer<float>& buf, const std::vector<float>& grad,
                      Loss&& loss, int samples = 12) {
  const int64_t n = buf.size();
  const int64_t step = n <= samples ? 1 : n / samples;
  double worst = 0;
  auto rel = [](double a, double b) {
    return std::fabs(a - b) / std::max(1e-2, std::max(std::fabs(a), std::fabs(b)));
  };
  for (int64_t i = (n <= samples ? 0 : (7 % step)); i < n; i += step) {
    const double a = grad[size_t(i)];
    double err = 1e30, best = 0;
    for (float h : {1e-2f, 1e-3f}) {
      for (double num : numeric_derivatives(buf, i, h, loss))
        if (rel(a, num) < err) err = rel(a, num), best = num;
      if (err <= 1e-2) break;
    }
    worst = std::max(worst, err);
    BOOST_TEST_CONTEXT(what << "[" << i << "]: analytic " << a << ", numeric " << best) {
      BOOST_TEST(err <= 1e-2);
    }
  }
  BOOST_TEST_MESSAGE(what << ": worst relative error " << worst);
}

}  // namespace rpg_test
