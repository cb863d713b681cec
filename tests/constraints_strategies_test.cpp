// The strategy library, driven by one table: each strategy's value on explicit
// inputs worked out by hand, a gradcheck in f64 through a ComputedParameter,
// the constraint holding on random inputs, and right_inverse round trips.
// Then chain(), user-defined constraints, freeze() and writes into a value.
#include <tether/tether.h>
#include <catch2/catch.hpp>
#include <cmath>
#include "tensor_checks.h"

using namespace tether;
using namespace tether::testing;

namespace {

using Inputs = std::vector<Tensor>;

/// 1 strictly above the diagonal of the last two dims of `like`, else 0.
Tensor above_diagonal(const Tensor& like) {
  const std::int64_t rows = like.size(-2), cols = like.size(-1);
  std::vector<double> mask;
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) mask.push_back(j > i ? 1.0 : 0.0);
  return f64(mask, {rows, cols});
}
Tensor diagonal_of(const Tensor& x) {
  return sum(x * eye(x.size(-1), {}, DType::f64), {-1});
}

/// Random raw inputs of the given shapes, standard normal times `scale`.
std::function<Inputs()> randn_inputs(std::vector<Shape> shapes, double scale = 2.0) {
  return [shapes, scale] {
    Inputs raw;
    for (const auto& shape : shapes) raw.push_back(randn(shape, DType::f64) * scale);
    return raw;
  };
}

/// A strategy with what its tests need.
struct StrategyCase {
  std::string name;
  std::shared_ptr<Constraint> constraint;
  /// Explicit raw inputs, and the value worked out by hand.
  Inputs raw;
  Tensor expected;
  /// Random f64 raw inputs for the gradient, constraint and round-trip checks.
  std::function<Inputs()> random_raw;
  /// Asserts that `value`, computed from `raw`, satisfies the constraint.
  std::function<void(const Tensor& value, const Inputs& raw)> check;
};

auto above(double lower_bound) {
  return [lower_bound](const Tensor& value, const Inputs&) { CHECK(min_of(value) > lower_bound); };
}

auto sums_to_one_along(std::int64_t dim) {
  return [dim](const Tensor& value, const Inputs&) {
    CHECK(min_of(value) >= 0);
    const Tensor sums = sum(value, {dim});
    CHECK(max_abs_diff(sums, ones_like(sums)) < 1e-12);
  };
}

auto unit_norm_along(std::int64_t dim) {
  return [dim](const Tensor& value, const Inputs&) {
    const Tensor norms = norm(value, {dim});
    CHECK(max_abs_diff(norms, ones_like(norms)) < 1e-12);
  };
}

/// Weight norm: the norm over all dims but `dim` equals g (raw[0], positive here).
auto norm_equals_g_except(Dims reduced) {
  return [reduced](const Tensor& value, const Inputs& raw) {
    CHECK(max_abs_diff(norm(value, reduced, true), raw[0]) < 1e-12);
  };
}

void is_lower_triangular(const Tensor& value, const Inputs& raw) {
  CHECK(max_of(abs(value * above_diagonal(value))) == 0.0);
  CHECK(max_abs_diff(value, raw[0] * (1.0 - above_diagonal(value))) < 1e-15);
}

void is_cholesky_factor(const Tensor& value, const Inputs&) {
  CHECK(max_of(abs(value * above_diagonal(value))) == 0.0);
  CHECK(min_of(diagonal_of(value)) > 0);
}

void is_positive_definite(const Tensor& value, const Inputs&) {
  CHECK(max_abs_diff(value, value.t()) < 1e-12);
  const Tensor x = randn({value.size(0), 16}, DType::f64);
  CHECK(min_of(sum(x * matmul(value, x), {0})) > 0);  // x^T A x for 16 random x
}

