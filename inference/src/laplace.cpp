#include "tether/inference/laplace.h"

#include <cmath>

#include "flat_target.h"
#include "tether/autograd.h"
#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"

namespace tether::inference {
namespace {

/// The Cholesky factor of the negative Hessian at x: LinAlgError naming
/// laplace when it is not positive definite.
Tensor negative_hessian_factor(const detail::FlatTarget& target, const Tensor& x) {
  const Tensor negative_hessian =
      -autograd::hessian([&](const Tensor& flat) { return target.log_density(flat); }, x);
  try {
    return cholesky(negative_hessian);
  } catch (const LinAlgError&) {
    fail<LinAlgError>("laplace: the negative Hessian of log_density is not positive definite at ",
                      x, " (no local maximum there, or a flat direction)");
  }
}

double value_at(const detail::FlatTarget& target, const Tensor& x) {
  NoGradGuard no_grad;
  return target.log_density(x).item<double>();
}

/// Newton's method for the mode: each step solves -H step = g and is halved
/// until the log density rises. Returns the mode.
Tensor find_mode(const detail::FlatTarget& target, Tensor x, const LaplaceOptions& options) {
  std::vector<double> gradient;
  for (std::int64_t iteration = 0; iteration < options.max_steps; ++iteration) {
    const double value = target.value_and_gradient(x.to_vector<double>(), gradient);
    const Tensor g = target.flat(gradient).unsqueeze(1);
    const Tensor step = cholesky_solve(g, negative_hessian_factor(target, x)).squeeze(1);
    // g . step is twice the rise a quadratic model predicts: Newton's decrement.
    if ((g.squeeze(1) * step).sum().item<double>() < options.tolerance) break;
    double scale = 1.0;
    while (scale > 1e-10 && !(value_at(target, x + step * scale) >= value)) scale *= 0.5;
    x = x + step * scale;
  }
  return x;
}

}  // namespace

LaplaceResult laplace(const LogDensity& log_density, const std::vector<Tensor>& initial,
                      const LaplaceOptions& options) {
  if (options.max_steps < 0)
    fail<ValueError>("laplace: max_steps must be >= 0, got ", options.max_steps);
  const detail::FlatTarget target("laplace", log_density, initial);
  Tensor x = target.flat(target.initial());
  target.check_initial_value(value_at(target, x));
  if (options.find_mode) x = find_mode(target, x, options);
  const Tensor factor = negative_hessian_factor(target, x);
  LaplaceResult result;
  result.mode = target.split(x.to_vector<double>(), target.dtype());
  result.covariance = cholesky_solve(eye(target.size(), std::nullopt, target.dtype()), factor);
  return result;
}

}  // namespace tether::inference
