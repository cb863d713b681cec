// Optimizers update trainable leaf tensors in place, under no-grad. That bumps
// their version counters, which is what tells every computed parameter its
// cache is stale: optimizers know nothing about constraints.
#pragma once

#include <cstdint>
#include <utility>
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

struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas{0.9,
                                  0.999};  ///< decay of the gradient's first and second moments
  double eps = 1e-8;                       ///< added to the denominator
  /// Adam: L2 penalty added to the gradient; AdamW: decoupled decay of the
  /// weights by lr * weight_decay each step (torch.optim.AdamW defaults to 1e-2).
  double weight_decay = 0.0;
  /// Divides by the largest second moment seen so far (Reddi et al., 2018).
  bool amsgrad = false;
};

/// Adam (Kingma and Ba, 2015), following torch.optim.Adam's update rule. Each
/// parameter's state (step count, moving averages of the gradient and its
/// square) is created at its first step, on the parameter's device and dtype.
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> parameters, AdamOptions options);
  void step() override;
  AdamOptions& options() { return options_; }

 protected:
  /// decoupled_weight_decay: AdamW's rule instead of Adam's L2 penalty.
  Adam(std::vector<Tensor> parameters, AdamOptions options, bool decoupled_weight_decay);

 private:
  struct State {
    std::int64_t step = 0;
    Tensor exp_avg, exp_avg_sq, max_exp_avg_sq;
  };
  AdamOptions options_;
  bool decoupled_weight_decay_;
  std::vector<State> state_;
};

/// AdamW (Loshchilov and Hutter, 2019): Adam whose weight decay shrinks the
/// weights directly instead of entering the moment estimates.
class AdamW final : public Adam {
 public:
  AdamW(std::vector<Tensor> parameters, AdamOptions options)
      : Adam(std::move(parameters), options, true) {}
};

}  // namespace tether::optim
