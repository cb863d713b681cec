#include "tether/ops.h"
#include "tether/optim/optimizer.h"

namespace tether::optim {

Adagrad::Adagrad(std::vector<Tensor> parameters, AdagradOptions options)
    : Adagrad({{std::move(parameters), options}}) {}

Adagrad::Adagrad(std::vector<Group> groups)
    : GroupedOptimizer("Adagrad", std::move(groups), {"sum"}) {
  check_all_options();
}

void Adagrad::update(Tensor& p, Tensor grad, ParameterState& state, const AdagradOptions& options) {
  if (options.weight_decay != 0) grad = grad + p * options.weight_decay;
  // s += g^2 over the whole run; p -= lr_t g / (sqrt(s) + eps), so weights
  // that saw large gradients take ever smaller steps.
  const double lr = options.lr / (1 + static_cast<double>(state.step - 1) * options.lr_decay);
  Tensor& sum = state.buffer("sum", p, options.initial_accumulator_value);
  sum.add_(grad * grad);
  p.sub_(grad / (sqrt(sum) + options.eps), lr);
}

}  // namespace tether::optim
