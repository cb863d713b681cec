#include "tether/distributions/discrete.h"

#include <limits>
#include <random>
#include <string>

#include "tether/generator.h"
#include "tether/grad_mode.h"

namespace tether::distributions {

namespace {

double lowest_of(const Tensor& like) {
  return like.dtype() == DType::f64 ? std::numeric_limits<double>::lowest()
                                    : std::numeric_limits<float>::lowest();
}
}  // namespace

// ---- Bernoulli -------------------------------------------------------------------

Bernoulli::Bernoulli(Probs probs, std::optional<bool> validate_args)
    : Distribution("Bernoulli", validate_args) {
  probs_ = broadcast_all(name(), {std::move(probs.probs)})[0];
  set_shapes(probs_.shape());
  require("probs", probs_, (probs_ >= 0.0) * (probs_ <= 1.0), "in [0, 1]");
  // Clamped so that probs of exactly 0 or 1 give finite logits, as torch's probs_to_logits.
  const double eps = epsilon_of(probs_);
  const Tensor clamped = clamp(probs_, eps, 1.0 - eps);
  logits_ = log(clamped) - log1p(-clamped);
}

Bernoulli::Bernoulli(Logits logits, std::optional<bool> validate_args)
    : Distribution("Bernoulli", validate_args) {
  logits_ = broadcast_all(name(), {std::move(logits.logits)})[0];
  set_shapes(logits_.shape());
  require_real("logits", logits_);
  probs_ = sigmoid(logits_);
}

Tensor Bernoulli::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  // -binary_cross_entropy_with_logits: x l - log(1 + e^l), with no log of a probability.
  return value * logits_ - softplus(logits_);
}

Tensor Bernoulli::sample(const Shape& sample_shape) const {
  NoGradGuard no_grad;
  return (rand(extended_shape(sample_shape), probs_.options()) < probs_.detach())
      .to(probs_.dtype());
}

Tensor Bernoulli::mean() const {
  return probs_;
}

Tensor Bernoulli::variance() const {
  return probs_ * (1.0 - probs_);
}

Tensor Bernoulli::entropy() const {
  return softplus(logits_) - probs_ * logits_;
}

Tensor Bernoulli::support_mask(const Tensor& value) const {
  return eq(value * (value - 1.0), zeros_like(value));
}

// ---- Categorical -----------------------------------------------------------------

Categorical::Categorical(Probs probs, std::optional<bool> validate_args)
    : Distribution("Categorical", validate_args) {
  const Tensor p = broadcast_all(name(), {std::move(probs.probs)})[0];
  set_shapes_from(p, "probs");
  require("probs", p, p >= 0.0, ">= 0");
  const Tensor total = p.sum({-1}, true);
  require("probs", total, total > 0.0, "of positive sum along the last dim");
  probs_ = p / total;
  const double eps = epsilon_of(p);
  logits_ = log(clamp(probs_, eps, 1.0 - eps));
}

Categorical::Categorical(Logits logits, std::optional<bool> validate_args)
    : Distribution("Categorical", validate_args) {
  const Tensor l = broadcast_all(name(), {std::move(logits.logits)})[0];
  set_shapes_from(l, "logits");
  require_real("logits", l);
  logits_ = l - logsumexp(l, {-1}, true);
  probs_ = softmax(l, -1);
}

void Categorical::set_shapes_from(const Tensor& parameter, const char* argument) {
  if (parameter.dim() < 1 || parameter.size(-1) < 1)
    fail<ValueError>(name(), ": ", argument,
                     " must have at least one dim, its last of extent >= 1 (the categories), got ",
                     parameter.shape());
  std::vector<std::int64_t> batch = parameter.shape().to_vector();
  batch.pop_back();
  set_shapes(Shape(batch));
}

Tensor Categorical::log_prob(const Tensor& value) const {
  check_value("log_prob", value);
  const Tensor index = value.dtype() == DType::i64 ? value : value.to(DType::i64);
  const Shape batch = broadcast_shapes("Categorical.log_prob", index.shape(), batch_shape());
  std::vector<std::int64_t> extents = batch.to_vector();
  extents.push_back(num_events());
  return gather(logits_.expand(Shape(extents)), -1, index.expand(batch).unsqueeze(-1)).squeeze(-1);
}

Tensor Categorical::sample(const Shape& sample_shape) const {
  NoGradGuard no_grad;
  // Inverse-CDF sampling on the host: one uniform draw per sample, a linear
  // scan of its batch member's K probabilities.
  const std::int64_t k = num_events();
  const std::vector<double> p = probs_.detach().contiguous().to(DType::f64).to_vector<double>();
  const std::int64_t members = batch_shape().numel();
  const Shape shape = extended_shape(sample_shape);
  std::vector<double> out(static_cast<std::size_t>(shape.numel()));
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  auto& engine = detail::global_generator();
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double* row = p.data() + (static_cast<std::int64_t>(i) % members) * k;
    const double u = uniform(engine);
    double cumulative = 0.0;
    std::int64_t category = 0;
    for (; category < k - 1; ++category) {
      cumulative += row[category];
      if (u < cumulative) break;
    }
    out[i] = static_cast<double>(category);
  }
  return tensor(out, shape, DType::i64).to(probs_.device());
}

Tensor Categorical::mean() const {
  return full(batch_shape(), NAN, probs_.options());
}

Tensor Categorical::variance() const {
  return full(batch_shape(), NAN, probs_.options());
}

Tensor Categorical::entropy() const {
  // A logit of -inf (a category of probability 0) adds 0, not 0 * -inf.
  return -(clamp(logits_, lowest_of(logits_), std::nullopt) * probs_).sum({-1});
}

Tensor Categorical::support_mask(const Tensor& value) const {
  const Tensor in_range = (value >= 0.0) * (value < static_cast<double>(num_events()));
  if (value.dtype() == DType::i64) return in_range;
  return in_range * eq(value, value.to(DType::i64).to(value.dtype()));
}

std::string Categorical::support_description() const {
  return "integers in [0, " + std::to_string(num_events()) + ")";
}

}  // namespace tether::distributions
