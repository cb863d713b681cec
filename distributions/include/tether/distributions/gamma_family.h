// Distributions whose densities need the gamma function, as torch.distributions':
// Gamma, InverseGamma, Beta, Dirichlet, StudentT and Poisson. Their log_prob
// is built from lgamma and xlogy, so it is differentiable in the value and in
// every parameter; entropies use digamma.
//
// Sampling draws standard gammas by Marsaglia and Tsang's method from the
// global generator (Beta and Dirichlet normalise gammas, StudentT divides a
// normal by a chi-square's root, Poisson inverts its CDF or uses Hörmann's
// PTRS). All but Poisson are reparametrised as torch's: a gamma draw x
// carries the implicit gradient dx/da = -(dP(a, x)/da) / f(x) in its
// concentration a (P the regularised incomplete gamma function, f the
// density), so rsample is differentiable in every parameter (first order:
// the gradient itself is not differentiated again).
#pragma once

#include <memory>
#include <optional>

#include "tether/distributions/distribution.h"

namespace tether::distributions {

/// What Gamma and InverseGamma share: concentration (> 0) and rate (> 0),
/// broadcast to batch_shape, and positive() as the support's constraint.
class ShapeRate : public Distribution {
 public:
  const Tensor& concentration() const { return concentration_; }
  const Tensor& rate() const { return rate_; }
  std::shared_ptr<Constraint> support() const override;

 protected:
  ShapeRate(std::string name, Param concentration, Param rate, std::optional<bool> validate_args);
  /// Standard gamma draws (rate 1) of shape extended_shape(sample_shape),
  /// differentiable in the concentration (the implicit gradient).
  Tensor standard_draw(const Shape& sample_shape) const;

 private:
  Tensor concentration_, rate_;
};

/// Gamma(concentration a, rate r): density r^a x^(a-1) e^(-r x) / Gamma(a) on
/// x >= 0 (torch's support, nonnegative).
class Gamma final : public ShapeRate {
 public:
  Gamma(Param concentration, Param rate, std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  Tensor log_prob(const Tensor& value) const override;
  bool has_rsample() const override { return true; }
  Tensor rsample(const Shape& sample_shape = {}) const override;
  Tensor mean() const override;
  Tensor variance() const override;
  Tensor entropy() const override;

 protected:
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override { return "values >= 0"; }
};

/// 1 / X for X ~ Gamma(concentration, rate), support values > 0. The mean is
/// infinite for concentration <= 1, the variance for concentration <= 2 (as
/// torch 2's InverseGamma).
class InverseGamma final : public ShapeRate {
 public:
  InverseGamma(Param concentration, Param rate, std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  Tensor log_prob(const Tensor& value) const override;
  bool has_rsample() const override { return true; }
  Tensor rsample(const Shape& sample_shape = {}) const override;
  Tensor mean() const override;
  Tensor variance() const override;
  Tensor entropy() const override;

 protected:
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override { return "values > 0"; }
};

/// Beta(concentration1 a, concentration0 b) on [0, 1]: density
/// x^(a-1) (1-x)^(b-1) / B(a, b). support() is bounded(0, 1).
class Beta final : public Distribution {
 public:
  Beta(Param concentration1, Param concentration0,
       std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  const Tensor& concentration1() const { return concentration1_; }
  const Tensor& concentration0() const { return concentration0_; }
  Tensor log_prob(const Tensor& value) const override;
  bool has_rsample() const override { return true; }
  Tensor rsample(const Shape& sample_shape = {}) const override;
  Tensor mean() const override;
  Tensor variance() const override;
  Tensor entropy() const override;
  std::shared_ptr<Constraint> support() const override;

 protected:
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override { return "[0, 1]"; }

 private:
  Tensor concentration1_, concentration0_;
};

/// Dirichlet(concentration [..., k], every entry > 0): batch_shape [...],
/// event_shape [k], values on the probability simplex (entries >= 0 summing
/// to 1 within 1e-6, as torch checks). support() is stick_breaking_simplex(),
/// the simplex's bijection.
class Dirichlet final : public Distribution {
 public:
  explicit Dirichlet(const Tensor& concentration, std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  const Tensor& concentration() const { return concentration_; }
  Tensor log_prob(const Tensor& value) const override;
  bool has_rsample() const override { return true; }
  Tensor rsample(const Shape& sample_shape = {}) const override;
  Tensor mean() const override;
  Tensor variance() const override;
  Tensor entropy() const override;
  std::shared_ptr<Constraint> support() const override;

 protected:
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override {
    return "the simplex: entries >= 0 summing to 1";
  }

 private:
  Tensor concentration_;
};

/// Student's t with df (> 0) degrees of freedom, location loc and scale (> 0).
/// The mean is NaN for df <= 1; the variance is infinite for 1 < df <= 2 and
/// NaN for df <= 1, as in PyTorch.
class StudentT final : public Distribution {
 public:
  StudentT(Param df, Param loc = 0.0, Param scale = 1.0,
           std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  const Tensor& df() const { return df_; }
  const Tensor& loc() const { return loc_; }
  const Tensor& scale() const { return scale_; }
  Tensor log_prob(const Tensor& value) const override;
  bool has_rsample() const override { return true; }
  /// loc + scale * z / sqrt(chi2 / df), z standard normal, chi2 = 2 Gamma(df / 2, 1).
  Tensor rsample(const Shape& sample_shape = {}) const override;
  Tensor mean() const override;
  Tensor variance() const override;
  Tensor entropy() const override;

 protected:
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override { return "real numbers"; }

 private:
  Tensor df_, loc_, scale_;
};

/// Poisson(rate >= 0, as torch's) over the counts 0, 1, 2, ... (floating values, as
/// torch's). No entropy (it has no closed form); support() is nullptr.
class Poisson final : public Distribution {
 public:
  explicit Poisson(Param rate, std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  const Tensor& rate() const { return rate_; }
  Tensor log_prob(const Tensor& value) const override;
  Tensor sample(const Shape& sample_shape = {}) const override;
  Tensor mean() const override;
  Tensor variance() const override;

 protected:
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override { return "counts 0, 1, 2, ..."; }

 private:
  Tensor rate_;
};

}  // namespace tether::distributions