/// Orthonormal columns (rows when wide): Q^T Q = I, or Q Q^T = I.
void is_orthogonal(const Tensor& value, const Inputs&) {
  const Tensor gram =
      value.size(0) >= value.size(1) ? matmul(value.t(), value) : matmul(value, value.t());
  CHECK(max_abs_diff(gram, eye(gram.size(0), {}, DType::f64)) < 1e-12);
}

std::vector<StrategyCase> strategy_cases() {
  using namespace constraints;
  const double l2 = std::log(2.0), e = std::exp(1.0), c = std::cos(0.5), s = std::sin(0.5);
  return {
      {"positive(softplus)",
       positive(),
       {f64({0, 1, -1, 30}, {4})},
       f64({l2, std::log1p(e), std::log1p(1 / e), 30 + std::log1p(std::exp(-30.0))}, {4}),
       randn_inputs({{5}}),
       above(0)},
      {"positive(softplus, lower bound 0.5)",
       positive(PositiveMap::softplus, 0.5),
       {f64({0, -2}, {2})},
       f64({l2 + 0.5, std::log1p(std::exp(-2.0)) + 0.5}, {2}),
       randn_inputs({{5}}),
       above(0.5)},
      {"positive(exp)",
       positive(PositiveMap::exp),
       {f64({0, 1, -2}, {3})},
       f64({1, e, std::exp(-2.0)}, {3}),
       randn_inputs({{5}}),
       above(0)},
      {"positive(exp, lower bound -1)",
       positive(PositiveMap::exp, -1),
       {f64({0, 1}, {2})},
       f64({0, e - 1}, {2}),
       randn_inputs({{5}}),
       above(-1)},
      {"bounded(-1, 3)",
       bounded(-1, 3),
       {f64({0, 2, -2}, {3})},
       f64({1, -1 + 4 / (1 + std::exp(-2.0)), -1 + 4 / (1 + std::exp(2.0))}, {3}),
       randn_inputs({{6}}),
       [](const Tensor& value, const Inputs&) {
         CHECK(min_of(value) > -1);
         CHECK(max_of(value) < 3);
       }},
      {"simplex(dim -1)",
       simplex(),
       {f64({0, 0, 0, std::log(3.0)}, {2, 2})},
       f64({0.5, 0.5, 0.25, 0.75}, {2, 2}),
       randn_inputs({{3, 4}}),
       sums_to_one_along(-1)},
      {"simplex(dim 0)",
       simplex(0),
       {f64({0, 0, 0, std::log(3.0)}, {2, 2})},
       f64({0.5, 0.25, 0.5, 0.75}, {2, 2}),
       randn_inputs({{3, 4}}),
       sums_to_one_along(0)},
      {"unit_norm(dim -1)",
       unit_norm(),
       {f64({3, 4, 0, 2}, {2, 2})},
       f64({0.6, 0.8, 0, 1}, {2, 2}),
       randn_inputs({{3, 4}}),
       unit_norm_along(-1)},
      {"unit_norm(dim 0)",
       unit_norm(0),
       {f64({3, 0, 4, 2}, {2, 2})},
       f64({0.6, 0, 0.8, 1}, {2, 2}),
       randn_inputs({{3, 4}}),
       unit_norm_along(0)},
      {"weight_norm(dim 0)",
       weight_norm(0),
       {f64({2, 3}, {2, 1}), f64({3, 4, 0, 5}, {2, 2})},
       f64({1.2, 1.6, 0, 3}, {2, 2}),
       [] {
         return Inputs{rand({3, 1}, DType::f64) + 0.5, randn({3, 4}, DType::f64)};
       },
       norm_equals_g_except({1})},
      {"weight_norm(dim 1)",
       weight_norm(1),
       {f64({2, 3}, {1, 2}), f64({3, 0, 4, 5}, {2, 2})},
       f64({1.2, 0, 1.6, 3}, {2, 2}),
       [] {
         return Inputs{rand({1, 4}, DType::f64) + 0.5, randn({3, 4}, DType::f64)};
       },
       norm_equals_g_except({0})},
      {"symmetric",
       symmetric(),
       {f64({1, 2, 4, 3}, {2, 2})},
       f64({1, 3, 3, 3}, {2, 2}),
       randn_inputs({{2, 3, 3}}),
       [](const Tensor& value, const Inputs&) {
         CHECK(max_abs_diff(value, transpose(value, -1, -2)) == 0.0);
       }},
      {"skew_symmetric",
       skew_symmetric(),
       {f64({1, 2, 4, 3}, {2, 2})},
       f64({0, -1, 1, 0}, {2, 2}),
       randn_inputs({{2, 3, 3}}),
       [](const Tensor& value, const Inputs&) {
         CHECK(max_abs_diff(value, -transpose(value, -1, -2)) == 0.0);
       }},
      {"lower_triangular",
       lower_triangular(),
       {f64({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3})},
       f64({1, 0, 0, 4, 5, 0, 7, 8, 9}, {3, 3}),
       randn_inputs({{2, 3, 3}}),
       is_lower_triangular},
      {"cholesky_factor",
       cholesky_factor(),
       {f64({0, 2, 4, 1}, {2, 2})},
       f64({l2, 0, 4, std::log1p(e)}, {2, 2}),
       randn_inputs({{2, 3, 3}}),
       is_cholesky_factor},
      {"positive_definite(eps 0.1)",
       positive_definite(0.1),
       {f64({0, 2, 4, 0}, {2, 2})},
       f64({l2 * l2 + 0.1, 4 * l2, 4 * l2, 16 + l2 * l2 + 0.1}, {2, 2}),
       randn_inputs({{3, 3}}),
       is_positive_definite},
      // Only raw's strictly lower triangle counts: 0.5 makes the generator
      // [[0, -0.5], [0.5, 0]], whose exponential is the rotation by 0.5.
      {"orthogonal [2, 2]",
       orthogonal(),
       {f64({3, 7, 0.5, -2}, {2, 2})},
       f64({c, -s, s, c}, {2, 2}),
       randn_inputs({{4, 4}}),
       is_orthogonal},
      {"orthogonal [2, 1] (tall)",
       orthogonal(),
       {f64({9, 0.5}, {2, 1})},
       f64({c, s}, {2, 1}),
       randn_inputs({{5, 3}}),
       is_orthogonal},
      {"orthogonal [1, 2] (wide: the transpose of tall)",
       orthogonal(),
       {f64({9, 0.5}, {1, 2})},
       f64({c, s}, {1, 2}),
       randn_inputs({{3, 5}}),
       is_orthogonal},
  };
}

