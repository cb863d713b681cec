// Priors on parameters: Module::log_prior against sums worked by hand (f64),
// with and without the log-det-Jacobians of the constraints; gradients to the
// raw inputs; the two MAP optima of a positive scale; the errors; and priors
// being code, not state.
#include <tether/tether.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>

using namespace tether;
using namespace tether::distributions;
using Catch::Matchers::Contains;

namespace {

Tensor f64(double x) {
  return scalar_tensor(x, DType::f64);
}
Tensor f64(std::vector<double> xs) {
  return tensor(xs, DType::f64);
}

double log_sigmoid(double x) {
  return -std::log1p(std::exp(-x));
}
double softplus(double x) {
  return std::log1p(std::exp(x));
}
const double log_sqrt_2pi = 0.5 * std::log(2 * std::numbers::pi);

/// A child slot under positive() (exp map), priced by an Exponential prior.
struct Rates : nn::Module {
  std::shared_ptr<Parameter> rate;
  explicit Rates(Tensor raw) {
    register_parameter("rate", rate, raw);
    rate = std::make_shared<ComputedParameter>(constraints::positive(constraints::PositiveMap::exp),
                                               std::vector<Tensor>{raw});
  }
};

/// loc (raw) ~ Normal(0, 2); scale = softplus(raw) ~ HalfNormal(1);
/// w = -1 + 3 sigmoid(raw) ~ Uniform(-1, 2); rates.rate = exp(raw) ~ Exponential(1.5).
struct Model : nn::Module {
  std::shared_ptr<Parameter> loc, scale, w;
  std::shared_ptr<Rates> rates;
  explicit Model(std::vector<Tensor> raw, bool with_priors = true) {
    register_parameter("loc", loc, raw[0]);
    register_parameter("scale", scale, raw[1]);
    register_parameter("w", w, raw[2]);
    scale =
        std::make_shared<ComputedParameter>(constraints::positive(), std::vector<Tensor>{raw[1]});
    w = std::make_shared<ComputedParameter>(constraints::bounded(-1, 2),
                                            std::vector<Tensor>{raw[2]});
    rates = register_module("rates", std::make_shared<Rates>(raw[3]));
    if (!with_priors) return;
    loc->set_prior(prior(Normal(f64(0), f64(2))));
    scale->set_prior(prior(HalfNormal(f64(1))));
    w->set_prior(prior(Uniform(f64(-1), f64(2))));
    rates->rate->set_prior(prior(Exponential(f64(1.5))));
  }
};

const std::vector<double> loc_raw{0.3, -1.2}, scale_raw{0.4}, w_raw{-0.5, 1.1, 0.2}, rate_raw{-0.7};

std::vector<Tensor> model_inputs() {
  return {f64(loc_raw), f64(scale_raw), f64(w_raw), f64(rate_raw)};
}

/// A module with one slot, `name`: a raw parameter holding `initial`, replaced
/// by wrap(it) when wrap is given (a constraint or a projection), with `prior`.
struct OneSlot : nn::Module {
  using Wrap = std::function<std::shared_ptr<Parameter>(const std::shared_ptr<Parameter>&)>;
  std::shared_ptr<Parameter> slot;
  OneSlot(std::string name, Tensor initial, const Wrap& wrap, Prior prior) {
    register_parameter(std::move(name), slot, std::move(initial));
    if (wrap) slot = wrap(slot);
    slot->set_prior(std::move(prior));
  }
};

}  // namespace

TEST_CASE(
    "Module::log_prior is the priors' log densities summed by hand, plus the constraints' "
    "log-det-Jacobians when include_jacobian is true (f64)") {
  Model model(model_inputs());
  double density = 0, jacobian = 0;
  for (double x : loc_raw) density += -0.5 * (x / 2) * (x / 2) - std::log(2.0) - log_sqrt_2pi;
  for (double r : scale_raw) {
    const double s = softplus(r);
    density += std::log(2.0) - log_sqrt_2pi - 0.5 * s * s;
    jacobian += log_sigmoid(r);
  }
  for (double r : w_raw) {
    density += -std::log(3.0);
    jacobian += std::log(3.0) + log_sigmoid(r) + log_sigmoid(-r);
  }
  for (double r : rate_raw) {
    density += std::log(1.5) - 1.5 * std::exp(r);
    jacobian += r;
  }
  const Tensor with = model.log_prior();
  CHECK(with.dim() == 0);
  CHECK(with.dtype() == DType::f64);
  CHECK(with.item<double>() == Approx(density + jacobian).epsilon(1e-12));
  CHECK(model.log_prior(false).item<double>() == Approx(density).epsilon(1e-12));
}

TEST_CASE(
    "Module::log_prior's gradients reach every raw input, with and without the Jacobian "
    "(gradcheck)") {
  for (bool include_jacobian : {true, false}) {
    CAPTURE(include_jacobian);
    CHECK(gradcheck(
        [&](const std::vector<Tensor>& raw) { return Model(raw).log_prior(include_jacobian); },
        model_inputs()));
  }
  Model model(model_inputs());
  model.log_prior().backward();
  for (const auto& [name, tensor] : model.named_parameters()) {
    CAPTURE(name);
    CHECK(tensor.grad().defined());
  }
}

