#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"
#include "tether/optim/optimizer.h"

namespace tether::optim {

Optimizer::Optimizer(std::vector<Tensor> parameters) : parameters_(std::move(parameters)) {
  for (std::size_t i = 0; i < parameters_.size(); ++i)
    if (!parameters_[i].defined() || !parameters_[i].is_leaf() || !parameters_[i].requires_grad())
      fail<ValueError>("optimizer: parameter ", i, " is not a leaf tensor that requires grad");
}

void Optimizer::zero_grad() {
  for (auto& p : parameters_) p.set_grad(Tensor());
}

SGD::SGD(std::vector<Tensor> parameters, SGDOptions options)
    : Optimizer(std::move(parameters)), options_(options), momentum_buffers_(parameters_.size()) {
  if (options.lr < 0) fail<ValueError>("SGD: learning rate must be >= 0, got ", options.lr);
  if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
    fail<ValueError>("SGD: Nesterov momentum needs momentum > 0 and zero dampening");
}

void SGD::step() {
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    Tensor& p = parameters_[i];
    Tensor direction = p.grad();
    if (!direction.defined()) continue;
    if (options_.weight_decay != 0) direction = direction + p * options_.weight_decay;
    if (options_.momentum != 0) {
      Tensor& buffer = momentum_buffers_[i];
      if (!buffer.defined())
        buffer = direction.clone();
      else
        buffer.mul_(options_.momentum).add_(direction, 1 - options_.dampening);
      direction = options_.nesterov ? direction + buffer * options_.momentum : buffer;
    }
    p.sub_(direction, options_.lr);
  }
}

}  // namespace tether::optim
