// Constraining a parameter that is already constrained stacks the new
// constraint on the same raw leaves (issue 10, defect 4), and errors raised
// inside a constraint name it (defect 10).
#include <tether/tether.h>
#include <catch2/catch.hpp>
#include "tensor_checks.h"

using namespace tether;
using namespace tether::testing;

namespace {

ComputedParameter& computed(const std::shared_ptr<Parameter>& slot) {
  return dynamic_cast<ComputedParameter&>(*slot);
}

}  // namespace

TEST_CASE(
    "a second constrain stacks on the same raw leaves, applies on top of the old value, and an "
    "optimizer built before it trains the stacked weight",
    "[constraints][stack]") {
  manual_seed(201);
  nn::Linear l(4, 4, true, DType::f64);
  l.weight = spectrally_normalize(l.weight);
  optim::SGD sgd(l.parameters(), {.lr = 0.1});
  const Tensor leaf = computed(l.weight).raw_inputs()[0];
  const Tensor normalised = l.weight->value().detach().clone();
  l.weight = constrain(l.weight, constraints::symmetric());
  CHECK(computed(l.weight).constraint().name() == "spectral_norm+symmetric");
  REQUIRE(computed(l.weight).raw_inputs()[0].is_same(leaf));
  CHECK(l.parameters()[0].is_same(sgd.parameters()[0]));
  // Not symmetric, the old value is not kept: symmetric() applies on top of it
  // (after one more power iteration, which moves sigma's estimate slightly).
  CHECK(max_abs_diff(l.weight->value(), (normalised + normalised.t()) * 0.5) < 1e-6);
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : l.state_dict()) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"bias", "weight.0.u", "weight.0.v", "weight.raw"});

  const Tensor before = l.weight->value().detach().clone();
  const Tensor x = randn({8, 4}, DType::f64), target = randn({8, 4}, DType::f64);
  const double first_loss = nn::mse_loss(l(x), target).item<double>();
  for (int step = 0; step < 20; ++step) {
    sgd.zero_grad();
    nn::mse_loss(l(x), target).backward();
    sgd.step();
  }
  const Tensor after = l.weight->value();
  CHECK(max_abs_diff(after, before) > 1e-3);
  CHECK(nn::mse_loss(l(x), target).item<double>() < first_loss);
  // Both constraints hold: symmetric, and the symmetric part of a matrix of
  // largest singular value 1 has largest singular value at most 1.
  CHECK(max_abs_diff(after, after.t()) == 0.0);
  CHECK(largest_singular_value(after) <= 1 + 1e-9);
}

TEST_CASE("a stacked constraint keeps a value both can hold, writing the old leaves in place",
          "[constraints][stack]") {
  const Tensor value = tensor({2, 1, 1, 3}, {2, 2}, DType::f64);  // symmetric and positive
  const auto positive = constrain(make_parameter(value.clone()), constraints::positive());
  const Tensor leaf = positive->raw_inputs()[0];
  const auto stacked = constrain(positive, constraints::symmetric());
  CHECK(stacked->raw_inputs()[0].is_same(leaf));
  CHECK(max_abs_diff(stacked->value(), value) < 1e-12);
}

TEST_CASE(
    "a freshly stacked layer holds every buffer of its chain before its first value, so it "
    "loads a trained twin's state strictly",
    "[constraints][stack]") {
  const auto stack_on = [](nn::Linear& linear) {
    linear.weight = constrain(spectrally_normalize(linear.weight), constraints::orthogonal());
  };
  nn::Linear trained(3, 3), fresh(3, 3);
  stack_on(trained);
  stack_on(fresh);
  const auto& sn = computed(fresh.weight).constraint().buffers();
  const Tensor u = sn.front().second.clone();
  trained.weight->value();
  CHECK(fresh.state_dict().size() == trained.state_dict().size());
  CHECK(max_abs_diff(sn.front().second, u) == 0);  // preparing ran no power iteration
  fresh.load_state_dict(trained.state_dict());
  CHECK(max_abs_diff(fresh.weight->value(), trained.weight->value()) < 1e-6);
}

TEST_CASE(
    "an error raised inside a constraint's forward names the constraint and the raw input "
    "shapes, and keeps the original message",
    "[constraints][errors]") {
  const auto bad =
      make_constraint("plus_transpose", [](const Tensor& raw) { return raw + raw.t(); });
  ComputedParameter parameter(bad, {randn({3, 2})});
  CHECK_THROWS_AS(parameter.value(), ShapeError);
  CHECK_THROWS_WITH(parameter.value(),
                    Catch::StartsWith("plus_transpose (forward of raw [3, 2]): "));
  CHECK_THROWS_WITH(parameter.value(), Catch::Contains("add"));

  nn::Linear linear(3, 2);
  CHECK_THROWS_WITH(constrain(linear.weight, constraints::symmetric()),
                    Catch::StartsWith("symmetric (right_inverse and forward of a value [2, 3]): "
                                      "symmetric: expected a square matrix"));
}
