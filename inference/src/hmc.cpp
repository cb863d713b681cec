#include "tether/inference/hmc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include "flat_target.h"
#include "tether/error.h"
#include "tether/generator.h"
#include "tether/inference/diagnostics.h"
#include "tether/ops.h"

namespace tether::inference {
namespace {

using detail::FlatTarget;

double uniform() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(tether::detail::global_generator());
}

double normal() {
  return tether::detail::standard_normal(tether::detail::global_generator());
}

/// Nesterov dual averaging of the log step size (Hoffman and Gelman 2014,
/// algorithm 5, with Stan's constants).
class DualAveraging {
 public:
  DualAveraging(double step_size, double target)
      : mu_(std::log(10.0 * step_size)), target_(target) {}

  /// Folds in one iteration's acceptance probability; returns the next step size.
  double update(double accept_prob) {
    ++iteration_;
    const double m = static_cast<double>(iteration_);
    const double eta = 1.0 / (m + kT0);
    mean_error_ = (1.0 - eta) * mean_error_ + eta * (target_ - accept_prob);
    const double log_step = mu_ - std::sqrt(m) / kGamma * mean_error_;
    const double weight = std::pow(m, -kKappa);
    log_averaged_step_ = weight * log_step + (1.0 - weight) * log_averaged_step_;
    return std::exp(log_step);
  }

  /// The averaged step size, used after warm-up: less noisy than the last iterate.
  double averaged() const { return std::exp(log_averaged_step_); }

 private:
  static constexpr double kGamma = 0.05, kT0 = 10.0, kKappa = 0.75;
  double mu_, target_;
  std::int64_t iteration_ = 0;
  double mean_error_ = 0.0;
  double log_averaged_step_ = 0.0;
};

/// Running mean and variance of the positions (Welford), for the mass matrix.
class Welford {
 public:
  explicit Welford(std::size_t size) : mean_(size, 0.0), m2_(size, 0.0) {}
  void add(const std::vector<double>& x) {
    ++count_;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double delta = x[i] - mean_[i];
      mean_[i] += delta / static_cast<double>(count_);
      m2_[i] += delta * (x[i] - mean_[i]);
    }
  }
  std::int64_t count() const { return count_; }
  /// The sample variance shrunk towards 1e-3, as Stan's: stable for short windows.
  std::vector<double> regularized_variance() const {
    const double n = static_cast<double>(count_);
    std::vector<double> variance(mean_.size());
    for (std::size_t i = 0; i < variance.size(); ++i)
      variance[i] = n / (n + 5.0) * m2_[i] / (n - 1.0) + 1e-3 * 5.0 / (n + 5.0);
    return variance;
  }

 private:
  std::int64_t count_ = 0;
  std::vector<double> mean_, m2_;
};

struct State {
  std::vector<double> position, gradient;
  double log_density = 0.0;
};

/// One trajectory's outcome: the proposal and its Metropolis acceptance probability.
struct Trajectory {
  State proposal;
  double accept_prob = 0.0;
  bool divergent = false;
};

/// The log density and its gradient at `position`, with a ValueError from
/// the density (a distribution refusing a parameter the integrator pushed out
/// of range, such as exp(raw) underflowing to 0) read as -inf: Stan rejects
/// such a proposal instead of stopping.
double log_density_or_reject(const FlatTarget& target, const std::vector<double>& position,
                             std::vector<double>& gradient) {
  try {
    return target.value_and_gradient(position, gradient);
  } catch (const ValueError&) {
    return -std::numeric_limits<double>::infinity();
  }
}

/// Where a chain starts: the initial point moved by Uniform(-jitter, jitter) in
/// every coordinate, redrawn until the log density there is finite (as Stan
/// retries its random inits).
State starting_state(const FlatTarget& target, double jitter) {
  constexpr int kAttempts = 100;
  State state;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    state.position = target.initial();
    if (jitter > 0.0)
      for (double& x : state.position) x += jitter * (2.0 * uniform() - 1.0);
    if (jitter == 0.0) {
      state.log_density = target.value_and_gradient(state.position, state.gradient);
      break;
    }
    state.log_density = log_density_or_reject(target, state.position, state.gradient);
    if (std::isfinite(state.log_density)) break;
  }
  if (jitter > 0.0 && !std::isfinite(state.log_density))
    fail<ValueError>("hmc: log_density is not finite at ", kAttempts,
                     " starts jittered by init_jitter ", jitter,
                     " around the initial point (nan, inf or a ValueError each time); lower"
                     " init_jitter");
  target.check_initial_value(state.log_density);
  return state;
}

