// The Laplace approximation: a Gaussian at the mode of the log density whose
// covariance is the inverse of the negative Hessian there (autograd::hessian,
// one backward per coordinate: meant for small parameter counts). Exact for a
// Gaussian target.
#pragma once

#include <cstdint>
#include <vector>

#include "tether/inference/log_density.h"

namespace tether::inference {

struct LaplaceOptions {
  /// Find the mode by Newton's method (with step halving) from the initial
  /// point; false takes the initial point as the mode.
  bool find_mode = true;
  std::int64_t max_steps = 100;
  /// Newton stops once the log density would rise by less than this.
  double tolerance = 1e-12;
};

struct LaplaceResult {
  std::vector<Tensor> mode;  ///< per input, its shape
  /// [D, D] over the inputs' elements, each flattened row-major and the
  /// inputs concatenated in order; the initial point's dtype.
  Tensor covariance;
};

/// Throws ValueError naming "laplace" as hmc does, and LinAlgError when the
/// negative Hessian is not positive definite at a Newton iterate or at the
/// mode (no local maximum there, or a flat direction).
LaplaceResult laplace(const LogDensity& log_density, const std::vector<Tensor>& initial,
                      const LaplaceOptions& options = {});

}  // namespace tether::inference
