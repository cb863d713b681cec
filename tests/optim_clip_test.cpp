// clip_grad_norm and clip_grad_value, against norms worked out by hand.
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <limits>
#include <vector>

using namespace tether;

namespace {

/// Two parameters with gradients [3, -4] and [12], and one without a gradient.
std::vector<Tensor> with_gradients() {
  const TensorOptions trainable = TensorOptions(DType::f64).with_requires_grad();
  std::vector<Tensor> parameters = {zeros({2}, trainable), zeros({1}, trainable),
                                    zeros({1}, trainable)};
  parameters[0].set_grad(tensor({3, -4}, {2}, DType::f64));
  parameters[1].set_grad(tensor({12}, {1}, DType::f64));
  return parameters;
}

std::vector<double> gradient(const Tensor& p) {
  return p.grad().to_vector<double>();
}

}  // namespace

TEST_CASE("clip_grad_norm scales all gradients together when their norm is too large", "[optim]") {
  const std::vector<Tensor> parameters = with_gradients();
  // sqrt(9 + 16 + 144) = 13; scale 6.5 / (13 + 1e-6) = 0.49999996153846...
  CHECK(optim::clip_grad_norm(parameters, 6.5) == Approx(13).epsilon(1e-15));
  const double scale = 6.5 / (13 + 1e-6);
  CHECK(gradient(parameters[0]) == std::vector<double>{3 * scale, -4 * scale});
  CHECK(gradient(parameters[1]) == std::vector<double>{12 * scale});
  CHECK_FALSE(parameters[2].grad().defined());
}

TEST_CASE("clip_grad_norm leaves gradients within max_norm alone", "[optim]") {
  const std::vector<Tensor> parameters = with_gradients();
  CHECK(optim::clip_grad_norm(parameters, 20) == Approx(13).epsilon(1e-15));
  CHECK(gradient(parameters[0]) == std::vector<double>{3, -4});
  CHECK(optim::clip_grad_norm({}, 1) == 0);
}

TEST_CASE("clip_grad_norm takes any p-norm, infinity included", "[optim]") {
  std::vector<Tensor> parameters = with_gradients();
  CHECK(optim::clip_grad_norm(parameters, 100, 1) == Approx(19).epsilon(1e-15));  // 3 + 4 + 12
  const double infinity = std::numeric_limits<double>::infinity();
  CHECK(optim::clip_grad_norm(parameters, 6, infinity) == 12);  // max(3, 4, 12)
  const double scale = 6 / (12 + 1e-6);
  CHECK(gradient(parameters[0]) == std::vector<double>{3 * scale, -4 * scale});
  CHECK_THROWS_WITH(optim::clip_grad_norm(parameters, 1, 0),
                    "clip_grad_norm: norm_type must be > 0 (or infinity), got 0");
  CHECK_THROWS_WITH(optim::clip_grad_norm(parameters, -1),
                    "clip_grad_norm: max_norm must be >= 0, got -1");
}

TEST_CASE("clip_grad_value clamps every gradient element", "[optim]") {
  const std::vector<Tensor> parameters = with_gradients();
  optim::clip_grad_value(parameters, 3.5);
  CHECK(gradient(parameters[0]) == std::vector<double>{3, -3.5});
  CHECK(gradient(parameters[1]) == std::vector<double>{3.5});
  CHECK_FALSE(parameters[2].grad().defined());
  CHECK_THROWS_WITH(optim::clip_grad_value(parameters, -1),
                    "clip_grad_value: clip_value must be >= 0, got -1");
}
