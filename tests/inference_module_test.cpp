// tether::inference on a module: module_log_density against log likelihood +
// log_prior worked on the module itself, hmc and advi on conjugate models
// whose posteriors are known, draws coming back as constrained values, and
// the module left as it was.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "tensor_checks.h"
#include "tether/tether.h"

namespace tether::inference {
namespace {

using distributions::prior;
using testing::max_abs_diff;

Tensor f64(double x) {
  return scalar_tensor(x, DType::f64);
}

/// Poisson counts with a rate = exp(raw) under a Gamma(3, 2) prior: the
/// posterior of the rate is Gamma(3 + sum k, 2 + n).
struct PoissonRate : nn::Module {
  std::shared_ptr<Parameter> rate;
  Tensor counts = tensor({2.0, 4.0, 3.0, 1.0, 5.0}, DType::f64);
  static constexpr double kShape = 3.0 + 15.0, kRate = 2.0 + 5.0;

  PoissonRate() {
    register_parameter("rate", rate, f64(0.0));
    rate = constrain(rate, constraints::positive(constraints::PositiveMap::exp));
    rate->set_prior(prior(distributions::Gamma(f64(3.0), f64(2.0))));
  }
  Tensor log_likelihood() { return distributions::Poisson(rate->value()).log_prob(counts).sum(); }
};

/// y_i ~ Normal(loc, 1) with loc ~ Normal(0, 2) and a second, unconstrained
/// slot `shift` ~ Normal(1, 0.5) that the data do not see: the posterior is
/// Gaussian and factorises, so mean-field ADVI is exact for it.
struct NormalMean : nn::Module {
  std::shared_ptr<Parameter> loc, shift;
  Tensor y = tensor({1.5, 0.5, 2.0, 1.0}, DType::f64);