class Chain {
 public:
  Chain(const FlatTarget& target, const HmcOptions& options, State start)
      : target_(target),
        options_(options),
        state_(std::move(start)),
        inverse_mass_(target.size(), 1.0),
        step_size_(options.step_size) {}

  const State& state() const { return state_; }
  double step_size() const { return step_size_; }
  void set_step_size(double step_size) { step_size_ = step_size; }
  void set_inverse_mass(std::vector<double> inverse_mass) {
    inverse_mass_ = std::move(inverse_mass);
  }

  /// A fresh momentum, a leapfrog trajectory and the Metropolis decision.
  Trajectory transition() {
    Trajectory trajectory = simulate(leapfrog_steps());
    if (uniform() < trajectory.accept_prob) state_ = trajectory.proposal;
    return trajectory;
  }

  /// Stan's heuristic for a first step size: double or halve it until one
  /// leapfrog step's acceptance probability crosses 0.8.
  void find_reasonable_step_size() {
    const double direction = simulate(1).accept_prob > 0.8 ? 2.0 : 0.5;
    for (int attempt = 0; attempt < 50; ++attempt) {
      step_size_ *= direction;
      const double accept_prob = simulate(1).accept_prob;
      if (direction > 1.0 ? accept_prob < 0.8 : accept_prob > 0.8) break;
    }
  }

 private:
  std::int64_t leapfrog_steps() const {
    if (!options_.trajectory_length) return options_.num_leapfrog_steps;
    const double steps = std::ceil(*options_.trajectory_length / step_size_);
    return static_cast<std::int64_t>(
        std::clamp(steps, 1.0, static_cast<double>(options_.max_leapfrog_steps)));
  }

  double kinetic_energy(const std::vector<double>& momentum) const {
    double energy = 0.0;
    for (std::size_t i = 0; i < momentum.size(); ++i)
      energy += 0.5 * momentum[i] * momentum[i] * inverse_mass_[i];
    return energy;
  }

  Trajectory simulate(std::int64_t steps) const {
    std::vector<double> momentum(state_.position.size());
    for (std::size_t i = 0; i < momentum.size(); ++i)
      momentum[i] = normal() / std::sqrt(inverse_mass_[i]);
    const double initial_energy = -state_.log_density + kinetic_energy(momentum);
    Trajectory trajectory{state_};
    State& q = trajectory.proposal;
    const double eps = step_size_;
    for (std::int64_t s = 0; s < steps && std::isfinite(q.log_density); ++s) {
      for (std::size_t i = 0; i < momentum.size(); ++i) {
        momentum[i] += 0.5 * eps * q.gradient[i];
        q.position[i] += eps * inverse_mass_[i] * momentum[i];
      }
      q.log_density = log_density_or_reject(target_, q.position, q.gradient);
      for (std::size_t i = 0; i < momentum.size(); ++i) momentum[i] += 0.5 * eps * q.gradient[i];
    }
    const double energy_error = -q.log_density + kinetic_energy(momentum) - initial_energy;
    // NaN compares false: a trajectory into NaN or infinite density diverged too.
    trajectory.divergent = !(energy_error <= 1000.0);
    trajectory.accept_prob = trajectory.divergent ? 0.0 : std::min(1.0, std::exp(-energy_error));
    return trajectory;
  }

  const FlatTarget& target_;
  const HmcOptions& options_;
  State state_;
  std::vector<double> inverse_mass_;
  double step_size_;
};