/// The value of a fresh ComputedParameter over `raw`: the path layers take.
Tensor computed_value(const std::shared_ptr<Constraint>& constraint, const Inputs& raw) {
  ComputedParameter parameter(constraint, raw);
  return parameter.value();
}

}  // namespace

TEST_CASE("each strategy computes the value worked out by hand", "[constraints]") {
  for (const auto& c : strategy_cases()) {
    INFO(c.name);
    const Tensor value = computed_value(c.constraint, c.raw);
    REQUIRE(value.shape() == c.expected.shape());
    CHECK(max_abs_diff(value, c.expected) < 1e-12);
  }
}

TEST_CASE("gradients through each strategy match finite differences", "[constraints]") {
  manual_seed(11);
  for (const auto& c : strategy_cases()) {
    INFO(c.name);
    const auto constraint = c.constraint;
    REQUIRE_NOTHROW(gradcheck(
        [constraint](const Inputs& xs) { return computed_value(constraint, xs); }, c.random_raw()));
  }
}

TEST_CASE("each strategy's value satisfies its constraint on random inputs", "[constraints]") {
  manual_seed(12);
  for (const auto& c : strategy_cases()) {
    INFO(c.name);
    for (int trial = 0; trial < 3; ++trial) {
      const Inputs raw = c.random_raw();
      c.check(computed_value(c.constraint, raw), raw);
    }
  }
}

