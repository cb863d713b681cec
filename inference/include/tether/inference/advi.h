// Mean-field Gaussian variational inference (ADVI; Kucukelbir et al. 2017):
// q(x) = prod_i Normal(mu_i, exp(log_sigma_i)) over every element of the
// inputs, fitted by maximising the ELBO = E_q[log_density(x)] + entropy(q),
// estimated with reparametrised draws (Normal::rsample) and optimised by Adam.
#pragma once

#include <cstdint>
#include <vector>

#include "tether/inference/log_density.h"

namespace tether::inference {

struct AdviOptions {
  std::int64_t num_steps = 1000;   ///< Adam steps
  std::int64_t num_samples = 8;    ///< draws per ELBO estimate
  double lr = 0.05;                ///< Adam's learning rate
  double initial_log_sigma = 0.0;  ///< every log_sigma starts here; mu at the initial point
  std::int64_t num_draws = 1000;   ///< draws from the fitted q returned in AdviResult::draws
};

struct AdviResult {
  /// Per input, its shape: the fitted mu, averaged over the last half of the
  /// steps (Polyak averaging, which removes most of Adam's jitter).
  std::vector<Tensor> means;
  /// Per input, its shape: exp of the fitted log_sigma, averaged the same way.
  std::vector<Tensor> sds;
  /// Per input, [num_draws, ...shape]: draws from q with those means and sds,
  /// laid out as HmcResult::draws.
  std::vector<Tensor> draws;
  std::vector<double> elbo;  ///< the ELBO estimate at each step
};

/// Fits q to exp(log_density), drawing from the global generator. Mean-field
/// q underestimates posterior variances where the target is correlated.
/// Throws ValueError naming "advi" as hmc does, and when the ELBO becomes NaN.
AdviResult advi(const LogDensity& log_density, const std::vector<Tensor>& initial,
                const AdviOptions& options = {});

}  // namespace tether::inference
