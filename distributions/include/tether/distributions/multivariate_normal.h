// The multivariate normal N(loc, L L^T), as torch.distributions'
// MultivariateNormal, parametrised by its Cholesky factor L (scale_tril) or
// by a covariance matrix (whose Cholesky factor is then taken):
//
//   MultivariateNormal mvn(loc, ScaleTril{l});
//   MultivariateNormal same(loc, Covariance{l.matmul(l.mT())});
#pragma once

#include <optional>

#include "tether/distributions/distribution.h"

namespace tether::distributions {

/// A lower-triangular [..., k, k] with a positive diagonal.
struct ScaleTril {
  Tensor scale_tril;
};
/// A symmetric positive definite [..., k, k].
struct Covariance {
  Tensor covariance_matrix;
};

/// loc [..., k] and the factor [..., k, k] broadcast over their batch dims:
/// batch_shape is broadcast(loc's [...], the factor's [...]), event_shape
/// [k]. Validation checks that the factor is lower triangular with a
/// positive diagonal (a covariance: symmetric within 1e-6 and positive
/// definite) and loc has no NaN.
class MultivariateNormal final : public Distribution {
 public:
  MultivariateNormal(const Tensor& loc, ScaleTril scale_tril,
                     std::optional<bool> validate_args = std::nullopt);
  MultivariateNormal(const Tensor& loc, const Covariance& covariance,
                     std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  const Tensor& loc() const { return loc_; }
  const Tensor& scale_tril() const { return scale_tril_; }
  /// L L^T.
  Tensor covariance_matrix() const;
  Tensor log_prob(const Tensor& value) const override;
  bool has_rsample() const override { return true; }
  /// loc + L eps with eps standard normal.
  Tensor rsample(const Shape& sample_shape = {}) const override;
  Tensor mean() const override;
  /// The diagonal of the covariance, [..., k].
  Tensor variance() const override;
  Tensor entropy() const override;

 protected:
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override { return "real vectors"; }

 private:
  /// The covariance's factor, a ValueError naming the distribution where it has none.
  static Tensor factor_of(const Covariance& covariance, bool validate);
  /// sum(log(diag(L))): half the log-determinant of the covariance, [batch].
  Tensor half_log_det() const;
  Tensor loc_, scale_tril_;
};

}  // namespace tether::distributions
