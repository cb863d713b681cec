// Dropout: zeroes random elements while training.
#pragma once

#include "tether/nn/module.h"

namespace tether::nn {

/// In training mode each element is zeroed with probability p, drawn from the
/// global generator (see manual_seed), and the kept ones are scaled by
/// 1 / (1 - p) so that the expected output is x; p = 1 gives zeros (and zero
/// gradients), as PyTorch. In eval mode, x itself.
class Dropout : public UnaryModule {
 public:
  /// Throws ValueError unless 0 <= p <= 1.
  explicit Dropout(double p = 0.5);

  Tensor forward(const Tensor& x) override;

  double p() const { return p_; }

 private:
  double p_;
};

}  // namespace tether::nn
