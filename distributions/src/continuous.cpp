#include "tether/distributions/continuous.h"

#include <cmath>
#include <numbers>

#include "tether/constraint_library.h"
#include "tether/grad_mode.h"

namespace tether::distributions {

namespace {
constexpr double kPi = std::numbers::pi;
const double kLogSqrt2Pi = 0.5 * std::log(2 * kPi);
const double kLog2 = std::log(2.0);

/// Where the bool mask `inside` is true, x; elsewhere -inf.
Tensor or_minus_infinity(const Tensor& inside, const Tensor& x) {
  return where(inside, x, full_like(x, -INFINITY));
}

/// Uniform draws on [0, 1) of `shape`, in the dtype and device of `like`.
Tensor uniform_draw(const Shape& shape, const Tensor& like) {
  return rand(shape, like.options());
}

}  // namespace

// ---- location-scale families -----------------------------------------------

LocScale::LocScale(std::string name, Param loc, Param scale, std::optional<bool> validate_args)
    : Distribution(name, validate_args) {
  const auto params = broadcast_all(name, {std::move(loc), std::move(scale)});
  loc_ = params[0];
  scale_ = params[1];
  set_shapes(loc_.shape());
  require_real("loc", loc_);
  require_positive("scale", scale_);
}

Tensor LocScale::rsample(const Shape& sample_shape) const {
  Tensor eps;
  {
    NoGradGuard no_grad;
    eps = standard_draw(extended_shape(sample_shape));
  }
  return loc_ + eps * scale_;
}

Tensor LocScale::standardize(const Tensor& value) const {
  return (value - loc_) / scale_;
}

Tensor LocScale::support_mask(const Tensor& value) const {
  return eq(value, value);
}

Normal::Normal(Param loc, Param scale, std::optional<bool> validate_args)
    : LocScale("Normal", std::move(loc), std::move(scale), validate_args) {}

Tensor Normal::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  return -0.5 * standardize(value).pow(2.0) - log(scale()) - kLogSqrt2Pi;
}

Tensor Normal::mean() const {
  return loc();
}

Tensor Normal::variance() const {
  return scale().pow(2.0);
}

Tensor Normal::entropy() const {
  return log(scale()) + (0.5 + kLogSqrt2Pi);
}

Tensor Normal::cdf(const Tensor& value) const {
  check_value("cdf", value);
  return 0.5 * (1.0 + erf(standardize(value) * std::numbers::sqrt2 / 2));
}

Tensor Normal::icdf(const Tensor& probability) const {
  return loc() + scale() * erfinv(2.0 * probability - 1.0) * std::numbers::sqrt2;
}

Tensor Normal::standard_draw(const Shape& shape) const {
  return randn(shape, loc().options());
}

Cauchy::Cauchy(Param loc, Param scale, std::optional<bool> validate_args)
    : LocScale("Cauchy", std::move(loc), std::move(scale), validate_args) {}

Tensor Cauchy::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  return -std::log(kPi) - log(scale()) - log1p(standardize(value).pow(2.0));
}

Tensor Cauchy::mean() const {
  return full_like(loc(), NAN);
}

Tensor Cauchy::variance() const {
  return full_like(loc(), INFINITY);
}

Tensor Cauchy::entropy() const {
  return log(scale()) + std::log(4 * kPi);
}

Tensor Cauchy::cdf(const Tensor& value) const {
  check_value("cdf", value);
  return atan(standardize(value)) / kPi + 0.5;
}

Tensor Cauchy::icdf(const Tensor& probability) const {
  const Tensor angle = kPi * (probability - 0.5);
  return loc() + scale() * sin(angle) / cos(angle);
}

Tensor Cauchy::standard_draw(const Shape& shape) const {
  // tan(pi (u - 1/2)), the standard Cauchy's inverse CDF (tether has no tan op).
  const Tensor angle = kPi * (uniform_draw(shape, loc()) - 0.5);
  return sin(angle) / cos(angle);
}

