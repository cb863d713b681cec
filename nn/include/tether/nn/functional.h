// Losses and other functions of tensors used by layers.
#pragma once

#include "tether/tensor.h"

namespace tether::nn {

enum class Reduction { none, mean, sum };

/// (input - target)^2, averaged by default. Shapes must match.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);

}  // namespace tether::nn
