#include <cmath>

#include "tether/error.h"
#include "tether/ops.h"
#include "tether/optim/optimizer.h"

namespace tether::optim {

Adam::Adam(std::vector<Tensor> parameters, AdamOptions options)
    : Adam({{std::move(parameters), options}}, false) {}

Adam::Adam(std::vector<Group> groups) : Adam(std::move(groups), false) {}

Adam::Adam(std::vector<Group> groups, bool decoupled_weight_decay)
    : GroupedOptimizer(decoupled_weight_decay ? "AdamW" : "Adam", std::move(groups),
                       {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
      decoupled_weight_decay_(decoupled_weight_decay) {
  check_all_options();
}

void Adam::check_options(const AdamOptions& options) const {
  GroupedOptimizer::check_options(options);  // lr, eps and weight decay
  detail::check_betas(name(), options.betas);
}

void Adam::update(Tensor& p, Tensor grad, ParameterState& state, const AdamOptions& options) {
  const auto [beta1, beta2] = options.betas;
  const double lr = options.lr, weight_decay = options.weight_decay;
  if (weight_decay != 0) {
    if (decoupled_weight_decay_)
      p.mul_(1 - lr * weight_decay);
    else
      grad = grad + p * weight_decay;
  }
  // m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2. Both moments
  // start at zero, so early averages are biased towards it: dividing by
  // 1 - beta^t corrects that. p -= lr m_hat / (sqrt(v_hat) + eps), with the
  // corrections folded into two scalars.
  Tensor& exp_avg = state.buffer("exp_avg", p);
  Tensor& exp_avg_sq = state.buffer("exp_avg_sq", p);
  const double t = static_cast<double>(state.step);
  const double correction1 = 1 - std::pow(beta1, t);
  const double correction2 = 1 - std::pow(beta2, t);
  if (!options.amsgrad && p.is_contiguous()) {  // the common case: one fused pass
    adam_step_(p, grad, exp_avg, exp_avg_sq,
               {.beta1 = beta1,
                .beta2 = beta2,
                .step_size = lr / correction1,
                .inv_sqrt_correction2 = 1 / std::sqrt(correction2),
                .eps = options.eps});
    return;
  }
  exp_avg.mul_(beta1).add_(grad, 1 - beta1);
  exp_avg_sq.mul_(beta2).add_(grad * grad, 1 - beta2);
  Tensor second_moment = exp_avg_sq;
  if (options.amsgrad) {  // the denominator uses the largest v so far
    Tensor& max_exp_avg_sq = state.buffer("max_exp_avg_sq", p);
    second_moment = max_exp_avg_sq.copy_(maximum(max_exp_avg_sq, exp_avg_sq));
  }
  const Tensor denominator = affine(sqrt(second_moment), 1 / std::sqrt(correction2), options.eps);
  p.sub_(exp_avg / denominator, lr / correction1);
}

}  // namespace tether::optim
