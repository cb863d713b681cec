#include "tether/distributions/gamma_family.h"

#include <cmath>
#include <limits>
#include <numbers>
#include <random>

#include "tether/constraint_library.h"
#include "tether/generator.h"
#include "tether/grad_mode.h"

namespace tether::distributions {

namespace {
const double kHalfLogPi = 0.5 * std::log(std::numbers::pi);

double uniform_open_closed(std::mt19937_64& engine) {
  // (0, 1]: a logarithm or a 1/a-th power of it stays finite.
  return 1.0 - std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

/// A Gamma(a, 1) draw by Marsaglia and Tsang's squeeze-and-reject method; for
/// a < 1 a Gamma(a + 1) draw times U^(1/a), their boost.
double standard_gamma(double a, std::mt19937_64& engine) {
  if (a < 1.0)
    return standard_gamma(a + 1.0, engine) * std::pow(uniform_open_closed(engine), 1 / a);
  const double d = a - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    const double x = detail::standard_normal(engine);
    double v = 1.0 + c * x;
    if (v <= 0.0) continue;
    v = v * v * v;
    if (std::log(uniform_open_closed(engine)) < 0.5 * x * x + d - d * v + d * std::log(v))
      return d * v;
  }
}

/// A Poisson(rate) draw: inversion of the CDF for small rates, Hörmann's
/// transformed rejection (PTRS, as numpy and torch use) from rate 10 on,
/// where inversion would take O(rate) steps.
double poisson(double rate, std::mt19937_64& engine) {
  if (rate < 10.0) {
    double k = 0.0, p = std::exp(-rate), cumulative = p;
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(engine);
    while (u > cumulative && p > 0.0) {
      k += 1.0;
      p *= rate / k;
      cumulative += p;
    }
    return k;
  }
  const double log_rate = std::log(rate), b = 0.931 + 2.53 * std::sqrt(rate);
  const double a = -0.059 + 0.02483 * b, inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
  const double v_r = 0.9277 - 3.6224 / (b - 2.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (;;) {
    const double u = uniform(engine) - 0.5, v = uniform(engine), us = 0.5 - std::abs(u);
    const double k = std::floor((2.0 * a / us + b) * u + rate + 0.43);
    if (us >= 0.07 && v <= v_r) return k;
    if (k < 0.0 || (us < 0.013 && v > us)) continue;
    if (std::log(v) + std::log(inv_alpha) - std::log(a / (us * us) + b) <=
        -rate + k * log_rate - std::lgamma(k + 1.0))
      return k;
  }
}

/// draw(p, engine) for every element p of `param` expanded to `shape`, in
/// param's dtype and device, outside the graph. Zeros are raised to the
/// dtype's smallest normal, as torch clamps its gamma draws, so that logs of
/// the draws stay finite.
template <class Draw>
Tensor draw_each(const Tensor& param, const Shape& shape, Draw draw, bool positive) {
  NoGradGuard no_grad;
  const std::vector<double> p =
      param.detach().expand(shape).contiguous().to(DType::f64).to_vector<double>();
  const double tiny = param.dtype() == DType::f64 ? std::numeric_limits<double>::min()
                                                  : std::numeric_limits<float>::min();
  auto& engine = detail::global_generator();
  std::vector<double> out(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    out[i] = draw(p[i], engine);
    if (positive) out[i] = std::max(out[i], tiny);
  }
  return tensor(out, shape, param.dtype()).to(param.device());
}

/// digamma of x > 0: the recurrence up to 6, then the asymptotic series.
double digamma_of(double x) {
  double shift = 0.0;
  for (; x < 6.0; x += 1.0) shift -= 1.0 / x;
  const double f = 1.0 / (x * x);
  return shift + std::log(x) - 0.5 / x -
         f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
}

/// dx/da for a draw x of Gamma(a, 1) held at its quantile: -(dP/da) / f, the
/// implicit reparametrisation gradient, from the series P(a, x) = sum_n
/// x^(a+n) e^-x / Gamma(a+n+1) differentiated term by term and divided by
/// the density f(x) = x^(a-1) e^-x / Gamma(a). Its n-th term is x^(n+1)
/// Gamma(a) / Gamma(a+n+1) (log x - digamma(a+n+1)); both factors follow by
/// recurrence, and the terms fall off once n passes x - a.
double standard_gamma_grad(double a, double x) {
  const double log_x = std::log(x);
  double weight = x / a, psi = digamma_of(a + 1.0), sum = 0.0;
  for (double n = 0.0; n < 1e6; n += 1.0) {
    const double term = weight * (log_x - psi);
    sum += term;
    if (n > x - a && std::abs(term) <= 1e-17 * std::abs(sum)) break;
    weight *= x / (a + n + 1.0);
    psi += 1.0 / (a + n + 1.0);
  }
  return -sum;
}

/// Gamma(concentration, 1) draws of `shape`: their values from
/// Marsaglia-Tsang, and where concentration requires grad, the implicit
/// gradient dx/da through x + (dx/da) (a - a.detach()), whose value is x.
Tensor gamma_draw(const Tensor& concentration, const Shape& shape) {
  const Tensor x = draw_each(concentration, shape, standard_gamma, true);
  if (!is_grad_enabled() || !concentration.requires_grad()) return x;
  Tensor slope;
  {
    NoGradGuard no_grad;
    const Tensor a = concentration.detach().expand(shape).contiguous();
    const std::vector<double> as = a.to(DType::f64).to_vector<double>();
    const std::vector<double> xs = x.to(DType::f64).to_vector<double>();
    std::vector<double> slopes(xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i) slopes[i] = standard_gamma_grad(as[i], xs[i]);
    slope = tensor(slopes, shape, x.dtype()).to(x.device());
  }
  return x + slope * (concentration - concentration.detach());
}

/// log B(a) = sum lgamma(a_i) - lgamma(sum a_i) over the last dim of `a`,
/// the Beta and Dirichlet normaliser, and the digamma terms of their entropy.
Tensor dirichlet_log_normaliser(const Tensor& a) {
  return lgamma(a).sum({-1}) - lgamma(a.sum({-1}));
}

Tensor dirichlet_entropy(const Tensor& a) {
  const Tensor a0 = a.sum({-1});
  const double k = static_cast<double>(a.size(-1));
  return dirichlet_log_normaliser(a) - (k - a0) * digamma(a0) - ((a - 1.0) * digamma(a)).sum({-1});
}

Tensor dirichlet_log_prob(const Tensor& a, const Tensor& value) {
  return xlogy(a - 1.0, value).sum({-1}) - dirichlet_log_normaliser(a);
}
}  // namespace

// ---- Gamma and InverseGamma ------------------------------------------------------

ShapeRate::ShapeRate(std::string name, Param concentration, Param rate,
                     std::optional<bool> validate_args)
    : Distribution(name, validate_args) {
  const auto params = broadcast_all(name, {std::move(concentration), std::move(rate)});
  concentration_ = params[0];
  rate_ = params[1];
  set_shapes(concentration_.shape());
  require_positive("concentration", concentration_);
  require_positive("rate", rate_);
}

std::shared_ptr<Constraint> ShapeRate::support() const {
  return constraints::positive(constraints::PositiveMap::exp);
}

Tensor ShapeRate::standard_draw(const Shape& sample_shape) const {
  return gamma_draw(concentration_, extended_shape(sample_shape));
}

Gamma::Gamma(Param concentration, Param rate, std::optional<bool> validate_args)
    : ShapeRate("Gamma", std::move(concentration), std::move(rate), validate_args) {}

Tensor Gamma::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  const Tensor& a = concentration();
  return xlogy(a, rate()) + xlogy(a - 1.0, value) - rate() * value - lgamma(a);
}

Tensor Gamma::rsample(const Shape& sample_shape) const {
  return standard_draw(sample_shape) / rate();
}

Tensor Gamma::mean() const {
  return concentration() / rate();
}

Tensor Gamma::variance() const {
  return concentration() / rate().pow(2.0);
}

Tensor Gamma::entropy() const {
  const Tensor& a = concentration();
  return a - log(rate()) + lgamma(a) + (1.0 - a) * digamma(a);
}

Tensor Gamma::support_mask(const Tensor& value) const {
  return value >= 0.0;
}

InverseGamma::InverseGamma(Param concentration, Param rate, std::optional<bool> validate_args)
    : ShapeRate("InverseGamma", std::move(concentration), std::move(rate), validate_args) {}

Tensor InverseGamma::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  // Gamma's density at 1/x times |d(1/x)/dx| = x^-2.
  const Tensor& a = concentration();
  return xlogy(a, rate()) - lgamma(a) - (a + 1.0) * log(value) - rate() / value;
}

