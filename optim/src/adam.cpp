#include <cmath>

#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"
#include "tether/optim/optimizer.h"

namespace tether::optim {

Adam::Adam(std::vector<Tensor> parameters, AdamOptions options)
    : Adam(std::move(parameters), options, false) {}

Adam::Adam(std::vector<Tensor> parameters, AdamOptions options, bool decoupled_weight_decay)
    : Optimizer(std::move(parameters)),
      options_(options),
      decoupled_weight_decay_(decoupled_weight_decay),
      state_(parameters_.size()) {
  const char* name = decoupled_weight_decay ? "AdamW" : "Adam";
  const auto [beta1, beta2] = options.betas;
  if (options.lr < 0) fail<ValueError>(name, ": learning rate must be >= 0, got ", options.lr);
  if (options.eps < 0) fail<ValueError>(name, ": eps must be >= 0, got ", options.eps);
  if (options.weight_decay < 0)
    fail<ValueError>(name, ": weight decay must be >= 0, got ", options.weight_decay);
  if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1)
    fail<ValueError>(name, ": betas must lie in [0, 1), got (", beta1, ", ", beta2, ")");
}

void Adam::step() {
  NoGradGuard no_grad;
  const auto [beta1, beta2] = options_.betas;
  const double lr = options_.lr, weight_decay = options_.weight_decay;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    Tensor& p = parameters_[i];
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    State& state = state_[i];
    if (state.step == 0) {
      state.exp_avg = zeros_like(p);
      state.exp_avg_sq = zeros_like(p);
      if (options_.amsgrad) state.max_exp_avg_sq = zeros_like(p);
    }
    ++state.step;
    if (weight_decay != 0) {
      if (decoupled_weight_decay_)
        p.mul_(1 - lr * weight_decay);
      else
        grad = grad + p * weight_decay;
    }
    // m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2.
    state.exp_avg.mul_(beta1).add_(grad, 1 - beta1);
    state.exp_avg_sq.mul_(beta2).add_(grad * grad, 1 - beta2);
    Tensor second_moment = state.exp_avg_sq;
    if (options_.amsgrad)
      second_moment = state.max_exp_avg_sq.copy_(maximum(state.max_exp_avg_sq, second_moment));
    // Both moments start at zero, so early averages are biased towards it:
    // dividing by 1 - beta^t corrects that. p -= lr m_hat / (sqrt(v_hat) + eps),
    // with the corrections folded into two scalars. Each line below is its own
    // kernel and temporary; a fused Adam kernel (or addcmul_/addcdiv_) would
    // make the whole update one pass over p, m and v.
    const double t = static_cast<double>(state.step);
    const double correction1 = 1 - std::pow(beta1, t);
    const double correction2 = 1 - std::pow(beta2, t);
    const Tensor denominator =
        affine(sqrt(second_moment), 1 / std::sqrt(correction2), options_.eps);
    p.sub_(state.exp_avg / denominator, lr / correction1);
  }
}

}  // namespace tether::optim