TEST_CASE(
    "MAP of a positive scale under a HalfNormal prior: with the Jacobian it is the mode of "
    "log sigma, without it the mode of sigma, two different closed forms") {
  // y_i ~ Normal(0, sigma), sigma = exp(raw) ~ HalfNormal(1); n = 4, S = sum y^2 = 10.
  // Without the Jacobian: maximise -n log s - S/2s^2 - s^2/2, so s^4 + n s^2 - S = 0,
  // s^2 = (sqrt(n^2 + 4S) - n) / 2 = (sqrt(56) - 4) / 2. With it (+ log s, the density of
  // raw = log s): n becomes n - 1, s^2 = (sqrt(49) - 3) / 2 = 2.
  const Tensor y = f64({1.0, -2.0, 2.0, -1.0});
  const auto map_estimate = [&](bool include_jacobian) {
    OneSlot model(
        "sigma", f64(0.0),
        [](const std::shared_ptr<Parameter>& p) {
          return constrain(p, constraints::positive(constraints::PositiveMap::exp),
                           ValuePolicy::as_raw);
        },
        prior(HalfNormal(f64(1))));
    optim::SGD sgd(model.parameters(), {.lr = 0.05});
    for (int step = 0; step < 300; ++step) {
      sgd.zero_grad();
      const Tensor log_likelihood = sum(Normal(f64(0), model.slot->value()).log_prob(y));
      (-(log_likelihood + model.log_prior(include_jacobian))).backward();
      sgd.step();
    }
    return model.slot->value().item<double>();
  };
  CHECK(map_estimate(false) == Approx(std::sqrt((std::sqrt(56.0) - 4) / 2)).epsilon(1e-9));
  CHECK(map_estimate(true) == Approx(std::sqrt(2.0)).epsilon(1e-9));
}

TEST_CASE(
    "log_prior with the Jacobian of a slot whose constraint is not a bijection is a "
    "ValueError naming the slot and the constraint; without it, the value's density") {
  OneSlot model(
      "weight", f64({1.0, 0.2, -0.4, 2.0}).reshape({2, 2}),
      [](const std::shared_ptr<Parameter>& p) { return constrain(p, constraints::symmetric()); },
      prior(Normal(f64(0), f64(1))));
  CHECK_THROWS_AS(model.log_prior(), ValueError);
  CHECK_THROWS_WITH(model.log_prior(), Contains("slot \"weight\"") && Contains("symmetric") &&
                                           Contains("not a bijection") &&
                                           Contains("log_prior(false)"));
  const Tensor value = model.slot->value();
  CHECK(model.log_prior(false).item<double>() ==
        Approx(sum(Normal(f64(0), f64(1)).log_prob(value)).item<double>()));
}

TEST_CASE(
    "log_prior of a value outside its prior's support is the distribution's ValueError, "
    "naming the slot") {
  OneSlot model("scale", f64(-0.5), {}, prior(HalfNormal(f64(1))));
  CHECK_THROWS_AS(model.log_prior(), ValueError);
  CHECK_THROWS_WITH(model.log_prior(false), Contains("slot \"scale\"") && Contains("HalfNormal"));
}

TEST_CASE("a parameter shared by two slots adds its prior to log_prior once") {
  struct Tied : nn::Module {
    std::shared_ptr<Parameter> a, b;
    Tied() {
      register_parameter("a", a, f64(0.5));
      register_parameter("b", b, f64(0.0));
      a->set_prior(prior(Normal(f64(0), f64(1))));
      b = a;
    }
  } model;
  CHECK(model.log_prior().item<double>() == Approx(-0.125 - log_sqrt_2pi));
}

TEST_CASE(
    "priors are code, not state: load_state_dict keeps a module's priors and a state dict "
    "carries none") {
  Model trained(model_inputs());
  const double expected = trained.log_prior().item<double>();
  const StateDict state = trained.state_dict();

  std::vector<Tensor> zeros_in;
  for (const Tensor& t : model_inputs()) zeros_in.push_back(zeros_like(t));
  Model same_code(zeros_in);
  CHECK(same_code.log_prior().item<double>() != Approx(expected));
  same_code.load_state_dict(state);
  CHECK(same_code.log_prior().item<double>() == Approx(expected).epsilon(1e-12));

  Model no_priors(zeros_in, false);
  no_priors.load_state_dict(state);
  CHECK(no_priors.log_prior().item<double>() == 0.0);
  CHECK_THROWS_WITH(no_priors.loc->log_prior(), Contains("no prior"));
}

TEST_CASE(
    "log_prior of a unit_vector slot adds Stan's auxiliary-radius term, -|raw|^2 / 2, in "
    "place of a Jacobian") {
  OneSlot model(
      "u", f64(0.0),
      [](const std::shared_ptr<Parameter>&) -> std::shared_ptr<Parameter> {
        return std::make_shared<ComputedParameter>(constraints::unit_vector(),
                                                   std::vector<Tensor>{f64({3.0, 4.0})});
      },
      prior(Normal(f64(0), f64(1))));
  const double density = -0.5 * (0.6 * 0.6 + 0.8 * 0.8) - 2 * log_sqrt_2pi;
  CHECK(model.log_prior(false).item<double>() == Approx(density).epsilon(1e-12));
  CHECK(model.log_prior().item<double>() == Approx(density - 12.5).epsilon(1e-12));
}

TEST_CASE(
    "log_prior with the Jacobian of a projected slot is a ValueError naming the slot; "
    "without it, the value's density") {
  OneSlot model("scale", f64(0.5), project_non_negative, prior(HalfNormal(f64(1))));
  CHECK_THROWS_WITH(model.log_prior(),
                    Contains("slot \"scale\"") && Contains("projection or retraction"));
  CHECK(model.log_prior(false).item<double>() ==
        Approx(std::log(2.0) - log_sqrt_2pi - 0.125).epsilon(1e-12));
}
