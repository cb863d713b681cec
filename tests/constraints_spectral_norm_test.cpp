// Spectral normalisation: the value is the weight divided by its largest
// singular value, estimated by power iteration that runs only when the value
// is recomputed in training mode.
#include <tether/tether.h>
#include <catch2/catch.hpp>
#include <cmath>
#include "tensor_checks.h"

using namespace tether;
using namespace tether::testing;

namespace {

using Inputs = std::vector<Tensor>;

Tensor buffer(Parameter& parameter, const std::string& name) {
  for (auto& [buffer_name, tensor] : parameter.buffers())
    if (buffer_name == name) return tensor;
  FAIL("no buffer named " << name);
  return {};
}

/// The weight as a matrix with `dim` first, as spectral norm views it.
Tensor as_matrix(const Tensor& weight, std::int64_t dim) {
  const Tensor moved = transpose(weight, 0, dim);
  return reshape(moved, {moved.size(0), -1});
}

/// sigma = u^T W v with the parameter's current buffers.
double sigma_from_buffers(ComputedParameter& parameter) {
  NoGradGuard no_grad;
  const Tensor weight = parameter.raw_inputs()[0];
  return dot(buffer(parameter, "u"), mv(as_matrix(weight, 0), buffer(parameter, "v")))
      .item<double>();
}

struct WeightShape {
  std::string name;
  Shape shape;
  std::int64_t dim;
};

const std::vector<WeightShape> weight_shapes = {
    {"a [4, 3] weight, dim 0", {4, 3}, 0},
    {"a [3, 5] weight, dim 1", {3, 5}, 1},
    {"a [2, 3, 2, 2] convolution weight, dim 0", {2, 3, 2, 2}, 0},
};

}  // namespace

TEST_CASE("spectral norm divides a weight by its largest singular value", "[spectral_norm]") {
  // Singular values 3 and 1: power iteration converges as 3^-2k.
  const Tensor weight = tensor({3, 0, 0, 1, 0, 0}, {3, 2}, DType::f64);
  const auto parameter = spectrally_normalize(make_parameter(weight.clone()));
  CHECK(max_abs_diff(parameter->value(), weight / 3.0) < 1e-12);
  CHECK(largest_singular_value(weight) == Approx(3.0).epsilon(1e-12));
}

TEST_CASE("a spectrally normalised weight of each shape has largest singular value one",
          "[spectral_norm]") {
  for (const auto& w : weight_shapes) {
    INFO(w.name);
    manual_seed(51);
    const auto parameter =
        spectrally_normalize(make_parameter(randn(w.shape, DType::f64)), w.dim, /*steps=*/10);
    const Tensor matrix = as_matrix(parameter->value(), w.dim);
    CHECK(largest_singular_value(matrix) == Approx(1.0).margin(1e-3));
    CHECK(buffer(*parameter, "u").shape() == Shape{matrix.size(0)});
    CHECK(buffer(*parameter, "v").shape() == Shape{matrix.size(1)});
  }
}

TEST_CASE("gradients through spectral norm match finite differences", "[spectral_norm]") {
  // The function must be deterministic: no power iteration inside the check,
  // either by running none in training mode or by evaluating in eval mode.
  struct Mode {
    int power_iteration_steps;
    bool training;
  };
  for (const auto& w : weight_shapes) {
    for (const Mode mode : {Mode{0, true}, Mode{1, false}}) {
      INFO(w.name << (mode.training ? ", training with no power iteration" : ", eval mode"));
      manual_seed(52);
      const Tensor weight = randn(w.shape, DType::f64);
      const auto constraint = constraints::spectral_norm(weight, w.dim, mode.power_iteration_steps);
      constraint->train(mode.training);
      REQUIRE_NOTHROW(
          gradcheck([constraint](const Inputs& xs) { return constraint->forward(xs); }, {weight}));
    }
  }
}

