// Bijectors: the log-det-Jacobian of every strategy that is a bijection from
// its raw input onto its feasible set, checked against log|det J| of the
// Jacobian autograd computes of its forward, event by event; gradchecks,
// round trips, f32 at the edges, chain's composition, lambda constraints, and
// the "not a bijection" error of every other strategy.
#include <tether/tether.h>
#include <catch2/catch.hpp>
#include <cmath>
#include "tensor_checks.h"

using namespace tether;
using namespace tether::testing;
using Catch::Matchers::Contains;

namespace {

/// value = raw @ A^T over the last dim, A lower-triangular with diagonal
/// (2, 0.5, 3): a vector map (event_dim 1) with log|det A| = log 3 per event.
std::shared_ptr<Constraint> triangular_affine() {
  const auto a = [] {
    return tensor({2.0, 0.0, 0.0, 0.7, 0.5, 0.0, -1.2, 0.4, 3.0}, {3, 3}, DType::f64);
  };
  return make_constraint(
      "triangular_affine",
      {.forward = [a](const Tensor& raw) { return matmul(raw, a().mT()); },
       .right_inverse =
           [a](const Tensor& value) { return solve_triangular(a(), value.mT(), false).mT(); },
       .condition = "any vector",
       .log_abs_det_jacobian =
           [](const Tensor& raw, const Tensor&) {
             Shape events = raw.shape();
             events.pop_back();
             return full(events, std::log(3.0), raw.options());
           },
       .event_dim = 1});
}

struct Bijector {
  const char* name;
  std::function<std::shared_ptr<Constraint>()> make;
  Shape raw_shape;
};

const std::vector<Bijector>& bijectors() {
  using constraints::PositiveMap;
  static const std::vector<Bijector> table = {
      {"positive (softplus)", [] { return constraints::positive(); }, {2, 3}},
      {"positive (exp)", [] { return constraints::positive(PositiveMap::exp); }, {4}},
      {"positive above 0.5", [] { return constraints::positive(PositiveMap::softplus, 0.5); }, {5}},
      {"positive (exp) above -2", [] { return constraints::positive(PositiveMap::exp, -2); }, {3}},
      {"bounded (-1, 2)", [] { return constraints::bounded(-1, 2); }, {2, 2}},
      {"bounded (0, 1e-3)", [] { return constraints::bounded(0, 1e-3); }, {4}},
      {"chain(positive, bounded)",
       [] { return chain(constraints::positive(), constraints::bounded(0, 5)); },
       {3}},
      {"a lambda with event_dim 1", triangular_affine, {4, 3}},
      {"chain(positive, a vector map)",
       [] { return chain(constraints::positive(), triangular_affine()); },
       {4, 3}},
      {"chain(a vector map, bounded)",
       [] { return chain(triangular_affine(), constraints::bounded(-3, 3)); },
       {2, 3}},
  };
  return table;
}

std::vector<Tensor> random_points(const Shape& shape, std::uint64_t seed) {
  manual_seed(seed);
  std::vector<Tensor> points;
  for (int i = 0; i < 4; ++i) points.push_back(randn(shape, DType::f64) * 2.0);
  return points;
}

Tensor ladj_at(Constraint& c, const Tensor& raw) {
  return c.log_abs_det_jacobian({raw}, c.forward({raw}));
}

/// log|det| of a square matrix, as half the log-determinant of its Gram matrix.
double log_abs_det(const Tensor& square) {
  return 0.5 * logdet(matmul(square.mT(), square)).item<double>();
}

}  // namespace

TEST_CASE(
    "log_abs_det_jacobian of each bijective strategy is log|det| of autograd's Jacobian "
    "of its forward, event by event (f64, random points)",
    "[constraints][bijector]") {
  for (const auto& b : bijectors()) {
    INFO(b.name);
    const auto c = b.make();
    CHECK(c->is_bijection());
    for (const Tensor& raw : random_points(b.raw_shape, 121)) {
      const Tensor value = c->forward({raw});
      const Tensor ladj = c->log_abs_det_jacobian({raw}, value);
      // One entry per event: the value without its last event_dim dims.
      Shape events = value.shape();
      for (std::int64_t d = 0; d < c->event_dim(); ++d) events.pop_back();
      REQUIRE(ladj.shape() == events);
      // J is block-diagonal, one [k, k] block per event.
      const std::int64_t count = events.numel(), k = value.numel() / count;
      const Tensor jacobian =
          autograd::jacobian([&](const Tensor& x) { return c->forward({x}); }, raw)
              .reshape({count, k, count, k});
      const std::vector<double> entries = ladj.reshape({count}).to_vector<double>();
      for (std::int64_t e = 0; e < count; ++e) {
        const Tensor block = select(select(jacobian, 2, e), 0, e);
        CHECK(entries[e] == Approx(log_abs_det(block)).margin(1e-10).epsilon(1e-10));
      }
    }
  }
}

TEST_CASE("log_abs_det_jacobian of each bijective strategy passes gradcheck in f64",
          "[constraints][bijector]") {
  for (const auto& b : bijectors()) {
    INFO(b.name);
    const auto c = b.make();
    for (Tensor raw : random_points(b.raw_shape, 122)) {
      raw.requires_grad_();
      CHECK(gradcheck([&](const std::vector<Tensor>& x) { return ladj_at(*c, x[0]); }, {raw}));
    }
  }
}

TEST_CASE("right_inverse of forward gives back the raw input of each bijective strategy",
          "[constraints][bijector]") {
  for (const auto& b : bijectors()) {
    INFO(b.name);
    const auto c = b.make();
    for (const Tensor& raw : random_points(b.raw_shape, 123)) {
      const Tensor back = c->right_inverse(c->forward({raw})).front();
      CHECK(amax(abs(back - raw)).item<double>() < 1e-8);
    }
  }
}

