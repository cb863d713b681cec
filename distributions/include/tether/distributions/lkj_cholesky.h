// LKJCholesky, as torch.distributions': the Lewandowski-Kurowicka-Joe
// distribution over correlation matrices C, expressed through their Cholesky
// factors L (C = L L^T), with density proportional to det(C)^(concentration - 1).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "tether/distributions/distribution.h"

namespace tether::distributions {

/// LKJCholesky(dim >= 2, concentration > 0): batch_shape concentration's,
/// event_shape [dim, dim], values lower-triangular with a positive diagonal
/// and unit-norm rows (rows within 10 dim epsilon of 1, as torch checks).
/// support() is cholesky_corr(), the bijection onto those factors. Samples
/// come from the onion method (Lewandowski et al. 2009), with the paper's
/// Beta parameters where torch 1.13's are off for dim >= 3 (see the .cpp);
/// there is no rsample, and mean and variance are unavailable, as in torch.
class LKJCholesky final : public Distribution {
 public:
  LKJCholesky(std::int64_t dim, Param concentration = 1.0,
              std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  std::int64_t dim() const { return dim_; }
  const Tensor& concentration() const { return concentration_; }
  Tensor log_prob(const Tensor& value) const override;
  Tensor sample(const Shape& sample_shape = {}) const override;
  /// ValueErrors: torch.distributions.LKJCholesky defines neither.
  Tensor mean() const override;
  Tensor variance() const override;
  std::shared_ptr<Constraint> support() const override;

 protected:
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override {
    return "Cholesky factors of correlation matrices: lower triangular, positive diagonal, "
           "unit-norm rows";
  }

 private:
  std::int64_t dim_;
  Tensor concentration_;
};

}  // namespace tether::distributions