Tensor InverseGamma::rsample(const Shape& sample_shape) const {
  return rate() / standard_draw(sample_shape);
}

Tensor InverseGamma::mean() const {
  const Tensor& a = concentration();
  return where(a > 1.0, rate() / (a - 1.0), full_like(a, INFINITY));
}

Tensor InverseGamma::variance() const {
  const Tensor& a = concentration();
  return where(a > 2.0, rate().pow(2.0) / ((a - 1.0).pow(2.0) * (a - 2.0)), full_like(a, INFINITY));
}

Tensor InverseGamma::entropy() const {
  const Tensor& a = concentration();
  return a + log(rate()) + lgamma(a) - (1.0 + a) * digamma(a);
}

Tensor InverseGamma::support_mask(const Tensor& value) const {
  return value > 0.0;
}

// ---- Beta ------------------------------------------------------------------------

Beta::Beta(Param concentration1, Param concentration0, std::optional<bool> validate_args)
    : Distribution("Beta", validate_args) {
  const auto params = broadcast_all(name(), {std::move(concentration1), std::move(concentration0)});
  concentration1_ = params[0];
  concentration0_ = params[1];
  set_shapes(concentration1_.shape());
  require_positive("concentration1", concentration1_);
  require_positive("concentration0", concentration0_);
}

