// Gradient clipping, applied between backward() and an optimizer's step(), as
// torch.nn.utils.clip_grad_norm_ and clip_grad_value_. Parameters without a
// gradient are skipped.
#pragma once

#include <vector>

#include "tether/tensor.h"

namespace tether::optim {

/// The p-norm of all gradients together, as if concatenated into one vector
/// (norm_type may be infinity: the largest magnitude). When it exceeds
/// max_norm, every gradient is scaled in place by max_norm / (norm + 1e-6).
/// Returns the norm before clipping (0 without gradients). Throws ValueError
/// for a negative max_norm or a norm_type that is not positive.
double clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm, double norm_type = 2);

/// Clamps every gradient element into [-clip_value, clip_value], in place.
/// Throws ValueError for a negative clip_value.
void clip_grad_value(const std::vector<Tensor>& parameters, double clip_value);

}  // namespace tether::optim
