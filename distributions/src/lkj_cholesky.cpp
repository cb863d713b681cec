#include "tether/distributions/lkj_cholesky.h"

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "tether/constraint_library.h"
#include "tether/distributions/gamma_family.h"
#include "tether/grad_mode.h"

namespace tether::distributions {

namespace {
const double kLogPi = std::log(std::numbers::pi);
}  // namespace

LKJCholesky::LKJCholesky(std::int64_t dim, Param concentration, std::optional<bool> validate_args)
    : Distribution("LKJCholesky", validate_args), dim_(dim) {
  if (dim < 2) fail<ValueError>(name(), ": dim must be >= 2, got ", dim);
  concentration_ = broadcast_all(name(), {std::move(concentration)})[0];
  set_shapes(concentration_.shape(), {dim, dim});
  require_positive("concentration", concentration_);
}

Tensor LKJCholesky::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  // The density in L is prod_{i >= 2} L_ii^(2 (concentration - 1) + dim - i)
  // (i from 1); the first diagonal entry, always 1, gets exponent 0, and xlogy
  // keeps its gradient 0 as torch's (which leaves it out).
  std::vector<double> offsets(static_cast<std::size_t>(dim_)), present(offsets.size(), 1.0);
  for (std::int64_t k = 0; k < dim_; ++k) offsets[k] = static_cast<double>(dim_ - 1 - k);
  present[0] = 0.0;
  const Tensor& c = concentration_;
  const TensorOptions options = c.options();
  const Tensor order =
      (2.0 * (c - 1.0).unsqueeze(-1) + tensor(offsets, options)) * tensor(present, options);
  const Tensor unnormalised = xlogy(order, diagonal(value)).sum({-1});
  // The normaliser (Lewandowski et al. 2009, p. 1999) through the
  // multivariate log-gamma of alpha - 1/2 in dim - 1 dimensions.
  const double m = static_cast<double>(dim_ - 1);
  const Tensor alpha = c + 0.5 * m;
  Tensor multivariate_lgamma = full_like(c, m * (m - 1.0) / 4.0 * kLogPi);
  for (std::int64_t j = 0; j < dim_ - 1; ++j)
    multivariate_lgamma = multivariate_lgamma + lgamma(alpha - 0.5 - 0.5 * static_cast<double>(j));
  const Tensor log_normaliser = 0.5 * m * kLogPi + multivariate_lgamma - m * lgamma(alpha);
  return unnormalised - log_normaliser;
}

Tensor LKJCholesky::sample(const Shape& sample_shape) const {
  NoGradGuard no_grad;
  // The onion method (Lewandowski et al. 2009, sec. 3.2) vectorised as torch
  // does: row i of L (from 0) is sqrt(y_i) times a uniform direction in its
  // first i coordinates, y_i ~ Beta(i / 2, concentration + (dim - 1 - i) / 2),
  // and the diagonal completes the unit norm. torch 1.13 draws y_i ~ Beta(i -
  // 1/2, ...), which is the paper's only for i = 1: its correlations beyond
  // the second row come out too spread (the moments test catches that).
  const Tensor c = concentration_.detach();
  const TensorOptions options = c.options();
  std::vector<double> offset(static_cast<std::size_t>(dim_), 0.0);
  for (std::int64_t k = 1; k < dim_; ++k) offset[k] = static_cast<double>(k - 1);
  const Tensor offsets = tensor(offset, options);
  const Tensor marginal = c + 0.5 * static_cast<double>(dim_ - 2);
  const Beta beta(0.5 * offsets + 0.5, marginal.unsqueeze(-1) - 0.5 * offsets, false);
  const Tensor y = beta.sample(sample_shape).unsqueeze(-1);
  const double tiny = c.dtype() == DType::f64 ? std::numeric_limits<double>::min()
                                              : std::numeric_limits<float>::min();
  // Row 0 of the strictly lower triangle is empty: normalize leaves it 0.
  const Tensor direction =
      normalize(tril(randn(extended_shape(sample_shape), options), -1), -1, tiny);
  const Tensor w = sqrt(y) * direction;
  const Tensor diag = sqrt(clamp(1.0 - w.pow(2.0).sum({-1}), tiny, std::nullopt));
  return w + eye(dim_, std::nullopt, options) * diag.unsqueeze(-1);
}

Tensor LKJCholesky::mean() const {
  unavailable("mean");
}

Tensor LKJCholesky::variance() const {
  unavailable("variance");
}

std::shared_ptr<Constraint> LKJCholesky::support() const {
  return constraints::cholesky_corr();
}

Tensor LKJCholesky::support_mask(const Tensor& value) const {
  const double tolerance = epsilon_of(value) * static_cast<double>(dim_) * 10.0;
  const Tensor lower = eq(triu(value, 1), zeros_like(value)).all({-1, -2});
  const Tensor positive_diagonal = (diagonal(value) > 0.0).all({-1});
  const Tensor unit_rows = (abs(norm(value, {-1}) - 1.0) <= tolerance).all({-1});
  return lower & positive_diagonal & unit_rows;
}

}  // namespace tether::distributions
