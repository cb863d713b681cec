// Convergence diagnostics of Markov chains, as Stan computes them (Stan
// Reference Manual, "Posterior analysis"; Vehtari et al. 2021 without rank
// normalisation).
#pragma once

#include "tether/tensor.h"

namespace tether::inference {

/// The effective sample size of each coordinate of `chains`, of shape
/// [num_chains, num_draws, ...]: the number of independent draws that would
/// estimate its mean as precisely. Autocorrelations combine the chains'
/// autocovariances with the between-chain variance and are summed by Geyer's
/// initial monotone sequence; the result is capped at num_chains * num_draws *
/// log10(num_chains * num_draws), as Stan's. Shape [...], f64; NaN for a
/// coordinate that never changes. Throws ShapeError for fewer than 2 dims or 4 draws.
Tensor effective_sample_size(const Tensor& chains);

/// The split potential scale reduction R-hat of each coordinate of `chains`,
/// [num_chains, num_draws, ...]: each chain is cut in halves and the between-
/// to within-half variance compared; near 1 when the chains agree (Stan warns
/// above 1.01). Shape [...], f64. Throws as effective_sample_size.
Tensor split_rhat(const Tensor& chains);

}  // namespace tether::inference