TEST_CASE("right_inverse of a feasible value round-trips through forward", "[constraints]") {
  manual_seed(13);
  NoGradGuard no_grad;
  for (const auto& c : strategy_cases()) {
    INFO(c.name);
    REQUIRE(c.constraint->has_right_inverse());
    const Tensor feasible = c.constraint->forward(c.random_raw());
    CHECK(max_abs_diff(c.constraint->forward(c.constraint->right_inverse(feasible)), feasible) <
          1e-9);
    // constrain() keeps a feasible value through the same right_inverse.
    CHECK(max_abs_diff(constrain(make_parameter(feasible.clone()), c.constraint)->value(),
                       feasible) < 1e-9);
  }
}

TEST_CASE("matrix strategies reject a vector, bounded rejects an empty interval", "[constraints]") {
  using namespace constraints;
  for (const auto& constraint : {symmetric(), skew_symmetric(), lower_triangular(),
                                 cholesky_factor(), positive_definite(), orthogonal()}) {
    INFO(constraint->name());
    CHECK_THROWS_AS(constraint->forward({randn({3}, DType::f64)}), ShapeError);
  }
  CHECK_THROWS_AS(bounded(1, 1), ValueError);
}

namespace {

/// A user constraint with a buffer: value = raw + offset.
struct Shift : Constraint {
  explicit Shift(Tensor offset) : offset(std::move(offset)) {}
  std::string name() const override { return "shift"; }
  Tensor forward(const Inputs& raw) override { return raw[0] + offset; }
  bool has_right_inverse() const override { return true; }
  Inputs right_inverse(const Tensor& value) override { return {value - offset}; }
  NamedTensors buffers() override { return {{"offset", offset}}; }

  Tensor offset;
};

}  // namespace

TEST_CASE("chain(a, b) computes b(a(raw))", "[constraints]") {
  const auto first = constraints::positive(constraints::PositiveMap::exp);
  const auto second = std::make_shared<Shift>(f64({1, -1}, {2}));
  const auto chained = chain(first, second);
  CHECK(max_abs_diff(chained->forward({f64({0, 1}, {2})}), f64({2, std::exp(1.0) - 1}, {2})) <
        1e-15);
  const Tensor raw = randn({2}, DType::f64);
  CHECK(max_abs_diff(chained->forward({raw}), second->forward({first->forward({raw})})) == 0.0);
}

TEST_CASE("chain(a, b) round-trips through both right_inverses", "[constraints]") {
  const auto chained =
      chain(constraints::bounded(0, 1), std::make_shared<Shift>(f64({2, -3, 0.5}, {3})));
  REQUIRE(chained->has_right_inverse());
  const Tensor feasible = f64({2.25, -2.5, 1.375}, {3});  // bounded values 0.25, 0.5, 0.875
  CHECK(max_abs_diff(chained->forward(chained->right_inverse(feasible)), feasible) < 1e-12);
}

TEST_CASE("chain(a, b) has no right_inverse unless both have one", "[constraints]") {
  const auto chained = chain(constraints::positive(),
                             make_constraint("square", [](const Tensor& x) { return x * x; }));
  CHECK_FALSE(chained->has_right_inverse());
  CHECK_THROWS_AS(chained->right_inverse(ones({2}, DType::f64)), ValueError);
  CHECK_THROWS_AS(chain(constraints::positive(), constraints::weight_norm()), ValueError);
}

