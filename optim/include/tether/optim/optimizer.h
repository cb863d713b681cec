// Optimizers update trainable leaf tensors in place, under no-grad. That bumps
// their version counters, which is what tells every computed parameter its
// cache is stale: optimizers know nothing about constraints.
#pragma once

#include <vector>

#include "tether/tensor.h"

namespace tether::optim {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> parameters);
  virtual ~Optimizer() = default;

  /// One update from the parameters' current gradients (parameters without a
  /// gradient are skipped).
  virtual void step() = 0;
  /// Clears the gradients (sets them undefined, as PyTorch's set_to_none).
  void zero_grad();
  const std::vector<Tensor>& parameters() const { return parameters_; }

 protected:
  std::vector<Tensor> parameters_;
};

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

/// Stochastic gradient descent with optional momentum, dampening, Nesterov
/// momentum and weight decay, following torch.optim.SGD's update rule.
class SGD final : public Optimizer {
 public:
  SGD(std::vector<Tensor> parameters, SGDOptions options);
  void step() override;
  SGDOptions& options() { return options_; }

 private:
  SGDOptions options_;
  std::vector<Tensor> momentum_buffers_;
};

}  // namespace tether::optim
