// Losses and other functions of tensors used by layers.
#pragma once

#include "tether/tensor.h"

namespace tether::nn {

/// How a loss combines its per-element (or per-sample) values.
enum class Reduction { none, mean, sum };

/// (input - target)^2, averaged by default. Shapes must match.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);

/// Negative log-likelihood of class labels: -log_probs[i, target[i]] per
/// sample, for log_probs [N, C] (floating) and target [N] (i64, each in
/// [0, C)). Throws ShapeError, DTypeError or IndexError naming nll_loss.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target,
                Reduction reduction = Reduction::mean);

/// Cross-entropy of logits [N, C] against class labels target [N] (i64), as
/// torch.nn.functional.cross_entropy: nll_loss of log_softmax(logits). With
/// label_smoothing e in [0, 1], the target distribution puts 1 - e + e / C on
/// the label and e / C on every other class. Errors as nll_loss, naming
/// cross_entropy.
Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     Reduction reduction = Reduction::mean, double label_smoothing = 0.0);

}  // namespace tether::nn
