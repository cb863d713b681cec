// expm1, atan and erfinv (ops.h) where the op table's points do not reach:
// expm1 near 0, erfinv in both tails and at its edges, integer inputs and the
// errors that name the op. Expected values are closed forms or torch 1.13's.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "tether/tether.h"

using namespace tether;
using Catch::Matchers::Contains;

namespace {

double at(const Tensor& t, std::int64_t i) {
  return t.to_vector<double>()[static_cast<std::size_t>(i)];
}

}  // namespace

TEST_CASE("expm1 keeps every digit of a tiny argument, where exp(x) - 1 keeps 8",
          "[autograd][special]") {
  const Tensor x = tensor({1e-10, -1e-12, 1e-300}, DType::f64);
  const Tensor y = expm1(x);
  for (std::int64_t i = 0; i < 3; ++i)
    CHECK(at(y, i) == Approx(std::expm1(at(x, i))).epsilon(1e-15));
  CHECK(std::abs(at(exp(x) - 1.0, 0) - 1e-10) > 1e-18);  // what expm1 is for
  CHECK(at(expm1(tensor({1e-6f}, DType::f32)), 0) == Approx(1.0000005e-6).epsilon(1e-6));
}

TEST_CASE("erfinv inverts erfc far into both tails, with +-inf at +-1 and NaN outside [-1, 1]",
          "[autograd][special]") {
  for (const double tail : {1e-6, 1e-9, 1e-12, 1e-15}) {
    INFO("1 - " << tail);
    const double x = at(erfinv(tensor({1.0 - tail}, DType::f64)), 0);
    CHECK(std::erfc(x) == Approx(1.0 - (1.0 - tail)).epsilon(1e-12));
    CHECK(at(erfinv(tensor({tail - 1.0}, DType::f64)), 0) == -x);
  }
  CHECK(at(erfinv(tensor({1e-300}, DType::f64)), 0) == Approx(8.86226925452758e-301));
  const Tensor edges = erfinv(tensor({1.0, -1.0, 1.5, -2.0, std::nan("")}, DType::f64));
  CHECK(at(edges, 0) == std::numeric_limits<double>::infinity());
  CHECK(at(edges, 1) == -std::numeric_limits<double>::infinity());
  for (std::int64_t i = 2; i < 5; ++i) CHECK(std::isnan(at(edges, i)));
}

TEST_CASE("erfinv's gradient is sqrt(pi)/2 exp(erfinv(x)^2), 1/erf' at the inverse",
          "[autograd][special]") {
  const Tensor x = tensor({-0.95, 0.0, 0.6}, DType::f64).requires_grad_();
  erfinv(x).sum().backward();
  for (std::int64_t i = 0; i < 3; ++i) {
    const double y = at(erfinv(x.detach()), i);
    CHECK(at(x.grad(), i) == Approx(1.0 / (2.0 / std::sqrt(M_PI) * std::exp(-y * y))));
  }
}

TEST_CASE("expm1, atan and erfinv of an i64 tensor compute in the default float dtype",
          "[autograd][special]") {
  const Tensor n = tensor({0, 1}, DType::i64);
  for (const Tensor& y : {expm1(n), atan(n), erfinv(n)}) CHECK(y.dtype() == default_float_dtype);
  CHECK(at(atan(n), 1) == Approx(M_PI / 4));
  CHECK(n.expm1().dtype() == default_float_dtype);
}

TEST_CASE("expm1, atan and erfinv of an undefined tensor throw an error naming the op",
          "[autograd][special][errors]") {
  CHECK_THROWS_WITH(expm1(Tensor()), Contains("expm1"));
  CHECK_THROWS_WITH(atan(Tensor()), Contains("atan"));
  CHECK_THROWS_WITH(erfinv(Tensor()), Contains("erfinv"));
}
