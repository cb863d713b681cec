// The values a constrained parameter is handed (issue 10, defects 2 and 3):
// constrain() of a fresh layer, assign() of feasible, infeasible and edge
// values, ValuePolicy::nearest, in f32 and f64, and init functions on
// constrained weights. The rule: a feasible value is kept, an infeasible one
// is a ValueError naming the constraint, its condition and the worst element
// (or, on request, its nearest feasible value), and nothing becomes NaN.
#include <tether/tether.h>
#include <catch2/catch.hpp>
#include <cmath>
#include "tensor_checks.h"

using namespace tether;
using namespace tether::testing;

namespace {

using Inputs = std::vector<Tensor>;

/// Within rounding of the dtype: a kept value may move this far (relative).
double tolerance(DType dtype) {
  return dtype == DType::f32 ? 1e-4 : 1e-9;
}

/// Largest deviation of Q^T Q (Q Q^T when wide) from the identity.
double orthogonality_error(const Tensor& q) {
  const Tensor x = q.detach().to(DType::f64);
  const Tensor gram = x.size(0) >= x.size(1) ? matmul(x.t(), x) : matmul(x, x.t());
  return max_abs_diff(gram, eye(gram.size(0), {}, DType::f64));
}

/// The smallest eigenvalue bound we can check without the code under test:
/// x^T A x > 0 for 32 random x.
double min_quadratic_form(const Tensor& a) {
  const Tensor x = randn({a.size(0), 32}, DType::f64), m = a.detach().to(DType::f64);
  return min_of(sum(x * matmul(m, x), {0}));
}

/// A strategy with its feasibility check and the values its tests need.
struct Strategy {
  std::string name;
  std::function<std::shared_ptr<Constraint>()> make;
  /// Asserts that `value` is feasible (in the dtype's precision).
  std::function<void(const Tensor& value)> holds;
  /// Feasible values at the edge of the domain (f64; converted per dtype).
  std::vector<Tensor> edges;
  /// The shape of a layer weight it constrains: Linear(in = [1], out = [0]).
  Shape weight_shape = {3, 3};
};

std::vector<Strategy> strategies() {
  using namespace constraints;
  const auto above = [](double bound) {
    return [bound](const Tensor& value) { CHECK(min_of(value) > bound); };
  };
  const auto is_symmetric = [](const Tensor& value) {
    CHECK(max_abs_diff(value, value.mT()) <= 1e-6 * std::max(1.0, max_of(abs(value))));
  };
  const auto is_lower_triangular = [](const Tensor& value) {
    CHECK(max_abs_diff(value, tril(value)) == 0.0);
  };
  const auto is_orthogonal = [](const Tensor& value) { CHECK(orthogonality_error(value) < 1e-5); };
  const auto sums_to_one = [](const Tensor& value) {
    CHECK(min_of(value) > 0);
    const Tensor sums = sum(value.to(DType::f64), {-1});
    CHECK(max_abs_diff(sums, ones_like(sums)) < 1e-5);
  };
  const auto unit_rows = [](const Tensor& value) {
    const Tensor norms = norm(value.to(DType::f64), {-1});
    CHECK(max_abs_diff(norms, ones_like(norms)) < 1e-5);
  };
  return {
      {"positive",
       [] { return positive(); },
       above(0),
       {f64({1e-30, 1e-6, 0.5, 1e3}, {4}), f64({1e-7, 30}, {2})},
       {2, 3}},
      {"positive(exp, lower bound -1)",
       [] { return positive(PositiveMap::exp, -1); },
       above(-1),
       {f64({-1 + 1e-6, 0, 1e3}, {3})},
       {2, 3}},
      {"README's make_constraint(\"positive\", exp, log)",
       [] {
         return make_constraint(
             "positive", [](const Tensor& raw) { return exp(raw); },
             [](const Tensor& value) { return log(value); });
       },
       above(0),
       {f64({1e-30, 1e3}, {2})},
       {2, 3}},
      {"bounded(0, 1)",
       [] { return bounded(0, 1); },
       [](const Tensor& value) {
         CHECK(min_of(value) > 0);
         CHECK(max_of(value) < 1);
       },
       {f64({1e-6, 0.5, 1 - 1e-6}, {3})},
       {2, 3}},
      {"simplex",
       [] { return simplex(); },
       sums_to_one,
       {f64({1e-6, 1 - 1e-6, 0.5, 0.5}, {2, 2}), f64({1}, {1})},
       {2, 3}},
      {"unit_norm", [] { return unit_norm(); }, unit_rows, {f64({1, 0, 0, -1}, {2, 2})}, {2, 3}},
      {"weight_norm",
       [] { return weight_norm(); },
       [](const Tensor&) {},
       {f64({0, 0, 3, 4}, {2, 2})},
       {2, 3}},
      {"symmetric",
       [] { return symmetric(); },
       is_symmetric,
       {zeros({3, 3}, DType::f64), f64({1e6, -1e-6, -1e-6, 0}, {2, 2})}},
      {"skew_symmetric",
       [] { return skew_symmetric(); },
       [](const Tensor& value) {
         CHECK(max_abs_diff(value, -value.mT()) <= 1e-6 * std::max(1.0, max_of(abs(value))));
       },
       {zeros({2, 2}, DType::f64)}},
      {"lower_triangular",
       [] { return lower_triangular(); },
       is_lower_triangular,
       {zeros({2, 2}, DType::f64), f64({1e6, 0, -1e-6, 0}, {2, 2})}},
      {"cholesky_factor",
       [] { return cholesky_factor(); },
       [is_lower_triangular](const Tensor& value) {
         is_lower_triangular(value);
         CHECK(min_of(diagonal(value)) > 0);
       },
       {eye(3, {}, DType::f64) * 2.0, f64({1e-6, 0, 1e3, 1e-6}, {2, 2})}},
      {"positive_definite",
       [] { return positive_definite(); },
       [is_symmetric](const Tensor& value) {
         is_symmetric(value);
         CHECK(min_quadratic_form(value) > 0);
       },
       {eye(3, {}, DType::f64) * 2.0, f64({1, 0.999, 0.999, 1}, {2, 2})}},
      {"orthogonal",
       [] { return orthogonal(); },
       is_orthogonal,
       {eye(3, {}, DType::f64), f64({0, 1, 0, 0, 0, 1, 1, 0, 0}, {3, 3}), f64({0, -1}, {1, 2})},
       {4, 3}},
  };
}

/// A random feasible value: forward of random raw inputs, under no-grad.
Tensor random_feasible(Constraint& constraint, const Shape& shape, DType dtype) {
  NoGradGuard no_grad;
  Inputs raw;
  for (std::size_t i = 0; i < constraint.input_names().size(); ++i)
    raw.push_back(
        randn(i == 0 && constraint.input_names().size() == 2 ? Shape{shape[0], 1} : shape, dtype));
  return constraint.forward(raw).clone();
}

const DType dtypes[] = {DType::f32, DType::f64};

}  // namespace

