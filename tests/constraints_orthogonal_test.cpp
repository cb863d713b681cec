// The orthogonal constraint beyond the strategy table and its training test
// (constraints_strategies_test.cpp): assigning an orthogonal matrix through right_inverse,
// a weight that is not orthogonal, and the "base" buffer in state dicts.
#include <tether/tether.h>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include "tensor_checks.h"

using namespace tether;
using namespace tether::testing;

namespace {

/// The largest deviation of Q^T Q (Q Q^T when wide) from the identity.
double orthogonality_error(const Tensor& q) {
  const Tensor gram = q.size(0) >= q.size(1) ? matmul(q.t(), q) : matmul(q, q.t());
  return max_abs_diff(gram, eye(gram.size(0), {}, DType::f64));
}

/// A random orthogonal [n, n] matrix made without the code under test: a
/// product of three Householder reflections I - 2 v v^T / (v^T v).
Tensor random_orthogonal(std::int64_t n) {
  Tensor q = eye(n, {}, DType::f64);
  for (int i = 0; i < 3; ++i) {
    const Tensor v = randn({n}, DType::f64);
    q = matmul(q, eye(n, {}, DType::f64) - outer(v, v) * (2.0 / dot(v, v).item<double>()));
  }
  return q;
}

ComputedParameter& computed(const std::shared_ptr<Parameter>& slot) {
  return dynamic_cast<ComputedParameter&>(*slot);
}

/// Linear(in, out) in f64 with an orthogonal weight [out, in].
std::shared_ptr<nn::Linear> orthogonal_linear(std::int64_t in, std::int64_t out,
                                              std::uint64_t seed) {
  manual_seed(seed);
  auto linear = std::make_shared<nn::Linear>(in, out, true, DType::f64);
  linear->weight = constrain(linear->weight, constraints::orthogonal());
  return linear;
}

}  // namespace

TEST_CASE("assigning an orthogonal matrix makes value() return it: square, tall and wide",
          "[orthogonal]") {
  manual_seed(81);
  const Tensor square = random_orthogonal(4), tall = narrow(random_orthogonal(5), 1, 0, 3);
  for (const Tensor& q : {square, tall, tall.t()}) {
    INFO("shape " << q.shape());
    ComputedParameter parameter(constraints::orthogonal(), {randn(q.shape(), DType::f64)});
    parameter.assign(q);
    CHECK(max_abs_diff(parameter.value(), q) < 1e-12);
    CHECK(max_abs_diff(parameter.raw_inputs()[0], zeros_like(q)) == 0.0);
    const Tensor base = parameter.buffers().at(0).second;
    const std::int64_t n = std::max(q.size(0), q.size(1));
    CHECK(base.shape() == Shape{n, n});
    CHECK(orthogonality_error(base) < 1e-12);
  }
}

TEST_CASE(
    "constraining a weight that is not orthogonal takes it as the raw input, and "
    "ValuePolicy::nearest gives its polar factor",
    "[orthogonal]") {
  manual_seed(82);
  const Tensor weight = randn({5, 3}, DType::f64);
  const auto as_raw = constrain(make_parameter(weight.clone()), constraints::orthogonal());
  CHECK(max_abs_diff(as_raw->raw_inputs()[0], weight) == 0.0);
  CHECK(orthogonality_error(as_raw->value()) < 1e-12);
  CHECK(max_abs_diff(as_raw->buffers().at(0).second, eye(5, {}, DType::f64)) == 0.0);

  const auto nearest =
      constrain(make_parameter(weight.clone()), constraints::orthogonal(), ValuePolicy::nearest);
  const Tensor q = nearest->value();
  CHECK(orthogonality_error(q) < 1e-12);
  // weight = Q P with P = Q^T weight symmetric positive definite: the polar decomposition.
  const Tensor p = matmul(q.t(), weight);
  CHECK(max_abs_diff(p, p.t()) < 1e-12);
  CHECK(amin(diagonal(cholesky(p))).item<double>() > 0);
}

TEST_CASE(
    "state_dict of an orthogonal Linear holds weight.raw and weight.base, and loading it "
    "reproduces the value bitwise",
    "[orthogonal]") {
  const auto source = orthogonal_linear(3, 5, 84);
  {
    NoGradGuard no_grad;  // as an optimizer step would: raw moves away from 0
    Tensor raw = computed(source->weight).raw_inputs()[0];
    raw.add_(randn({5, 3}, DType::f64));
  }
  const StateDict state = source->state_dict();
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : state) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"bias", "weight.base", "weight.raw"});
  CHECK(state.at("weight.raw").shape() == Shape{5, 3});
  CHECK(state.at("weight.base").shape() == Shape{5, 5});

  const auto loaded = orthogonal_linear(3, 5, 85);
  loaded->weight->value();
  const std::uint64_t before = computed(loaded->weight).recompute_count();
  loaded->load_state_dict(state);
  CHECK(loaded->weight->value().to_vector<double>() == source->weight->value().to_vector<double>());
  CHECK(computed(loaded->weight).recompute_count() == before + 1);
}

TEST_CASE(
    "orthogonal's project gives NaN for a matrix holding NaN or infinity, and keeps an "
    "empty one",
    "[orthogonal]") {
  const auto orthogonal = constraints::orthogonal();
  for (const double bad : {std::nan(""), HUGE_VAL}) {
    Tensor value = randn({4, 3}, DType::f64);
    value.select(0, 2).select(0, 1).fill_(bad);
    const Tensor projected = orthogonal->project(value);
    CHECK(projected.shape() == value.shape());
    const std::vector<double> values = projected.to_vector<double>();
    CHECK(std::all_of(values.begin(), values.end(), [](double v) { return std::isnan(v); }));
  }
  CHECK(orthogonal->project(zeros({3, 0})).shape() == Shape{3, 0});
  CHECK(orthogonal->project(zeros({0, 3})).shape() == Shape{0, 3});
}
