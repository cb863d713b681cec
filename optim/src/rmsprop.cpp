#include "tether/ops.h"
#include "tether/optim/optimizer.h"

namespace tether::optim {

RMSprop::RMSprop(std::vector<Tensor> parameters, RMSpropOptions options)
    : RMSprop({{std::move(parameters), options}}) {}

RMSprop::RMSprop(std::vector<Group> groups)
    : GroupedOptimizer("RMSprop", std::move(groups),
                       {"square_avg", "grad_avg", "momentum_buffer"}) {
  check_all_options();
}

void RMSprop::update(Tensor& p, Tensor grad, ParameterState& state, const RMSpropOptions& options) {
  const double alpha = options.alpha;
  if (options.weight_decay != 0) grad = grad + p * options.weight_decay;
  // v = alpha v + (1 - alpha) g^2, a running mean square; the step divides the
  // gradient by its root, so every weight moves at a similar rate.
  Tensor& square_avg = state.buffer("square_avg", p);
  square_avg.mul_(alpha).add_(grad * grad, 1 - alpha);
  Tensor mean_square = square_avg;
  if (options.centered) {
    // Minus the squared running mean of g: a variance, not a raw second moment.
    Tensor& grad_avg = state.buffer("grad_avg", p);
    grad_avg.mul_(alpha).add_(grad, 1 - alpha);
    mean_square = square_avg - grad_avg * grad_avg;
  }
  const Tensor direction = grad / (sqrt(mean_square) + options.eps);
  if (options.momentum > 0) {
    // b = momentum b + g / (sqrt(v) + eps), starting from zero.
    Tensor& buffer = state.buffer("momentum_buffer", p);
    buffer.mul_(options.momentum).add_(direction);
    p.sub_(buffer, options.lr);
  } else {
    p.sub_(direction, options.lr);
  }
}

}  // namespace tether::optim