TEST_CASE(
    "constraining a fresh Linear's weight gives a finite weight that satisfies the "
    "constraint, for every strategy in f32 and f64",
    "[constraints][values]") {
  for (const DType dtype : dtypes)
    for (const auto& s : strategies()) {
      INFO(s.name << " in " << dtype);
      manual_seed(101);
      nn::Linear linear(s.weight_shape[1], s.weight_shape[0], true, dtype);
      linear.weight = constrain(linear.weight, s.make());
      const Tensor value = linear.weight->value();
      REQUIRE(all_finite(value));
      s.holds(value);
      CHECK(value.dtype() == dtype);
      // The layer trains: a step moves the weight and keeps it feasible.
      optim::SGD sgd(linear.parameters(), {.lr = 0.1});
      nn::mse_loss(linear(randn({4, s.weight_shape[1]}, dtype)),
                   randn({4, s.weight_shape[0]}, dtype))
          .backward();
      sgd.step();
      CHECK(all_finite(linear.weight->value()));
      s.holds(linear.weight->value());
    }
}

TEST_CASE("constraining a default Linear(3, 2) with positive() takes its weight as the raw input",
          "[constraints][values]") {
  manual_seed(102);
  nn::Linear a(3, 2);
  const Tensor initial = a.weight->value().detach().clone();
  REQUIRE(min_of(initial) < 0);
  a.weight = constrain(a.weight, constraints::positive());
  CHECK(max_abs_diff(a.weight->value(), softplus(initial)) < 1e-6);
}

