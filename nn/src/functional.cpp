#include "tether/nn/functional.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/node.h"
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

/// -log_probs[i, target[i], ...] with the classes along `class_dim`, with
/// `op` named in the error for a bad label.
Tensor picked_negative_log_probs(const char* op, const Tensor& log_probs, const Tensor& target,
                                 std::int64_t class_dim = 1) {
  // gather checks every index (on a GPU too) as part of its kernel, so the
  // check costs nothing here; only its message is made to name `op`.
  try {
    return -gather(log_probs, class_dim, target.unsqueeze(class_dim)).squeeze(class_dim);
  } catch (const IndexError& e) {
    fail<IndexError>(op, ": expected target class indices in [0, ", log_probs.size(class_dim),
                     "); ", e.what());
  }
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_same_shape("mse_loss", input, target);
  const Tensor diff = input - target;
  if (reduction == Reduction::none) return diff * diff;
  // The reduced square is one node: its backward, 2 c diff g (c = 1 / numel
  // for the mean), is two kernels where the square and the reduction would
  // record two nodes and run four. The saved diff carries its graph, so a
  // gradient made with create_graph is differentiable as the composed one.
  Tensor loss;
  {
    NoGradGuard no_grad;
    loss = reduce(diff * diff, reduction);
  }
  const double scale = reduction == Reduction::mean ? 2.0 / diff.numel() : 2.0;
  return autograd::record("mse_loss", {diff}, loss, {diff},
                          [scale](autograd::Node& node, const Tensor& grad) -> autograd::GradList {
                            return {node.saved(0) * (grad * scale)};
                          });
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
                     double label_smoothing, std::int64_t ignore_index) {
  check_defined("cross_entropy", logits);
  check_defined("cross_entropy", target);
  if (!logits.is_floating_point())
    fail<DTypeError>("cross_entropy: expected floating-point scores, got ", logits.dtype());
  if (label_smoothing < 0 || label_smoothing > 1)
    fail<ValueError>("cross_entropy: expected label_smoothing in [0, 1], got ", label_smoothing);
  if (logits.dim() == 0)
    fail<ShapeError>("cross_entropy: expected scores [C] or [N, C, d1, ...], got a 0-d tensor");
  // Dimension 1 holds the classes, or dimension 0 of unbatched scores [C].
  const std::int64_t class_dim = logits.dim() == 1 ? 0 : 1;
  const double classes = static_cast<double>(logits.size(class_dim));
  const Tensor log_probs = log_softmax(logits, class_dim);
  if (target.is_floating_point()) {
    if (!(target.shape() == logits.shape()))
      fail<ShapeError>("cross_entropy: expected class probabilities of the scores' shape ",
                       logits.shape(), ", got ", target.shape());
    // The smoothed target mixes the given one with the uniform distribution.
    const Tensor smoothed =
        label_smoothing == 0 ? target : target * (1 - label_smoothing) + label_smoothing / classes;
    return reduce(-sum(log_probs * smoothed, {class_dim}), reduction);
  }
  if (target.dtype() != DType::i64)
    fail<DTypeError>("cross_entropy: expected an i64 target of class indices or a floating one of ",
                     "class probabilities, got ", target.dtype());
  Shape per_sample = logits.shape();
  per_sample.erase(static_cast<int>(class_dim));
  if (!(target.shape() == per_sample))
    fail<ShapeError>("cross_entropy: expected scores [N, C, d1, ...] and target [N, d1, ...] ",
                     "(or [C] and []), got ", logits.shape(), " and ", target.shape());
  // Ignored samples pick class 0, which exists, and are then zeroed by where,
  // which also keeps their gradient at zero.
  const Tensor kept = ne(target, full_like(target, static_cast<double>(ignore_index)));
  const Tensor label = where(kept, target, zeros_like(target));
  Tensor losses = picked_negative_log_probs("cross_entropy", log_probs, label, class_dim);
  // The cross-entropy is linear in the target: the smoothed one's loss mixes
  // the label's with the uniform distribution's.
  if (label_smoothing != 0)
    losses = losses * (1 - label_smoothing) - mean(log_probs, {class_dim}) * label_smoothing;
  losses = where(kept, losses, zeros_like(losses));
  // The mean is over the samples that count, as in PyTorch (NaN when none do).
  if (reduction == Reduction::mean) return sum(losses) / sum(kept.to(losses.dtype()));
  return reduce(losses, reduction);
}

}  // namespace tether::nn
