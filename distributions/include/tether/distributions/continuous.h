// Univariate continuous distributions, as torch.distributions': Normal,
// LogNormal, HalfNormal, Cauchy, HalfCauchy, Laplace, Exponential, Uniform.
// Each is reparametrised (rsample), and its support() is the library
// constraint an unconstrained value maps onto (positive() for the positive
// ones, bounded(low, high) for a Uniform with one interval).
#pragma once

#include <memory>
#include <optional>

#include "tether/distributions/distribution.h"

namespace tether::distributions {

/// What the location-scale families share: loc (real), scale (> 0), both
/// broadcast to batch_shape, and the real line as support.
class LocScale : public Distribution {
 public:
  const Tensor& loc() const { return loc_; }
  const Tensor& scale() const { return scale_; }
  bool has_rsample() const override { return true; }
  /// loc + scale * eps, eps drawn from the standard member of the family.
  Tensor rsample(const Shape& sample_shape = {}) const override;

 protected:
  LocScale(std::string name, Param loc, Param scale, std::optional<bool> validate_args);
  /// (value - loc) / scale.
  Tensor standardize(const Tensor& value) const;
  /// A standard draw (loc 0, scale 1) of `shape`, outside the graph.
  virtual Tensor standard_draw(const Shape& shape) const = 0;
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override { return "real numbers"; }

 private:
  Tensor loc_, scale_;
};

/// N(loc, scale^2).
class Normal final : public LocScale {
 public:
  Normal(Param loc, Param scale, std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  Tensor log_prob(const Tensor& value) const override;
  Tensor mean() const override;
  Tensor variance() const override;
  Tensor stddev() const override { return scale(); }
  Tensor entropy() const override;
  Tensor cdf(const Tensor& value) const override;
  /// loc + scale sqrt2 erfinv(2p - 1); -inf at 0 and +inf at 1.
  Tensor icdf(const Tensor& probability) const override;

 protected:
  Tensor standard_draw(const Shape& shape) const override;
};

/// Cauchy(loc, scale): mean NaN, variance infinite, as in PyTorch.
class Cauchy final : public LocScale {
 public:
  Cauchy(Param loc, Param scale, std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  Tensor log_prob(const Tensor& value) const override;
  Tensor mean() const override;
  Tensor variance() const override;
  Tensor entropy() const override;
  /// atan((value - loc) / scale) / pi + 1/2.
  Tensor cdf(const Tensor& value) const override;
  Tensor icdf(const Tensor& probability) const override;

 protected:
  Tensor standard_draw(const Shape& shape) const override;
};

/// Laplace(loc, scale): density exp(-|x - loc| / scale) / (2 scale).
class Laplace final : public LocScale {
 public:
  Laplace(Param loc, Param scale, std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  Tensor log_prob(const Tensor& value) const override;
  Tensor mean() const override;
  Tensor variance() const override;
  Tensor entropy() const override;
  Tensor cdf(const Tensor& value) const override;
  Tensor icdf(const Tensor& probability) const override;

 protected:
  Tensor standard_draw(const Shape& shape) const override;
};

/// exp(X) for X ~ N(loc, scale^2); support values > 0.
class LogNormal final : public Distribution {
 public:
  LogNormal(Param loc, Param scale, std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  const Tensor& loc() const { return base_.loc(); }
  const Tensor& scale() const { return base_.scale(); }
  Tensor log_prob(const Tensor& value) const override;
  bool has_rsample() const override { return true; }
  Tensor rsample(const Shape& sample_shape = {}) const override;
  Tensor mean() const override;
  /// expm1(scale^2) exp(2 loc + scale^2), accurate for small scales (as torch 2's).
  Tensor variance() const override;
  Tensor entropy() const override;
  std::shared_ptr<Constraint> support() const override;

 protected:
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override { return "values > 0"; }

 private:
  Normal base_;
};

/// |X| for X of a location-scale family with loc 0: HalfNormal and
/// HalfCauchy. Support values >= 0; log_prob is the base's plus log 2 there
/// and -inf below 0 (without validation).
class Folded : public Distribution {
 public:
  const Tensor& scale() const { return base_->scale(); }
  Tensor log_prob(const Tensor& value) const override;
  bool has_rsample() const override { return true; }
  Tensor rsample(const Shape& sample_shape = {}) const override;
  std::shared_ptr<Constraint> support() const override;

 protected:
  Folded(std::string name, std::shared_ptr<const LocScale> base, std::optional<bool> validate_args);
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override { return "values >= 0"; }

 private:
  std::shared_ptr<const LocScale> base_;
};

/// |X| for X ~ N(0, scale^2).
class HalfNormal final : public Folded {
 public:
  explicit HalfNormal(Param scale, std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  Tensor mean() const override;
  Tensor variance() const override;
  Tensor entropy() const override;
};

/// |X| for X ~ Cauchy(0, scale): mean and variance infinite.
class HalfCauchy final : public Folded {
 public:
  explicit HalfCauchy(Param scale, std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  Tensor mean() const override;
  Tensor variance() const override;
  Tensor entropy() const override;
};

/// Exponential(rate > 0), support values >= 0.
class Exponential final : public Distribution {
 public:
  explicit Exponential(Param rate, std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  const Tensor& rate() const { return rate_; }
  Tensor log_prob(const Tensor& value) const override;
  bool has_rsample() const override { return true; }
  Tensor rsample(const Shape& sample_shape = {}) const override;
  Tensor mean() const override;
  Tensor variance() const override;
  Tensor entropy() const override;
  Tensor cdf(const Tensor& value) const override;
  Tensor icdf(const Tensor& probability) const override;
  std::shared_ptr<Constraint> support() const override;

 protected:
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override { return "values >= 0"; }

 private:
  Tensor rate_;
};

/// Uniform on [low, high). Unlike torch 1.13, which does not check, low <
/// high is validated.
class Uniform final : public Distribution {
 public:
  Uniform(Param low, Param high, std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  const Tensor& low() const { return low_; }
  const Tensor& high() const { return high_; }
  Tensor log_prob(const Tensor& value) const override;
  bool has_rsample() const override { return true; }
  Tensor rsample(const Shape& sample_shape = {}) const override;
  Tensor mean() const override;
  Tensor variance() const override;
  Tensor entropy() const override;
  Tensor cdf(const Tensor& value) const override;
  Tensor icdf(const Tensor& probability) const override;
  /// bounded(low, high) when every member of the batch has the same
  /// interval; nullptr otherwise (a per-element interval is no library constraint).
  std::shared_ptr<Constraint> support() const override;

 protected:
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override { return "[low, high)"; }

 private:
  Tensor low_, high_;
};

}  // namespace tether::distributions
