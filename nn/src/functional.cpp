#include "tether/nn/functional.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tether/error.h"
#include "tether/ops.h"

namespace tether::nn {

namespace {

Tensor reduce(const Tensor& losses, Reduction reduction) {
  switch (reduction) {
    case Reduction::none:
      return losses;
    case Reduction::sum:
      return sum(losses);
    case Reduction::mean:
      break;
  }
  return mean(losses);
}

void check_same_shape(const char* op, const Tensor& input, const Tensor& target) {
  check_defined(op, input);
  check_defined(op, target);
  if (!(input.shape() == target.shape()))
    fail<ShapeError>(op, ": input ", input.shape(), " and target ", target.shape(),
                     " must have the same shape");
}

/// Checks log_probs [N, C] (floating) against target [N] (i64), naming `op`.
void check_classification(const char* op, const Tensor& scores, const Tensor& target) {
  check_defined(op, scores);
  check_defined(op, target);
  if (!scores.is_floating_point())
    fail<DTypeError>(op, ": expected floating-point scores, got ", scores.dtype());
  if (target.dtype() != DType::i64)
    fail<DTypeError>(op, ": expected an i64 target of class indices, got ", target.dtype());
  if (scores.dim() != 2 || target.dim() != 1 || target.size(0) != scores.size(0))
    fail<ShapeError>(op, ": expected scores [N, C] and target [N], got ", scores.shape(), " and ",
                     target.shape());
}

/// -log_probs[i, target[i]], with `op` named in the error for a bad label.
Tensor picked_negative_log_probs(const char* op, const Tensor& log_probs, const Tensor& target) {
  // gather checks every index (on a GPU too) as part of its kernel, so the
  // check costs nothing here; only its message is made to name `op`.
  try {
    return -gather(log_probs, 1, target.unsqueeze(1)).squeeze(1);
  } catch (const IndexError& e) {
    fail<IndexError>(op, ": expected target class indices in [0, ", log_probs.size(1), "); ",
                     e.what());
  }
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_same_shape("mse_loss", input, target);
  const Tensor diff = input - target;
  return reduce(diff * diff, reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_same_shape("l1_loss", input, target);
  return reduce(abs(input - target), reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        Reduction reduction, const Tensor& pos_weight) {
  check_same_shape("binary_cross_entropy_with_logits", input, target);
  // -log sigmoid(x) = softplus(-x) and -log(1 - sigmoid(x)) = x + softplus(-x);
  // softplus never exponentiates a positive number, so large |x| is safe.
  const Tensor negative_log_sigmoid = softplus(-input);
  const Tensor weight = pos_weight.defined() ? 1 + (pos_weight - 1) * target : Tensor();
  const Tensor positive = weight.defined() ? weight * negative_log_sigmoid : negative_log_sigmoid;
  return reduce((1 - target) * input + positive, reduction);
}

Tensor gaussian_nll_loss(const Tensor& input, const Tensor& target, const Tensor& var, bool full,
                         double eps, Reduction reduction) {
  check_same_shape("gaussian_nll_loss", input, target);
  check_defined("gaussian_nll_loss", var);
  const Shape& shape = input.shape();
  const bool lacks_last_dim = var.dim() + 1 == input.dim() &&
                              std::equal(var.shape().begin(), var.shape().end(), shape.begin());
  const Tensor variance = lacks_last_dim ? var.unsqueeze(-1) : var;
  const Shape& got = variance.shape();
  const bool one_per_sample = !shape.empty() && got.size() == shape.size() && got.back() == 1 &&
                              std::equal(got.begin(), got.end() - 1, shape.begin());
  if (!(got == shape) && !one_per_sample)
    fail<ShapeError>("gaussian_nll_loss: expected var ", shape, ", ", shape,
                     " without its last dim, or with 1 there; got ", var.shape());
  if (amin(variance).item<double>() < 0)
    fail<ValueError>("gaussian_nll_loss: expected a non-negative var, got a negative entry");
  // The clamp only guards log and division against 0; as in PyTorch it is not
  // differentiated, so the gradient is that of the unclamped variance.
  const Tensor clamped = variance + (clamp(variance, eps, std::nullopt) - variance).detach();
  const Tensor diff = input - target;
  Tensor loss = (log(clamped) + diff * diff / clamped) * 0.5;
  if (full) loss = loss + 0.5 * std::log(2 * std::numbers::pi);
  return reduce(loss, reduction);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction) {
  check_classification("nll_loss", log_probs, target);
  return reduce(picked_negative_log_probs("nll_loss", log_probs, target), reduction);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction,
                     double label_smoothing) {
  check_classification("cross_entropy", logits, target);
  if (label_smoothing < 0 || label_smoothing > 1)
    fail<ValueError>("cross_entropy: expected label_smoothing in [0, 1], got ", label_smoothing);
  const Tensor log_probs = log_softmax(logits, 1);
  const Tensor nll = picked_negative_log_probs("cross_entropy", log_probs, target);
  if (label_smoothing == 0) return reduce(nll, reduction);
  // The smoothed target mixes the one-hot label with the uniform distribution,
  // and the cross-entropy is linear in the target: mix the two losses.
  const Tensor uniform = -mean(log_probs, {1});
  return reduce(nll * (1 - label_smoothing) + uniform * label_smoothing, reduction);
}

}  // namespace tether::nn
