// Hamiltonian Monte Carlo (Neal 2011) with Stan's warm-up: the step size is
// adapted by Nesterov dual averaging (Hoffman and Gelman 2014) towards a target
// acceptance probability, and a diagonal mass matrix is set from the draws'
// variances in two warm-up windows (Stan's windowed adaptation, simplified).
// With HmcOptions::nuts the trajectory is the No-U-Turn sampler's (Stan's
// multinomial variant).
//
//   auto fit = inference::hmc(log_density, {zeros({2}, DType::f64)}, {.num_draws = 1000});
//   fit.draws[0];          // [num_chains * num_draws, ...initial[0].shape()]
//   fit.ess[0];            // effective sample size per coordinate
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "tether/inference/log_density.h"

namespace tether::inference {

struct HmcOptions {
  std::int64_t num_warmup = 500;  ///< adaptation iterations per chain, discarded
  std::int64_t num_draws = 500;   ///< kept iterations per chain
  std::int64_t num_chains = 1;    ///< run one after the other
  /// Each chain starts at the initial point plus Uniform(-init_jitter,
  /// init_jitter) in every coordinate (redrawn, up to 100 times, until the log
  /// density there is finite); 0 starts every chain at the initial point.
  /// Dispersed starts are what lets R-hat notice chains that have not mixed:
  /// Stan's default inits are Uniform(-2, 2) in the unconstrained space.
  double init_jitter = 0.0;
  /// The step size to start from; with num_warmup == 0 it is used unchanged.
  double step_size = 0.1;
  std::int64_t num_leapfrog_steps = 10;
  /// When set, each trajectory takes ceil(trajectory_length / step_size)
  /// leapfrog steps (at most max_leapfrog_steps) instead of num_leapfrog_steps.
  std::optional<double> trajectory_length = std::nullopt;
  std::int64_t max_leapfrog_steps = 1024;
  /// The No-U-Turn sampler (Stan's multinomial variant) instead of a fixed
  /// trajectory: each transition doubles its trajectory until it turns back,
  /// so num_leapfrog_steps and trajectory_length are not used. The warm-up is
  /// the same; its acceptance statistic is the mean over the tree's points.
  bool nuts = false;
  std::int64_t max_tree_depth = 10;  ///< NUTS: at most 2^max_tree_depth - 1 leapfrog steps
  double target_accept = 0.8;        ///< dual averaging's target acceptance probability
  bool adapt_mass_matrix = true;     ///< else the identity
};

struct HmcResult {
  /// One tensor per input: [num_chains * num_draws, ...shape], chain after chain.
  std::vector<Tensor> draws;
  /// One tensor per input: [num_chains, ...shape], where each chain started.
  std::vector<Tensor> starts;
  /// The mean Metropolis acceptance probability min(1, exp(-energy error))
  /// over the kept iterations: what dual averaging drives to target_accept.
  double acceptance_rate = 0.0;
  /// Kept iterations whose energy error exceeded 1000 or was not finite
  /// (rejected): the sampler could not follow the density's curvature there.
  std::int64_t divergences = 0;
  std::vector<double> step_sizes;  ///< per chain, after warm-up
  /// Per input, its shape, f64: effective sample size over all chains.
  std::vector<Tensor> ess;
  /// Per input, its shape, f64: split R-hat; empty with one chain.
  std::vector<Tensor> rhat;
};

/// Samples exp(log_density) from `initial` with the global generator (so a run
/// after manual_seed is reproducible). A ValueError from log_density inside a
/// trajectory (a distribution refusing a parameter the integrator pushed out
/// of its range) rejects that proposal as a divergence, as Stan does, and a
/// jittered start where it throws is redrawn. Throws ValueError naming "hmc" for an
/// empty or mixed-dtype initial point, a log density that is not one element
/// or not finite at the initial point (at 100 jittered starts in a row, with
/// init_jitter), or options out of range.
HmcResult hmc(const LogDensity& log_density, const std::vector<Tensor>& initial,
              const HmcOptions& options = {});

}  // namespace tether::inference
