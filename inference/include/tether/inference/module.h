// Inference over a module's parameters. The coordinates are the module's
// trainables (module.parameters(): a computed parameter's raw, unconstrained
// inputs), and the log density is the model's log likelihood plus
// module.log_prior(), Jacobians included: the density over the raw space that
// the samplers need. Draws come back as the slots' constrained values.
//
//   EightSchools model;  // mu, tau = constrain(..., positive(exp)), theta_tilde
//   auto fit = inference::hmc(model, [&] { return model.log_likelihood(); },
//                             {.num_chains = 4, .init_jitter = 2.0});
//   fit.values.at("tau");  // [4 * num_draws]: tau itself, not its log
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tether/inference/advi.h"
#include "tether/inference/hmc.h"
#include "tether/inference/log_density.h"
#include "tether/nn/module.h"

namespace tether::inference {

/// The model's log likelihood up to a constant, one element, computed from
/// the module's parameter values (its slots' value()).
using LogLikelihood = std::function<Tensor()>;

/// log_likelihood() + module.log_prior(/*include_jacobian=*/true) as a
/// LogDensity over module.parameters(), in that order. Each evaluation writes
/// its point into the module's trainables and differentiates there; the result
/// carries those first derivatives to its inputs (value v, gradient g, as
/// v + g . (x - x.detach())), which is all that hmc and advi use. Second
/// derivatives are not carried, so laplace cannot use it. The density holds
/// `module` by reference: the module must outlive it.
LogDensity module_log_density(nn::Module& module, LogLikelihood log_likelihood);

/// Detached copies of module.parameters(): the point the module holds now.
std::vector<Tensor> module_point(nn::Module& module);

/// The value of every parameter slot of `module` at each of N draws of its
/// trainables (one tensor per module.parameters() entry, [N, ...shape]: an
/// HmcResult's or AdviResult's draws), by slot name ("tau", "fc.weight"):
/// [N, ...value shape]. The trainables are restored afterwards. Throws
/// ValueError naming "module_values" when the draws do not match the module's
/// trainables in number or shape.
std::map<std::string, Tensor> module_values(nn::Module& module, const std::vector<Tensor>& draws);

struct ModuleHmcResult : HmcResult {
  /// module_values of the draws: each slot's constrained values, chain after chain.
  std::map<std::string, Tensor> values;
};

/// hmc of module_log_density from module_point, the module left as it was.
ModuleHmcResult hmc(nn::Module& module, const LogLikelihood& log_likelihood,
                    const HmcOptions& options = {});

struct ModuleAdviResult : AdviResult {
  /// module_values of the draws from q: the constrained values those imply.
  std::map<std::string, Tensor> values;
};

/// advi of module_log_density from module_point, the module left as it was.
ModuleAdviResult advi(nn::Module& module, const LogLikelihood& log_likelihood,
                      const AdviOptions& options = {});

}  // namespace tether::inference
