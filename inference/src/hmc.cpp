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

/// A point of phase space: a state and its momentum.
struct Phase {
  State state;
  std::vector<double> momentum;
};

/// A stretch of a NUTS trajectory: the momenta at its first and last points,
/// in the order it was integrated, and the sum of all its momenta.
struct Span {
  std::vector<double> first, last, sum;
  Span reversed() const { return {last, first, sum}; }
};

/// A finished NUTS subtree: its span, the log of its points' summed weights
/// exp(-energy error), and the point drawn from it in proportion to them.
struct Subtree {
  Span span;
  double log_weight = -std::numeric_limits<double>::infinity();
  State proposal;
};

/// What one NUTS transition accumulates over every leapfrog step it takes.
struct TreeStatistics {
  double initial_energy;
  std::int64_t leapfrog_steps = 0;
  double accept_sum = 0.0;  ///< of min(1, exp(-energy error)), for dual averaging
  bool divergent = false;
};

std::vector<double> plus(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> sum(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) sum[i] = a[i] + b[i];
  return sum;
}

double log_sum_exp(double a, double b) {
  const double high = std::max(a, b);
  return high == -std::numeric_limits<double>::infinity()
             ? high
             : high + std::log(std::exp(a - high) + std::exp(b - high));
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
  /// NUTS: a fresh momentum and a multinomial draw from the tree, which is
  /// the next state. Static HMC: a fresh momentum, a leapfrog trajectory and
  /// the Metropolis decision.
  Trajectory transition() {
    if (options_.nuts) {
      Trajectory trajectory = nuts();
      state_ = trajectory.proposal;
      return trajectory;
    }
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

  std::vector<double> fresh_momentum() const {
    std::vector<double> momentum(state_.position.size());
    for (std::size_t i = 0; i < momentum.size(); ++i)
      momentum[i] = normal() / std::sqrt(inverse_mass_[i]);
    return momentum;
  }

  double energy(const Phase& z) const { return -z.state.log_density + kinetic_energy(z.momentum); }

  /// One leapfrog step of `eps` (negative: backwards in time).
  void leapfrog(Phase& z, double eps) const {
    for (std::size_t i = 0; i < z.momentum.size(); ++i) {
      z.momentum[i] += 0.5 * eps * z.state.gradient[i];
      z.state.position[i] += eps * inverse_mass_[i] * z.momentum[i];
    }
    z.state.log_density = log_density_or_reject(target_, z.state.position, z.state.gradient);
    for (std::size_t i = 0; i < z.momentum.size(); ++i)
      z.momentum[i] += 0.5 * eps * z.state.gradient[i];
  }

  Trajectory simulate(std::int64_t steps) const {
    Phase z{state_, fresh_momentum()};
    const double initial_energy = energy(z);
    for (std::int64_t s = 0; s < steps && std::isfinite(z.state.log_density); ++s)
      leapfrog(z, step_size_);
    const double energy_error = energy(z) - initial_energy;
    // NaN compares false: a trajectory into NaN or infinite density diverged too.
    Trajectory trajectory{z.state};
    trajectory.divergent = !(energy_error <= 1000.0);
    trajectory.accept_prob = trajectory.divergent ? 0.0 : std::min(1.0, std::exp(-energy_error));
    return trajectory;
  }

  /// The generalised no-U-turn criterion (Betancourt 2017): a span keeps
  /// going while the velocities M^-1 p at both of its ends still point along
  /// its summed momentum.
  bool keeps_going(const std::vector<double>& first, const std::vector<double>& last,
                   const std::vector<double>& sum) const {
    double along_first = 0.0, along_last = 0.0;
    for (std::size_t i = 0; i < sum.size(); ++i) {
      along_first += inverse_mass_[i] * first[i] * sum[i];
      along_last += inverse_mass_[i] * last[i] * sum[i];
    }
    return along_first > 0.0 && along_last > 0.0;
  }

  /// Joins the adjacent spans a then b into `joined`; false where it turns
  /// back, judged over the whole and, as Stan does since 2.23, over each span
  /// extended by the neighbouring end of the other (which catches U-turns
  /// that fall between the two).
  bool join(const Span& a, const Span& b, Span& joined) const {
    joined = {a.first, b.last, plus(a.sum, b.sum)};
    return keeps_going(a.first, b.last, joined.sum) &&
           keeps_going(a.first, b.first, plus(a.sum, b.first)) &&
           keeps_going(a.last, b.last, plus(b.sum, a.last));
  }

  /// Integrates 2^depth leapfrog steps from `edge` in `direction` (+1 or -1),
  /// leaving `edge` at the far end, into `tree`. False when a step diverged or
  /// a part turned back: the caller discards the tree and stops.
  bool build_tree(int depth, Phase& edge, double direction, Subtree& tree,
                  TreeStatistics& statistics) const {
    if (depth == 0) {
      leapfrog(edge, direction * step_size_);
      ++statistics.leapfrog_steps;
      double energy_error = energy(edge) - statistics.initial_energy;
      if (std::isnan(energy_error)) energy_error = std::numeric_limits<double>::infinity();
      statistics.divergent = energy_error > 1000.0;
      statistics.accept_sum += std::min(1.0, std::exp(-energy_error));
      tree = {{edge.momentum, edge.momentum, edge.momentum}, -energy_error, edge.state};
      return !statistics.divergent;
    }
    Subtree inner, outer;
    if (!build_tree(depth - 1, edge, direction, inner, statistics) ||
        !build_tree(depth - 1, edge, direction, outer, statistics))
      return false;
    tree.log_weight = log_sum_exp(inner.log_weight, outer.log_weight);
    // Multinomial sampling: the outer half's draw with its share of the weight.
    tree.proposal = uniform() < std::exp(outer.log_weight - tree.log_weight)
                        ? std::move(outer.proposal)
                        : std::move(inner.proposal);
    return join(inner.span, outer.span, tree.span);
  }

  /// Stan's multinomial NUTS (Hoffman and Gelman 2014; Betancourt 2017,
  /// appendix A): the trajectory doubles forwards or backwards at random
  /// until it turns back, a step diverges or max_tree_depth is reached. Each
  /// new subtree's draw replaces the sample with probability min(1, its weight
  /// over the old trajectory's) (biased progressive sampling).
  Trajectory nuts() const {
    Phase forward{state_, fresh_momentum()};
    Phase backward = forward;
    TreeStatistics statistics{energy(forward)};
    Span whole{forward.momentum, forward.momentum, forward.momentum};
    double log_weight = 0.0;  // the initial point's: exp(-0)
    Trajectory trajectory{state_};
    for (std::int64_t depth = 0; depth < options_.max_tree_depth; ++depth) {
      const bool onward = uniform() > 0.5;
      Subtree subtree;
      if (!build_tree(static_cast<int>(depth), onward ? forward : backward, onward ? 1.0 : -1.0,
                      subtree, statistics))
        break;
      if (uniform() < std::exp(subtree.log_weight - log_weight))
        trajectory.proposal = std::move(subtree.proposal);
      log_weight = log_sum_exp(log_weight, subtree.log_weight);
      // In time order, a backward subtree comes first, integrated from its last point.
      Span joined;
      const bool going =
          onward ? join(whole, subtree.span, joined) : join(subtree.span.reversed(), whole, joined);
      whole = std::move(joined);
      if (!going) break;
    }
    trajectory.accept_prob = statistics.accept_sum / static_cast<double>(statistics.leapfrog_steps);
    trajectory.divergent = statistics.divergent;
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
  require(options.max_tree_depth >= 1 && options.max_tree_depth <= 30,
          "max_tree_depth must be in [1, 30]", options.max_tree_depth);
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
