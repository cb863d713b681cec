// Gaussian process regression on a noisy sine. An RBF kernel's length-scale,
// signal variance and noise variance are Parameters constrained positive; Adam
// maximises the log marginal likelihood of the training data,
//
//   log p(y | x) = -1/2 y^T K^-1 y - 1/2 log det K - n/2 log 2 pi,
//   K = k(x, x) + noise I,   k(a, b) = signal exp(-(a - b)^2 / (2 length^2)),
//
// through cholesky, cholesky_solve and logdet, all in f64.
//
// The hyperparameters also carry priors (length_scale ~ Gamma(2, 2), noise
// variance ~ HalfNormal(0.05)), and the same model is fitted three ways:
//
//   ml           maximise log p(y | x, theta): maximum likelihood;
//   map          maximise log p(y | x, theta) + log p(theta): the mode of the
//                posterior density of the hyperparameters theta themselves;
//   map+jacobian the same plus log |d theta / d raw|: the mode of the posterior
//                density of the unconstrained raw inputs that Adam moves
//                (Module::log_prior(true), the density HMC and ADVI explore).
//
// A density's mode moves under a change of variables, so the two MAPs differ:
// positive()'s softplus has log-Jacobian log(1 - exp(-theta)), about log theta
// for small theta, which pulls a small noise variance up. The ML fit is then
// drawn as an SVG: the data, the predictive mean and a 2-sigma band for a new
// observation.
#include <CLI/CLI.hpp>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <numbers>
#include <sstream>
#include <string>

#include "svg.h"

namespace {

using namespace tether;

/// A zero-mean GP prior with an RBF kernel and Gaussian observation noise.
class RbfGp : public nn::Module {
 public:
  std::shared_ptr<Parameter> length_scale, signal_variance, noise_variance;

  RbfGp() {
    for (auto [name, slot] :
         {std::pair{"length_scale", &length_scale}, std::pair{"signal_variance", &signal_variance},
          std::pair{"noise_variance", &noise_variance}}) {
      register_parameter(name, *slot, scalar_tensor(1.0, DType::f64));
      *slot = constrain(*slot, constraints::positive());
    }
    const auto f64 = [](double v) { return scalar_tensor(v, DType::f64); };
    length_scale->set_prior(distributions::prior(distributions::Gamma(f64(2.0), f64(2.0))));
    noise_variance->set_prior(distributions::prior(distributions::HalfNormal(f64(0.05))));
  }

  /// k(a, b) for a [n] and b [m]: [n, m].
  Tensor kernel(const Tensor& a, const Tensor& b) {
    const Tensor scaled = (unsqueeze(a, 1) - unsqueeze(b, 0)) / length_scale->value();
    return signal_variance->value() * exp(scaled * scaled * -0.5);
  }

  /// k(x, x) + noise I, the covariance of the observations at x.
  Tensor observation_covariance(const Tensor& x) {
    return kernel(x, x) + eye(x.size(0), std::nullopt, DType::f64) * noise_variance->value();
  }

  /// -log p(y | x).
  Tensor negative_log_marginal_likelihood(const Tensor& x, const Tensor& y) {
    const Tensor covariance = observation_covariance(x);
    const Tensor column = unsqueeze(y, 1);
    const Tensor alpha = cholesky_solve(column, cholesky(covariance));
    const double n = static_cast<double>(x.size(0));
    return sum(column * alpha) * 0.5 + logdet(covariance) * 0.5 +
           0.5 * n * std::log(2.0 * std::numbers::pi);
  }

  struct Prediction {
    Tensor mean, variance;  ///< of a new noisy observation at each point
  };

  /// The posterior predictive at `at` given the training data (x, y).
  Prediction predict(const Tensor& x, const Tensor& y, const Tensor& at) {
    const Tensor factor = cholesky(observation_covariance(x));
    const Tensor cross = kernel(x, at);  // [n, m]
    const Tensor mean =
        squeeze(matmul(transpose(cross, 0, 1), cholesky_solve(unsqueeze(y, 1), factor)), 1);
    // var f(at) = k(at, at) - k(at, x) K^-1 k(x, at), with v = L^-1 k(x, at).
    const Tensor v = solve_triangular(factor, cross, /*upper=*/false);
    const Tensor variance = signal_variance->value() - sum(v * v, {0}) + noise_variance->value();
    return {mean, variance};
  }

