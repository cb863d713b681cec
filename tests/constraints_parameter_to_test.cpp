// Parameter::to: a parameter's trainables and buffers converted in place, so
// that everything holding them (modules, optimizers built later) sees the new
// dtype, and cached values are recomputed from the converted data.
#include <tether/tether.h>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>

using namespace tether;

namespace {

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

/// A spectrally normalised f32 [4, 3] weight in eval mode, where u and v stay
/// put and the value depends on the data alone.
std::shared_ptr<ComputedParameter> spectral_f32(std::uint64_t seed) {
  manual_seed(seed);
  const auto parameter = spectrally_normalize(make_parameter(randn({4, 3})));
  parameter->train(false);
  return parameter;
}

}  // namespace

TEST_CASE("to(f64) and back converts a spectrally normalised parameter in place, value kept",
          "[parameter]") {
  const auto parameter = spectral_f32(101);
  const Tensor leaf = parameter->raw_inputs()[0], u = parameter->buffers()[0].second;
  const std::vector<double> before = parameter->value().to_vector<double>();
  sum(parameter->value()).backward();
  REQUIRE(leaf.grad().defined());

  parameter->to(DType::f64);
  CHECK(parameter->raw_inputs()[0].is_same(leaf));
  CHECK(parameter->buffers()[0].second.is_same(u));
  CHECK(leaf.dtype() == DType::f64);
  CHECK(u.dtype() == DType::f64);
  CHECK((leaf.is_leaf() && leaf.requires_grad()));
  CHECK_FALSE(leaf.grad().defined());
  const Tensor value = parameter->value();
  CHECK(value.dtype() == DType::f64);
  CHECK(max_abs_diff(value.to_vector<double>(), before) < 1e-6);

  // f32 -> f64 -> f32 is exact, so the value is recomputed bit for bit.
  parameter->to(DType::f32);
  CHECK(leaf.dtype() == DType::f32);
  CHECK(parameter->value().to_vector<double>() == before);
}

TEST_CASE("a converted computed parameter caches again and trains with an optimizer built after",
          "[parameter]") {
  const auto parameter = spectral_f32(102);
  parameter->value();
  parameter->to(DType::f64);
  const std::uint64_t count = parameter->recompute_count();
  const Tensor value = parameter->value();
  CHECK(parameter->value().is_same(value));
  CHECK(parameter->recompute_count() == count + 1);

  const Tensor leaf = parameter->raw_inputs()[0];
  optim::SGD sgd({leaf}, {.lr = 0.1});
  sum(value * value).backward();
  CHECK(leaf.grad().dtype() == DType::f64);
  sgd.step();
  CHECK(parameter->value().dtype() == DType::f64);
  CHECK(parameter->recompute_count() == count + 2);
}

TEST_CASE("to() the dtype and device a parameter already has keeps its cache and gradients",
          "[parameter]") {
  const auto parameter = spectral_f32(103);
  const Tensor value = parameter->value(), leaf = parameter->raw_inputs()[0];
  leaf.set_grad(ones_like(leaf));
  const Tensor grad = leaf.grad();
  parameter->to(DType::f32);
  parameter->to(Device::cpu());
  CHECK(leaf.grad().is_same(grad));
  CHECK(parameter->value().is_same(value));
  CHECK(parameter->recompute_count() == 1);
}

TEST_CASE("raw and projected parameters convert their tensor in place", "[parameter]") {
  manual_seed(104);
  const auto raw = make_parameter(randn({3}));
  const Tensor leaf = raw->value();
  raw->to(DType::f64);
  CHECK(raw->value().is_same(leaf));
  CHECK(leaf.dtype() == DType::f64);
  CHECK((leaf.is_leaf() && leaf.requires_grad()));

  const auto projected = project_clamp(make_parameter(randn({5}) * 3.0), -1, 1);
  const Tensor tensor = projected->value();
  projected->to(DType::f64);
  CHECK(projected->value().is_same(tensor));
  CHECK(tensor.dtype() == DType::f64);
  CHECK(amax(abs(tensor.detach())).item<double>() <= 1.0);
}
