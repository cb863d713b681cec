// Riemannian optimizers: the step of SGD or Adam taken along a manifold, for
// the leaves of ManifoldParameters (tether/manifold.h: stiefel(), ...).
//
//   lstm->weight_hh = tether::stiefel(lstm->weight_hh);
//   optim::RiemannianAdam adam(lstm->parameters(), {.lr = 1e-2});
//
// Each parameter is looked up once, at construction (manifold_of): a manifold
// leaf gets the Riemannian gradient (the Euclidean one projected on the
// tangent space), its step by the manifold's retraction, and its momentum
// carried to the new point by projection (vector transport); every other
// parameter is Euclidean, and these optimizers then step it exactly as SGD
// (without dampening or Nesterov) and Adam do. So one optimizer trains a
// whole model. State and options save and load as every optimizer's do.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "tether/manifold.h"
#include "tether/ops.h"
#include "tether/optim/optimizer.h"

namespace tether::optim {

struct RiemannianSGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double weight_decay = 0.0;  ///< L2 penalty added to the Euclidean gradient

  /// Each member and its options_dict() key (see GroupedOptimizer).
  static constexpr void fields(auto& options, auto&& option) {
    option(options.lr, "lr");
    option(options.momentum, "momentum");
    option(options.weight_decay, "weight_decay");
  }
};

/// The step's common part: which parameters lie on a manifold.
template <class Options>
class RiemannianOptimizer : public GroupedOptimizer<Options> {
 protected:
  using Group = typename GroupedOptimizer<Options>::Group;
  RiemannianOptimizer(std::string name, std::vector<Group> groups,
                      std::vector<std::string> buffer_names)
      : GroupedOptimizer<Options>(std::move(name), std::move(groups), std::move(buffer_names),
                                  true) {
    for (const Tensor& parameter : this->parameters())
      if (auto manifold = manifold_of(parameter)) manifolds_[parameter.impl()] = manifold;
  }

  /// `grad` (plus the L2 penalty weight_decay * parameter) as a Riemannian
  /// gradient: projected on the tangent space at a manifold parameter.
  Tensor riemannian_gradient(const Tensor& parameter, Tensor grad, double weight_decay) const {
    if (weight_decay != 0) grad = grad + parameter * weight_decay;
    const Manifold* on = manifold(parameter);
    return on ? on->project_tangent(parameter, grad) : grad;
  }

  /// Moves `parameter` by `step`: parameter + step when Euclidean, the
  /// retraction R(step) on a manifold, which then also carries `momentum`
  /// (when given) to the new point's tangent space.
  void move(Tensor& parameter, const Tensor& step, Tensor* momentum = nullptr) const {
    const Manifold* on = manifold(parameter);
    if (!on) {
      parameter.add_(step);
      return;
    }
    const std::uint64_t before = parameter.version();
    parameter.copy_(on->retract(parameter, step));
    mark_retracted(parameter, before);  // on the manifold by construction: no check in value()
    if (momentum) momentum->copy_(on->project_tangent(parameter, *momentum));
  }

 private:
  const Manifold* manifold(const Tensor& parameter) const {
    const auto it = manifolds_.find(parameter.impl());
    return it == manifolds_.end() ? nullptr : it->second.get();
  }

  std::unordered_map<const TensorImpl*, std::shared_ptr<const Manifold>> manifolds_;
};

/// Riemannian SGD with momentum (Bonnabel, 2013), as geoopt's RiemannianSGD:
/// g = grad_R f(W); m = momentum m + g; W <- R_W(-lr m); m <- transport of m
/// to the new W. State: "momentum_buffer" (with momentum). Every option must
/// be finite and >= 0.
class RiemannianSGD final : public RiemannianOptimizer<RiemannianSGDOptions> {
 public:
  RiemannianSGD(std::vector<Tensor> parameters, RiemannianSGDOptions options);
  explicit RiemannianSGD(std::vector<Group> groups);

 private:
  void update(Tensor& parameter, Tensor grad, ParameterState& state,
              const RiemannianSGDOptions& options) override;
};

/// Riemannian Adam (Becigneul and Ganea, 2019), as geoopt's RiemannianAdam:
/// Euclidean first and second moments of the Riemannian gradient, the step
/// -lr m_hat / (sqrt(v_hat) + eps) taken by the retraction, and the first
/// moment transported to the new point. Options and state as Adam's
/// ("exp_avg", "exp_avg_sq", "max_exp_avg_sq" with amsgrad); weight decay is
/// an L2 penalty added to the Euclidean gradient.
class RiemannianAdam final : public RiemannianOptimizer<AdamOptions> {
 public:
  RiemannianAdam(std::vector<Tensor> parameters, AdamOptions options);
  explicit RiemannianAdam(std::vector<Group> groups);

 private:
  void update(Tensor& parameter, Tensor grad, ParameterState& state,
              const AdamOptions& options) override;
  void check_options(const AdamOptions& options) const override;
};

}  // namespace tether::optim