Tensor Beta::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  // The Dirichlet's over (x, 1 - x), as torch computes it.
  const Shape shape = broadcast_shapes(name().c_str(), value.shape(), batch_shape());
  return dirichlet_log_prob(stack({concentration1_, concentration0_}, -1),
                            stack({value.expand(shape), 1.0 - value.expand(shape)}, -1));
}

Tensor Beta::rsample(const Shape& sample_shape) const {
  const Shape shape = extended_shape(sample_shape);
  const Tensor x = gamma_draw(concentration1_, shape), y = gamma_draw(concentration0_, shape);
  return x / (x + y);
}

Tensor Beta::mean() const {
  return concentration1_ / (concentration1_ + concentration0_);
}

Tensor Beta::variance() const {
  const Tensor total = concentration1_ + concentration0_;
  return concentration1_ * concentration0_ / (total.pow(2.0) * (total + 1.0));
}

Tensor Beta::entropy() const {
  return dirichlet_entropy(stack({concentration1_, concentration0_}, -1));
}

std::shared_ptr<Constraint> Beta::support() const {
  return constraints::bounded(0.0, 1.0);
}

Tensor Beta::support_mask(const Tensor& value) const {
  return (value >= 0.0) * (value <= 1.0);
}

// ---- Dirichlet -------------------------------------------------------------------

Dirichlet::Dirichlet(const Tensor& concentration, std::optional<bool> validate_args)
    : Distribution("Dirichlet", validate_args) {
  if (concentration.dim() < 1 || concentration.size(-1) < 1)
    fail<ShapeError>(name(), ": concentration must be [..., k] with k >= 1, got ",
                     concentration.shape());
  concentration_ = broadcast_all(name(), {concentration})[0];
  std::vector<std::int64_t> batch = concentration_.shape().to_vector();
  batch.pop_back();
  set_shapes(Shape(batch), {concentration_.size(-1)});
  require_positive("concentration", concentration_);
}

Tensor Dirichlet::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  return dirichlet_log_prob(concentration_, value);
}