void check_options(const HmcOptions& options) {
  auto require = [](bool ok, const char* what, auto value) {
    if (!ok) fail<ValueError>("hmc: ", what, ", got ", value);
  };
  require(options.num_warmup >= 0, "num_warmup must be >= 0", options.num_warmup);
  require(options.num_draws >= 4, "num_draws must be >= 4", options.num_draws);
  require(options.num_chains >= 1, "num_chains must be >= 1", options.num_chains);
  require(options.init_jitter >= 0.0 && std::isfinite(options.init_jitter),
          "init_jitter must be >= 0 and finite", options.init_jitter);
  require(options.step_size > 0.0 && std::isfinite(options.step_size),
          "step_size must be positive and finite", options.step_size);
  require(options.num_leapfrog_steps >= 1, "num_leapfrog_steps must be >= 1",
          options.num_leapfrog_steps);
  require(options.max_leapfrog_steps >= 1, "max_leapfrog_steps must be >= 1",
          options.max_leapfrog_steps);
  require(!options.trajectory_length || *options.trajectory_length > 0.0,
          "trajectory_length must be positive", options.trajectory_length.value_or(0.0));
  require(options.target_accept > 0.0 && options.target_accept < 1.0,
          "target_accept must be in (0, 1)", options.target_accept);
}

/// Warm-up in Stan's three phases, simplified: step size only for the first
/// 15%, then two windows (one third and two thirds of the next 75%) whose
/// positions' variance becomes the inverse mass matrix, then step size only
/// for the last 10%. Each new mass matrix restarts the step-size adaptation.
void warm_up(Chain& chain, const HmcOptions& options, std::size_t size) {
  const std::int64_t n = options.num_warmup;
  if (n == 0) return;
  const std::int64_t window_start = n * 15 / 100, slow_end = n * 90 / 100;
  const std::int64_t window_split = window_start + (slow_end - window_start) / 3;
  const bool adapt_mass = options.adapt_mass_matrix && slow_end - window_start >= 20;
  chain.find_reasonable_step_size();
  DualAveraging adaptation(chain.step_size(), options.target_accept);
  Welford window(size);
  for (std::int64_t i = 0; i < n; ++i) {
    chain.set_step_size(adaptation.update(chain.transition().accept_prob));
    if (!adapt_mass || i < window_start || i >= slow_end) continue;
    window.add(chain.state().position);
    if (i + 1 == window_split || i + 1 == slow_end) {
      chain.set_inverse_mass(window.regularized_variance());
      window = Welford(size);
      chain.find_reasonable_step_size();
      adaptation = DualAveraging(chain.step_size(), options.target_accept);
    }
  }
  chain.set_step_size(adaptation.averaged());
}

}  // namespace

HmcResult hmc(const LogDensity& log_density, const std::vector<Tensor>& initial,
              const HmcOptions& options) {
  check_options(options);
  const FlatTarget target("hmc", log_density, initial);
  const auto size = static_cast<std::size_t>(target.size());
  HmcResult result;
  std::vector<double> draws;   // [num_chains, num_draws, size]
  std::vector<double> starts;  // [num_chains, size]
  double accept_sum = 0.0;
  for (std::int64_t c = 0; c < options.num_chains; ++c) {
    State start = starting_state(target, options.init_jitter);
    starts.insert(starts.end(), start.position.begin(), start.position.end());
    Chain chain(target, options, std::move(start));
    warm_up(chain, options, size);
    result.step_sizes.push_back(chain.step_size());
    for (std::int64_t i = 0; i < options.num_draws; ++i) {
      const Trajectory trajectory = chain.transition();
      accept_sum += trajectory.accept_prob;
      result.divergences += trajectory.divergent;
      draws.insert(draws.end(), chain.state().position.begin(), chain.state().position.end());
    }
  }
  const std::int64_t total = options.num_chains * options.num_draws;
  result.acceptance_rate = accept_sum / static_cast<double>(total);
  result.draws = target.stack_rows(draws, total, target.dtype());
  result.starts = target.stack_rows(starts, options.num_chains, target.dtype());
  const Tensor chains =
      tensor(draws, {options.num_chains, options.num_draws, target.size()}, DType::f64);
  result.ess = target.split(effective_sample_size(chains).to_vector<double>(), DType::f64);
  if (options.num_chains > 1)
    result.rhat = target.split(split_rhat(chains).to_vector<double>(), DType::f64);
  return result;
}

}  // namespace tether::inference
