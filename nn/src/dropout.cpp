#include "tether/nn/dropout.h"

#include "tether/error.h"
#include "tether/ops.h"

namespace tether::nn {

Dropout::Dropout(double p) : p_(p) {
  if (!(p >= 0 && p <= 1)) fail<ValueError>("Dropout: expected p in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) {
  if (!is_training() || p_ == 0) return x;
  // Everything dropped: the scale 1 / (1 - p) would be infinite and 0 * inf
  // NaN. Multiplying by zero, as PyTorch does, keeps x in the graph, so its
  // gradient is zeros rather than missing.
  if (p_ == 1) return x * 0.0;
  // u ~ U[0, 1) is >= p with probability 1 - p. The mask is a constant, so
  // the gradient is the same mask and scale.
  const Tensor keep = rand(x.shape(), x.options()) >= p_;
  return x * keep * (1 / (1 - p_));
}

}  // namespace tether::nn
