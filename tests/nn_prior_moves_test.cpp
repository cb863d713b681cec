// A prior moves with its parameter: constrain() and freeze() give it to the
// parameter they make, and Parameter::to / Module::to convert the prior's
// distribution along with the trainables, so log_prior computes in the new
// dtype (and on the new device) instead of mixing the old one in.
#include <catch2/catch.hpp>

#include <cmath>

#include "tether/tether.h"

using namespace tether;
using namespace tether::distributions;
using Catch::Matchers::Contains;

namespace {

/// One slot, "scale": a raw f64 parameter with a HalfNormal(2) prior.
struct Scale : nn::Module {
  std::shared_ptr<Parameter> scale;
  explicit Scale(double initial) {
    register_parameter("scale", scale, scalar_tensor(initial, DType::f64));
    scale->set_prior(prior(HalfNormal(scalar_tensor(2.0, DType::f64))));
  }
};

/// log HalfNormal(2) density at x > 0.
double half_normal_2(double x) {
  return std::log(2.0) - 0.5 * std::log(2 * M_PI) - std::log(2.0) - x * x / 8.0;
}

}  // namespace

TEST_CASE("constrain() keeps the prior a slot had, now over the constrained value", "[nn][prior]") {
  Scale model(1.5);
  model.scale = constrain(model.scale, constraints::positive(constraints::PositiveMap::exp));
  REQUIRE(model.scale->prior());
  CHECK(model.scale->prior()->name == "HalfNormal");
  // The density of the value 1.5, plus log|d exp(raw)/d raw| = raw = log 1.5.
  CHECK(model.log_prior(false).item<double>() == Approx(half_normal_2(1.5)));
  CHECK(model.log_prior().item<double>() == Approx(half_normal_2(1.5) + std::log(1.5)));
}

TEST_CASE("freeze() keeps the prior of the parameter it freezes", "[nn][prior]") {
  Scale model(0.8);
  model.scale = freeze(model.scale);
  REQUIRE(model.scale->prior());
  CHECK(model.log_prior().item<double>() == Approx(half_normal_2(0.8)));
}

TEST_CASE("Module::to(f32) converts a prior's distribution: log_prior is f32, of the same value",
          "[nn][prior]") {
  Scale model(1.5);
  model.scale = constrain(model.scale, constraints::positive());
  model.to(DType::f32);
  const Tensor lp = model.log_prior();
  CHECK(lp.dtype() == DType::f32);
  // softplus' log-Jacobian at the raw of 1.5 is log sigmoid(raw) = log(1 - exp(-1.5)).
  CHECK(lp.item<double>() ==
        Approx(half_normal_2(1.5) + std::log(-std::expm1(-1.5))).epsilon(1e-5));
  lp.backward();
  const Tensor raw = model.scale->trainables().at(0).second;
  CHECK(raw.grad().dtype() == DType::f32);
}

TEST_CASE("Parameter::to keeps a prior without tensors to convert as it is", "[nn][prior]") {
  auto p = make_parameter(scalar_tensor(0.5, DType::f64));
  p->set_prior({.name = "flat", .log_density = [](const Tensor& v) { return zeros_like(v); }});
  p->to(DType::f32);
  REQUIRE(p->prior());
  CHECK(p->prior()->name == "flat");
  CHECK(p->log_prior().dtype() == DType::f32);
}

TEST_CASE("a conversion the prior's distribution refuses leaves the parameter as it was",
          "[nn][prior]") {
  auto p = make_parameter(scalar_tensor(0.5, DType::f64));
  p->set_prior(prior(Normal(scalar_tensor(0.0, DType::f64), scalar_tensor(1.0, DType::f64))));
  CHECK_THROWS_AS(p->to(Device::cuda(7)), Error);
  CHECK(p->value().dtype() == DType::f64);
  CHECK(p->log_prior().dtype() == DType::f64);
}