TEST_CASE("chain(a, b) names a's buffers under \"0.\" and b's under \"1.\", and trains both",
          "[constraints]") {
  const auto first = constraints::spectral_norm(randn({3, 2}, DType::f64));
  const auto second = std::make_shared<Shift>(zeros({3, 2}, DType::f64));
  const auto chained = chain(first, second);
  const NamedTensors buffers = chained->buffers();
  REQUIRE(buffers.size() == 3);
  CHECK(buffers[0].first == "0.u");
  CHECK(buffers[0].second.is_same(first->buffers()[0].second));
  CHECK(buffers[1].first == "0.v");
  CHECK(buffers[2].first == "1.offset");
  CHECK(buffers[2].second.is_same(second->offset));
  chained->train(false);
  CHECK_FALSE(first->is_training());
  CHECK_FALSE(second->is_training());
}

namespace {

/// A user-defined constraint as a subclass: softsign, values in (-1, 1).
struct Softsign : Constraint {
  std::string name() const override { return "softsign"; }
  Tensor forward(const Inputs& raw) override { return raw[0] / (abs(raw[0]) + 1.0); }
  bool has_right_inverse() const override { return true; }
  Inputs right_inverse(const Tensor& value) override { return {value / (1.0 - abs(value))}; }
};

/// A user-defined constraint from a pair of lambdas: 2 tanh(raw), values in (-2, 2).
std::shared_ptr<Constraint> scaled_tanh() {
  return make_constraint(
      "scaled_tanh", [](const Tensor& raw) { return tanh(raw) * 2.0; },
      [](const Tensor& value) { return (log1p(value * 0.5) - log1p(value * -0.5)) * 0.5; });
}

/// `steps` SGD steps on mse_loss(linear(x), target); the first and the last loss.
std::pair<double, double> train(nn::Linear& linear, optim::SGD& sgd, const Tensor& x,
                                const Tensor& target, int steps) {
  double first = 0, last = 0;
  for (int step = 0; step < steps; ++step) {
    const Tensor loss = nn::mse_loss(linear(x), target);
    last = loss.item<double>();
    if (step == 0) first = last;
    sgd.zero_grad();
    loss.backward();
    sgd.step();
  }
  return {first, last};
}

}  // namespace

TEST_CASE("a user-defined constraint, subclass or lambdas, trains a Linear's weight",
          "[constraints]") {
  const std::vector<std::pair<std::shared_ptr<Constraint>, double>> user_constraints = {
      {std::make_shared<Softsign>(), 1.0}, {scaled_tanh(), 2.0}};
  for (const auto& [constraint, bound] : user_constraints) {
    INFO(constraint->name());
    manual_seed(21);
    nn::Linear linear(3, 2, true, DType::f64);
    optim::SGD sgd(linear.parameters(), {.lr = 0.2});  // built before constrain()
    const Tensor initial = linear.weight->value().detach().clone();
    linear.weight = constrain(linear.weight, constraint);
    CHECK(max_abs_diff(linear.weight->value(), initial) < 1e-12);
    CHECK(linear.parameters()[0].is_same(sgd.parameters()[0]));

    const Tensor x = randn({16, 3}, DType::f64);
    const Tensor target = matmul(x, f64({0.5, -0.5, 0.25, -0.25, 0.75, 0.1}, {2, 3}).t());
    const auto [first_loss, loss] = train(linear, sgd, x, target, 60);
    CHECK(loss < 0.5 * first_loss);
    CHECK(max_of(abs(linear.weight->value())) < bound);
  }
}

TEST_CASE("SGD on an orthogonal Linear weight lowers the loss and keeps the weight orthogonal",
          "[constraints]") {
  for (const auto& [in, out] : {std::pair{3, 5}, std::pair{5, 3}, std::pair{4, 4}}) {
    INFO("weight [" << out << ", " << in << "]");
    manual_seed(22);
    nn::Linear linear(in, out, true, DType::f64);
    linear.weight = constrain(linear.weight, constraints::orthogonal());
    optim::SGD sgd(linear.parameters(), {.lr = 0.1});
    const Tensor x = randn({16, in}, DType::f64);
    const Tensor target = matmul(x, randn({out, in}, DType::f64).t());
    const auto [first_loss, loss] = train(linear, sgd, x, target, 20);
    CHECK(loss < first_loss);
    is_orthogonal(linear.weight->value(), {});
  }
}

