// tether::distributions beyond the torch reference (distributions_reference_test.cpp):
// gradchecks of log_prob, pathwise rsample gradients, sample moments, shape
// broadcasting, validation errors, supports, and f32.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "distributions_testing.h"
#include "tether/tether.h"

namespace tether::distributions {
namespace {

using namespace testing;

TEST_CASE("log_prob passes gradcheck in the value and every parameter", "[distributions]") {
  const Tensor loc = f64({0.5, -1.0, 2.0}), scale = f64({1.5, 0.3, 2.0});
  const Tensor x = f64({0.1, -0.7, 3.5}), positive = f64({0.1, 0.7, 3.5});
  gradcheck_log_prob("Normal", two<Normal>(), {loc, scale}, x);
  gradcheck_log_prob("LogNormal", two<LogNormal>(), {loc, scale}, positive);
  gradcheck_log_prob("Cauchy", two<Cauchy>(), {loc, scale}, x);
  gradcheck_log_prob("Laplace", two<Laplace>(), {loc, scale}, x);
  gradcheck_log_prob("HalfNormal", one<HalfNormal>(), {scale}, positive);
  gradcheck_log_prob("HalfCauchy", one<HalfCauchy>(), {scale}, positive);
  gradcheck_log_prob("Exponential", one<Exponential>(), {scale}, positive);
  gradcheck_log_prob("Uniform", two<Uniform>(), {f64({-1.0, 0.0, 0.5}), f64({1.0, 4.0, 3.75})},
                     f64({0.1, 0.7, 3.5}));
  // gradcheck steps a Bernoulli value off {0, 1}: the formula, unvalidated, is x l - softplus(l).
  gradcheck_log_prob(
      "Bernoulli logits",
      [](const std::vector<Tensor>& p) { return std::make_unique<Bernoulli>(Logits{p[0]}, false); },
      {f64({-2.0, 0.3, 4.0})}, f64({1.0, 0.0, 1.0}));
  gradcheck_log_prob(
      "Bernoulli probs",
      [](const std::vector<Tensor>& p) { return std::make_unique<Bernoulli>(Probs{p[0]}, false); },
      {f64({0.2, 0.5, 0.9})}, f64({1.0, 0.0, 1.0}));
  // The factor's upper triangle is not read; tril keeps gradcheck's steps there feasible.
  gradcheck_log_prob(
      "MultivariateNormal",
      [](const std::vector<Tensor>& p) {
        return std::make_unique<MultivariateNormal>(p[0], ScaleTril{tril(p[1])});
      },
      {loc, tensor({1.5, 0.0, 0.0, 0.3, 0.8, 0.0, -0.4, 0.2, 1.1}, {3, 3}, DType::f64)}, x);
}

TEST_CASE("Categorical's log_prob passes gradcheck in logits and in probs", "[distributions]") {
  const Tensor index = tensor({2, 0, 1}, DType::i64);
  for (bool from_logits : {true, false}) {
    const Tensor p = tensor({0.2, 0.3, 0.5, 0.6, 0.1, 0.3, 0.25, 0.25, 0.5}, {3, 3}, DType::f64)
                         .requires_grad_();
    CHECK(gradcheck(
        [&](const std::vector<Tensor>& x) {
          return from_logits ? Categorical(Logits{x[0]}).log_prob(index)
                             : Categorical(Probs{x[0]}).log_prob(index);
        },
        {p}));
  }
}

TEST_CASE("rsample is pathwise: d mean(rsample) / d loc is 1", "[distributions]") {
  manual_seed(1);
  const auto check = [](const char* what, const Tensor& loc, const Tensor& draws) {
    INFO(what);
    const Tensor g = autograd::grad({draws.mean()}, {loc})[0];
    CHECK(g.sum().item<double>() == Approx(1.0).epsilon(1e-12));
  };
  for (int family = 0; family < 3; ++family) {
    Tensor loc = scalar_tensor(0.5, DType::f64).requires_grad_();
    const Tensor scale = scalar_tensor(2.0, DType::f64);
    const Tensor draws = family == 0   ? Normal(loc, scale).rsample({100})
                         : family == 1 ? Laplace(loc, scale).rsample({100})
                                       : Cauchy(loc, scale).rsample({100});
    check("location-scale family", loc, draws);
  }
  Tensor low = scalar_tensor(-1.0, DType::f64).requires_grad_();
  const Tensor u = Uniform(low, 3.0).rsample({100});
  const Tensor g_low = autograd::grad({u.mean()}, {low})[0];
  // low + u (high - low): d/d low is 1 - mean(u01), and u01 = (u - low) / (high - low).
  const double mean01 = (u.detach().mean().item<double>() + 1.0) / 4.0;
  CHECK(g_low.item<double>() == Approx(1.0 - mean01).epsilon(1e-10));
  Tensor mvn_loc = f64({0.5, -1.0}).requires_grad_();
  const Tensor l = tensor({1.0, 0.0, 0.5, 2.0}, {2, 2}, DType::f64);
  const Tensor draws = MultivariateNormal(mvn_loc, ScaleTril{l}).rsample({50});
  const Tensor g = autograd::grad({draws.mean({0}).sum()}, {mvn_loc})[0];
  for (double component : g.to_vector<double>()) CHECK(component == Approx(1.0).epsilon(1e-12));
  // d mean(rsample) / d rate = -mean(rsample) / rate for rate * X = Exponential(1).
  Tensor rate = scalar_tensor(2.0, DType::f64).requires_grad_();
  const Tensor e = Exponential(rate).rsample({100});
  CHECK(autograd::grad({e.mean()}, {rate})[0].item<double>() ==
        Approx(-e.detach().mean().item<double>() / 2.0).epsilon(1e-12));
}

TEST_CASE("20,000 samples have the distribution's mean and variance within 5 standard errors",
          "[distributions]") {
  manual_seed(7);
  const Shape n{20000};
  check_sample_moments("Normal", Normal(1.0, 2.0));
  check_sample_moments("LogNormal", LogNormal(0.2, 0.5));
  check_sample_moments("HalfNormal", HalfNormal(1.5));
  check_sample_moments("Laplace", Laplace(-1.0, 0.5));
  check_sample_moments("Exponential", Exponential(3.0));
  check_sample_moments("Uniform", Uniform(-1.0, 3.0));
  check_sample_moments("Bernoulli", Bernoulli(Probs{0.3}));
  const MultivariateNormal mvn(f64({0.5, -1.0}),
                               ScaleTril{tensor({1.0, 0.0, 0.5, 2.0}, {2, 2}, DType::f64)});
  const Tensor draws = mvn.sample(n);
  check_moments("MultivariateNormal x0", draws.select(1, 0), 0.5, 1.0);
  check_moments("MultivariateNormal x1", draws.select(1, 1), -1.0, 4.25);
  // Cauchy and HalfCauchy have no moments: half the draws lie below the median.
  const auto median = [&](const char* what, const Tensor& below) {
    check_moments(what, below, 0.5, 0.25);
  };
  median("Cauchy", Cauchy(2.0, 3.0).sample(n) <= 2.0);
  median("HalfCauchy", HalfCauchy(3.0).sample(n) <= 3.0);
  // Categorical: each category's indicator has mean p and variance p (1 - p).
  const Tensor c = Categorical(Probs{tensor({0.2, 0.5, 0.3})}).sample(n);
  for (double k : {0.0, 1.0, 2.0}) {
    const double p = k == 0 ? 0.2 : (k == 1 ? 0.5 : 0.3);
    check_moments("Categorical", eq(c, full_like(c, k)), p, p * (1 - p));
  }
}

TEST_CASE("parameters broadcast to batch_shape and samples are sample + batch + event shape",
          "[distributions]") {
  const Normal normal(zeros({3, 1}), ones({4}));
  CHECK(normal.batch_shape() == Shape{3, 4});
  CHECK(normal.event_shape() == Shape{});
  CHECK(normal.sample({5, 2}).shape() == Shape{5, 2, 3, 4});
  CHECK(normal.rsample().shape() == Shape{3, 4});
  CHECK(normal.log_prob(zeros({4})).shape() == Shape{3, 4});
  CHECK(normal.log_prob(zeros({2, 3, 4})).shape() == Shape{2, 3, 4});
  CHECK(normal.mean().shape() == Shape{3, 4});
  CHECK_THROWS_AS(normal.log_prob(zeros({5})), ShapeError);
  CHECK_THROWS_AS(Normal(zeros({2}), ones({3})), ShapeError);
  // Numbers take the tensors' dtype, or the default float dtype alone.
  CHECK(Normal(0.0, 1.0).sample().dtype() == DType::f32);
  CHECK(Normal(0.0, ones({2}, DType::f64)).loc().dtype() == DType::f64);
  const MultivariateNormal mvn(zeros({2, 3}), ScaleTril{eye(3)});
  CHECK(mvn.batch_shape() == Shape{2});
  CHECK(mvn.event_shape() == Shape{3});
  CHECK(mvn.sample({5}).shape() == Shape{5, 2, 3});
  CHECK(mvn.log_prob(zeros({5, 2, 3})).shape() == Shape{5, 2});
  CHECK(mvn.variance().shape() == Shape{2, 3});
  CHECK(mvn.entropy().shape() == Shape{2});
  CHECK_THROWS_AS(MultivariateNormal(zeros({2}), ScaleTril{eye(3)}), ShapeError);
  const Categorical categorical(Probs{full({2, 3}, 1.0)});
  CHECK(categorical.batch_shape() == Shape{2});
  CHECK(categorical.sample({4}).shape() == Shape{4, 2});
  CHECK(categorical.sample().dtype() == DType::i64);
  CHECK(categorical.log_prob(tensor({0, 2}, DType::i64)).shape() == Shape{2});
  CHECK(Bernoulli(Logits{zeros({2, 2})}).sample({3}).shape() == Shape{3, 2, 2});
}

TEST_CASE("invalid parameters are a ValueError naming the distribution and the argument",
          "[distributions]") {
  require_value_error([] { Normal(0.0, tensor({1.0, -1.0})); }, {"Normal", "scale", "> 0", "-1"});
  require_value_error([] { Normal(NAN, 1.0); }, {"Normal", "loc", "nan"});
  require_value_error([] { HalfNormal(0.0); }, {"HalfNormal", "scale"});
  require_value_error([] { LogNormal(0.0, NAN); }, {"LogNormal", "scale"});
  require_value_error([] { Exponential(-2.0); }, {"Exponential", "rate"});
  require_value_error([] { Uniform(1.0, 1.0); }, {"Uniform", "high", "> low"});
  require_value_error([] { Bernoulli(Probs{1.5}); }, {"Bernoulli", "probs", "[0, 1]"});
  require_value_error([] { Bernoulli(Logits{NAN}); }, {"Bernoulli", "logits"});
  require_value_error([] { Categorical(Probs{tensor({0.5, -0.1})}); }, {"Categorical", "probs"});
  require_value_error(
      [] {
        MultivariateNormal(zeros({2}), ScaleTril{ones({2, 2})});
      },
      {"MultivariateNormal", "scale_tril", "lower triangular"});
  require_value_error([] { MultivariateNormal(zeros({2}), ScaleTril{-eye(2)}); },
                      {"MultivariateNormal", "diagonal", "> 0"});
  require_value_error(
      [] {
        MultivariateNormal(zeros({2}), Covariance{tensor({1.0, 2.0, 2.0, 1.0}, {2, 2})});
      },
      {"MultivariateNormal", "covariance_matrix", "positive definite"});
  CHECK_THROWS_AS(Categorical(Probs{scalar_tensor(1.0)}), ValueError);
}

TEST_CASE("a value outside the support is a ValueError from log_prob naming the support",
          "[distributions]") {
  require_value_error(
      [] {
        HalfNormal(1.0).log_prob(tensor({1.0, -0.5}));
      },
      {"HalfNormal.log_prob", "values >= 0", "-0.5"});
  require_value_error([] { LogNormal(0.0, 1.0).log_prob(scalar_tensor(0.0)); },
                      {"LogNormal.log_prob", "values > 0"});
  require_value_error([] { Uniform(0.0, 1.0).log_prob(scalar_tensor(1.0)); },
                      {"Uniform.log_prob", "[low, high)"});
  require_value_error([] { Normal(0.0, 1.0).log_prob(scalar_tensor(NAN)); }, {"Normal.log_prob"});
  require_value_error([] { Exponential(1.0).cdf(scalar_tensor(-1.0)); }, {"Exponential.cdf"});
  require_value_error([] { Bernoulli(Probs{0.5}).log_prob(scalar_tensor(0.5)); },
                      {"Bernoulli.log_prob", "0 or 1"});
  require_value_error([] { Categorical(Logits{zeros({3})}).log_prob(tensor({3}, DType::i64)); },
                      {"Categorical.log_prob", "integers in [0, 3)"});
  require_value_error(
      [] {
        MultivariateNormal(zeros({2}), ScaleTril{eye(2)}).log_prob(tensor({0.0, NAN}));
      },
      {"MultivariateNormal.log_prob", "real vectors"});
}

TEST_CASE("validation switches off per object and globally, as torch's validate_args",
          "[distributions]") {
  CHECK(std::isinf(HalfNormal(1.0, false).log_prob(scalar_tensor(-1.0)).item<float>()));
  CHECK(std::isinf(Uniform(0.0, 1.0, false).log_prob(scalar_tensor(2.0)).item<float>()));
  CHECK_NOTHROW(Normal(0.0, -1.0, false));
  set_default_validate_args(false);
  const bool off = !Normal(0.0, 1.0).validates();
  CHECK_NOTHROW(Exponential(-1.0));
  CHECK(Normal(0.0, 1.0, true).validates());
  set_default_validate_args(true);
  CHECK(off);
  CHECK(Normal(0.0, 1.0).validates());
}

TEST_CASE("supports map to the library's constraints, bijections a prior can be put through",
          "[distributions]") {
  CHECK(Normal(0.0, 1.0).support() == nullptr);
  for (const auto& support : {LogNormal(0.0, 1.0).support(), HalfNormal(1.0).support(),
                              HalfCauchy(1.0).support(), Exponential(1.0).support()}) {
    REQUIRE(support);
    CHECK(support->name() == "positive");
    CHECK(support->is_bijection());
  }
  REQUIRE(Uniform(-1.0, 2.0).support());
  CHECK(Uniform(-1.0, 2.0).support()->name() == "bounded");
  CHECK(Uniform(-1.0, 2.0).support()->is_bijection());
  CHECK(Uniform(tensor({0.0, 1.0}), 2.0).support() == nullptr);
}

TEST_CASE("sample and rsample: discrete distributions are not reparametrisable",
          "[distributions]") {
  CHECK(Normal(0.0, 1.0).has_rsample());
  CHECK_FALSE(Bernoulli(Probs{0.5}).has_rsample());
  CHECK_FALSE(Categorical(Probs{ones({2})}).has_rsample());
  require_value_error([] { Bernoulli(Probs{0.5}).rsample(); }, {"Bernoulli", "rsample"});
  Tensor loc = scalar_tensor(0.0).requires_grad_();
  CHECK_FALSE(Normal(loc, 1.0).sample({3}).requires_grad());
  CHECK(Normal(loc, 1.0).rsample({3}).requires_grad());
  require_value_error([] { HalfNormal(1.0).icdf(scalar_tensor(0.5)); }, {"HalfNormal", "icdf"});
  // manual_seed makes draws reproducible.
  manual_seed(3);
  const auto first = Normal(0.0, 1.0).sample({4}).to_vector<float>();
  manual_seed(3);
  CHECK(Normal(0.0, 1.0).sample({4}).to_vector<float>() == first);
}

TEST_CASE("icdf inverts cdf for Exponential, Laplace and Uniform", "[distributions]") {
  const Tensor x = f64({0.1, 0.7, 1.9});
  const std::vector<std::shared_ptr<Distribution>> ds = {
      std::make_shared<Exponential>(f64({0.5, 2.0, 1.0})),
      std::make_shared<Laplace>(f64({0.5, -1.0, 2.0}), f64({1.5, 0.3, 2.0})),
      std::make_shared<Uniform>(0.0, f64({1.0, 2.0, 3.0}))};
  for (const auto& d : ds) {
    INFO(d->name());
    const auto back = d->icdf(d->cdf(x)).to_vector<double>();
    for (std::size_t i = 0; i < back.size(); ++i)
      CHECK(back[i] == Approx(x.to_vector<double>()[i]));
  }
}

TEST_CASE("f32 log_prob and entropy stay f32 and agree with f64 to f32 precision",
          "[distributions]") {
  const Tensor x = f64({0.1, 0.7, 3.5});
  const Tensor s = f64({1.5, 0.3, 2.0});
  const std::vector<std::pair<std::shared_ptr<Distribution>, std::shared_ptr<Distribution>>> pairs =
      {{std::make_shared<Normal>(x, s),
        std::make_shared<Normal>(x.to(DType::f32), s.to(DType::f32))},
       {std::make_shared<LogNormal>(x, s),
        std::make_shared<LogNormal>(x.to(DType::f32), s.to(DType::f32))},
       {std::make_shared<HalfCauchy>(s), std::make_shared<HalfCauchy>(s.to(DType::f32))},
       {std::make_shared<Bernoulli>(Logits{x}),
        std::make_shared<Bernoulli>(Logits{x.to(DType::f32)})}};
  for (const auto& [wide, narrow] : pairs) {
    INFO(wide->name());
    const Tensor value = wide->name() == "Bernoulli" ? f64({1.0, 0.0, 1.0}) : f64({1.0, 0.5, 2.0});
    const Tensor lp = narrow->log_prob(value.to(DType::f32));
    CHECK(lp.dtype() == DType::f32);
    CHECK(narrow->entropy().dtype() == DType::f32);
    const auto a = lp.to(DType::f64).to_vector<double>();
    const auto b = wide->log_prob(value).to_vector<double>();
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).epsilon(1e-5));
  }
  // Far in the tail the log density is exact where a density would underflow.
  const float tail =
      Normal(scalar_tensor(0.0), scalar_tensor(1.0)).log_prob(scalar_tensor(40.0)).item<float>();
  CHECK(tail == Approx(-800.0 - 0.5 * std::log(2 * M_PI)).epsilon(1e-6));
}

}  // namespace
}  // namespace tether::distributions