  NormalMean() {
    register_parameter("loc", loc, f64(0.0));
    register_parameter("shift", shift, zeros({2}, DType::f64));
    loc->set_prior(prior(distributions::Normal(f64(0.0), f64(2.0))));
    shift->set_prior(prior(distributions::Normal(f64(1.0), f64(0.5))));
  }
  Tensor log_likelihood() { return distributions::Normal(loc->value(), 1.0).log_prob(y).sum(); }
  /// The conjugate posterior of loc: precision 1/4 + 4, mean sum(y) / precision.
  static constexpr double kPrecision = 0.25 + 4.0, kMean = 5.0 / kPrecision;
};

TEST_CASE(
    "module_log_density is log likelihood plus log_prior with Jacobians, in value and "
    "gradient",
    "[inference]") {
  PoissonRate model;
  const LogDensity density = module_log_density(model, [&] { return model.log_likelihood(); });
  const Tensor raw = f64(0.7).requires_grad_();
  const Tensor value = density({raw});
  const Tensor gradient = autograd::grad({value}, {raw})[0];

  // By hand on the module, at the same point: the rate's Jacobian is d exp / d raw.
  const Tensor expected_value = model.log_likelihood() + model.log_prior(true);
  const Tensor expected_gradient = autograd::grad({expected_value}, model.parameters())[0];
  const double rate = std::exp(0.7);
  const double by_hand =
      (15.0 * std::log(rate) - 5.0 * rate - std::lgamma(3.0) - std::lgamma(5.0) - std::lgamma(4.0) -
       std::lgamma(2.0) - std::lgamma(6.0)) +
      (3.0 * std::log(2.0) - std::lgamma(3.0) + 2.0 * std::log(rate) - 2.0 * rate) + 0.7;
  CHECK(value.item<double>() == Approx(by_hand).epsilon(1e-12));
  CHECK(expected_value.item<double>() == Approx(by_hand).epsilon(1e-12));
  CHECK(gradient.item<double>() == Approx(expected_gradient.item<double>()).epsilon(1e-12));
  // d/d raw of 18 raw - 7 exp(raw): the posterior Gamma(18, 7) in log space.
  CHECK(gradient.item<double>() == Approx(18.0 - 7.0 * rate).epsilon(1e-12));
}

TEST_CASE("hmc on a module samples a positive rate's posterior and returns its values",
          "[inference]") {
  manual_seed(21);
  PoissonRate model;
  const ModuleHmcResult fit =
      hmc(model, [&] { return model.log_likelihood(); },
          {.num_warmup = 150, .num_draws = 250, .num_chains = 2, .init_jitter = 1.0});
  const Tensor& rate = fit.values.at("rate");
  REQUIRE(rate.shape() == Shape{500});
  // The values are the constrained rate: exp of the raw draws.
  CHECK(max_abs_diff(rate, fit.draws[0].exp()) < 1e-12);
  const double mean = rate.mean().item<double>(), sd = std::sqrt(rate.var().item<double>());
  const double ess = fit.ess[0].item<double>();
  INFO("mean " << mean << ", sd " << sd << ", ess " << ess);
  CHECK(ess > 100.0);
  CHECK(std::abs(mean - PoissonRate::kShape / PoissonRate::kRate) < 4.0 * sd / std::sqrt(ess));
  CHECK(sd == Approx(std::sqrt(PoissonRate::kShape) / PoissonRate::kRate).epsilon(0.2));
  CHECK(fit.rhat[0].item<double>() == Approx(1.0).margin(0.05));
  // The module is left at its initial point.
  CHECK(model.parameters()[0].item<double>() == 0.0);
  CHECK(model.rate->value().item<double>() == 1.0);
}

TEST_CASE("advi on a module recovers a factorising Gaussian posterior, values per slot",
          "[inference]") {
  manual_seed(22);
  NormalMean model;
  const ModuleAdviResult fit = advi(model, [&] { return model.log_likelihood(); },
                                    {.num_steps = 600, .num_samples = 4, .num_draws = 2000});
  CHECK(fit.means[0].item<double>() == Approx(NormalMean::kMean).margin(0.05));
  CHECK(fit.sds[0].item<double>() == Approx(1.0 / std::sqrt(NormalMean::kPrecision)).epsilon(0.1));
  CHECK(max_abs_diff(fit.means[1], full({2}, 1.0, DType::f64)) < 0.08);
  REQUIRE(fit.values.size() == 2);
  const Tensor& loc = fit.values.at("loc");
  const Tensor& shift = fit.values.at("shift");
  CHECK(loc.shape() == Shape{2000});
  CHECK(shift.shape() == Shape{2000, 2});
  CHECK(loc.mean().item<double>() == Approx(NormalMean::kMean).margin(0.05));
  CHECK(std::sqrt(shift.var({0}).to_vector<double>()[1]) == Approx(0.5).epsilon(0.1));
  CHECK(model.loc->value().item<double>() == 0.0);
}

TEST_CASE("module_values gives each slot's value per draw and restores the trainables",
          "[inference]") {
  PoissonRate model;
  const Tensor draws = tensor({-1.0, 0.0, 2.0}, DType::f64);
  const auto values = module_values(model, {draws});
  CHECK(max_abs_diff(values.at("rate"), draws.exp()) < 1e-15);
  CHECK(model.rate->value().item<double>() == 1.0);
}

TEST_CASE("module_values with draws that do not match the trainables throws naming it",
          "[inference]") {
  PoissonRate model;
  CHECK_THROWS_WITH(module_values(model, {}),
                    Catch::Contains("module_values: the module has 1 trainable tensors, got "
                                    "draws of 0"));
  CHECK_THROWS_WITH(module_values(model, {zeros({3, 2}, DType::f64)}),
                    Catch::Contains("module_values: trainable 0 has shape [], got [2]"));
}

TEST_CASE("module_log_density with an empty log likelihood throws naming it", "[inference]") {
  PoissonRate model;
  CHECK_THROWS_WITH(module_log_density(model, {}),
                    Catch::Contains("module_log_density: log_likelihood is empty"));
}

}  // namespace
}  // namespace tether::inference