Laplace::Laplace(Param loc, Param scale, std::optional<bool> validate_args)
    : LocScale("Laplace", std::move(loc), std::move(scale), validate_args) {}

Tensor Laplace::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  return -log(2.0 * scale()) - abs(standardize(value));
}

Tensor Laplace::mean() const {
  return loc();
}

Tensor Laplace::variance() const {
  return 2.0 * scale().pow(2.0);
}

Tensor Laplace::entropy() const {
  return log(2.0 * scale()) + 1.0;
}

Tensor Laplace::cdf(const Tensor& value) const {
  check_value("cdf", value);
  const Tensor z = standardize(value);
  return 0.5 - 0.5 * sign(z) * (exp(-abs(z)) - 1.0);
}

Tensor Laplace::icdf(const Tensor& probability) const {
  const Tensor centred = probability - 0.5;
  return loc() - scale() * sign(centred) * log1p(-2.0 * abs(centred));
}

Tensor Laplace::standard_draw(const Shape& shape) const {
  // u uniform on (-1, 1), kept off -1 by one epsilon as torch does, so log1p(-|u|) is finite.
  const double eps = epsilon_of(loc());
  const Tensor u = uniform_draw(shape, loc()) * (2.0 - eps) + (eps - 1.0);
  return -sign(u) * log1p(-abs(u));
}

// ---- LogNormal ---------------------------------------------------------------

LogNormal::LogNormal(Param loc, Param scale, std::optional<bool> validate_args)
    : Distribution("LogNormal", validate_args), base_(std::move(loc), std::move(scale), false) {
  set_shapes(base_.batch_shape());
  require_real("loc", this->loc());
  require_positive("scale", this->scale());
}

Tensor LogNormal::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  const Tensor log_value = log(value);
  return base_.log_prob(log_value) - log_value;
}

Tensor LogNormal::rsample(const Shape& sample_shape) const {
  return exp(base_.rsample(sample_shape));
}

Tensor LogNormal::mean() const {
  return exp(loc() + scale().pow(2.0) / 2.0);
}

Tensor LogNormal::variance() const {
  const Tensor s2 = scale().pow(2.0);
  return expm1(s2) * exp(2.0 * loc() + s2);
}

Tensor LogNormal::entropy() const {
  return base_.entropy() + loc();
}

std::shared_ptr<Constraint> LogNormal::support() const {
  return constraints::positive(constraints::PositiveMap::exp);
}

Tensor LogNormal::support_mask(const Tensor& value) const {
  return value > 0.0;
}

// ---- folded: HalfNormal, HalfCauchy --------------------------------------------

Folded::Folded(std::string name, std::shared_ptr<const LocScale> base,
               std::optional<bool> validate_args)
    : Distribution(std::move(name), validate_args), base_(std::move(base)) {
  set_shapes(base_->batch_shape());
  require_positive("scale", scale());
}

Tensor Folded::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  return or_minus_infinity(value >= 0.0, base_->log_prob(value) + kLog2);
}

Tensor Folded::rsample(const Shape& sample_shape) const {
  return abs(base_->rsample(sample_shape));
}

std::shared_ptr<Constraint> Folded::support() const {
  return constraints::positive(constraints::PositiveMap::exp);
}

Tensor Folded::support_mask(const Tensor& value) const {
  return value >= 0.0;
}

HalfNormal::HalfNormal(Param scale, std::optional<bool> validate_args)
    : Folded("HalfNormal", std::make_shared<Normal>(0.0, std::move(scale), false), validate_args) {}

Tensor HalfNormal::mean() const {
  return scale() * std::sqrt(2.0 / kPi);
}

Tensor HalfNormal::variance() const {
  return scale().pow(2.0) * (1.0 - 2.0 / kPi);
}

