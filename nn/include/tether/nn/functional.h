// Losses and other functions of tensors used by layers.
#pragma once

#include "tether/tensor.h"

namespace tether::nn {

/// How a loss combines its per-element (or per-sample) values.
enum class Reduction { none, mean, sum };

/// (input - target)^2, averaged by default. Shapes must match.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);

/// |input - target|, averaged by default. Shapes must match.
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);

/// Binary cross-entropy of logits x against targets y in [0, 1] (same shape),
/// as torch.nn.functional.binary_cross_entropy_with_logits:
/// -[pos_weight * y * log sigmoid(x) + (1 - y) * log(1 - sigmoid(x))],
/// computed without overflow as (1 - y) * x + (1 + (pos_weight - 1) * y) *
/// softplus(-x). pos_weight (undefined = 1) broadcasts against x, e.g. one
/// weight per class [C]; above 1 it trades precision for recall.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        Reduction reduction = Reduction::mean,
                                        const Tensor& pos_weight = {});

/// Negative log-likelihood of target under N(input, var), as
/// torch.nn.functional.gaussian_nll_loss: 0.5 * (log v + (input - target)^2 /
/// v), plus 0.5 * log(2 pi) with full, where v is var clamped below at eps
/// (the clamp passes gradients through unchanged, as PyTorch's does). var has
/// input's shape, or lacks its last dim, or has 1 there (one variance for all
/// of a sample's outputs). Throws ShapeError for other shapes and ValueError
/// for a negative variance.
Tensor gaussian_nll_loss(const Tensor& input, const Tensor& target, const Tensor& var,
                         bool full = false, double eps = 1e-6,
                         Reduction reduction = Reduction::mean);

/// Negative log-likelihood of class labels: -log_probs[i, target[i]] per
/// sample, for log_probs [N, C] (floating) and target [N] (i64, each in
/// [0, C)). Throws ShapeError, DTypeError or IndexError naming nll_loss.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target,
                Reduction reduction = Reduction::mean);

/// Cross-entropy of logits against class labels or class probabilities, as
/// torch.nn.functional.cross_entropy. Logits are [N, C, d1, ...] (classes
/// along dimension 1) or unbatched [C]. The target is either
///  - i64 class indices [N, d1, ...] (or []): the loss is nll_loss of
///    log_softmax(logits); samples whose label is ignore_index count for
///    nothing, and the mean is over the others (NaN if none is left), or
///  - floating class probabilities of the logits' shape: -sum_c p_c log
///    softmax(logits)_c per sample (differentiable in the target too).
/// With label_smoothing e in [0, 1], the target distribution mixes the given
/// one (1 - e) with the uniform one (e / C). Errors as nll_loss, naming
/// cross_entropy.
Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     Reduction reduction = Reduction::mean, double label_smoothing = 0.0,
                     std::int64_t ignore_index = -100);

}  // namespace tether::nn