TEST_CASE(
    "a random feasible value and values at the domain's edge round-trip through assign, "
    "for every strategy in f32 and f64",
    "[constraints][values]") {
  manual_seed(103);
  for (const DType dtype : dtypes)
    for (const auto& s : strategies()) {
      const auto constraint = s.make();
      std::vector<Tensor> values = {random_feasible(*constraint, s.weight_shape, dtype)};
      for (const Tensor& edge : s.edges) values.push_back(edge.to(dtype));
      for (const Tensor& value : values) {
        INFO(s.name << " in " << dtype << ", value " << value);
        const auto parameter = constrain(make_parameter(zeros_like(value)), s.make());
        REQUIRE_NOTHROW(parameter->assign(value));
        const Tensor got = parameter->value();
        REQUIRE(all_finite(got));
        CHECK(max_abs_diff(got, value) <= tolerance(dtype) * std::max(1.0, max_of(abs(value))));
        for (const Tensor& raw : parameter->raw_inputs()) CHECK(all_finite(raw));
        s.holds(got);
        // constrain() keeps a feasible value the same way.
        CHECK(max_abs_diff(constrain(make_parameter(value.clone()), s.make())->value(), value) <=
              tolerance(dtype) * std::max(1.0, max_of(abs(value))));
      }
    }
}

TEST_CASE("positive_definite and cholesky_factor of 2 I are finite in f32 (the default dtype)",
          "[constraints][values]") {
  const Tensor two_i = eye(3) * 2.0;
  const auto pd = constrain(make_parameter(two_i.clone()), constraints::positive_definite());
  CHECK(max_abs_diff(pd->value(), two_i) < 1e-5);
  const auto factor = constrain(make_parameter(two_i.clone()), constraints::cholesky_factor());
  CHECK(max_abs_diff(factor->value(), two_i) < 1e-5);
  CHECK(all_finite(factor->raw_inputs()[0]));
}

