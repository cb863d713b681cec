#include <catch2/catch.hpp>

#include <cmath>

#include "tether/tether.h"

namespace tether {

TEST_CASE("jacobian of an element-wise map is diagonal, of shape out + in") {
  const Tensor x = tensor({0.5, -1.0, 2.0}, DType::f64);
  const Tensor j = autograd::jacobian([](const Tensor& v) { return exp(v); }, x);
  CHECK(j.shape() == Shape{3, 3});
  const Tensor expected = eye(3, std::nullopt, DType::f64) * exp(x).unsqueeze(1);
  CHECK(abs(j - expected).amax().item<double>() < 1e-12);
}

TEST_CASE("jacobian of a matrix product is the other factor, laid out as out + in") {
  const Tensor a = randn({2, 3}, DType::f64);
  const Tensor x = randn({3}, DType::f64);
  const Tensor j = autograd::jacobian([&](const Tensor& v) { return matmul(a, v); }, x);
  CHECK(j.shape() == Shape{2, 3});
  CHECK(abs(j - a).amax().item<double>() < 1e-12);
  const Tensor constant = autograd::jacobian([&](const Tensor&) { return a; }, x);
  CHECK(constant.shape() == Shape{2, 3, 3});
  CHECK(constant.abs().amax().item<double>() == 0.0);
}

TEST_CASE("jacobian with create_graph is differentiable in x, and hessian is its square form") {
  const Tensor x = tensor({0.3, -0.7}, DType::f64).requires_grad_();
  const auto cube_sum = [](const Tensor& v) { return (v * v * v).sum(); };
  const Tensor h = autograd::hessian(cube_sum, x);
  CHECK(h.shape() == Shape{2, 2});
  const Tensor expected = eye(2, std::nullopt, DType::f64) * (x.detach() * 6.0).unsqueeze(1);
  CHECK(abs(h - expected).amax().item<double>() < 1e-12);
  const Tensor j = autograd::jacobian([](const Tensor& v) { return v * v; }, x, true);
  j.sum().backward();
  CHECK(abs(x.grad() - 2.0).amax().item<double>() < 1e-12);
}

TEST_CASE("jacobian and hessian refuse integer inputs and hessian a vector-valued function") {
  CHECK_THROWS_AS(autograd::jacobian([](const Tensor& v) { return v; }, arange(3)), DTypeError);
  CHECK_THROWS_WITH(
      autograd::hessian([](const Tensor& v) { return v * 2.0; }, tensor({1.0, 2.0}, DType::f64)),
      Catch::Contains("hessian") && Catch::Contains("one output element"));
}

}  // namespace tether