TEST_CASE("spectral norm runs one power iteration per recompute in training mode",
          "[spectral_norm]") {
  manual_seed(53);
  const auto parameter = spectrally_normalize(make_parameter(randn({4, 3}, DType::f64)));
  const Tensor raw = parameter->raw_inputs()[0], u = buffer(*parameter, "u");
  CHECK_FALSE(u.requires_grad());
  optim::SGD sgd({raw}, {.lr = 0.1});
  for (int step = 0; step < 3; ++step) {
    const std::uint64_t u_version = u.version(), computed = parameter->recompute_count();
    const Tensor loss = sum(parameter->value() * parameter->value());  // two uses, one compute
    CHECK(u.version() == u_version + 1);
    CHECK(parameter->recompute_count() == computed + 1);
    CHECK(max_abs_diff(parameter->value(), raw / sigma_from_buffers(*parameter)) < 1e-15);
    sgd.zero_grad();
    loss.backward();
    sgd.step();
  }
}

TEST_CASE("in eval mode spectral norm keeps u and v and still divides by u^T W v",
          "[spectral_norm]") {
  manual_seed(54);
  const auto parameter = spectrally_normalize(make_parameter(randn({4, 3}, DType::f64)));
  parameter->train(false);
  const Tensor raw = parameter->raw_inputs()[0], u = buffer(*parameter, "u"),
               v = buffer(*parameter, "v");
  const std::uint64_t u_version = u.version(), v_version = v.version();
  const auto u_values = u.to_vector<double>(), v_values = v.to_vector<double>();
  for (const double scale : {1.0, 2.0}) {
    {
      NoGradGuard no_grad;
      Tensor leaf = raw;
      leaf.mul_(scale);  // a new weight: the value is recomputed with the same u, v
    }
    CHECK(max_abs_diff(parameter->value(), raw / sigma_from_buffers(*parameter)) < 1e-15);
  }
  CHECK(parameter->recompute_count() == 2);
  CHECK(u.version() == u_version);
  CHECK(v.version() == v_version);
  CHECK(u.to_vector<double>() == u_values);
  CHECK(v.to_vector<double>() == v_values);
}

TEST_CASE("check_spectral_norm's estimate agrees with the exact value after training",
          "[spectral_norm]") {
  manual_seed(55);
  nn::Linear linear(3, 4, true, DType::f64);
  const auto weight = spectrally_normalize(linear.weight);
  linear.weight = weight;
  optim::SGD sgd(linear.parameters(), {.lr = 0.01});  // one power iteration a step keeps up
  const Tensor target = randn({3, 4}, DType::f64);
  for (int step = 0; step < 5; ++step) {
    const Tensor x = randn({20, 3}, DType::f64);
    const Tensor loss = nn::mse_loss(linear(x), matmul(x, target));
    sgd.zero_grad();
    loss.backward();
    sgd.step();
  }
  const SpectralNormCheck check = check_spectral_norm(*weight);
  CHECK(check.exact == Approx(largest_singular_value(weight->raw_inputs()[0])).epsilon(1e-12));
  CHECK(std::abs(check.estimate - check.exact) < 1e-3);
}

TEST_CASE("check_spectral_norm rejects a parameter computed by another constraint",
          "[spectral_norm]") {
  const auto parameter =
      constrain(make_parameter(randn({2, 2}, DType::f64)), constraints::positive());
  CHECK_THROWS_AS(check_spectral_norm(*parameter), ValueError);
}

TEST_CASE("largest_singular_value of a matrix holding NaN or infinity is NaN", "[spectral_norm]") {
  for (const double bad : {std::nan(""), HUGE_VAL}) {
    Tensor matrix = randn({3, 2}, DType::f64);
    matrix.select(0, 1).select(0, 0).fill_(bad);
    CHECK(std::isnan(largest_singular_value(matrix)));
  }
}

TEST_CASE("largest_singular_value of a matrix without elements throws a ShapeError naming it",
          "[spectral_norm]") {
  for (const Shape& shape : {Shape{0, 3}, Shape{3, 0}})
    CHECK_THROWS_WITH(largest_singular_value(zeros(shape)),
                      Catch::Contains("largest_singular_value") && Catch::Contains("elements"));
  CHECK_THROWS_AS(largest_singular_value(zeros({0, 3})), ShapeError);
}
