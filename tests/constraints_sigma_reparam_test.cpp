// sigmaReparam (Zhai et al., 2023): W -> gamma / sigma(W) * W with a learned
// scalar gamma and spectral norm's power-iteration sigma, applied to a layer
// in one line by sigma_reparameterize.
#include <catch2/catch.hpp>

#include <cmath>

#include "tensor_checks.h"
#include "tether/tether.h"

namespace tether {
namespace {

using Catch::Matchers::Contains;
using testing::max_abs_diff;

/// gamma and W of a sigma_reparam parameter.
Tensor gamma_of(const ComputedParameter& p) {
  return p.raw_inputs()[1];
}
Tensor weight_of(const ComputedParameter& p) {
  return p.raw_inputs()[0];
}

TEST_CASE(
    "sigma_reparameterize makes a layer's weight W / sigma(W) with gamma 1, keeping W's "
    "leaf",
    "[sigma_reparam]") {
  manual_seed(21);
  nn::Linear linear(5, 4, true, DType::f64);
  const Tensor leaf = linear.weight->trainables()[0].second;
  const auto weight = sigma_reparameterize(linear.weight);
  linear.weight = weight;
  CHECK(weight_of(*weight).is_same(leaf));
  CHECK(gamma_of(*weight).shape() == Shape{});
  CHECK(gamma_of(*weight).item<double>() == 1.0);
  const double sigma = largest_singular_value(leaf.detach());
  linear.eval();
  CHECK(max_abs_diff(weight->value(), leaf / sigma) < 1e-10);
  CHECK(largest_singular_value(weight->value().detach()) == Approx(1.0).epsilon(1e-10));
}

TEST_CASE(
    "sigma_reparam's gamma learns: gradients reach gamma and W, and a short fit moves "
    "gamma towards the target's scale",
    "[sigma_reparam]") {
  manual_seed(22);
  nn::Linear linear(4, 3, false, DType::f64);
  const auto weight = sigma_reparameterize(linear.weight);
  linear.weight = weight;
  // A target whose largest singular value is 3: only gamma can reach that scale.
  const Tensor target = linear.weight->value().detach() * 3.0;
  optim::Adam adam(linear.parameters(), {.lr = 0.05});
  for (int step = 0; step < 60; ++step) {
    const Tensor x = randn({16, 4}, DType::f64);
    const Tensor loss = nn::mse_loss(linear(x), matmul(x, target.mT()));
    adam.zero_grad();
    loss.backward();
    if (step == 0) {
      CHECK(gamma_of(*weight).grad().defined());
      CHECK(weight_of(*weight).grad().defined());
    }
    adam.step();
  }
  CHECK(gamma_of(*weight).item<double>() == Approx(3.0).epsilon(0.05));
}

TEST_CASE("sigma_reparam's sigma tracks the exact largest singular value as W moves",
          "[sigma_reparam]") {
  manual_seed(23);
  const auto weight = sigma_reparameterize(make_parameter(randn({4, 3}, DType::f64)));
  Tensor w = weight_of(*weight);
  for (int step = 0; step < 5; ++step) {
    {
      NoGradGuard no_grad;  // a small step, as an optimizer's
      w.add_(randn({4, 3}, DType::f64) * 0.01);
    }
    weight->value();  // the recompute runs one power iteration
  }
  const SpectralNormCheck check = check_spectral_norm(*weight);
  CHECK(check.exact == Approx(largest_singular_value(w.detach())).epsilon(1e-12));
  CHECK(std::abs(check.estimate - check.exact) < 1e-3);
}

TEST_CASE("a sigma_reparam layer's state dict round-trips: raw weight, gamma, u and v",
          "[sigma_reparam]") {
  manual_seed(24);
  nn::Linear source(4, 3, true, DType::f64), copy(4, 3, true, DType::f64);
  source.weight = sigma_reparameterize(source.weight);
  copy.weight = sigma_reparameterize(copy.weight);
  {
    NoGradGuard no_grad;
    source.weight->trainables()[1].second.fill_(2.5);
  }
  const StateDict state = source.state_dict();
  CHECK(state.count("weight.raw") == 1);
  CHECK(state.count("weight.gamma") == 1);
  CHECK(state.count("weight.u") == 1);
  CHECK(state.count("weight.v") == 1);
  copy.load_state_dict(state);
  source.eval();
  copy.eval();
  const Tensor x = randn({2, 4}, DType::f64);
  CHECK(max_abs_diff(copy.forward(x), source.forward(x)) == 0);
  CHECK(copy.weight->trainables()[1].second.item<double>() == 2.5);
}

TEST_CASE("sigma_reparam keeps an assigned weight: gamma becomes its largest singular value",
          "[sigma_reparam]") {
  manual_seed(25);
  const Tensor w = randn({3, 5}, DType::f64);
  const auto parameter = constrain(make_parameter(w.clone()), constraints::sigma_reparam(w));
  parameter->train(false);
  CHECK(max_abs_diff(parameter->value(), w) < 1e-12);
  CHECK(gamma_of(*parameter).item<double>() == Approx(largest_singular_value(w)).epsilon(1e-12));
}

TEST_CASE("sigma_reparameterize refuses a computed parameter, naming itself", "[sigma_reparam]") {
  const auto positive =
      constrain(make_parameter(randn({2, 2}, DType::f64)), constraints::positive());
  CHECK_THROWS_WITH(sigma_reparameterize(positive),
                    Contains("sigma_reparameterize: expected a raw parameter"));
}

}  // namespace
}  // namespace tether
