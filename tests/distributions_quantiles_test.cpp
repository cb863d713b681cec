// Normal's icdf (by erfinv), Cauchy's cdf (by atan), LogNormal's variance (by
// expm1) and Distribution::converted, the way a prior follows its parameter
// to another dtype. torch.distributions' values for the same are in the
// reference set (distributions_reference_test.cpp); these check the edges.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "tensor_checks.h"
#include "tether/tether.h"

using namespace tether;
using namespace tether::distributions;
using namespace tether::testing;

namespace {

double at(const Tensor& t, std::int64_t i) {
  return t.to_vector<double>()[static_cast<std::size_t>(i)];
}

}  // namespace

TEST_CASE("Normal icdf inverts cdf, reaches both tails and is -inf at 0 and +inf at 1",
          "[distributions]") {
  const Normal normal(tensor({0.5, -1.0, 2.0}, DType::f64), tensor({1.5, 0.3, 2.0}, DType::f64));
  const Tensor x = tensor({0.1, -0.7, 3.5}, DType::f64);
  CHECK(max_abs_diff(normal.icdf(normal.cdf(x)), x) < 1e-12);
  // Phi^-1(1e-10) = -6.3613409, the textbook quantile.
  const Normal standard(0.0, 1.0);
  CHECK(at(standard.icdf(scalar_tensor(1e-10, DType::f64)), 0) == Approx(-6.3613409));
  const Tensor edges = standard.icdf(tensor({0.0, 1.0}, DType::f32));
  CHECK(at(edges, 0) == -std::numeric_limits<double>::infinity());
  CHECK(at(edges, 1) == std::numeric_limits<double>::infinity());
}

TEST_CASE("Normal icdf is differentiable in the probability, loc and scale", "[distributions]") {
  const auto f = [](const std::vector<Tensor>& in) { return Normal(in[1], in[2]).icdf(in[0]); };
  const std::vector<Tensor> inputs = {tensor({0.05, 0.5, 0.97}, DType::f64).requires_grad_(),
                                      tensor({0.5, -1.0, 2.0}, DType::f64).requires_grad_(),
                                      tensor({1.5, 0.3, 2.0}, DType::f64).requires_grad_()};
  CHECK(gradcheck(f, inputs));
  CHECK(gradgradcheck(f, inputs));
}

TEST_CASE("Cauchy cdf is atan(z) / pi + 1/2, the inverse of its icdf", "[distributions]") {
  const Cauchy cauchy(tensor({0.5, -1.0, 2.0}, DType::f64), tensor({1.5, 0.3, 2.0}, DType::f64));
  const Tensor p = tensor({0.2, 0.5, 0.9}, DType::f64);
  CHECK(max_abs_diff(cauchy.cdf(cauchy.icdf(p)), p) < 1e-12);
  // One scale above loc is the third quartile.
  CHECK(at(Cauchy(1.0, 2.0).cdf(scalar_tensor(3.0, DType::f32)), 0) == Approx(0.75));
}

TEST_CASE("LogNormal variance keeps its digits for tiny scales, where exp(s^2) - 1 loses them",
          "[distributions]") {
  const double s = 1e-6;
  const LogNormal tiny(scalar_tensor(0.5, DType::f64), scalar_tensor(s, DType::f64));
  const double exact = std::expm1(s * s) * std::exp(1.0 + s * s);
  CHECK(tiny.variance().item<double>() == Approx(exact).epsilon(1e-14));
}

TEST_CASE("converted remakes a distribution with its parameters converted, validated again",
          "[distributions]") {
  const Gamma gamma(tensor({2.0, 3.0}, DType::f64), tensor({0.5, 1.5}, DType::f64));
  const auto to_f32 = [](const Tensor& t) { return t.to(DType::f32); };
  const auto converted = gamma.converted(to_f32);
  CHECK(converted->name() == "Gamma");
  CHECK(converted->mean().dtype() == DType::f32);
  CHECK(max_abs_diff(converted->mean().to(DType::f64), gamma.mean()) < 1e-6);
  const auto negate = [](const Tensor& t) { return -t; };
  CHECK_THROWS_AS(gamma.converted(negate), ValueError);  // a negative rate is refused
}
