#include "tether/nn/functional.h"

#include "tether/error.h"
#include "tether/ops.h"

namespace tether::nn {

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  if (!(input.shape() == target.shape()))
    fail<ShapeError>("mse_loss: input ", input.shape(), " and target ", target.shape(),
                     " must have the same shape");
  const Tensor diff = input - target;
  const Tensor squared = diff * diff;
  switch (reduction) {
    case Reduction::none:
      return squared;
    case Reduction::sum:
      return sum(squared);
    case Reduction::mean:
      break;
  }
  return mean(squared);
}

}  // namespace tether::nn
