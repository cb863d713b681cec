// Discrete distributions, as torch.distributions': Bernoulli and Categorical,
// each made from probabilities or from logits (Probs{...}, Logits{...}):
//
//   Bernoulli coin(Logits{theta});           // log_prob differentiable in theta
//   Categorical die(Probs{tether::full({6}, 1.0 / 6)});
//
// Neither is reparametrisable: sample() draws outside the graph, and
// log_prob's gradient is the score-function estimator's ingredient.
#pragma once

#include <optional>

#include "tether/distributions/distribution.h"

namespace tether::distributions {

/// Parameters given as probabilities.
struct Probs {
  Param probs;
};
/// Parameters given as logits (log-odds for Bernoulli, unnormalised log
/// probabilities for Categorical).
struct Logits {
  Param logits;
};

/// Bernoulli(p) over {0, 1}. From probs in [0, 1] (logits are then log p -
/// log(1 - p), p clamped to [eps, 1 - eps] as torch's probs_to_logits), or
/// from real logits (probs = sigmoid(logits)). Samples are 0 or 1 in the
/// parameters' dtype.
class Bernoulli final : public Distribution {
 public:
  explicit Bernoulli(Probs probs, std::optional<bool> validate_args = std::nullopt);
  explicit Bernoulli(Logits logits, std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  const Tensor& probs() const { return probs_; }
  const Tensor& logits() const { return logits_; }
  Tensor log_prob(const Tensor& value) const override;
  Tensor sample(const Shape& sample_shape = {}) const override;
  Tensor mean() const override;
  Tensor variance() const override;
  Tensor entropy() const override;

 protected:
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override { return "0 or 1"; }

 private:
  Tensor probs_, logits_;
};

/// Categorical over {0, ..., K-1}, the last dim of probs or logits (K >= 1;
/// the dims before it are the batch). probs need not sum to 1 (they are
/// normalised) but must be >= 0; logits are normalised to log probabilities
/// (logits - logsumexp). Values and samples are i64 (log_prob also takes
/// floating values holding integers). mean and variance are NaN, as in PyTorch.
class Categorical final : public Distribution {
 public:
  explicit Categorical(Probs probs, std::optional<bool> validate_args = std::nullopt);
  explicit Categorical(Logits logits, std::optional<bool> validate_args = std::nullopt);
  std::shared_ptr<const Distribution> converted(const TensorConversion& convert) const override;
  /// Normalised: they sum to 1 along the last dim.
  const Tensor& probs() const { return probs_; }
  /// Normalised log probabilities.
  const Tensor& logits() const { return logits_; }
  std::int64_t num_events() const { return probs_.size(-1); }
  Tensor log_prob(const Tensor& value) const override;
  Tensor sample(const Shape& sample_shape = {}) const override;
  Tensor mean() const override;
  Tensor variance() const override;
  Tensor entropy() const override;

 protected:
  Tensor support_mask(const Tensor& value) const override;
  std::string support_description() const override;

 private:
  /// Sets the batch shape from the parameter, which must be at least 1-d.
  void set_shapes_from(const Tensor& parameter, const char* argument);
  Tensor probs_, logits_;
};

}  // namespace tether::distributions