TEST_CASE(
    "in f32 the log-Jacobians of positive and bounded stay finite where the value "
    "reaches the edge of its set, and match f64",
    "[constraints][bijector]") {
  const auto edges = tensor({-100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0}, {7}, DType::f32);
  for (const auto& c :
       {constraints::positive(), constraints::positive(constraints::PositiveMap::exp),
        constraints::bounded(0, 1), constraints::bounded(-2, 5)}) {
    INFO(c->name() << " " << c->condition());
    const Tensor raw = edges.clone().requires_grad_();
    const Tensor ladj = ladj_at(*c, raw);
    CHECK(ladj.dtype() == DType::f32);
    CHECK(all_finite(ladj));
    sum(ladj).backward();
    CHECK(all_finite(raw.grad()));
    const Tensor exact = ladj_at(*c, edges.to(DType::f64));
    const std::vector<double> got = ladj.to(DType::f64).to_vector<double>(),
                              want = exact.to_vector<double>();
    for (std::size_t i = 0; i < got.size(); ++i)
      CHECK(got[i] == Approx(want[i]).epsilon(1e-6).margin(1e-6));
  }
}

TEST_CASE("strategies that are not bijections say so, naming their feasible set",
          "[constraints][bijector]") {
  manual_seed(124);
  const Tensor square = randn({3, 3}, DType::f64);
  const std::vector<std::pair<std::shared_ptr<Constraint>, std::vector<Tensor>>> cases = {
      {constraints::symmetric(), {square}},
      {constraints::skew_symmetric(), {square}},
      {constraints::lower_triangular(), {square}},
      {constraints::cholesky_factor(), {square}},
      {constraints::positive_definite(), {square}},
      {constraints::orthogonal(), {square}},
      {constraints::simplex(), {square}},
      {constraints::unit_norm(), {square}},
      {constraints::weight_norm(), {ones({3, 1}, DType::f64), square}},
      {constraints::spectral_norm(square), {square.clone()}},
  };
  for (const auto& [c, raw] : cases) {
    INFO(c->name());
    CHECK_FALSE(c->is_bijection());
    ComputedParameter parameter(c, raw);
    CHECK_THROWS_AS(parameter.log_abs_det_jacobian(), ValueError);
    CHECK_THROWS_WITH(parameter.log_abs_det_jacobian(),
                      c->name() + ": not a bijection onto its values (" + c->condition() +
                          "), so it has no log-det-Jacobian");
  }
  ComputedParameter symmetric(constraints::symmetric(), {square});
  CHECK_THROWS_WITH(symmetric.log_abs_det_jacobian(),
                    "symmetric: not a bijection onto its values (symmetric matrices), so it has "
                    "no log-det-Jacobian");
}

TEST_CASE(
    "a chain is a bijection only when both links are, and its error names the link "
    "that is not",
    "[constraints][bijector]") {
  const auto c = chain(constraints::positive(), constraints::symmetric());
  CHECK_FALSE(c->is_bijection());
  ComputedParameter parameter(c, {ones({2, 2}, DType::f64)});
  CHECK_THROWS_WITH(parameter.log_abs_det_jacobian(),
                    "positive+symmetric: symmetric is not a bijection onto its values (symmetric "
                    "matrices), so the chain has no log-det-Jacobian");
  CHECK_FALSE(chain(constraints::unit_norm(), constraints::positive())->is_bijection());
  CHECK(chain(constraints::positive(), triangular_affine())->event_dim() == 1);
  CHECK(chain(triangular_affine(), constraints::positive())->event_dim() == 1);
}

TEST_CASE(
    "a lambda constraint is a bijection with the event_dim it gives exactly when it sets "
    "log_abs_det_jacobian",
    "[constraints][bijector]") {
  const auto with = triangular_affine();
  CHECK(with->is_bijection());
  CHECK(with->event_dim() == 1);
  const auto without = make_constraint("cube", [](const Tensor& x) { return x * x * x; });
  CHECK_FALSE(without->is_bijection());
  CHECK(without->event_dim() == 0);
}

TEST_CASE(
    "ComputedParameter::log_abs_det_jacobian is the 0-d sum over events and its gradient "
    "reaches the raw inputs",
    "[constraints][bijector]") {
  const Tensor raw = tensor({-1.0, 0.5, 2.0, 3.0}, {2, 2}, DType::f64);
  ComputedParameter parameter(constraints::positive(), {raw});
  const Tensor total = parameter.log_abs_det_jacobian();
  CHECK(total.dim() == 0);
  CHECK(total.item<double>() == Approx(sum(-softplus(-raw.detach())).item<double>()));
  total.backward();
  // d/dx log sigmoid(x) = sigmoid(-x).
  CHECK(amax(abs(parameter.raw_inputs()[0].grad() - sigmoid(-raw.detach()))).item<double>() <
        1e-12);
}

TEST_CASE(
    "an error inside a lambda's log_abs_det_jacobian names the constraint and the raw "
    "shapes",
    "[constraints][bijector]") {
  const auto broken =
      make_constraint("broken", {.forward = [](const Tensor& x) { return x; },
                                 .log_abs_det_jacobian =
                                     [](const Tensor& raw, const Tensor&) {
                                       return matmul(raw, ones({2, 2}, raw.options()));
                                     }});
  ComputedParameter parameter(broken, {ones({3}, DType::f64)});
  CHECK_THROWS_AS(parameter.log_abs_det_jacobian(), ShapeError);
  CHECK_THROWS_WITH(parameter.log_abs_det_jacobian(),
                    Contains("broken (log_abs_det_jacobian of raw [3]): "));
}