TEST_CASE(
    "assign of an infeasible value throws a ValueError naming the constraint, the "
    "condition and the worst element",
    "[constraints][values]") {
  using namespace constraints;
  const auto message = [](std::shared_ptr<Constraint> constraint, const Tensor& start,
                          const Tensor& value) {
    const auto parameter = constrain(make_parameter(start), std::move(constraint));
    try {
      parameter->assign(value);
    } catch (const ValueError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  CHECK(message(positive(), ones({3}), tensor({-0.5, 1, -2}, {3})) ==
        "positive: cannot hold the value (expected values > 0): element [0] is -0.5, which "
        "becomes nan; ValuePolicy::nearest takes the nearest feasible value instead");
  CHECK_THAT(message(positive(), ones({2}), tensor({0, 1}, {2})),
             Catch::StartsWith("positive: cannot hold the value (expected values > 0): element "
                               "[0] is 0, which needs a non-finite raw input (-inf)"));
  CHECK_THAT(message(bounded(0, 1), full({2}, 0.5), tensor({0.5, 2.0}, {2})),
             Catch::StartsWith("bounded: cannot hold the value (expected values in (0, 1)): "
                               "element [1] is 2, which becomes nan"));
  CHECK_THAT(message(symmetric(), eye(2), tensor({1, 2, 3, 4}, {2, 2})),
             Catch::StartsWith("symmetric: cannot hold the value (expected symmetric matrices): "
                               "element [0, 1] is 2, which becomes 2.5"));
  CHECK_THAT(message(orthogonal(), eye(2), tensor({1, 1, 0, 1}, {2, 2})),
             Catch::StartsWith("orthogonal: cannot hold the value (expected matrices with "
                               "orthonormal columns (rows when wide)): element [0, 1] is 1"));
  CHECK_THAT(message(simplex(), full({2}, 0.5), tensor({0.5, 0.6}, {2})),
             Catch::StartsWith("simplex: cannot hold the value (expected slices along dim -1 of "
                               "positive values summing to 1): element [1] is 0.6"));
  CHECK_THAT(
      message(simplex(), full({2, 3}, 1.0 / 3.0), tensor({0.2, 0.3, 0.5, 1.0, 0.0, 0.0}, {2, 3})),
      Catch::StartsWith("simplex: cannot hold the value (expected slices along dim -1 of "
                        "positive values summing to 1): element [1, 1] is 0, which needs a "
                        "non-finite raw input (-inf)"));
  CHECK_THAT(message(positive_definite(), eye(2), tensor({1, 2, 2, 1}, {2, 2})),
             Catch::StartsWith("positive_definite: cannot hold the value (expected symmetric "
                               "matrices with eigenvalues > 1e-06): cholesky"));
  CHECK_THAT(message(unit_norm(), tensor({1, 0}, {1, 2}), zeros({1, 2})),
             Catch::Contains("element [0, 0] is 0, which becomes nan"));
  CHECK_THAT(message(make_constraint(
                         "my_positive", [](const Tensor& raw) { return exp(raw); },
                         [](const Tensor& value) { return log(value); }),
                     ones({2}), tensor({1, -1}, {2})),
             Catch::StartsWith("my_positive: cannot hold the value (expected values its forward "
                               "can produce): element [1] is -1, which becomes nan"));
}

TEST_CASE("a failed assign leaves the raw inputs and the buffers unchanged",
          "[constraints][values]") {
  manual_seed(104);
  const auto parameter = constrain(make_parameter(randn({3, 3}, DType::f64)),
                                   constraints::orthogonal(), ValuePolicy::nearest);
  const Tensor value = parameter->value().detach().clone();
  const Tensor raw = parameter->raw_inputs()[0].clone();
  const Tensor base = parameter->buffers()[0].second.clone();
  CHECK_THROWS_AS(parameter->assign(randn({3, 3}, DType::f64)), ValueError);
  CHECK(max_abs_diff(parameter->raw_inputs()[0], raw) == 0.0);
  CHECK(max_abs_diff(parameter->buffers()[0].second, base) == 0.0);
  CHECK(max_abs_diff(parameter->value(), value) == 0.0);

  const auto sn = spectrally_normalize(make_parameter(randn({4, 3}, DType::f64)));
  const Tensor u = sn->buffers()[0].second.clone();
  CHECK_THROWS_AS(sn->assign(randn({4, 3}, DType::f64) * 5.0), ValueError);
  CHECK(max_abs_diff(sn->buffers()[0].second, u) == 0.0);
}

TEST_CASE("assign with ValuePolicy::nearest gives the nearest feasible value",
          "[constraints][values]") {
  using namespace constraints;
  const auto nearest = [](std::shared_ptr<Constraint> constraint, const Tensor& start,
                          const Tensor& value) {
    const auto parameter = constrain(make_parameter(start), std::move(constraint));
    parameter->assign(value, ValuePolicy::nearest);
    return parameter->value().detach();
  };
  const double margin = std::sqrt(2.220446049250313e-16);  // sqrt of f64's epsilon
  CHECK(
      max_abs_diff(nearest(positive(), ones({3}, DType::f64), tensor({-1, 2, 0}, {3}, DType::f64)),
                   tensor({margin, 2, margin}, {3}, DType::f64)) < 1e-12);
  CHECK(max_abs_diff(
            nearest(bounded(-1, 1), zeros({2}, DType::f64), tensor({5, -0.5}, {2}, DType::f64)),
            tensor({1 - 2 * margin, -0.5}, {2}, DType::f64)) < 1e-12);
  // [0.5, 0.8, -0.3]: the shift theta = 0.15 leaves [0.35, 0.65, 0] (then the
  // floor, margin / 3, lifts the zero).
  const Tensor on_simplex =
      nearest(simplex(), full({3}, 1.0 / 3, DType::f64), tensor({0.5, 0.8, -0.3}, {3}, DType::f64));
  CHECK(max_abs_diff(on_simplex, tensor({0.35, 0.65, 0}, {3}, DType::f64)) < 1e-7);
  CHECK(min_of(on_simplex) > 0);
  CHECK(max_abs_diff(
            nearest(symmetric(), eye(2, {}, DType::f64), tensor({1, 2, 4, 3}, {2, 2}, DType::f64)),
            tensor({1, 3, 3, 3}, {2, 2}, DType::f64)) < 1e-12);
  // The nearest orthogonal matrix to diag(2, 3) R is R (polar factor).
  const double c = std::cos(0.3), s = std::sin(0.3);
  const Tensor rotation = tensor({c, -s, s, c}, {2, 2}, DType::f64);
  CHECK(max_abs_diff(nearest(orthogonal(), eye(2, {}, DType::f64),
                             matmul(tensor({2, 0, 0, 3}, {2, 2}, DType::f64), rotation)),
                     rotation) < 1e-12);
  // diag(-1, 4) has eigenvalue -1, raised to eps (plus the margin).
  const Tensor pd = nearest(positive_definite(0.1), eye(2, {}, DType::f64),
                            tensor({-1, 0, 0, 4}, {2, 2}, DType::f64));
  CHECK(max_abs_diff(pd, tensor({0.1, 0, 0, 4}, {2, 2}, DType::f64)) < 1e-6);
  CHECK(max_abs_diff(nearest(cholesky_factor(), eye(2, {}, DType::f64),
                             tensor({-1, 5, 2, 3}, {2, 2}, DType::f64)),
                     tensor({margin, 0, 2, 3}, {2, 2}, DType::f64)) < 1e-12);
  CHECK(max_abs_diff(nearest(unit_norm(), tensor({1, 0}, {1, 2}, DType::f64),
                             tensor({3, 4}, {1, 2}, DType::f64)),
                     tensor({0.6, 0.8}, {1, 2}, DType::f64)) < 1e-12);
}

TEST_CASE("ValuePolicy::nearest on a constraint without a projection is an error naming it",
          "[constraints][values]") {
  const auto parameter =
      constrain(make_parameter(ones({2})), make_constraint(
                                               "exp", [](const Tensor& raw) { return exp(raw); },
                                               [](const Tensor& value) { return log(value); }));
  CHECK_THROWS_WITH(parameter->assign(tensor({-1, 1}, {2}), ValuePolicy::nearest),
                    Catch::Contains("exp: this constraint has no projection"));
}

TEST_CASE("constrain with keep rejects an infeasible weight, as_raw takes it as the raw input",
          "[constraints][values]") {
  const Tensor weight = tensor({-1, 2}, {2}, DType::f64);
  CHECK_THROWS_WITH(
      constrain(make_parameter(weight.clone()), constraints::positive(), ValuePolicy::keep),
      Catch::StartsWith("positive: cannot hold the value (expected values > 0): "
                        "element [0] is -1"));
  const auto raw = constrain(make_parameter(tensor({2, 3}, {2}, DType::f64)),
                             constraints::positive(), ValuePolicy::as_raw);
  CHECK(max_abs_diff(raw->value(), softplus(tensor({2, 3}, {2}, DType::f64))) < 1e-15);
  CHECK_THROWS_WITH(
      constrain(make_parameter(ones({2, 2})), constraints::weight_norm(), ValuePolicy::as_raw),
      Catch::Contains("weight_norm: a value can be taken as the raw input only by a "
                      "constraint with one raw input"));
}

TEST_CASE("constraining a projected parameter is an error instead of dropping the projection",
          "[constraints][values]") {
  const auto projected = project_non_negative(make_parameter(ones({2})));
  CHECK_THROWS_WITH(constrain(projected, constraints::positive()),
                    Catch::StartsWith("constrain: the parameter is projected (non_negative)"));
}

TEST_CASE(
    "init on a positive() weight keeps a feasible draw and initialises the raw input with "
    "any other",
    "[constraints][values]") {
  manual_seed(105);
  nn::Linear linear(4, 3, true, DType::f64);
  linear.weight = constrain(linear.weight, constraints::positive());
  nn::init::constant_(*linear.weight, 0.5);
  CHECK(max_abs_diff(linear.weight->value(), full({3, 4}, 0.5, DType::f64)) < 1e-12);
  manual_seed(106);
  nn::init::kaiming_uniform_(*linear.weight);
  const Tensor raw = dynamic_cast<ComputedParameter&>(*linear.weight).raw_inputs()[0];
  CHECK(min_of(raw) < 0);
  CHECK(max_abs_diff(linear.weight->value(), softplus(raw)) < 1e-15);
  CHECK(min_of(linear.weight->value()) > 0);
}

TEST_CASE(
    "spectral_norm keeps an assigned weight of largest singular value 1, in f32 and f64, "
    "rank one included",
    "[constraints][values]") {
  manual_seed(107);
  for (const DType dtype : dtypes) {
    INFO(dtype);
    const auto parameter = spectrally_normalize(make_parameter(randn({4, 3}, dtype)));
    // A weight with distinct singular values, scaled to largest 1; a rank-one u v^T.
    const Tensor graded =
        matmul(randn({4, 3}, dtype), tensor({1, 0, 0, 0, 0.5, 0, 0, 0, 0.25}, {3, 3}, dtype));
    const Tensor rank_one =
        outer(tensor({0.6, 0.8, 0, 0}, {4}, dtype), tensor({0, 1, 0}, {3}, dtype));
    for (const Tensor& value : {graded / largest_singular_value(graded), rank_one}) {
      REQUIRE_NOTHROW(parameter->assign(value));
      CHECK(max_abs_diff(parameter->value(), value) < tolerance(dtype));
    }
  }
}

TEST_CASE(
    "a write into a spectrally normalised value is kept when feasible and a ValueError "
    "otherwise, never a silent change",
    "[constraints][values]") {
  manual_seed(108);
  const auto weight = spectrally_normalize(make_parameter(randn({4, 3}, DType::f64)));
  const Tensor normalised = weight->value().detach().clone();
  {
    NoGradGuard no_grad;
    weight->value().mul_(-1.0);  // largest singular value still 1
  }
  CHECK(max_abs_diff(weight->value(), -normalised) < 1e-9);
  {
    NoGradGuard no_grad;
    weight->value().mul_(2.0);
  }
  CHECK_THROWS_WITH(weight->value(),
                    Catch::StartsWith("spectral_norm: cannot hold the value (expected weights "
                                      "whose largest singular value is 1)"));
}