Tensor Dirichlet::rsample(const Shape& sample_shape) const {
  const Tensor g = gamma_draw(concentration_, extended_shape(sample_shape));
  return g / g.sum({-1}, true);
}

Tensor Dirichlet::mean() const {
  return concentration_ / concentration_.sum({-1}, true);
}

Tensor Dirichlet::variance() const {
  const Tensor total = concentration_.sum({-1}, true);
  return concentration_ * (total - concentration_) / (total.pow(2.0) * (total + 1.0));
}

Tensor Dirichlet::entropy() const {
  return dirichlet_entropy(concentration_);
}

std::shared_ptr<Constraint> Dirichlet::support() const {
  return constraints::stick_breaking_simplex();
}

Tensor Dirichlet::support_mask(const Tensor& value) const {
  return (value.amin({-1}) >= 0.0) * (abs(value.sum({-1}) - 1.0) < 1e-6);
}

// ---- StudentT --------------------------------------------------------------------

StudentT::StudentT(Param df, Param loc, Param scale, std::optional<bool> validate_args)
    : Distribution("StudentT", validate_args) {
  const auto params = broadcast_all(name(), {std::move(df), std::move(loc), std::move(scale)});
  df_ = params[0];
  loc_ = params[1];
  scale_ = params[2];
  set_shapes(df_.shape());
  require_positive("df", df_);
  require_real("loc", loc_);
  require_positive("scale", scale_);
}

Tensor StudentT::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  const Tensor y = (value - loc_) / scale_;
  const Tensor log_normaliser =
      log(scale_) + 0.5 * log(df_) + kHalfLogPi + lgamma(0.5 * df_) - lgamma(0.5 * (df_ + 1.0));
  return -0.5 * (df_ + 1.0) * log1p(y.pow(2.0) / df_) - log_normaliser;
}

Tensor StudentT::rsample(const Shape& sample_shape) const {
  // N(0, 1) / sqrt(chi2(df) / df), with chi2(df) = 2 Gamma(df / 2, 1).
  const Shape shape = extended_shape(sample_shape);
  const Tensor chi2 = 2.0 * gamma_draw(0.5 * df_, shape);
  Tensor normal;
  {
    NoGradGuard no_grad;
    normal = randn(shape, df_.options());
  }
  return loc_ + scale_ * normal * rsqrt(chi2 / df_);
}

Tensor StudentT::mean() const {
  return where(df_ > 1.0, loc_, full_like(loc_, NAN));
}

Tensor StudentT::variance() const {
  const Tensor finite = scale_.pow(2.0) * df_ / (df_ - 2.0);
  return where(df_ > 2.0, finite, where(df_ > 1.0, full_like(df_, INFINITY), full_like(df_, NAN)));
}

Tensor StudentT::entropy() const {
  const Tensor half = 0.5 * df_, half_plus = 0.5 * (df_ + 1.0);
  const Tensor log_beta = lgamma(half) + std::lgamma(0.5) - lgamma(half_plus);
  return log(scale_) + half_plus * (digamma(half_plus) - digamma(half)) + 0.5 * log(df_) + log_beta;
}

Tensor StudentT::support_mask(const Tensor& value) const {
  return eq(value, value);
}

// ---- Poisson ---------------------------------------------------------------------

Poisson::Poisson(Param rate, std::optional<bool> validate_args)
    : Distribution("Poisson", validate_args) {
  rate_ = broadcast_all(name(), {std::move(rate)})[0];
  set_shapes(rate_.shape());
  require("rate", rate_, rate_ >= 0.0, ">= 0");
}

Tensor Poisson::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  return xlogy(value, rate_) - rate_ - lgamma(value + 1.0);
}

Tensor Poisson::sample(const Shape& sample_shape) const {
  return draw_each(rate_, extended_shape(sample_shape), poisson, false);
}

Tensor Poisson::mean() const {
  return rate_;
}

Tensor Poisson::variance() const {
  return rate_;
}

Tensor Poisson::support_mask(const Tensor& value) const {
  return (value >= 0.0) * eq(value, value.to(DType::i64).to(value.dtype()));
}

}  // namespace tether::distributions