  std::string describe() {
    std::ostringstream text;
    text << std::fixed << std::setprecision(4) << "length_scale "
         << length_scale->value().item<double>() << "  signal_variance "
         << signal_variance->value().item<double>() << "  noise_std "
         << std::sqrt(noise_variance->value().item<double>());
    return text.str();
  }
};

enum class Objective { ml, map, map_with_jacobian };

const char* name_of(Objective objective) {
  switch (objective) {
    case Objective::ml:
      return "ml";
    case Objective::map:
      return "map";
    case Objective::map_with_jacobian:
      return "map+jacobian";
  }
  return "";
}

/// What Adam minimises for `objective`: -log p(y | x), less the log prior
/// (with the constraints' log-Jacobians for map_with_jacobian).
Tensor loss_of(RbfGp& gp, Objective objective, const Tensor& x, const Tensor& y) {
  const Tensor nll = gp.negative_log_marginal_likelihood(x, y);
  if (objective == Objective::ml) return nll;
  return nll - gp.log_prior(objective == Objective::map_with_jacobian);
}

struct FitOptions {
  int steps;
  double lr;
  int print_every;
};

/// A GP fitted to (x, y) by Adam on `objective`, with its progress printed.
std::unique_ptr<RbfGp> fit(Objective objective, const Tensor& x, const Tensor& y,
                           const FitOptions& options) {
  auto gp = std::make_unique<RbfGp>();
  optim::Adam adam(gp->parameters(), {.lr = options.lr});
  double first = 0.0, last = 0.0;
  std::cout << "-- " << name_of(objective) << '\n';
  for (int step = 0; step <= options.steps; ++step) {
    adam.zero_grad();
    const Tensor loss = loss_of(*gp, objective, x, y);
    last = loss.item<double>();
    if (step == 0) first = last;
    if (step % options.print_every == 0 || step == options.steps)
      std::cout << "step " << std::setw(4) << step << "  loss " << std::setw(9) << last << "  "
                << gp->describe() << '\n';
    if (step == options.steps) break;
    loss.backward();
    adam.step();
  }
  std::cout << "loss: " << first << " -> " << last << '\n';
  return gp;
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 1000, points = 40, print_every = 250, seed = 0;
  double lr = 0.05, noise_std = 0.1;
  std::string out = "gp_regression.svg";
  CLI::App app(
      "Fit a Gaussian process with an RBF kernel to a noisy sine by maximising "
      "the log marginal likelihood.");
  app.add_option("--steps", steps, "Adam steps")->capture_default_str();
  app.add_option("--lr", lr, "learning rate")->capture_default_str();
  app.add_option("--points", points, "training points")->capture_default_str();
  app.add_option("--noise", noise_std, "true noise standard deviation")->capture_default_str();
  app.add_option("--print-every", print_every, "steps between progress lines")
      ->capture_default_str();
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  app.add_option("--out", out, "SVG file to write")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  manual_seed(static_cast<std::uint64_t>(seed));
  const Tensor x = rand({points}, DType::f64) * 6.0 - 3.0;
  const Tensor y = sin(x) + randn({points}, DType::f64) * noise_std;

  std::cout << std::fixed << std::setprecision(4);
  const FitOptions options{.steps = steps, .lr = lr, .print_every = print_every};
  std::unique_ptr<RbfGp> fits[3];
  for (const Objective objective : {Objective::ml, Objective::map, Objective::map_with_jacobian})
    fits[static_cast<int>(objective)] = fit(objective, x, y, options);
  std::cout << "learned (true noise_std " << noise_std << "):\n";
  for (const Objective objective : {Objective::ml, Objective::map, Objective::map_with_jacobian}) {
    RbfGp& gp = *fits[static_cast<int>(objective)];
    std::cout << "  " << std::left << std::setw(13) << name_of(objective) << std::right
              << gp.describe() << "  -log p(y|x) "
              << gp.negative_log_marginal_likelihood(x, y).item<double>() << '\n';
  }

  std::cout << "The priors pull the MAP fits to a shorter length-scale and a smaller signal.\n"
               "map+jacobian maximises the density of the raw inputs instead of the values:\n"
               "softplus' log-Jacobian log(1 - exp(-v)) ~ log v adds about 1/v to the slope\n"
               "at a small noise variance v, so its noise (and length-scale) end higher.\n";

  RbfGp& gp = *fits[static_cast<int>(Objective::ml)];
  NoGradGuard no_grad;
  const Tensor grid = linspace(-3.5, 3.5, 141, DType::f64);
  const RbfGp::Prediction on_grid = gp.predict(x, y, grid), at_data = gp.predict(x, y, x);
  const Tensor lower = on_grid.mean - sqrt(on_grid.variance) * 2.0;
  const Tensor upper = on_grid.mean + sqrt(on_grid.variance) * 2.0;
  const double rmse = std::sqrt(mean(pow(on_grid.mean - sin(grid), 2.0)).item<double>());
  const double covered =
      mean((abs(y - at_data.mean) <= sqrt(at_data.variance) * 2.0).to(DType::f64)).item<double>();
  std::cout << "predictive mean vs sin on [-3.5, 3.5]: RMSE " << rmse << "\n"
            << "training points inside the 2-sigma band: " << std::setprecision(1)
            << covered * 100.0 << "%\n";

  examples::SvgPlot plot("GP regression: noisy sine, RBF kernel", "x", "y");
  plot.band(grid.to_vector<double>(), lower.to_vector<double>(), upper.to_vector<double>(),
            "#9ecae1");
  plot.line(grid.to_vector<double>(), on_grid.mean.to_vector<double>(), "#08519c");
  plot.points(x.to_vector<double>(), y.to_vector<double>(), "#d62728", 3.0, 0.8);
  plot.save(out);
  std::cout << "wrote " << out << '\n';
  return 0;
}
