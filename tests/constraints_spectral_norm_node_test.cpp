// Spectral norm as one autograd node: the power iteration and the division by
// sigma run in one backend call, the gradient in another. Its value and
// gradient must be those of the composed ops, weight / max(u^T W v, eps) with
// u and v held constant, and its double backward must work.
#include <tether/tether.h>
#include <catch2/catch.hpp>
#include "tensor_checks.h"

using namespace tether;
using namespace tether::testing;

namespace {

using Inputs = std::vector<Tensor>;

/// The matrix torch's spectral norm takes: the weight permuted to (dim, the
/// other dims in order), reshaped to rows.
Tensor torch_matrix(const Tensor& weight, std::int64_t dim) {
  Dims order{dim};
  for (std::int64_t d = 0; d < weight.dim(); ++d)
    if (d != dim) order.push_back(d);
  return reshape(permute(weight, order), {weight.size(dim), -1});
}

/// The composed ops the node replaces, with the vectors `u` and `v` it used.
Tensor composed(const Tensor& weight, const Tensor& u, const Tensor& v, std::int64_t dim,
                double eps = 1e-12) {
  return weight / clamp(dot(u, mv(torch_matrix(weight, dim), v)), eps, std::nullopt);
}

/// Weights and the dim each is normalised along.
const std::vector<std::pair<Shape, std::int64_t>> weights = {
    {{4, 3}, 0}, {{3, 5}, 1}, {{2, 3, 2, 2}, 0}, {{2, 3, 2, 2}, 1}, {{2, 3, 4, 2}, 2},
};

/// The node's value and the weight's gradient for the upstream gradient
/// `grad`, against the composed ops' with the same u and v.
void check_against_composed(DType dtype, double tolerance) {
  for (const auto& [shape, dim] : weights) {
    INFO(shape << ", dim " << dim << ", " << dtype);
    manual_seed(61);
    const auto parameter = spectrally_normalize(make_parameter(randn(shape, dtype)), dim, 2);
    const Tensor raw = parameter->raw_inputs()[0];
    const Tensor grad = randn(shape, dtype);
    const Tensor value = parameter->value();  // two power iterations move u and v
    const NamedTensors uv = parameter->buffers();
    const Tensor expected = composed(raw, uv[0].second, uv[1].second, dim);
    CHECK(max_abs_diff(value, expected) < tolerance);
    const Tensor got = autograd::grad({value}, {raw}, {grad})[0];
    const Tensor want = autograd::grad({expected}, {raw}, {grad})[0];
    CHECK(max_abs_diff(got, want) < tolerance);
  }
}

}  // namespace

TEST_CASE("the spectral_norm node matches the composed ops in value and gradient in f64",
          "[spectral_norm]") {
  check_against_composed(DType::f64, 1e-12);
}

TEST_CASE("the spectral_norm node matches the composed ops in value and gradient in f32",
          "[spectral_norm]") {
  check_against_composed(DType::f32, 1e-5);
}

TEST_CASE(
    "spectral_norm along a later dim orders v as torch does: the weight permuted to "
    "(dim, the others in order)",
    "[spectral_norm]") {
  manual_seed(5);
  const Tensor weight = randn({2, 3, 4}, DType::f64);
  const auto parameter = spectrally_normalize(make_parameter(weight), 2, 50);
  const Tensor value = parameter->value();
  const double sigma = norm(weight).item<double>() / norm(value).item<double>();
  const NamedTensors uv = parameter->buffers();
  // u^T W v reaches sigma only with W's columns in the order v was made for.
  const Tensor matrix = torch_matrix(weight, 2);
  CHECK(dot(uv[0].second, mv(matrix, uv[1].second)).item<double>() == Approx(sigma).epsilon(1e-9));
}

TEST_CASE("second derivatives through the spectral_norm node match finite differences",
          "[spectral_norm]") {
  for (const auto& [shape, dim] : weights) {
    INFO(shape << ", dim " << dim);
    manual_seed(62);
    const Tensor weight = randn(shape, DType::f64);
    // No power iteration inside the check: the function must be deterministic.
    const auto constraint = constraints::spectral_norm(weight, dim, /*steps=*/0);
    const auto f = [constraint](const Inputs& xs) { return constraint->forward(xs); };
    CHECK_NOTHROW(gradcheck(f, {weight}));
    CHECK_NOTHROW(gradgradcheck(f, {weight}));
  }
}

TEST_CASE("the gradient of a spectrally normalised zero weight is grad / eps", "[spectral_norm]") {
  for (const DType dtype : {DType::f32, DType::f64}) {
    INFO(dtype);
    const auto parameter = spectrally_normalize(make_parameter(zeros({3, 2}, dtype)), 0, 1, 1e-3);
    const Tensor raw = parameter->raw_inputs()[0];
    const Tensor grad = full({3, 2}, 2.0, dtype);
    const Tensor value = parameter->value();
    CHECK(max_abs_diff(value, zeros({3, 2}, dtype)) == 0);
    CHECK(max_abs_diff(autograd::grad({value}, {raw}, {grad})[0], grad / 1e-3) < 1e-3);
  }
}

TEST_CASE("a spectral_norm graph still backwards after a later power iteration moved u and v",
          "[spectral_norm]") {
  manual_seed(63);
  const Tensor weight = randn({4, 3}, DType::f64).requires_grad_();
  const auto constraint = constraints::spectral_norm(weight, 0, 1);
  const Tensor first = constraint->forward({weight});
  Tensor u, v;
  for (const auto& [name, tensor] : constraint->buffers()) (name == "u" ? u : v) = tensor.clone();
  constraint->forward({weight});  // updates the buffers in place
  const Tensor grad = randn({4, 3}, DType::f64);
  const Tensor got = autograd::grad({first}, {weight}, {grad})[0];
  const Tensor want = autograd::grad({composed(weight, u, v, 0)}, {weight}, {grad})[0];
  CHECK(max_abs_diff(got, want) < 1e-12);
}

TEST_CASE("spectral_norm given a weight unlike its u and v throws errors naming it",
          "[spectral_norm]") {
  const auto constraint = constraints::spectral_norm(randn({4, 3}, DType::f64), 0, 1);
  using Catch::Contains;
  CHECK_THROWS_AS(constraint->forward({randn({4, 3}, DType::f32)}), DTypeError);
  CHECK_THROWS_WITH(constraint->forward({randn({4, 3}, DType::f32)}),
                    Contains("spectral_norm") && Contains("f32") && Contains("u and v"));
  CHECK_THROWS_AS(constraint->forward({randn({4, 4}, DType::f64)}), ShapeError);
  CHECK_THROWS_WITH(constraint->forward({randn({4, 4}, DType::f64)}),
                    Contains("spectral_norm") && Contains("4 x 3") && Contains("[4, 4]"));
}