Tensor HalfNormal::entropy() const {
  return log(scale()) + (0.5 * std::log(kPi / 2.0) + 0.5);
}

HalfCauchy::HalfCauchy(Param scale, std::optional<bool> validate_args)
    : Folded("HalfCauchy", std::make_shared<Cauchy>(0.0, std::move(scale), false), validate_args) {}

Tensor HalfCauchy::mean() const {
  return full_like(scale(), INFINITY);
}

Tensor HalfCauchy::variance() const {
  return full_like(scale(), INFINITY);
}

Tensor HalfCauchy::entropy() const {
  return log(scale()) + std::log(2 * kPi);
}

// ---- Exponential ---------------------------------------------------------------

Exponential::Exponential(Param rate, std::optional<bool> validate_args)
    : Distribution("Exponential", validate_args) {
  rate_ = broadcast_all(name(), {std::move(rate)})[0];
  set_shapes(rate_.shape());
  require_positive("rate", rate_);
}

Tensor Exponential::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  return log(rate_) - rate_ * value;
}

Tensor Exponential::rsample(const Shape& sample_shape) const {
  Tensor standard;
  {
    NoGradGuard no_grad;
    // -log(1 - u) for u in [0, 1): finite, and exactly 0 only for u = 0.
    standard = -log1p(-uniform_draw(extended_shape(sample_shape), rate_));
  }
  return standard / rate_;
}

Tensor Exponential::mean() const {
  return reciprocal(rate_);
}

Tensor Exponential::variance() const {
  return rate_.pow(-2.0);
}

Tensor Exponential::entropy() const {
  return 1.0 - log(rate_);
}

Tensor Exponential::cdf(const Tensor& value) const {
  check_value("cdf", value);
  return 1.0 - exp(-rate_ * value);
}

Tensor Exponential::icdf(const Tensor& probability) const {
  return -log1p(-probability) / rate_;
}

std::shared_ptr<Constraint> Exponential::support() const {
  return constraints::positive(constraints::PositiveMap::exp);
}

Tensor Exponential::support_mask(const Tensor& value) const {
  return value >= 0.0;
}

// ---- Uniform -------------------------------------------------------------------

Uniform::Uniform(Param low, Param high, std::optional<bool> validate_args)
    : Distribution("Uniform", validate_args) {
  const auto params = broadcast_all(name(), {std::move(low), std::move(high)});
  low_ = params[0];
  high_ = params[1];
  set_shapes(low_.shape());
  require_real("low", low_);
  require("high", high_, high_ > low_, "> low");
}

Tensor Uniform::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  return or_minus_infinity(support_mask(value), -log(high_ - low_));
}

Tensor Uniform::rsample(const Shape& sample_shape) const {
  Tensor u;
  {
    NoGradGuard no_grad;
    u = uniform_draw(extended_shape(sample_shape), low_);
  }
  return low_ + u * (high_ - low_);
}

Tensor Uniform::mean() const {
  return (low_ + high_) / 2.0;
}

Tensor Uniform::variance() const {
  return (high_ - low_).pow(2.0) / 12.0;
}

Tensor Uniform::entropy() const {
  return log(high_ - low_);
}

Tensor Uniform::cdf(const Tensor& value) const {
  check_value("cdf", value);
  return clamp((value - low_) / (high_ - low_), 0.0, 1.0);
}

Tensor Uniform::icdf(const Tensor& probability) const {
  return low_ + probability * (high_ - low_);
}

std::shared_ptr<Constraint> Uniform::support() const {
  NoGradGuard no_grad;
  const double lo = low_.amin().item<double>(), hi = high_.amax().item<double>();
  if (low_.amax().item<double>() != lo || high_.amin().item<double>() != hi) return nullptr;
  return constraints::bounded(lo, hi);
}

Tensor Uniform::support_mask(const Tensor& value) const {
  return (value >= low_) * (value < high_);
}

}  // namespace tether::distributions
