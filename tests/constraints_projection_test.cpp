// The projection family: the trainable tensor is projected back onto the
// feasible set whenever it changed, so a plain optimizer step is followed by a
// feasible value without the optimizer knowing any constraint exists.
#include <tether/tether.h>
#include <catch2/catch.hpp>
#include "tensor_checks.h"

using namespace tether;
using namespace tether::testing;

namespace {

/// The smallest and the largest element.
std::pair<double, double> extremes(const Tensor& x) {
  return {amin(x.detach()).item<double>(), amax(x.detach()).item<double>()};
}

using MakeProjection = std::function<std::shared_ptr<Parameter>(const std::shared_ptr<Parameter>&)>;

struct ProjectionCase {
  std::string name;
  MakeProjection make;
  /// An explicit tensor and its projection worked out by hand.
  Tensor input, expected;
  /// Asserts that a [4, 3] weight (rows along dim 0) is feasible.
  std::function<void(const Tensor& value)> check;
};

std::vector<ProjectionCase> projection_cases() {
  return {
      {"non-negative", project_non_negative, f64({-1, 0.5, -0.1, 2}, {4}), f64({0, 0.5, 0, 2}, {4}),
       [](const Tensor& value) { CHECK(extremes(value).first >= 0); }},
      {"clamp to [-0.1, 0.2]", [](const auto& p) { return project_clamp(p, -0.1, 0.2); },
       f64({-2, 0.1, 3, -0.05}, {4}), f64({-0.1, 0.1, 0.2, -0.05}, {4}),
       [](const Tensor& value) {
         const auto [lowest, highest] = extremes(value);
         CHECK(lowest >= -0.1);
         CHECK(highest <= 0.2);
       }},
      {"max_norm 1 of rows, only those over the limit",
       [](const auto& p) { return project_max_norm(p, 1.0); }, f64({3, 4, 0.3, 0.4, 6, 8}, {3, 2}),
       f64({0.6, 0.8, 0.3, 0.4, 0.6, 0.8}, {3, 2}),
       [](const Tensor& value) { CHECK(extremes(norm(value, {1})).second <= 1.0 + 1e-12); }},
      {"max_norm 1 of columns (dim 1)", [](const auto& p) { return project_max_norm(p, 1.0, 1); },
       f64({3, 0.3, 4, 0.4}, {2, 2}), f64({0.6, 0.3, 0.8, 0.4}, {2, 2}),
       [](const Tensor& value) { CHECK(extremes(norm(value, {0})).second <= 1.0 + 1e-12); }},
      {"unit_norm of rows", [](const auto& p) { return project_unit_norm(p); },
       f64({3, 4, 0, 2}, {2, 2}), f64({0.6, 0.8, 0, 1}, {2, 2}),
       [](const Tensor& value) {
         CHECK(max_abs_diff(norm(value, {1}), ones({value.size(0)}, DType::f64)) < 1e-12);
       }},
      {"unit_norm of columns (dim 1)", [](const auto& p) { return project_unit_norm(p, 1); },
       f64({3, 0, 4, 2}, {2, 2}), f64({0.6, 0, 0.8, 1}, {2, 2}),
       [](const Tensor& value) {
         CHECK(max_abs_diff(norm(value, {0}), ones({value.size(1)}, DType::f64)) < 1e-12);
       }},
  };
}

}  // namespace

TEST_CASE("each projection maps a tensor to the value worked out by hand, in place",
          "[projection]") {
  for (const auto& c : projection_cases()) {
    INFO(c.name);
    const auto raw = make_parameter(c.input.clone());
    const Tensor leaf = raw->value();
    const auto projected = c.make(raw);
    CHECK(max_abs_diff(projected->value(), c.expected) < 1e-15);
    CHECK(projected->value().is_same(leaf));  // the raw parameter's leaf, projected in place
    CHECK(projected->trainables()[0].second.is_same(leaf));
  }
}

TEST_CASE("each projection holds after every SGD step on a Linear's weight", "[projection]") {
  for (const auto& c : projection_cases()) {
    INFO(c.name);
    manual_seed(81);
    nn::Linear linear(3, 4, true, DType::f64);
    optim::SGD sgd(linear.parameters(), {.lr = 1.0});  // built before the projection
    linear.weight = c.make(linear.weight);
    const Tensor x = randn({8, 3}, DType::f64), target = randn({8, 4}, DType::f64) * 5.0;
    for (int step = 0; step < 4; ++step) {
      const Tensor loss = nn::mse_loss(linear(x), target);
      sgd.zero_grad();
      loss.backward();
      sgd.step();
      c.check(linear.weight->value());
    }
  }
}

TEST_CASE("a step pushing values negative is followed by a non-negative value", "[projection]") {
  const auto parameter = project_non_negative(make_parameter(f64({0.1, 0.5}, {2})));
  const Tensor leaf = parameter->trainables()[0].second;
  optim::SGD sgd({leaf}, {.lr = 0.3});
  sum(parameter->value()).backward();
  sgd.step();                              // the leaf is now [-0.2, 0.2]
  CHECK(leaf.to_vector<double>()[0] < 0);  // the optimizer did not project
  CHECK(max_abs_diff(parameter->value(), f64({0, 0.2}, {2})) < 1e-15);
  CHECK(parameter->value().is_same(leaf));
  CHECK((leaf.is_leaf() && leaf.requires_grad()));
}

TEST_CASE("trainables() and state_dict return the projected tensor", "[projection]") {
  manual_seed(82);
  nn::Linear linear(2, 2, true, DType::f64);
  linear.weight = project_clamp(linear.weight, -0.1, 0.1);
  Tensor leaf = linear.weight->trainables()[0].second;
  const auto write_infeasible = [&leaf] {  // a write no value() call has seen yet
    NoGradGuard no_grad;
    leaf.copy_(f64({-3, 0.05, 3, 0}, {2, 2}));
  };
  write_infeasible();
  const Tensor trainable = linear.weight->trainables()[0].second;
  CHECK(trainable.is_same(leaf));
  CHECK(trainable.to_vector<double>() == std::vector<double>{-0.1, 0.05, 0.1, 0});
  write_infeasible();
  CHECK(linear.state_dict().at("weight").to_vector<double>() ==
        std::vector<double>{-0.1, 0.05, 0.1, 0});
}

TEST_CASE("project() makes a named projection from a function", "[projection]") {
  const auto parameter = project(make_parameter(f64({1, 2, 3, 4}, {2, 2})), "zero_diagonal",
                                 [](Tensor& t) { t.mul_(1.0 - eye(2, {}, DType::f64)); });
  CHECK(parameter->name() == "zero_diagonal");
  CHECK(parameter->value().to_vector<double>() == std::vector<double>{0, 2, 3, 0});
}

TEST_CASE("each project_* returns the ProjectedParameter it makes, named after its projection",
          "[projection]") {
  const auto weight = [] { return make_parameter(f64({3, -4}, {1, 2})); };
  CHECK(project_non_negative(weight())->name() == "non_negative");
  CHECK(project_clamp(weight(), -1, 1)->name() == "clamp");
  CHECK(project_max_norm(weight(), 1.0)->name() == "max_norm");
  CHECK(project_unit_norm(weight())->name() == "unit_norm");
}
