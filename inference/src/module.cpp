#include "tether/inference/module.h"

#include <utility>

#include "tether/autograd.h"
#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"

namespace tether::inference {
namespace {

/// Copies `point` into the trainables without recording: the optimizer-style
/// in-place write that keeps every handle to them (the computed parameters'
/// raw inputs) seeing the new values.
void write_point(const char* function, const std::vector<Tensor>& trainables,
                 const std::vector<Tensor>& point) {
  if (point.size() != trainables.size())
    fail<ValueError>(function, ": the module has ", trainables.size(), " trainable tensors, got ",
                     point.size());
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < trainables.size(); ++i) {
    if (point[i].shape() != trainables[i].shape())
      fail<ShapeError>(function, ": trainable ", i, " has shape ", trainables[i].shape(), ", got ",
                       point[i].shape());
    Tensor trainable = trainables[i];  // a handle: the write reaches the module's tensor
    trainable.copy_(point[i]);
  }
}

/// Holds the module's point from construction and writes it back on
/// destruction, so that a fit leaves the module as it found it, even on error.
class SavedPoint {
 public:
  explicit SavedPoint(nn::Module& module)
      : trainables_(module.parameters()), point_(module_point(module)) {}
  ~SavedPoint() { write_point("inference", trainables_, point_); }
  SavedPoint(const SavedPoint&) = delete;
  SavedPoint& operator=(const SavedPoint&) = delete;
  const std::vector<Tensor>& point() const { return point_; }

 private:
  std::vector<Tensor> trainables_, point_;
};

/// Runs `fit` (hmc or advi) on the module's density from its current point and
/// adds the draws' constrained values.
template <class ModuleResult, class Options, class Fit>
ModuleResult fit_module(nn::Module& module, const LogLikelihood& log_likelihood,
                        const Options& options, Fit fit) {
  const SavedPoint saved(module);
  ModuleResult result{fit(module_log_density(module, log_likelihood), saved.point(), options), {}};
  result.values = module_values(module, result.draws);
  return result;
}

}  // namespace

LogDensity module_log_density(nn::Module& module, LogLikelihood log_likelihood) {
  if (!log_likelihood) fail<ValueError>("module_log_density: log_likelihood is empty");
  return [&module, trainables = module.parameters(),
          log_likelihood = std::move(log_likelihood)](const std::vector<Tensor>& x) {
    write_point("module_log_density", trainables, x);
    const Tensor value = log_likelihood() + module.log_prior(/*include_jacobian=*/true);
    if (!value.requires_grad()) return value;
    // The module's graph starts at its own leaves, not at x: differentiate
    // there, then attach the gradient to x so that x's graph sees it.
    const std::vector<Tensor> gradients =
        autograd::grad({value}, trainables, {}, std::nullopt, false, /*allow_unused=*/true);
    Tensor carried = value.detach();
    for (std::size_t i = 0; i < x.size(); ++i)
      if (gradients[i].defined()) carried = carried + (gradients[i] * (x[i] - x[i].detach())).sum();
    return carried;
  };
}

std::vector<Tensor> module_point(nn::Module& module) {
  std::vector<Tensor> point;
  for (const Tensor& trainable : module.parameters()) point.push_back(trainable.detach().clone());
  return point;
}

std::map<std::string, Tensor> module_values(nn::Module& module, const std::vector<Tensor>& draws) {
  const std::vector<Tensor> trainables = module.parameters();
  if (draws.size() != trainables.size())
    fail<ValueError>("module_values: the module has ", trainables.size(),
                     " trainable tensors, got draws of ", draws.size());
  if (draws.empty()) fail<ValueError>("module_values: the module has no trainable tensors");
  const std::int64_t rows = draws[0].dim() > 0 ? draws[0].size(0) : 0;
  for (const Tensor& draw : draws)
    if (rows == 0 || draw.dim() == 0 || draw.size(0) != rows)
      fail<ValueError>("module_values: the draws must share a first dimension of >= 1 rows, got ",
                       draws[0].shape(), " and ", draw.shape());
  const auto slots = module.named_slots();
  std::vector<std::vector<Tensor>> values(slots.size());
  const SavedPoint saved(module);
  NoGradGuard no_grad;
  for (std::int64_t row = 0; row < rows; ++row) {
    std::vector<Tensor> point;
    for (const Tensor& draw : draws) point.push_back(draw.select(0, row));
    write_point("module_values", trainables, point);
    // A raw slot's value is its leaf, which the next row overwrites: copy.
    for (std::size_t s = 0; s < slots.size(); ++s)
      values[s].push_back(slots[s].second->value().clone());
  }
  std::map<std::string, Tensor> named;
  for (std::size_t s = 0; s < slots.size(); ++s) named[slots[s].first] = stack(values[s]);
  return named;
}

ModuleHmcResult hmc(nn::Module& module, const LogLikelihood& log_likelihood,
                    const HmcOptions& options) {
  return fit_module<ModuleHmcResult>(module, log_likelihood, options,
                                     [](const auto&... args) { return hmc(args...); });
}

ModuleAdviResult advi(nn::Module& module, const LogLikelihood& log_likelihood,
                      const AdviOptions& options) {
  return fit_module<ModuleAdviResult>(module, log_likelihood, options,
                                      [](const auto&... args) { return advi(args...); });
}

}  // namespace tether::inference
