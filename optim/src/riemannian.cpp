#include "tether/optim/riemannian.h"

#include <cmath>

#include "tether/ops.h"

namespace tether::optim {

RiemannianSGD::RiemannianSGD(std::vector<Tensor> parameters, RiemannianSGDOptions options)
    : RiemannianSGD({{std::move(parameters), options}}) {}

RiemannianSGD::RiemannianSGD(std::vector<Group> groups)
    : RiemannianOptimizer("RiemannianSGD", std::move(groups), {"momentum_buffer"}) {
  check_all_options();
}

void RiemannianSGD::update(Tensor& p, Tensor grad, ParameterState& state,
                           const RiemannianSGDOptions& options) {
  Tensor direction = riemannian_gradient(p, std::move(grad), options.weight_decay);
  if (options.momentum == 0) {
    move(p, direction * -options.lr);
    return;
  }
  // As SGD's, the buffer starts as the first gradient itself. It is a tangent
  // vector at the old point, so after the step it is carried to the new one.
  const auto [it, first] = state.buffers.try_emplace("momentum_buffer");
  Tensor& buffer = it->second;
  if (first)
    buffer = direction.clone();
  else
    buffer.mul_(options.momentum).add_(direction);
  move(p, buffer * -options.lr, &buffer);
}

RiemannianAdam::RiemannianAdam(std::vector<Tensor> parameters, AdamOptions options)
    : RiemannianAdam({{std::move(parameters), options}}) {}

RiemannianAdam::RiemannianAdam(std::vector<Group> groups)
    : RiemannianOptimizer("RiemannianAdam", std::move(groups),
                          {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}) {
  check_all_options();
}

void RiemannianAdam::check_options(const AdamOptions& options) const {
  GroupedOptimizer::check_options(options);  // lr, eps and weight decay
  detail::check_betas(name(), options.betas);
}

void RiemannianAdam::update(Tensor& p, Tensor grad, ParameterState& state,
                            const AdamOptions& options) {
  const auto [beta1, beta2] = options.betas;
  const Tensor rgrad = riemannian_gradient(p, std::move(grad), options.weight_decay);
  // Adam's moments of the Riemannian gradient, elementwise as geoopt's (the
  // Euclidean metric's component_inner is g * g). The elementwise division
  // leaves the tangent space; the retraction uses only the tangent part.
  Tensor& exp_avg = state.buffer("exp_avg", p);
  Tensor& exp_avg_sq = state.buffer("exp_avg_sq", p);
  const double t = static_cast<double>(state.step);
  const double correction1 = 1 - std::pow(beta1, t);
  const double correction2 = 1 - std::pow(beta2, t);
  exp_avg.mul_(beta1).add_(rgrad, 1 - beta1);
  exp_avg_sq.mul_(beta2).add_(rgrad * rgrad, 1 - beta2);
  Tensor second_moment = exp_avg_sq;
  if (options.amsgrad) {
    Tensor& max_exp_avg_sq = state.buffer("max_exp_avg_sq", p);
    second_moment = max_exp_avg_sq.copy_(maximum(max_exp_avg_sq, exp_avg_sq));
  }
  const Tensor denominator = affine(sqrt(second_moment), 1 / std::sqrt(correction2), options.eps);
  move(p, exp_avg / denominator * (-options.lr / correction1), &exp_avg);
}

}  // namespace tether::optim
