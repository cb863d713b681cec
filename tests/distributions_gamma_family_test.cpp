// Gamma, InverseGamma, Beta, Dirichlet, StudentT and Poisson beyond the torch
// reference (distributions_reference_test.cpp): gradchecks of log_prob, sample
// moments (Marsaglia-Tsang gamma draws, both Poisson samplers), shapes,
// validation errors, supports and rsample's implicit gradients.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <vector>

#include "distributions_testing.h"
#include "tether/tether.h"

namespace tether::distributions {
namespace {

using namespace testing;

TEST_CASE("gamma-family log_prob passes gradcheck in the value and every parameter",
          "[distributions]") {
  const Tensor a = f64({1.5, 0.3, 2.5}), b = f64({0.7, 2.0, 3.0});
  const Tensor positive = f64({0.1, 0.7, 3.5}), unit = f64({0.1, 0.7, 0.35});
  gradcheck_log_prob("Gamma", two<Gamma>(), {a, b}, positive);
  gradcheck_log_prob("InverseGamma", two<InverseGamma>(), {a, b}, positive);
  gradcheck_log_prob("Beta", two<Beta>(), {a, b}, unit);
  gradcheck_log_prob("StudentT", three<StudentT>(), {f64({0.8, 1.5, 4.0}), b, a},
                     f64({0.1, -0.7, 3.5}));
  // gradcheck steps the value off the simplex and off the integers: the
  // formulas, unvalidated, are smooth there.
  gradcheck_log_prob(
      "Dirichlet",
      [](const std::vector<Tensor>& p) { return std::make_unique<Dirichlet>(p[0], false); },
      {tensor({1.5, 0.3, 2.0, 0.8, 4.0, 1.0}, {2, 3}, DType::f64)},
      tensor({0.2, 0.3, 0.5, 0.6, 0.1, 0.3}, {2, 3}, DType::f64));
  gradcheck_log_prob(
      "Poisson",
      [](const std::vector<Tensor>& p) { return std::make_unique<Poisson>(p[0], false); }, {b},
      f64({0.0, 1.0, 3.0}));
}

TEST_CASE("20,000 gamma-family samples have the mean and variance within 5 standard errors",
          "[distributions]") {
  manual_seed(11);
  check_sample_moments("Gamma, concentration >= 1", Gamma(3.0, 1.5));
  check_sample_moments("Gamma, concentration < 1 (boosted)", Gamma(0.4, 2.0));
  check_sample_moments("InverseGamma", InverseGamma(9.0, 2.0));
  check_sample_moments("Beta", Beta(2.0, 3.0));
  check_sample_moments("Beta, U-shaped", Beta(0.5, 0.5));
  check_sample_moments("StudentT", StudentT(12.0, 1.0, 2.0));
  check_sample_moments("Poisson by inversion", Poisson(3.0));
  check_sample_moments("Poisson by PTRS", Poisson(40.0));
  check_sample_moments("Poisson by PTRS, large rate", Poisson(2000.0));
  const Dirichlet dirichlet(f64({1.5, 0.3, 2.0}));
  const Tensor draws = dirichlet.sample({20000}), mean = dirichlet.mean(),
               var = dirichlet.variance();
  for (std::int64_t k = 0; k < 3; ++k)
    check_moments("Dirichlet component", draws.select(1, k), mean.select(0, k).item<double>(),
                  var.select(0, k).item<double>());
  CHECK(abs(draws.sum({-1}) - 1.0).amax().item<double>() < 1e-12);
  // Counts are whole numbers.
  const Tensor counts = Poisson(5.5).sample({100});
  CHECK(eq(counts, counts.to(DType::i64).to(counts.dtype())).to(DType::f64).amin().item<double>() ==
        1.0);
}

TEST_CASE("gamma draws of tiny concentration are positive and their log_prob finite in f32",
          "[distributions]") {
  manual_seed(5);
  const Gamma gamma(scalar_tensor(0.01), scalar_tensor(1.0));
  const Tensor draws = gamma.sample({1000});
  CHECK(draws.dtype() == DType::f32);
  CHECK(draws.amin().item<float>() > 0.0f);
  const Tensor lp = gamma.log_prob(draws);
  CHECK(eq(lp, lp).to(DType::f64).amin().item<double>() == 1.0);
  CHECK(lp.amax().item<float>() < INFINITY);
}

TEST_CASE("gamma-family parameters broadcast; Dirichlet's event is its last dim",
          "[distributions]") {
  const Beta beta(ones({3, 1}), ones({4}));
  CHECK(beta.batch_shape() == Shape{3, 4});
  CHECK(beta.sample({2}).shape() == Shape{2, 3, 4});
  CHECK(beta.log_prob(full({4}, 0.5)).shape() == Shape{3, 4});
  CHECK(StudentT(ones({2}), zeros({3, 1})).rsample({5}).shape() == Shape{5, 3, 2});
  CHECK(Poisson(ones({2, 2})).sample().shape() == Shape{2, 2});
  const Dirichlet dirichlet(ones({2, 3}));
  CHECK(dirichlet.batch_shape() == Shape{2});
  CHECK(dirichlet.event_shape() == Shape{3});
  CHECK(dirichlet.sample({4}).shape() == Shape{4, 2, 3});
  CHECK(dirichlet.log_prob(full({5, 2, 3}, 1.0 / 3)).shape() == Shape{5, 2});
  CHECK(dirichlet.entropy().shape() == Shape{2});
  CHECK(dirichlet.variance().shape() == Shape{2, 3});
  CHECK_THROWS_AS(Dirichlet(scalar_tensor(1.0)), ShapeError);
}

TEST_CASE("invalid gamma-family parameters are a ValueError naming the distribution and argument",
          "[distributions]") {
  require_value_error(
      [] {
        Gamma(tensor({1.0, -1.0}), 1.0);
      },
      {"Gamma", "concentration", "> 0", "-1"});
  require_value_error([] { Gamma(1.0, 0.0); }, {"Gamma", "rate"});
  require_value_error([] { InverseGamma(NAN, 1.0); }, {"InverseGamma", "concentration"});
  require_value_error([] { Beta(1.0, -2.0); }, {"Beta", "concentration0"});
  require_value_error([] { Beta(0.0, 2.0); }, {"Beta", "concentration1"});
  require_value_error([] { Dirichlet(tensor({1.0, 0.0})); }, {"Dirichlet", "concentration"});
  require_value_error([] { StudentT(-1.0); }, {"StudentT", "df"});
  require_value_error([] { StudentT(1.0, NAN); }, {"StudentT", "loc"});
  require_value_error([] { StudentT(1.0, 0.0, 0.0); }, {"StudentT", "scale"});
  require_value_error([] { Poisson(-0.5); }, {"Poisson", "rate", ">= 0"});
  CHECK_NOTHROW(Poisson(0.0));
}

TEST_CASE("a value outside a gamma-family support is a ValueError from log_prob naming it",
          "[distributions]") {
  require_value_error([] { Gamma(1.0, 1.0).log_prob(scalar_tensor(-0.5)); },
                      {"Gamma.log_prob", "values >= 0", "-0.5"});
  require_value_error([] { InverseGamma(1.0, 1.0).log_prob(scalar_tensor(0.0)); },
                      {"InverseGamma.log_prob", "values > 0"});
  require_value_error([] { Beta(1.0, 1.0).log_prob(scalar_tensor(1.5)); },
                      {"Beta.log_prob", "[0, 1]"});
  require_value_error(
      [] {
        Dirichlet(ones({3})).log_prob(tensor({0.5, 0.5, 0.5}));
      },
      {"Dirichlet.log_prob", "simplex"});
  require_value_error([] { Poisson(1.0).log_prob(scalar_tensor(1.5)); },
                      {"Poisson.log_prob", "counts"});
  require_value_error([] { StudentT(1.0).log_prob(scalar_tensor(NAN)); }, {"StudentT.log_prob"});
  CHECK(std::isinf(Gamma(2.0, 1.0, false).log_prob(scalar_tensor(0.0)).item<float>()));
}

TEST_CASE("gamma-family supports are bijections; Dirichlet's is the stick-breaking simplex",
          "[distributions]") {
  for (const auto& support : {Gamma(1.0, 1.0).support(), InverseGamma(1.0, 1.0).support()}) {
    REQUIRE(support);
    CHECK(support->name() == "positive");
    CHECK(support->is_bijection());
  }
  REQUIRE(Beta(1.0, 1.0).support());
  CHECK(Beta(1.0, 1.0).support()->name() == "bounded");
  const auto simplex = Dirichlet(ones({3})).support();
  REQUIRE(simplex);
  CHECK(simplex->is_bijection());
  CHECK(simplex->event_dim() == 1);
  CHECK(StudentT(3.0).support() == nullptr);
  CHECK(Poisson(1.0).support() == nullptr);
}

/// 20,000 per-draw gradients d x / d parameter (parameter a [20000] tensor,
/// draws one per element) have mean `expected` within 5 standard errors.
void check_mean_gradient(const char* what, const Tensor& parameter, const Tensor& draws,
                         double expected) {
  INFO(what);
  const Tensor g = autograd::grad({draws.sum()}, {parameter})[0];
  const double standard_error = std::sqrt(g.var().item<double>() / static_cast<double>(g.numel()));
  CHECK(std::abs(g.mean().item<double>() - expected) <= 5 * standard_error);
}

TEST_CASE("gamma draws carry the implicit gradient: d E[x] / d parameter from 20,000 rsamples",
          "[distributions]") {
  manual_seed(17);
  const auto leaf = [](double value) { return full({20000}, value, DType::f64).requires_grad_(); };
  for (double a : {0.4, 3.0, 50.0}) {
    INFO("concentration " << a);
    Tensor concentration = leaf(a), rate = leaf(2.0);
    // E[x] = a / rate: d/da = 1 / rate, d/d rate = -a / rate^2.
    check_mean_gradient("Gamma, d/d concentration", concentration,
                        Gamma(concentration, 2.0).rsample(), 0.5);
    check_mean_gradient("Gamma, d/d rate", rate, Gamma(a, rate).rsample(), -a / 4.0);
  }
  // InverseGamma: E[x] = rate / (a - 1), d/da = -rate / (a - 1)^2.
  Tensor a = leaf(6.0);
  check_mean_gradient("InverseGamma", a, InverseGamma(a, 2.0).rsample(), -2.0 / 25.0);
  // Beta: E[x] = a / (a + b), d/da = b / (a + b)^2.
  Tensor a1 = leaf(2.0);
  check_mean_gradient("Beta", a1, Beta(a1, 3.0).rsample(), 3.0 / 25.0);
  // StudentT: E|x| depends on df; its derivative against a central difference
  // of the closed form E|t| = 2 sqrt(df) Gamma((df+1)/2) / (sqrt(pi) (df-1) Gamma(df/2)).
  const auto abs_mean = [](double df) {
    return 2 * std::sqrt(df) * std::exp(std::lgamma((df + 1) / 2) - std::lgamma(df / 2)) /
           (std::sqrt(M_PI) * (df - 1));
  };
  Tensor df = leaf(6.0);
  check_mean_gradient("StudentT, d E|x| / d df", df, abs(StudentT(df).rsample()),
                      (abs_mean(6.0 + 1e-5) - abs_mean(6.0 - 1e-5)) / 2e-5);
}

TEST_CASE("rsample is pathwise in every parameter but Poisson's, which is discrete",
          "[distributions]") {
  for (const auto& d : std::vector<std::shared_ptr<Distribution>>{
           std::make_shared<Gamma>(1.0, 1.0), std::make_shared<InverseGamma>(1.0, 1.0),
           std::make_shared<Beta>(1.0, 1.0), std::make_shared<Dirichlet>(ones({2})),
           std::make_shared<StudentT>(3.0)}) {
    INFO(d->name());
    CHECK(d->has_rsample());
  }
  CHECK_FALSE(Poisson(1.0).has_rsample());
  require_value_error([] { Poisson(1.0).rsample(); }, {"Poisson", "rsample"});
  manual_seed(2);
  Tensor loc = scalar_tensor(0.5, DType::f64).requires_grad_();
  Tensor scale = scalar_tensor(2.0, DType::f64).requires_grad_();
  const Tensor draws = StudentT(5.0, loc, scale).rsample({100});
  const auto grads = autograd::grad({draws.mean()}, {loc, scale});
  CHECK(grads[0].item<double>() == Approx(1.0).epsilon(1e-12));
  // d mean(loc + scale t) / d scale = mean(t).
  CHECK(grads[1].item<double>() ==
        Approx((draws.detach().mean().item<double>() - 0.5) / 2.0).epsilon(1e-10));
  Tensor concentration = ones({3}, DType::f64).requires_grad_();
  const Tensor simplex = Dirichlet(concentration).rsample({4});
  CHECK(simplex.requires_grad());
  CHECK_FALSE(Dirichlet(concentration).sample({4}).requires_grad());
  // The values sum to 1, so the gradient of their sum is 0.
  CHECK(autograd::grad({simplex.sum()}, {concentration})[0].abs().amax().item<double>() < 1e-12);
}

}  // namespace
}  // namespace tether::distributions
