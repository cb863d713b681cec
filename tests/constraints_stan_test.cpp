// Stan's constraint transforms (constraint_library.h), driven by one table:
// each transform's value is feasible at random raw points, right_inverse
// undoes forward, log_abs_det_jacobian agrees with log|det J| of the Jacobian
// autograd computes onto the value's free coordinates, gradients and second
// derivatives check against finite differences, f32 raw inputs of +-30 give
// no NaN, and ComputedParameter keeps a feasible value and names the
// constraint and its condition for an infeasible one.
#include <tether/tether.h>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include "tensor_checks.h"

using namespace tether;
using namespace tether::testing;
using Catch::Matchers::Contains;

namespace {

Tensor flat(const Tensor& x) {
  return reshape(x, {x.numel()});
}

/// The entries of a square matrix's lower triangle (with or without its
/// diagonal), row by row.
Tensor lower_of(const Tensor& matrix, bool with_diagonal) {
  const std::int64_t side = matrix.size(-1);
  std::vector<double> positions;
  for (std::int64_t i = 0; i < side; ++i)
    for (std::int64_t j = 0; j <= i; ++j)
      if (with_diagonal || j < i) positions.push_back(static_cast<double>(i * side + j));
  return index_select(flat(matrix), 0, tensor(positions, DType::i64));
}

/// Consecutive differences along the last dim.
Tensor steps_of(const Tensor& x) {
  const std::int64_t n = x.size(-1);
  return narrow(x, -1, 1, n - 1) - narrow(x, -1, 0, n - 1);
}

void check_symmetric_positive_definite(const Tensor& value) {
  CHECK(max_abs_diff(value, value.mT()) < 1e-12);
  CHECK_NOTHROW(cholesky(value.detach()));
}

/// A transform with what its tests need; one event per raw input of raw_shape.
struct StanCase {
  std::string name;
  std::shared_ptr<Constraint> constraint;
  Shape raw_shape;
  /// The value's free coordinates, as a vector (the Jacobian's rows).
  std::function<Tensor(const Tensor&)> free;
  /// Asserts that `value` is in the feasible set.
  std::function<void(const Tensor&)> check;
  /// A value outside the feasible set, of the value's shape.
  Tensor infeasible;
  /// Whether Constraint::project is provided.
  bool projects;
};

std::vector<StanCase> cases() {
  const auto all = [](const Tensor& v) { return flat(v); };
  const auto all_but_last = [](const Tensor& v) { return narrow(v, -1, 0, v.size(-1) - 1); };
  const auto simplex_check = [](const Tensor& v) {
    CHECK(min_of(v) > 0);
    CHECK(max_abs_diff(sum(v, {-1}), ones({}, DType::f64)) < 1e-12);
  };
  const auto corr_factor_check = [](const Tensor& l) {
    CHECK(max_abs_diff(l, tril(l)) == 0);
    CHECK(min_of(diagonal(l)) > 0);
    CHECK(max_abs_diff(norm(l, {-1}), ones({3}, DType::f64)) < 1e-12);
  };
  return {
      {"lower_bounded",
       constraints::lower_bounded(1.5),
       {4},
       all,
       [](const Tensor& v) { CHECK(min_of(v) > 1.5); },
       f64({1.0, 2.0, 3.0, 4.0}, {4}),
       true},
      {"upper_bounded",
       constraints::upper_bounded(-2.0),
       {4},
       all,
       [](const Tensor& v) { CHECK(min_of(-v) > 2.0); },
       f64({-3.0, -1.0, -4.0, -5.0}, {4}),
       true},
      {"stick_breaking_simplex",
       constraints::stick_breaking_simplex(),
       {3},
       all_but_last,
       simplex_check,
       f64({0.2, 0.3, 0.1, 0.5}, {4}),
       true},
      {"ordered",
       constraints::ordered(),
       {4},
       all,
       [](const Tensor& v) { CHECK(min_of(steps_of(v)) > 0); },
       f64({1.0, 0.5, 2.0, 3.0}, {4}),
       true},
      {"positive_ordered",
       constraints::positive_ordered(),
       {4},
       all,
       [](const Tensor& v) {
         CHECK(min_of(v) > 0);
         CHECK(min_of(steps_of(v)) > 0);
       },
       f64({-1.0, 1.0, 2.0, 3.0}, {4}),
       true},
      {"cholesky_corr",
       constraints::cholesky_corr(),
       {3},
       [](const Tensor& v) { return lower_of(v, false); },
       corr_factor_check,
       f64({1, 0, 0, 0.6, 0.6, 0, 0, 0, 1}, {3, 3}),
       false},
      {"correlation_matrix",
       constraints::correlation_matrix(),
       {3},
       [](const Tensor& v) { return lower_of(v, false); },
       [](const Tensor& v) {
         check_symmetric_positive_definite(v);
         CHECK(max_abs_diff(diagonal(v), ones({3}, DType::f64)) < 1e-12);
       },
       f64({1, 0.5, 0, 0.5, 2, 0, 0, 0, 1}, {3, 3}),
       false},
      {"covariance",
       constraints::covariance(),
       {6},
       [](const Tensor& v) { return lower_of(v, true); },
       check_symmetric_positive_definite,
       f64({1, 0, 2, 0, 1, 0, 2, 0, 1}, {3, 3}),
       true},
      {"sum_to_zero",
       constraints::sum_to_zero(),
       {4},
       all_but_last,
       [](const Tensor& v) { CHECK(std::abs(sum(v).item<double>()) < 1e-12); },
       f64({1, 2, -3, 1, 0}, {5}),
       true},
      {"row_stochastic",
       constraints::row_stochastic(),
       {2, 3},
       [](const Tensor& v) { return flat(narrow(v, -1, 0, 3)); },
       [](const Tensor& v) {
         CHECK(min_of(v) > 0);
         CHECK(max_abs_diff(sum(v, {-1}), ones({2}, DType::f64)) < 1e-12);
       },
       f64({0.5, 0.5, 0.1, 0.1, 0.2, 0.3, 0.4, 0.1}, {2, 4}),
       true},
      {"column_stochastic",
       constraints::column_stochastic(),
       {3, 2},
       [](const Tensor& v) { return flat(narrow(v, -2, 0, 3)); },
       [](const Tensor& v) {
         CHECK(min_of(v) > 0);
         CHECK(max_abs_diff(sum(v, {-2}), ones({2}, DType::f64)) < 1e-12);
       },
       f64({0.5, 0.5, 0.5, 0.2, 0.1, 0.2, 0.1, 0.1}, {4, 2}),
       true},
  };
}

Tensor random_raw(const Shape& shape) {
  return randn(shape, DType::f64) * 1.5;
}

/// log|det J| of raw -> the value's free coordinates, from autograd's Jacobian
/// (square: as many free coordinates as raw entries), as logdet(J J^T) / 2.
double autograd_log_det(const StanCase& c, const Tensor& raw) {
  const Tensor j =
      autograd::jacobian([&](const Tensor& x) { return c.free(c.constraint->forward({x})); }, raw);
  const Tensor square = reshape(j, {raw.numel(), raw.numel()});
  return 0.5 * logdet(matmul(square, square.mT())).item<double>();
}

std::shared_ptr<ComputedParameter> parameter_of(const StanCase& c) {
  return std::make_shared<ComputedParameter>(c.constraint,
                                             std::vector<Tensor>{zeros(c.raw_shape, DType::f64)});
}

std::string assign_error(ComputedParameter& parameter, const Tensor& value) {
  try {
    parameter.assign(value);
  } catch (const ValueError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("Stan's transforms give feasible values, and right_inverse undoes forward to 1e-10",
          "[constraints][stan]") {
  manual_seed(1201);
  for (const auto& c : cases()) {
    SECTION(c.name) {
      CHECK(c.constraint->name() == c.name);
      CHECK(c.constraint->is_bijection());
      for (int point = 0; point < 5; ++point) {
        const Tensor raw = random_raw(c.raw_shape);
        const Tensor value = c.constraint->forward({raw});
        c.check(value);
        CHECK(max_abs_diff(c.constraint->right_inverse(value).front(), raw) < 1e-10);
      }
    }
  }
}

TEST_CASE(
    "Stan's log_abs_det_jacobian is log|det| of autograd's Jacobian onto the free "
    "coordinates, one entry per event, and batches round-trip",
    "[constraints][stan]") {
  manual_seed(1202);
  for (const auto& c : cases()) {
    SECTION(c.name) {
      for (int point = 0; point < 3; ++point) {
        const Tensor raw = random_raw(c.raw_shape);
        const Tensor log_det =
            c.constraint->log_abs_det_jacobian({raw}, c.constraint->forward({raw}));
        const double expected = autograd_log_det(c, raw);
        // Element-wise maps give one entry per element; their sum is the event's.
        CHECK(std::abs(sum(log_det).item<double>() - expected) < 1e-9);
      }
      // A batch of two events gives two entries, each its event's.
      Shape batch_shape = c.raw_shape;
      batch_shape.insert(0, 2);
      const Tensor batch = random_raw(batch_shape);
      const Tensor log_det =
          c.constraint->log_abs_det_jacobian({batch}, c.constraint->forward({batch}));
      Shape expected_shape = c.constraint->forward({batch}).shape();
      for (std::int64_t d = 0; d < c.constraint->event_dim(); ++d) expected_shape.pop_back();
      CHECK(log_det.shape() == expected_shape);
      CHECK(max_abs_diff(c.constraint->right_inverse(c.constraint->forward({batch})).front(),
                         batch) < 1e-10);
      const Tensor second = select(batch, 0, 1);
      CHECK(std::abs(
                sum(select(log_det, 0, 1)).item<double>() -
                sum(c.constraint->log_abs_det_jacobian({second}, c.constraint->forward({second})))
                    .item<double>()) < 1e-12);
    }
  }
}

TEST_CASE("Stan's forward and log_abs_det_jacobian pass gradcheck and gradgradcheck",
          "[constraints][stan]") {
  manual_seed(1203);
  for (const auto& c : cases()) {
    SECTION(c.name) {
      const Tensor raw = random_raw(c.raw_shape).requires_grad_();
      const auto forward = [&](const std::vector<Tensor>& x) { return c.constraint->forward(x); };
      const auto log_det = [&](const std::vector<Tensor>& x) {
        return c.constraint->log_abs_det_jacobian(x, c.constraint->forward(x));
      };
      CHECK(gradcheck(forward, {raw}));
      CHECK(gradgradcheck(forward, {raw}));
      CHECK(gradcheck(log_det, {raw}));
      CHECK(gradgradcheck(log_det, {raw}));
    }
  }
}

TEST_CASE("Stan's transforms of f32 raw inputs of +-30 have no NaN in value, log-det or gradient",
          "[constraints][stan]") {
  for (const auto& c : cases()) {
    for (const double edge : {30.0, -30.0}) {
      SECTION(c.name + (edge > 0 ? " +30" : " -30")) {
        // Alternating signs too, so that ordered vectors and sticks meet both ends.
        for (const double alternate : {1.0, -1.0}) {
          std::vector<double> values;
          for (std::int64_t i = 0; i < c.raw_shape.numel(); ++i)
            values.push_back(i % 2 == 0 ? edge : alternate * edge);
          const Tensor x = tensor(values, c.raw_shape, DType::f32).requires_grad_();
          const Tensor value = c.constraint->forward({x});
          const Tensor log_det = c.constraint->log_abs_det_jacobian({x}, value);
          (sum(value) + sum(log_det)).backward();
          CHECK(all_finite(value));
          CHECK(all_finite(log_det));
          CHECK(all_finite(x.grad()));
        }
      }
    }
  }
}

TEST_CASE("covariance of a large f32 off-diagonal raw entry is finite (exp only on the diagonal)",
          "[constraints][stan]") {
  const Tensor raw = tensor({0, 100, 0}, {3}, DType::f32);
  const Tensor value = constraints::covariance()->forward({raw});
  CHECK(value.to_vector<double>() == std::vector<double>{1, 100, 100, 10001});
}

TEST_CASE(
    "assign keeps a feasible value under Stan's transforms and names the constraint and "
    "its condition for an infeasible one",
    "[constraints][stan]") {
  manual_seed(1204);
  for (const auto& c : cases()) {
    SECTION(c.name) {
      const auto parameter = parameter_of(c);
      const Tensor feasible = c.constraint->forward({random_raw(c.raw_shape)}).detach();
      parameter->assign(feasible);
      CHECK(max_abs_diff(parameter->value(), feasible) < 1e-12);
      const auto kept =
          constrain(make_parameter(feasible.clone()), c.constraint, ValuePolicy::keep);
      CHECK(max_abs_diff(kept->value(), feasible) < 1e-12);

      const std::string message = assign_error(*parameter, c.infeasible);
      CHECK_THAT(message, Contains(c.name + ": cannot hold the value (expected " +
                                   c.constraint->condition() + ")"));
      CHECK(max_abs_diff(parameter->value(), feasible) < 1e-12);  // a failed assign changes nothing
      CHECK_THROWS_WITH(
          constrain(make_parameter(c.infeasible.clone()), c.constraint, ValuePolicy::keep),
          Contains(c.name) && Contains(c.constraint->condition()));
      if (c.projects) {
        parameter->assign(c.infeasible, ValuePolicy::nearest);
        c.check(parameter->value());
      } else {
        CHECK_THROWS_AS(parameter->assign(c.infeasible, ValuePolicy::nearest), ValueError);
      }
    }
  }
}

TEST_CASE(
    "stick_breaking_simplex and cholesky_corr match torch.distributions' "
    "StickBreakingTransform and CorrCholeskyTransform",
    "[constraints][stan]") {
  // Made with /usr/bin/python3 (Debian's torch 1.13), float64:
  //   t = StickBreakingTransform(); x = torch.tensor([0.3, -1.2, 2.0]); y = t(x)
  //   y.tolist(), t.log_abs_det_jacobian(x, y)
  //   c = CorrCholeskyTransform(); x = torch.tensor([0.5, -0.7, 1.1]); L = c(x)
  //   L.tolist(), c.log_abs_det_jacobian(x, L)
  const Tensor x = f64({0.3, -1.2, 2.0}, {3});
  const auto stick = constraints::stick_breaking_simplex();
  const Tensor y = stick->forward({x});
  CHECK(max_abs_diff(y, f64({0.3103224420123704, 0.09026916871088567, 0.527957157790385,
                             0.07145123148635886},
                            {4})) < 1e-14);
  CHECK(std::abs(stick->log_abs_det_jacobian({x}, y).item<double>() - -6.85258297341167) < 1e-12);

  const Tensor r = f64({0.5, -0.7, 1.1}, {3});
  const auto corr = constraints::cholesky_corr();
  const Tensor l = corr->forward({r});
  CHECK(max_abs_diff(l, f64({1.0, 0.0, 0.0, 0.46211715726000974, 0.8868188839700739, 0.0,
                             -0.6043677771171635, 0.6377619413556489, 0.47749271841645113},
                            {3, 3})) < 1e-14);
  CHECK(std::abs(corr->log_abs_det_jacobian({r}, l).item<double>() - -1.9459119804095737) < 1e-12);
}

TEST_CASE(
    "Stan's transforms at raw = 0: the uniform simplex, the identity correlation, the "
    "identity covariance",
    "[constraints][stan]") {
  const Tensor uniform = constraints::stick_breaking_simplex()->forward({zeros({3}, DType::f64)});
  CHECK(max_abs_diff(uniform, full({4}, 0.25, DType::f64)) < 1e-15);
  const Tensor identity = eye(3, std::nullopt, DType::f64);
  CHECK(max_abs_diff(constraints::correlation_matrix()->forward({zeros({3}, DType::f64)}),
                     identity) < 1e-15);
  CHECK(max_abs_diff(constraints::covariance()->forward({zeros({6}, DType::f64)}), identity) <
        1e-15);
  // Stan's covariance log-Jacobian: K log 2 + sum_k (K - k + 2) raw_kk, here
  // with the diagonal (raw entries 0, 2 and 5) 0.5, -1 and 0.
  const Tensor raw = f64({0.5, 0, -1, 0, 0, 0}, {6});
  CHECK(std::abs(constraints::covariance()->log_abs_det_jacobian({raw}, Tensor()).item<double>() -
                 (3 * std::log(2.0) + 4 * 0.5 + 3 * -1.0)) < 1e-12);
}

TEST_CASE(
    "unit_vector is not a bijection; its log_abs_det_jacobian is Stan's auxiliary-radius "
    "term -|raw|^2 / 2",
    "[constraints][stan]") {
  const auto unit = constraints::unit_vector();
  CHECK_FALSE(unit->is_bijection());
  CHECK(unit->event_dim() == 1);
  const Tensor raw = f64({3, 0, -4, 1, 2, 2}, {2, 3});
  const Tensor value = unit->forward({raw});
  CHECK(max_abs_diff(value, f64({0.6, 0, -0.8, 1.0 / 3, 2.0 / 3, 2.0 / 3}, {2, 3})) < 1e-15);
  CHECK(max_abs_diff(unit->log_abs_det_jacobian({raw}, value), f64({-12.5, -4.5}, {2})) < 1e-15);
  CHECK(max_abs_diff(unit->right_inverse(value).front(), value) == 0);
  const auto parameter =
      std::make_shared<ComputedParameter>(unit, std::vector<Tensor>{ones({3}, DType::f64)});
  CHECK_THAT(assign_error(*parameter, f64({1, 1, 0}, {3})),
             Contains("unit_vector: cannot hold the value (expected vectors of unit L2 norm)"));
  parameter->assign(f64({1, 1, 0}, {3}), ValuePolicy::nearest);
  CHECK(std::abs(norm(parameter->value()).item<double>() - 1) < 1e-12);
  CHECK(gradgradcheck([&](const std::vector<Tensor>& x) { return unit->forward(x); },
                      {f64({0.3, -1.0, 2.0}, {3}).requires_grad_()}));
}

TEST_CASE(
    "Stan's transforms reject raw inputs of the wrong shape and non-finite bounds, naming "
    "themselves",
    "[constraints][stan]") {
  CHECK_THROWS_WITH(constraints::cholesky_corr()->forward({zeros({4}, DType::f64)}),
                    Contains("cholesky_corr: expected a raw vector of K(K-1)/2 elements"));
  CHECK_THROWS_WITH(constraints::covariance()->forward({zeros({4}, DType::f64)}),
                    Contains("covariance: expected a raw vector of K(K+1)/2 elements"));
  CHECK_THROWS_AS(constraints::row_stochastic()->forward({zeros({3}, DType::f64)}), ShapeError);
  CHECK_THROWS_WITH(constraints::lower_bounded(std::nan("")), Contains("lower_bounded"));
  CHECK_THROWS_WITH(constraints::upper_bounded(INFINITY), Contains("upper_bounded"));
}

TEST_CASE("the nearest ordered vector is the isotonic regression, kept strictly increasing",
          "[constraints][stan]") {
  const Tensor pooled = constraints::ordered()->project(f64({3, 2, 1, 5, 4}, {5}));
  CHECK(max_abs_diff(pooled, f64({2, 2, 2, 4.5, 4.5}, {5})) < 1e-6);
  CHECK(min_of(steps_of(pooled)) > 0);
  const Tensor positive = constraints::positive_ordered()->project(f64({-1, -2, 2}, {3}));
  CHECK(max_abs_diff(positive, f64({0, 0, 2}, {3})) < 1e-6);
  CHECK(min_of(positive) > 0);
  CHECK(min_of(steps_of(positive)) > 0);
}

TEST_CASE("a Stan transform given no raw input, or an undefined one, throws a ValueError naming it",
          "[constraints][stan][errors]") {
  const auto ordered = constraints::ordered();
  CHECK_THROWS_WITH(ordered->forward({}), Contains("ordered: expected one raw input, got 0"));
  CHECK_THROWS_WITH(ordered->forward({Tensor()}),
                    Contains("ordered: expected a defined raw input, got an undefined one"));
  CHECK_THROWS_WITH(ordered->log_abs_det_jacobian({}, zeros({3})),
                    Contains("ordered: expected one raw input, got 0"));
}

TEST_CASE("cholesky_corr of a raw vector of no elements is the 1 x 1 factor [[1]], as torch's",
          "[constraints][stan]") {
  const auto corr = constraints::cholesky_corr();
  const Tensor factor = corr->forward({zeros({0}, DType::f64)});
  CHECK(factor.shape() == Shape{1, 1});
  CHECK(factor.item<double>() == 1.0);
  CHECK(corr->forward({zeros({2, 0}, DType::f64)}).shape() == Shape{2, 1, 1});
  CHECK(corr->right_inverse(factor)[0].shape() == Shape{0});
  CHECK(corr->log_abs_det_jacobian({zeros({0}, DType::f64)}, factor).item<double>() == 0.0);
}