TEST_CASE("freeze() returns a raw parameter holding the current value, trained plainly",
          "[constraints]") {
  manual_seed(31);  // a [6, 5] weight, so that u is not yet a fixed point of power iteration
  const auto computed = spectrally_normalize(make_parameter(randn({6, 5}, DType::f64)));
  const Tensor current = computed->value().detach().clone();
  const Tensor u = computed->buffers()[0].second.clone();
  const auto frozen = freeze(computed);
  REQUIRE(dynamic_cast<RawParameter*>(frozen.get()) != nullptr);
  CHECK(frozen->value().to_vector<double>() == current.to_vector<double>());
  CHECK(computed->buffers()[0].second.to_vector<double>() == u.to_vector<double>());

  // Training the frozen weight is plain SGD on it, and the computed one is untouched.
  const Tensor leaf = frozen->value();
  CHECK((leaf.is_leaf() && leaf.requires_grad()));
  optim::SGD sgd({leaf}, {.lr = 0.1});
  sum(leaf).backward();
  sgd.step();
  CHECK(max_abs_diff(frozen->value(), current - 0.1) < 1e-15);
  CHECK(computed->value().to_vector<double>() == current.to_vector<double>());
}

TEST_CASE("a feasible value written into a computed value is carried to its raw inputs",
          "[constraints]") {
  manual_seed(41);
  for (const auto& c : strategy_cases()) {
    INFO(c.name);
    ComputedParameter parameter(c.constraint, c.random_raw());
    NoGradGuard no_grad;
    const Tensor written = c.constraint->forward(c.random_raw());
    parameter.value().copy_(written);  // as an init function or a user's copy_ would
    CHECK(max_abs_diff(parameter.value(), written) < 1e-9);
  }
}

TEST_CASE("writing into a value whose constraint has no right_inverse is an error",
          "[constraints]") {
  const auto parameter =
      constrain(make_parameter(randn({2, 2}, DType::f64)),
                make_constraint("square", [](const Tensor& raw) { return raw * raw; }));
  {
    NoGradGuard no_grad;
    parameter->value().fill_(4.0);
  }
  CHECK_THROWS_WITH(parameter->value(), Catch::Contains("square"));
  CHECK_THROWS_AS(parameter->value(), ValueError);
  CHECK_THROWS_AS(parameter->assign(ones({2, 2}, DType::f64)), ValueError);
}

TEST_CASE("positive_definite's project keeps a 0 x 0 matrix", "[constraints]") {
  CHECK(constraints::positive_definite()->project(zeros({0, 0}, DType::f64)).shape() ==
        Shape{0, 0});
}

TEST_CASE("a strategy given no raw input, or an undefined one, throws a ValueError naming it",
          "[constraints][errors]") {
  const std::vector<std::shared_ptr<Constraint>> strategies = {
      constraints::positive(), constraints::bounded(-1, 2), constraints::symmetric(),
      constraints::orthogonal(), constraints::spectral_norm(ones({2, 2}))};
  for (const auto& strategy : strategies) {
    INFO(strategy->name());
    CHECK_THROWS_WITH(
        strategy->forward({}),
        Catch::Matchers::Contains(strategy->name() + ": expected one raw input, got 0"));
    CHECK_THROWS_WITH(
        strategy->forward({Tensor()}),
        Catch::Matchers::Contains(strategy->name() + ": expected a defined raw input"));
  }
  CHECK_THROWS_WITH(constraints::positive()->log_abs_det_jacobian({}, ones({2})),
                    Catch::Matchers::Contains("positive: expected one raw input, got 0"));
  CHECK_THROWS_WITH(constraints::weight_norm()->forward({ones({2, 2})}),
                    Catch::Matchers::Contains("weight_norm: expected 2 raw inputs, got 1"));
}
