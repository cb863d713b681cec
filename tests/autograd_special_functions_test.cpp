// Edge values of the special functions (ops.h), where the op table's random
// points do not reach: poles, signed zeros, NaN, and the far tails of
// log_ndtr. Expected values are torch 1.13's (f64 unless said).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "tether/tether.h"

namespace tether {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> values(const Tensor& t) {
  return t.to_vector<double>();
}

/// The gradient of sum(f(x)) at x.
std::vector<double> gradient(Tensor (*f)(const Tensor&), const Tensor& x) {
  const Tensor leaf = x.detach().requires_grad_();
  f(leaf).sum().backward();
  return values(leaf.grad());
}

}  // namespace

TEST_CASE("lgamma is +inf at 0, the negative integers and both infinities, as torch's") {
  const Tensor x = tensor({0.0, -0.0, -1.0, -2.0, kInf, -kInf}, DType::f64);
  for (const double v : values(lgamma(x))) CHECK(v == kInf);
  CHECK(std::isnan(lgamma(tensor({kNaN}, DType::f64)).item<double>()));
}

TEST_CASE("lgamma, digamma and log_ndtr of an i64 tensor compute in the default float dtype") {
  const Tensor i = arange(1, 4, 1);
  for (const Tensor& out : {lgamma(i), digamma(i), polygamma(1, i), erfc(i), log_ndtr(i)})
    CHECK(out.dtype() == DType::f32);
  CHECK(xlogy(i, i).dtype() == DType::f32);
  CHECK(lgamma(i).to_vector<double>()[2] == Approx(std::log(2.0)));
}

TEST_CASE("digamma is -inf at +0, +inf at -0 and NaN at the negative integers and -inf") {
  const std::vector<double> got =
      values(digamma(tensor({0.0, -0.0, -1.0, -3.0, -kInf, kInf}, DType::f64)));
  CHECK(got[0] == -kInf);
  CHECK(got[1] == kInf);
  CHECK(std::isnan(got[2]));
  CHECK(std::isnan(got[3]));
  CHECK(std::isnan(got[4]));
  CHECK(got[5] == kInf);
}

TEST_CASE("polygamma's poles and infinities follow torch: trigamma(0) is inf, trigamma(inf) 0") {
  const Tensor x = tensor({0.0, kInf, -kInf}, DType::f64);
  const std::vector<double> trigamma = values(polygamma(1, x));
  CHECK(trigamma[0] == kInf);
  CHECK(trigamma[1] == 0.0);
  CHECK(std::isnan(trigamma[2]));
  const std::vector<double> second = values(polygamma(2, x));
  CHECK(second[0] == -kInf);
  CHECK(std::isnan(second[1]));
  CHECK(second[2] == -kInf);
  CHECK(polygamma(3, tensor({0.0}, DType::f64)).item<double>() == kInf);
  // Large arguments, where the asymptotic series alone is used (torch and mpmath agree).
  CHECK(digamma(tensor({200.0}, DType::f64)).item<double>() ==
        Approx(5.295815283219911).epsilon(1e-14));
  CHECK(polygamma(1, tensor({200.0}, DType::f64)).item<double>() ==
        Approx(0.00501252083322917).epsilon(1e-12));
}

TEST_CASE("polygamma of a negative order throws a ValueError naming polygamma and the order") {
  const Tensor x = tensor({1.0}, DType::f64);
  CHECK_THROWS_AS(polygamma(-1, x), ValueError);
  CHECK_THROWS_WITH(polygamma(-1, x), Catch::Contains("polygamma") && Catch::Contains("-1"));
  CHECK_THROWS_WITH(x.polygamma(-2), Catch::Contains("polygamma") && Catch::Contains("-2"));
}

TEST_CASE("log_ndtr stays accurate at -40 and 10, with its gradient, in f64 and f32") {
  const Tensor x = tensor({-40.0, 10.0, -10.0}, DType::f64);
  const std::vector<double> got = values(log_ndtr(x));
  CHECK(got[0] == Approx(-804.6084420137539).epsilon(1e-14));
  CHECK(got[1] == Approx(-7.619853024160498e-24).epsilon(1e-12));
  CHECK(got[2] == Approx(-53.23128515051248).epsilon(1e-14));
  const std::vector<double> slope = gradient(log_ndtr, x);
  CHECK(slope[0] == Approx(40.024968847207264).epsilon(1e-14));  // mpmath (torch: 1e-13 off)
  CHECK(slope[1] == Approx(7.69459862670642e-23).epsilon(1e-12));
  CHECK(slope[2] == Approx(10.098093233962576).epsilon(1e-12));

  const Tensor x32 = x.to(DType::f32);
  const std::vector<double> got32 = values(log_ndtr(x32));
  CHECK(got32[0] == Approx(-804.6084420137539).epsilon(1e-6));
  CHECK(got32[1] == Approx(-7.619853024160498e-24).epsilon(1e-6));
  CHECK(gradient(log_ndtr, x32)[0] == Approx(40.025).epsilon(1e-4));
}

TEST_CASE(
    "log_ndtr's gradient stays accurate where torch's cancels: 1e10 at -1e10 and inf at -inf") {
  // torch 1.13 computes exp(log phi - log Phi), which gives -inf at -1e10
  // (f64) and NaN at -inf; phi/Phi = -x / (1 - 1/x^2 + ...) there.
  const std::vector<double> slope = gradient(log_ndtr, tensor({-1e10, -kInf, -40.0}, DType::f64));
  CHECK(slope[0] == Approx(1e10).epsilon(1e-15));
  CHECK(slope[1] == kInf);
  CHECK(slope[2] == Approx(40.024968847207264).epsilon(1e-15));
  CHECK(gradient(log_ndtr, tensor({-1e10}, DType::f32))[0] == Approx(1e10).epsilon(1e-6));
}

TEST_CASE("log_ndtr is -0 at +inf, -inf at -inf and NaN at NaN") {
  const std::vector<double> got = values(log_ndtr(tensor({kInf, -kInf, kNaN}, DType::f64)));
  CHECK(got[0] == 0.0);
  CHECK(got[1] == -kInf);
  CHECK(std::isnan(got[2]));
}

TEST_CASE("xlogy is 0 where x == 0, for y 0, -1 and inf too, but NaN where y is NaN, as torch") {
  const Tensor x = tensor({0.0, 0.0, 0.0, 0.0, 1.0, 2.0, kNaN}, DType::f64).requires_grad_();
  const Tensor y = tensor({0.0, kNaN, -1.0, kInf, 0.0, -1.0, 1.0}, DType::f64).requires_grad_();
  const std::vector<double> got = values(xlogy(x, y));
  CHECK(got[0] == 0.0);
  CHECK(std::isnan(got[1]));
  CHECK(got[2] == 0.0);
  CHECK(got[3] == 0.0);
  CHECK(got[4] == -kInf);
  CHECK(std::isnan(got[5]));
  CHECK(std::isnan(got[6]));
  // torch 1.13: d/dx = log(y), but 0 where x == 0 and y <= 0; d/dy = x / y.
  xlogy(x, y).sum().backward();
  const std::vector<double> dx = values(x.grad()), dy = values(y.grad());
  CHECK(dx[0] == 0.0);
  CHECK(std::isnan(dx[1]));
  CHECK(dx[2] == 0.0);
  CHECK(dx[3] == kInf);
  CHECK(dx[4] == -kInf);
  CHECK(dx[6] == 0.0);
  CHECK(std::isnan(dy[0]));
  CHECK(dy[2] == 0.0);
  CHECK(dy[4] == kInf);
  CHECK(dy[5] == -2.0);
}

}  // namespace tether
