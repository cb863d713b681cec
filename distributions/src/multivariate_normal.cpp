#include "tether/distributions/multivariate_normal.h"

#include <cmath>
#include <numbers>

#include "tether/grad_mode.h"

namespace tether::distributions {

namespace {
const double kLog2Pi = std::log(2 * std::numbers::pi);

std::vector<std::int64_t> leading(const Shape& shape, std::size_t drop) {
  std::vector<std::int64_t> extents = shape.to_vector();
  extents.resize(extents.size() - drop);
  return extents;
}
}  // namespace

MultivariateNormal::MultivariateNormal(const Tensor& loc, ScaleTril scale_tril,
                                       std::optional<bool> validate_args)
    : Distribution("MultivariateNormal", validate_args) {
  const Tensor& l = scale_tril.scale_tril;
  if (loc.dim() < 1 || l.dim() < 2 || l.size(-1) != l.size(-2) || l.size(-1) != loc.size(-1))
    fail<ShapeError>(name(), ": loc must be [..., k] and scale_tril [..., k, k], got loc ",
                     loc.shape(), " and scale_tril ", l.shape());
  const Shape batch = broadcast_shapes(name().c_str(), Shape(leading(loc.shape(), 1)),
                                       Shape(leading(l.shape(), 2)));
  const std::int64_t k = loc.size(-1);
  std::vector<std::int64_t> extents = batch.to_vector();
  extents.push_back(k);
  loc_ = loc.expand(Shape(extents));
  extents.push_back(k);
  scale_tril_ = l.expand(Shape(extents));
  set_shapes(batch, {k});
  require_real("loc", loc_);
  require("scale_tril", scale_tril_, eq(triu(scale_tril_, 1), zeros_like(scale_tril_)),
          "lower triangular");
  const Tensor diag = diagonal(scale_tril_);
  require("scale_tril's diagonal", diag, diag > 0.0, "> 0");
}

MultivariateNormal::MultivariateNormal(const Tensor& loc, const Covariance& covariance,
                                       std::optional<bool> validate_args)
    : MultivariateNormal(
          loc, ScaleTril{factor_of(covariance, validate_args.value_or(default_validate_args()))},
          validate_args) {}

Tensor MultivariateNormal::factor_of(const Covariance& covariance, bool validate) {
  const Tensor& c = covariance.covariance_matrix;
  if (c.dim() < 2 || c.size(-1) != c.size(-2))
    fail<ShapeError>("MultivariateNormal: covariance_matrix must be [..., k, k], got ", c.shape());
  if (validate) {
    NoGradGuard no_grad;
    const double asymmetry = abs(c - c.mT()).amax().item<double>();
    if (!(asymmetry <= 1e-6))
      fail<ValueError>(
          "MultivariateNormal: covariance_matrix must be symmetric, got one with "
          "|C - C^T| up to ",
          asymmetry);
  }
  try {
    return cholesky(c);
  } catch (const LinAlgError& e) {
    fail<ValueError>("MultivariateNormal: covariance_matrix must be positive definite: ", e.what());
  }
}

Tensor MultivariateNormal::covariance_matrix() const {
  return scale_tril_.matmul(scale_tril_.mT());
}

Tensor MultivariateNormal::half_log_det() const {
  return log(diagonal(scale_tril_)).sum({-1});
}

Tensor MultivariateNormal::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  // The Mahalanobis term |L^-1 (x - loc)|^2 by a triangular solve: no inverse, no covariance.
  const Tensor diff = (value - loc_).unsqueeze(-1);
  const Tensor whitened = solve_triangular(scale_tril_, diff, /*upper=*/false).squeeze(-1);
  const double k = static_cast<double>(event_shape()[0]);
  return -0.5 * (whitened.pow(2.0).sum({-1}) + k * kLog2Pi) - half_log_det();
}

Tensor MultivariateNormal::rsample(const Shape& sample_shape) const {
  Tensor eps;
  {
    NoGradGuard no_grad;
    eps = randn(extended_shape(sample_shape), loc_.options());
  }
  return loc_ + scale_tril_.matmul(eps.unsqueeze(-1)).squeeze(-1);
}

Tensor MultivariateNormal::mean() const {
  return loc_;
}

Tensor MultivariateNormal::variance() const {
  return scale_tril_.pow(2.0).sum({-1});
}

Tensor MultivariateNormal::entropy() const {
  const double k = static_cast<double>(event_shape()[0]);
  return half_log_det() + 0.5 * k * (1.0 + kLog2Pi);
}

Tensor MultivariateNormal::support_mask(const Tensor& value) const {
  return eq(value, value).all({-1});
}

}  // namespace tether::distributions
